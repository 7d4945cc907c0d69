package config

import (
	"encoding"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// problem is one thing wrong in a config file: where, which key, what.
type problem struct {
	line, column int // 1-based; 0 when unknown
	key          string
	msg          string
	unknown      bool // a key the config does not have
}

func (p problem) String() string {
	if p.unknown {
		if p.line > 0 {
			return fmt.Sprintf("line %d: unknown config key %q", p.line, p.key)
		}
		return fmt.Sprintf("unknown config key %q", p.key)
	}
	where := ""
	switch {
	case p.line > 0 && p.column > 0:
		where = fmt.Sprintf("line %d column %d: ", p.line, p.column)
	case p.line > 0:
		where = fmt.Sprintf("line %d: ", p.line)
	}
	return where + p.key + ": " + p.msg
}

// maxProblemsShown bounds the problems an error lists (a file of garbage has thousands).
const maxProblemsShown = 50

// problemsError lists every problem of a file, so that one run names them all (issue 18: a
// config with several errors reported them one per run).
type problemsError []problem

func (e problemsError) Error() string {
	if len(e) == 1 {
		return e[0].String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d problems:", len(e))
	for i, p := range e {
		if i == maxProblemsShown {
			fmt.Fprintf(&b, "\n  … and %d more", len(e)-i)
			break
		}
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// checkDocument compares the TOML document data with the struct type of dst: keys the struct
// does not have, values of the wrong kind, durations without a unit. It returns nil when the
// document does not parse (the decoder then says where) or nothing is wrong.
func checkDocument(data []byte, dst any) problemsError {
	var raw map[string]any
	if err := toml.Unmarshal(data, &raw); err != nil {
		return nil
	}
	var c checker
	c.table(reflect.TypeOf(dst), raw, "")
	if len(c.found) == 0 {
		return nil
	}
	// Where each problem is, found only when there are problems (a good file is parsed once
	// less).
	at := positions(data)
	for i := range c.found {
		c.found[i].place(at)
	}
	sort.SliceStable(c.found, func(i, j int) bool { return c.found[i].line < c.found[j].line })
	return c.found
}

type checker struct {
	found problemsError
}

type position struct{ line, column int }

func (c *checker) add(key, msg string) { c.found = append(c.found, problem{key: key, msg: msg}) }

// place gives p the position of its key, or of the nearest enclosing key the file wrote (a key
// inside an inline table has no line of its own).
func (p *problem) place(at map[string]position) {
	for k := p.key; k != ""; k = parentKey(k) {
		if pos, ok := at[k]; ok {
			p.line, p.column = pos.line, pos.column
			return
		}
	}
}

func parentKey(k string) string {
	if i := strings.LastIndexAny(k, ".["); i >= 0 {
		return k[:i]
	}
	return ""
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

var textUnmarshaler = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()

// table checks the table raw against the struct type t, key by key.
func (c *checker) table(t reflect.Type, raw map[string]any, prefix string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	fields := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		if name, ok := tomlName(t.Field(i)); ok {
			fields[name] = t.Field(i).Type
		}
	}
	names := make([]string, 0, len(raw))
	for k := range raw {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		key := join(prefix, name)
		ft, ok := fields[name]
		if !ok {
			c.found = append(c.found, problem{key: key, unknown: true})
			continue
		}
		c.value(ft, raw[name], key)
	}
}

// value checks one value against the type it decodes into.
func (c *checker) value(t reflect.Type, v any, key string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == durationType {
		switch s := v.(type) {
		case string:
			var d Duration
			if err := d.UnmarshalText([]byte(s)); err != nil {
				c.add(key, err.Error())
			}
		case int64, float64:
			// A bare number decodes as nanoseconds ("request_timeout = 15" would be 15 ns).
			c.add(key, fmt.Sprintf("%v is not a duration: write it with its unit, as a string (\"%vs\", \"%vms\")", s, s, s))
		default:
			c.wrongKind(key, v, `a duration string with its unit, e.g. "250ms"`)
		}
		return
	}
	if reflect.PointerTo(t).Implements(textUnmarshaler) {
		s, ok := v.(string)
		if !ok {
			c.wrongKind(key, v, "a string")
			return
		}
		if err := reflect.New(t).Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			c.add(key, err.Error())
		}
		return
	}
	switch t.Kind() {
	case reflect.String:
		if _, ok := v.(string); !ok {
			c.wrongKind(key, v, "a string")
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			c.wrongKind(key, v, "true or false")
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := v.(int64)
		if !ok {
			c.wrongKind(key, v, "a whole number")
			return
		}
		if bits := t.Bits(); bits < 64 && (n < -(1<<(bits-1)) || n > 1<<(bits-1)-1) {
			c.add(key, fmt.Sprintf("%d does not fit (at most %d)", n, int64(1)<<(bits-1)-1))
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := v.(int64)
		if !ok {
			c.wrongKind(key, v, "a whole number")
			return
		}
		if n < 0 {
			c.add(key, fmt.Sprintf("%d is negative where a number of 0 or more is wanted", n))
		} else if bits := t.Bits(); bits < 64 && uint64(n) > uint64(1)<<bits-1 {
			c.add(key, fmt.Sprintf("%d does not fit (at most %d)", n, uint64(1)<<bits-1))
		}
	case reflect.Float32, reflect.Float64:
		switch f := v.(type) {
		case int64:
		case float64:
			if t.Kind() == reflect.Float32 && math.Abs(f) > math.MaxFloat32 {
				c.add(key, fmt.Sprintf("%v does not fit", f))
			}
		default:
			c.wrongKind(key, v, "a number")
		}
	case reflect.Slice, reflect.Array:
		list, ok := v.([]any)
		if !ok {
			if t.Elem().Kind() == reflect.Struct {
				c.wrongKind(key, v, "an array of tables ([[…]])")
			} else {
				c.wrongKind(key, v, "an array")
			}
			return
		}
		for i, item := range list {
			c.value(t.Elem(), item, key+"["+strconv.Itoa(i)+"]")
		}
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			c.wrongKind(key, v, "a table")
			return
		}
		c.table(t, m, key)
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			c.wrongKind(key, v, "a table")
			return
		}
		for k, item := range m {
			c.value(t.Elem(), item, join(key, k))
		}
	}
}

func (c *checker) wrongKind(key string, v any, want string) {
	c.add(key, fmt.Sprintf("a TOML %s where %s is wanted", tomlKindOf(v), want))
}

// tomlKindOf names what the file holds, in TOML's terms.
func tomlKindOf(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case int64:
		return "integer"
	case float64:
		return "float"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "table"
	default:
		return "date or time"
	}
}

// positions maps each key the document writes (dotted, with "[i]" for the i-th table of an
// array of tables or the i-th element of an array) to where its value begins.
func positions(data []byte) map[string]position {
	at := map[string]position{}
	var p unstable.Parser
	p.Reset(data)
	// Where each line starts, found once: the parser's Shape scans from the first byte for each
	// key, which made a large file quadratic (found by a review: 16k keys took seconds).
	starts := []int{0}
	for i, b := range data {
		if b == '\n' {
			starts = append(starts, i+1)
		}
	}
	pos := func(r unstable.Range) position {
		off := int(r.Offset)
		line := sort.Search(len(starts), func(i int) bool { return starts[i] > off }) - 1
		return position{line: line + 1, column: utf8.RuneCount(data[starts[line]:off]) + 1} // columns count characters
	}
	arrayTables := map[string]int{}
	prefix := ""
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			it := e.Key()
			key, first := keyOf(&it)
			if first == nil {
				continue
			}
			// The tables a header implies ([a.b.c]: a and a.b) take its line where the file
			// gives them none (found by a review: an unknown [gateway.x.y] was put at [gateway]'s).
			for i := strings.IndexByte(key, '.'); i > 0; i = nextDot(key, i) {
				if _, seen := at[key[:i]]; !seen {
					at[key[:i]] = pos(first.Raw)
				}
			}
			if e.Kind == unstable.ArrayTable {
				if _, seen := at[key]; !seen {
					at[key] = pos(first.Raw) // the array as a whole: where it first appears
				}
				i := arrayTables[key]
				arrayTables[key] = i + 1
				key += "[" + strconv.Itoa(i) + "]"
			}
			prefix = key
			at[key] = pos(first.Raw)
		case unstable.KeyValue:
			keyValue(&p, e, prefix, at, pos)
		}
	}
	return at
}

// nextDot is the index of the first '.' of key after i, or -1.
func nextDot(key string, i int) int {
	if j := strings.IndexByte(key[i+1:], '.'); j >= 0 {
		return i + 1 + j
	}
	return -1
}

// keyOf joins a dotted key's parts; first is its first part's node (for its position). A part
// that is the i-th table of an array of tables seen before is not resolved: keys inside inline
// tables and arrays take the line of the nearest written key instead.
func keyOf(it *unstable.Iterator) (string, *unstable.Node) {
	var parts []string
	var first *unstable.Node
	for it.Next() {
		n := it.Node()
		if first == nil {
			first = n
		}
		parts = append(parts, string(n.Data))
	}
	return strings.Join(parts, "."), first
}

func keyValue(p *unstable.Parser, e *unstable.Node, prefix string, at map[string]position, pos func(unstable.Range) position) {
	it := e.Key()
	name, first := keyOf(&it)
	if first == nil {
		return
	}
	key := join(prefix, name)
	v := e.Value()
	if v.Raw.Length > 0 && v.Kind != unstable.Array && v.Kind != unstable.InlineTable {
		at[key] = pos(v.Raw)
	} else {
		at[key] = pos(first.Raw)
	}
	switch v.Kind {
	case unstable.InlineTable:
		children := v.Children()
		for children.Next() {
			if kv := children.Node(); kv.Kind == unstable.KeyValue {
				keyValue(p, kv, key, at, pos)
			}
		}
	case unstable.Array:
		children := v.Children()
		for i := 0; children.Next(); {
			n := children.Node()
			if n.Kind == unstable.Comment {
				continue
			}
			elem := key + "[" + strconv.Itoa(i) + "]"
			if n.Raw.Length > 0 {
				at[elem] = pos(n.Raw)
			}
			if n.Kind == unstable.InlineTable {
				kvs := n.Children()
				for kvs.Next() {
					if kv := kvs.Node(); kv.Kind == unstable.KeyValue {
						keyValue(p, kv, elem, at, pos)
					}
				}
			}
			i++
		}
	}
}
