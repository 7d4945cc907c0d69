package accesslist

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// maxDependencySetProblems bounds how many problems one read of a file names.
const maxDependencySetProblems = 20

// checkDependencySetJSON reads a dependency-set file token by token and names every problem with
// its line, column and path, the chain's ID included (issue 18: encoding/json said
// "dependencies.activationTime", without the chain, and "unknown field" without a line).
// A syntax error ends the read.
func checkDependencySetJSON(data []byte) error {
	if bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
		// JSON readers refuse it (op-supervisor's too): say what it is, not "invalid character 'ï'".
		return errors.New("line 1, column 1: the file begins with a UTF-8 byte order mark, which JSON does not allow: save it without one")
	}
	w := &depSetWalker{data: data, dec: json.NewDecoder(bytes.NewReader(data))}
	w.dec.UseNumber()
	w.document()
	if at := w.next(); !w.broken && int(at) < len(w.data) {
		w.problem(at, "trailing data after the JSON object: a dependency set is one object")
	}
	return errors.Join(w.problems...)
}

type depSetWalker struct {
	data     []byte
	dec      *json.Decoder
	problems []error
	broken   bool // a syntax error: nothing after it can be read
}

// next is where the next token begins: the decoder's offset past separators and space.
func (w *depSetWalker) next() int64 {
	o := w.dec.InputOffset()
	for int(o) < len(w.data) && strings.IndexByte(" \t\r\n,:", w.data[o]) >= 0 {
		o++
	}
	return o
}

func (w *depSetWalker) problem(offset int64, format string, args ...any) {
	if len(w.problems) < maxDependencySetProblems {
		line, col := lineColumn(w.data, offset)
		w.problems = append(w.problems, fmt.Errorf("line %d, column %d: %s", line, col, fmt.Sprintf(format, args...)))
	}
}

// token reads the next token; a syntax error (or the end of the data) is recorded and ends the read.
func (w *depSetWalker) token() (json.Token, int64, bool) {
	if w.broken {
		return nil, 0, false
	}
	at := w.next()
	tok, err := w.dec.Token()
	if err != nil {
		w.broken = true
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("the file ends inside the JSON")
			w.problems = append(w.problems, err)
			return nil, at, false
		}
		w.problems = append(w.problems, jsonErrorAt(w.data, err))
		return nil, at, false
	}
	return tok, at, true
}

func (w *depSetWalker) document() {
	tok, at, ok := w.token()
	if !ok {
		return
	}
	if tok != json.Delim('{') {
		w.problem(at, "the dependency set must be a JSON object ({\"dependencies\": {…}})")
		w.broken = true // nothing after it is read (not "trailing data" too)
		return
	}
	w.object("", func(key string, at int64) {
		switch key {
		case "dependencies":
			w.dependencies()
		case "overrideMessageExpiryWindow":
			w.number(key, "a whole number of seconds")
		default:
			w.problem(at, "unknown field %q: a dependency set has \"dependencies\" and \"overrideMessageExpiryWindow\"", key)
			w.skip()
		}
	})
}

func (w *depSetWalker) dependencies() {
	tok, at, ok := w.token()
	if !ok {
		return
	}
	if tok == nil {
		return // null: "names no chain", said after the read
	}
	if tok != json.Delim('{') {
		w.problem(at, "dependencies must be an object of chain IDs, not %s", describeToken(tok))
		w.skipRest(tok)
		return
	}
	w.object("dependencies", func(id string, at int64) {
		path := fmt.Sprintf("dependencies[%q]", id)
		switch {
		case !isDecimal(id):
			w.problem(at, "chain ID %q is not a decimal number", id)
		case len(id) > 1 && id[0] == '0':
			w.problem(at, "chain ID %q has a leading zero: write %s", id, strings.TrimLeft(id, "0"))
		}
		tok, at, ok := w.token()
		if !ok {
			return
		}
		if tok == nil {
			return
		}
		if tok != json.Delim('{') {
			w.problem(at, "%s must be an object ({} or {\"activationTime\": …}), not %s", path, describeToken(tok))
			w.skipRest(tok)
			return
		}
		w.object(path, func(field string, at int64) {
			switch field {
			case "activationTime", "historyMinTime":
				w.number(path+"."+field, "a whole number of seconds (a Unix time)")
			case "chainIndex":
				w.number(path+"."+field, "a whole number")
			default:
				w.problem(at, "unknown field %q in %s: a chain has activationTime (older files: chainIndex, historyMinTime)", field, path)
				w.skip()
			}
		})
	})
}

// object reads the members of an object whose '{' was read, calling member for each key (which
// must read the value), and its closing '}'. A key given twice is a problem: JSON readers
// differ on which one counts.
func (w *depSetWalker) object(path string, member func(key string, at int64)) {
	seen := map[string]bool{}
	for !w.broken && w.dec.More() {
		tok, at, ok := w.token()
		if !ok {
			return
		}
		key, _ := tok.(string)
		if seen[key] {
			name := strconv.Quote(key)
			if path != "" {
				name += " in " + path
			}
			w.problem(at, "%s is given twice", name)
		}
		seen[key] = true
		member(key, at)
	}
	w.token() // '}'
}

// number reads a value that must be an unsigned 64-bit whole number (or null).
func (w *depSetWalker) number(path, want string) {
	tok, at, ok := w.token()
	if !ok || tok == nil {
		return
	}
	n, isNumber := tok.(json.Number)
	if !isNumber {
		w.problem(at, "%s must be %s, not %s", path, want, describeToken(tok))
		w.skipRest(tok)
		return
	}
	if _, err := strconv.ParseUint(string(n), 10, 64); err != nil {
		w.problem(at, "%s must be %s from 0 to 18446744073709551615, not %s", path, want, n)
	}
}

// skip reads one value whatever it holds.
func (w *depSetWalker) skip() {
	tok, _, ok := w.token()
	if ok {
		w.skipRest(tok)
	}
}

// skipRest reads the rest of a value whose first token was tok.
func (w *depSetWalker) skipRest(tok json.Token) {
	if d, ok := tok.(json.Delim); ok && (d == '{' || d == '[') {
		for depth := 1; depth > 0; {
			t, _, ok := w.token()
			if !ok {
				return
			}
			switch t {
			case json.Delim('{'), json.Delim('['):
				depth++
			case json.Delim('}'), json.Delim(']'):
				depth--
			}
		}
	}
}

func describeToken(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			return "an array"
		}
		return "an object"
	case string:
		return "a string (" + strconv.Quote(t) + ")"
	case bool:
		return "true or false"
	case json.Number:
		return "a number"
	}
	return "null"
}

func isDecimal(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// lineColumn is the 1-based line and column of a byte offset of data.
func lineColumn(data []byte, offset int64) (line, col int) {
	line, col = 1, 1
	for _, r := range string(data[:min(int(offset), len(data))]) { // columns count characters
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}
