package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
)

// Duration is a time.Duration written in TOML as a string ("1s", "250ms").
type Duration time.Duration

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration (like \"500ms\" or \"2s\")", b)
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the duration as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// D is the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Decode decodes TOML into dst strictly: a key dst does not have, a value of the wrong kind
// and a duration without its unit are errors, all of them named at once with their lines.
func Decode(data []byte, dst any) error {
	if problems := checkDocument(data, dst); len(problems) > 0 {
		return problems
	}
	// What the check above does not see (a syntax error, above all) the decoder says.
	dec := toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var strict *toml.StrictMissingError
		if errors.As(err, &strict) {
			var keys []string
			for _, e := range strict.Errors {
				row, _ := e.Position()
				keys = append(keys, fmt.Sprintf("line %d: unknown config key %q", row, strings.Join(e.Key(), ".")))
			}
			return errors.New(strings.Join(keys, "\n"))
		}
		var de *toml.DecodeError
		if errors.As(err, &de) {
			row, col := de.Position()
			if key := de.Key(); len(key) > 0 {
				// The key as written, not the Go field it decodes into (issue 18:
				// "struct field ingress.Config.ChainID of type uint64").
				return fmt.Errorf("line %d column %d: %s: %s", row, col, strings.Join(key, "."), plainTypeError(de.Error()))
			}
			return fmt.Errorf("line %d column %d: %v", row, col, de)
		}
		return err
	}
	return nil
}

var durationType = reflect.TypeOf(Duration(0))

// MaxFileBytes bounds a config file: real ones are a few KiB, and the TOML decoder's cost grows
// with the square of a table's keys (found by a review: a 5 MB file ran for minutes).
const MaxFileBytes = 256 << 10

// ReadFileBounded reads the file at path, refusing one larger than limit bytes.
func ReadFileBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes: not a config file", path, limit)
	}
	return data, nil
}

// Load reads path (if not empty) into dst, which holds the defaults, then applies the
// environment overrides named from prefix (see ApplyEnv).
func Load(path string, dst any, prefix string, environ []string) error {
	if path != "" {
		data, err := ReadFileBounded(path, MaxFileBytes)
		if err != nil {
			return fmt.Errorf("config: %w", err)
		}
		if err := Decode(data, dst); err != nil {
			return fmt.Errorf("config %s: %w", path, err)
		}
	}
	return ApplyEnv(dst, prefix, environ)
}

// Encode writes cfg as TOML (for --print-default-config).
func Encode(cfg any) ([]byte, error) {
	var buf bytes.Buffer
	enc := toml.NewEncoder(&buf)
	enc.SetIndentTables(true)
	if err := enc.Encode(cfg); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// EnvName is the environment variable of a key path: prefix, then the toml keys, upper case,
// joined by '_' (for example INTEROPGATE_FILTER + rpc.port = INTEROPGATE_FILTER_RPC_PORT).
func EnvName(prefix string, path []string) string {
	return strings.ToUpper(prefix + "_" + strings.Join(path, "_"))
}

// ApplyEnv sets every scalar field of dst (a pointer to a struct) whose environment variable
// is set in environ ("KEY=value" pairs, as os.Environ returns). Slices of scalars take a
// comma-separated list; slices of tables are file-only. An env var with the prefix that names
// no key is an error, so a typo does not pass silently.
func ApplyEnv(dst any, prefix string, environ []string) error {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, strings.ToUpper(prefix)+"_") {
			env[k] = v
		}
	}
	if len(env) == 0 {
		return nil
	}
	used := map[string]bool{}
	if err := walk(reflect.ValueOf(dst).Elem(), nil, func(path []string, v reflect.Value) error {
		name := EnvName(prefix, path)
		s, ok := env[name]
		if !ok {
			return nil
		}
		used[name] = true
		if err := setScalar(v, s); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	}); err != nil {
		return err
	}
	for k := range env {
		if !used[k] && !isSharedFlagEnv(k) && k != strings.ToUpper(prefix)+"_CONFIG" {
			return fmt.Errorf("environment variable %s %s", k, unknownEnvHint(dst, prefix, k))
		}
	}
	return nil
}

// unknownEnvHint says what is wrong with k, an environment variable of prefix that names no
// scalar key of dst (found by a review: a list of tables and the Redis password got the same
// "names no config key").
func unknownEnvHint(dst any, prefix, k string) string {
	if strings.HasSuffix(k, "_REDIS_PASSWORD") {
		return "names no config key: the Redis password is INTEROPGATE_REDIS_PASSWORD"
	}
	var lists []string
	var find func(v reflect.Value, path []string)
	find = func(v reflect.Value, path []string) {
		_ = eachField(v, func(_ reflect.StructField, name string, fv reflect.Value) error {
			p := append(append([]string(nil), path...), name)
			switch {
			case fv.Kind() == reflect.Struct && !isScalarStruct(fv):
				find(fv, p)
			case fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.Struct:
				if name := EnvName(prefix, p); k == name || strings.HasPrefix(k, name+"_") {
					lists = append(lists, strings.Join(p, "."))
				}
			}
			return nil
		})
	}
	find(reflect.ValueOf(dst).Elem(), nil)
	if len(lists) > 0 {
		return fmt.Sprintf("names %s, a list of tables ([[%s]]): those are set in the config file only", lists[0], lists[0])
	}
	return "names no config key"
}

// EnvOverrides lists the environment variables of environ that set a key of dst under prefix,
// as "VARIABLE (key)": an error about a key may come from one of them rather than the file.
func EnvOverrides(dst any, prefix string, environ []string) []string {
	set := map[string]bool{}
	for _, kv := range environ {
		if k, _, ok := strings.Cut(kv, "="); ok {
			set[k] = true
		}
	}
	var out []string
	_ = walk(reflect.ValueOf(dst).Elem(), nil, func(path []string, _ reflect.Value) error {
		if name := EnvName(prefix, path); set[name] {
			out = append(out, fmt.Sprintf("%s (%s)", name, strings.Join(path, ".")))
		}
		return nil
	})
	return out
}

// isSharedFlagEnv reports whether k belongs to a command-line flag rather than a config key;
// those are read by the flag parser, not here.
func isSharedFlagEnv(k string) bool {
	for _, p := range []string{"INTEROPGATE_LOG_", "INTEROPGATE_METRICS_", "INTEROPGATE_TEST_"} {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

// Keys lists every key path of cfg that ApplyEnv can set, for documentation.
func Keys(cfg any) [][]string {
	var out [][]string
	_ = walk(reflect.ValueOf(cfg).Elem(), nil, func(path []string, _ reflect.Value) error {
		out = append(out, append([]string(nil), path...))
		return nil
	})
	return out
}

// tomlName is the key a struct field has in TOML; false for a field TOML does not see.
func tomlName(f reflect.StructField) (string, bool) {
	if !f.IsExported() {
		return "", false
	}
	name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
	switch name {
	case "-":
		return "", false
	case "":
		return strings.ToLower(f.Name), true
	}
	return name, true
}

// eachField calls fn for every exported field of the struct v that TOML sees, with its key name.
func eachField(v reflect.Value, fn func(f reflect.StructField, name string, fv reflect.Value) error) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, ok := tomlName(f)
		if !ok {
			continue
		}
		if err := fn(f, name, v.Field(i)); err != nil {
			return err
		}
	}
	return nil
}

func walk(v reflect.Value, path []string, visit func([]string, reflect.Value) error) error {
	return eachField(v, func(_ reflect.StructField, name string, fv reflect.Value) error {
		p := append(append([]string(nil), path...), name)
		switch {
		case fv.Kind() == reflect.Struct && !isScalarStruct(fv):
			return walk(fv, p, visit)
		case fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.Struct:
			return nil // tables in a list are configured in the file only
		}
		return visit(p, fv)
	})
}

func isScalarStruct(v reflect.Value) bool {
	_, ok := v.Addr().Interface().(interface{ UnmarshalText([]byte) error })
	return ok
}

func setScalar(v reflect.Value, s string) error {
	if u, ok := v.Addr().Interface().(interface{ UnmarshalText([]byte) error }); ok {
		return u.UnmarshalText([]byte(s))
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%q is not a bool", s)
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("%q is not an integer", s)
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(s, 10, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("%q is not a non-negative integer", s)
		}
		v.SetUint(n)
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", s)
		}
		v.SetFloat(f)
	case reflect.Slice:
		if strings.TrimSpace(s) == "" { // an empty list (found by a review: it could not be set)
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
			return nil
		}
		parts := strings.Split(s, ",")
		out := reflect.MakeSlice(v.Type(), len(parts), len(parts))
		for i, p := range parts {
			if err := setScalar(out.Index(i), strings.TrimSpace(p)); err != nil {
				return err
			}
		}
		v.Set(out)
	default:
		return fmt.Errorf("cannot be set from the environment (type %s)", v.Type())
	}
	return nil
}

// Entry is one key of a config file, for the reference documentation.
type Entry struct {
	Key     string // dotted path; a table in a list is "section.list[].key"
	Default string
	Comment string
}

// Reference lists every key of cfg (a pointer to a struct holding the defaults) with its
// default and its comment tag, in field order.
func Reference(cfg any) []Entry {
	var out []Entry
	reference(reflect.ValueOf(cfg).Elem(), "", &out)
	return out
}

func reference(v reflect.Value, prefix string, out *[]Entry) {
	_ = eachField(v, func(f reflect.StructField, name string, fv reflect.Value) error {
		key := prefix + name
		switch {
		case fv.Kind() == reflect.Struct && !isScalarStruct(fv):
			reference(fv, key+".", out)
		case fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.Struct:
			reference(reflect.New(fv.Type().Elem()).Elem(), key+"[].", out)
		default:
			*out = append(*out, Entry{Key: key, Default: defaultOf(fv), Comment: f.Tag.Get("comment")})
		}
		return nil
	})
}

func defaultOf(v reflect.Value) string {
	if m, ok := v.Interface().(interface{ MarshalText() ([]byte, error) }); ok {
		b, _ := m.MarshalText()
		return string(b)
	}
	if v.Kind() == reflect.Slice && v.Len() == 0 {
		return "[]"
	}
	return fmt.Sprint(v.Interface())
}

// tomlKind finds what the file holds in go-toml's type errors ("cannot decode TOML integer",
// "cannot store TOML inline table").
var tomlKind = regexp.MustCompile(`TOML (inline table|\w+)`)

// plainTypeError says what a type error means in the config's terms: what the file holds and
// what the key wants, never the Go type it decodes into (found by reviews: "struct field
// ingress.Config.ChainID of type uint64", struct dumps with their tags).
func plainTypeError(msg string) string {
	if !strings.Contains(msg, "cannot decode") && !strings.Contains(msg, "cannot store") {
		return strings.TrimPrefix(msg, "toml: ") // the value's own error ("… is not a duration")
	}
	got := "a value"
	if m := tomlKind.FindStringSubmatch(msg); m != nil {
		got = "a TOML " + m[1]
	}
	i := strings.LastIndex(msg, " of type ")
	t := ""
	if i >= 0 {
		t = msg[i+len(" of type "):]
	}
	want := "another type: see --print-default-config for the key's default"
	switch {
	case strings.HasSuffix(t, "Duration"):
		want = `a duration string with its unit, e.g. "250ms"`
	case t == "string":
		want = "a string"
	case t == "bool":
		want = "true or false"
	case strings.HasPrefix(t, "[]") && (strings.Contains(t, "struct") || strings.Contains(t, ".")):
		want = "an array of tables ([[…]])"
	case strings.HasPrefix(t, "[]"):
		want = "an array"
	case strings.HasPrefix(t, "map[") || strings.HasPrefix(t, "struct") || strings.Contains(t, "."):
		want = "a table"
	case strings.HasPrefix(t, "int") || strings.HasPrefix(t, "uint") || strings.HasPrefix(t, "float"):
		want = "a number"
	}
	return fmt.Sprintf("%s where %s is wanted", got, want)
}
