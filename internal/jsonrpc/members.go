package jsonrpc

import (
	"bytes"
	"encoding/json"
	"strings"
)

// members are the envelope members of a call.
var members = [...]string{"jsonrpc", "id", "method", "params"}

// errAmbiguous answers a call whose envelope another JSON decoder could read differently.
func errAmbiguous() *Error {
	return Errorf(CodeInvalidRequest, `invalid request: a member of the call is given twice or spelled another way ("Method", "METHOD", escapes): spell each of jsonrpc, id, method, params once, in lower case`)
}

// ambiguous reports whether the call object obj names an envelope member twice, or in another
// spelling (case, escapes). Go's decoder matches case-insensitively and keeps the last
// duplicate; other servers match exactly or keep the first: such a call would be judged as
// one method and run as another. obj must be valid JSON (it was decoded already).
func ambiguous(obj []byte) bool {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return false
	}
	var seen [len(members)]bool
	i++
	for {
		i = skipSpace(obj, i)
		if i >= len(obj) || obj[i] != '"' {
			return false // '}' or malformed: nothing more to read
		}
		end := skipString(obj, i)
		key := obj[i+1 : end-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			var s string
			if json.Unmarshal(obj[i:end], &s) != nil {
				return true
			}
			for _, m := range members {
				if strings.EqualFold(s, m) {
					return true // an escaped spelling of a member
				}
			}
		} else {
			for k, m := range members {
				if string(key) == m {
					if seen[k] {
						return true
					}
					seen[k] = true
				} else if strings.EqualFold(string(key), m) {
					return true // another case, or a Unicode fold Go's decoder also takes ("paramſ")
				}
			}
		}
		i = skipSpace(obj, end)
		if i >= len(obj) || obj[i] != ':' {
			return false
		}
		i = skipValue(obj, skipSpace(obj, i+1))
		i = skipSpace(obj, i)
		if i >= len(obj) || obj[i] != ',' {
			return false
		}
		i++
	}
}

// anyAmbiguous applies ambiguous to each element of the array body.
func anyAmbiguous(body []byte) bool {
	i := skipSpace(body, 0)
	if i >= len(body) || body[i] != '[' {
		return false
	}
	i++
	for {
		i = skipSpace(body, i)
		if i >= len(body) || body[i] == ']' {
			return false
		}
		end := skipValue(body, i)
		if body[i] == '{' && ambiguous(body[i:end]) {
			return true
		}
		i = skipSpace(body, end)
		if i >= len(body) || body[i] != ',' {
			return false
		}
		i++
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] == '"'.
func skipString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(b)
}

// skipValue returns the index after the JSON value starting at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = skipString(b, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(b)
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\r' && b[j] != '\n' {
		j++
	}
	return j
}
