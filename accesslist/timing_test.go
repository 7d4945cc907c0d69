package accesslist

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/holiman/uint256"
)

func TestCheckTiming(t *testing.T) {
	tests := []struct {
		name                        string
		init, exec, timeout, window uint64
		want                        error
	}{
		{"same timestamp (§9: exec 3 / init 3)", 3, 3, 0, DefaultExpiryWindow, ErrSameTimestamp},
		{"init after exec", 4, 3, 0, DefaultExpiryWindow, ErrInitAfterExec},
		{"expired (§9: exec 100 / init 89 / window 10)", 89, 100, 0, 10, ErrExpired},
		{"expiry is inclusive: init + window == exec", 90, 100, 0, 10, nil},
		{"timeout rule (§9: exec 100 / timeout 10 / init 95 / window 10)", 95, 100, 10, 10, ErrTimeout},
		{"timeout rule holds at the boundary", 100, 101, 9, 10, nil},
		{"timeout rule one past the boundary", 100, 101, 10, 10, ErrTimeout},
		{"valid one second apart", 99, 100, 0, DefaultExpiryWindow, nil},
		{"default window, op-reth timeout", 1_700_000_000, 1_700_000_002, 7200, DefaultExpiryWindow, nil},
		{"init + window overflowing is a conflict (the reference's rule), not a saturation", math.MaxUint64 - 5, math.MaxUint64, math.MaxUint64, math.MaxUint64, ErrExpiryOverflow},
		{"init + window exactly at the limit", math.MaxUint64 - 10, math.MaxUint64 - 5, 0, 10, nil},
		{"saturating: huge timeout does not wrap", 1, 2, math.MaxUint64, DefaultExpiryWindow, ErrTimeout},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckTiming(tc.init, tc.exec, tc.timeout, tc.window)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if tc.want != nil && !errors.Is(err, ErrTiming) {
				t.Fatalf("%v does not wrap ErrTiming", err)
			}
		})
	}
}

func TestParseDependencySet(t *testing.T) {
	ds, err := ParseDependencySet([]byte(`{"dependencies":{"901":{},"902":{}},"overrideMessageExpiryWindow":10}`))
	if err != nil {
		t.Fatal(err)
	}
	if ds.ExpiryWindow() != 10 {
		t.Fatalf("window %d, want 10", ds.ExpiryWindow())
	}
	if !ds.Contains(*uint256.NewInt(901)) || !ds.Contains(*uint256.NewInt(902)) || ds.Contains(*uint256.NewInt(903)) {
		t.Fatal("membership wrong")
	}
	out, _ := ds.MarshalJSON()
	if string(out) != `{"dependencies":{"901":{},"902":{}},"overrideMessageExpiryWindow":10}` {
		t.Fatalf("MarshalJSON = %s", out)
	}

	ds, err = ParseDependencySet([]byte(`{"dependencies":{"901":{"chainIndex":1,"activationTime":50,"historyMinTime":0}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if ds.ExpiryWindow() != DefaultExpiryWindow {
		t.Fatalf("window %d, want the default", ds.ExpiryWindow())
	}

	bad := map[string]string{
		`{"dependencies":{"901":{}},"overrideMessageExpiryWindow":604801}`: "only shorten",
		`{"dependencies":{"901":{"activationTme":5}}}`:                     "unknown field",
		`{"dependencies":{"901":{}},"extra":1}`:                            "unknown field",
		`{"dependencies":{}}`:                                              "names no chain",
		`{"dependencies":{"0x385":{}}}`:                                    "not a decimal",
		`{"dependencies":{"0901":{}}}`:                                     "has a leading zero",
		`{"dependencies":{"0":{}}}`:                                        "chain ID 0",
		`{"dependencies":{"901":{}}} {}`:                                   "trailing",
		`[]`:                                                               "dependency set",
	}
	for in, want := range bad {
		if _, err := ParseDependencySet([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want it to mention %q", in, err, want)
		}
	}
}

func TestCheckMessage(t *testing.T) {
	ds, err := ParseDependencySet([]byte(`{"dependencies":{"901":{},"902":{"activationTime":1000}},"overrideMessageExpiryWindow":100}`))
	if err != nil {
		t.Fatal(err)
	}
	msg := func(chain, ts uint64) Message { return Message{ChainID: *uint256.NewInt(chain), Timestamp: ts} }
	exec := func(chain, ts, timeout uint64) ExecContext {
		return ExecContext{ChainID: *uint256.NewInt(chain), Timestamp: ts, Timeout: timeout}
	}
	tests := []struct {
		name string
		exec ExecContext
		msg  Message
		want error
	}{
		{"valid", exec(902, 2000, 0), msg(901, 1990), nil},
		{"unknown initiating chain", exec(902, 2000, 0), msg(903, 1990), ErrUnknownChain},
		{"unknown executing chain", exec(903, 2000, 0), msg(901, 1990), ErrUnknownChain},
		{"initiating before activation", exec(901, 1010, 0), msg(902, 999), ErrNotActivated},
		{"initiating in the activation block", exec(901, 1010, 0), msg(902, 1000), ErrActivationBlock},
		{"executing in the activation block", exec(902, 1000, 0), msg(901, 990), ErrActivationBlock},
		{"window from the set", exec(902, 2000, 0), msg(901, 1899), ErrExpired},
		{"timeout with the set's window", exec(902, 2000, 20), msg(901, 1910), ErrTimeout},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := ds.CheckMessage(tc.exec, tc.msg); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// Issue 18: a malformed dependency set says where: line and column, and the field of a wrong type.
func TestADependencySetErrorSaysWhere(t *testing.T) {
	for body, want := range map[string]string{
		"{\n  \"dependencies\": {\n    \"901\": {},\n  }\n}\n":                            "line 4, column 3: invalid character",
		"{\n  \"dependencies\": {\n    \"901\": {\"activationTime\": \"soon\"}\n  }\n}\n": `line 3, column 31: dependencies["901"].activationTime must be a whole number of seconds (a Unix time), not a string ("soon")`,
	} {
		if _, err := ParseDependencySet([]byte(body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
	}
}

// Issue 18: the chain of a bad field was lost ("dependencies.activationTime") and an unknown
// field had no line. Every problem of a file is named in one read, with its chain and place.
func TestEveryDependencySetProblemIsNamed(t *testing.T) {
	body := `{
  "dependencies": {
    "901": {"activationTime": -5},
    "902": {"activationtime": 10},
    "0x384": {},
    "903": [],
    "901": {}
  },
  "overrideMessageExpiryWindow": "1h",
  "extra": true
}
`
	_, err := ParseDependencySet([]byte(body))
	if err == nil {
		t.Fatal("accepted")
	}
	want := []string{
		`line 3, column 31: dependencies["901"].activationTime must be a whole number of seconds (a Unix time) from 0`,
		`line 4, column 13: unknown field "activationtime" in dependencies["902"]`,
		`line 5, column 5: chain ID "0x384" is not a decimal number`,
		`line 6, column 12: dependencies["903"] must be an object`,
		`line 7, column 5: "901" in dependencies is given twice`,
		`line 9, column 34: overrideMessageExpiryWindow must be a whole number of seconds, not a string ("1h")`,
		`line 10, column 3: unknown field "extra"`,
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d problems, want %d:\n%v", len(lines), len(want), err)
	}
	for i, w := range want {
		if !strings.Contains(lines[i], w) {
			t.Errorf("problem %d: %q, want %q", i, lines[i], w)
		}
	}
	for body, want := range map[string]string{
		"\xef\xbb\xbf{\"dependencies\": {\"901\": {}}}": "line 1, column 1: the file begins with a UTF-8 byte order mark",
		"{\"dependencies\": {\"901\": {}}}\n\n  {}":     "line 3, column 3: trailing data after the JSON object",
		"{\"dependencies\": {\"é\": 1}}":                "line 1, column 24: dependencies[\"é\"] must be an object", // columns count characters
		"[]":                                            "line 1, column 1: the dependency set must be a JSON object",
		"{\"dependencies\": {\"0902\": {}}}":            `chain ID "0902" has a leading zero: write 902`,
	} {
		if _, err := ParseDependencySet([]byte(body)); err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "trailing") != strings.Contains(want, "trailing") {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
	}
	// The good file of the same shape is read.
	good := "{\"dependencies\": {\"901\": {\"activationTime\": 5, \"chainIndex\": 1, \"historyMinTime\": null}, \"902\": {}}, \"overrideMessageExpiryWindow\": 3600}"
	if ds, err := ParseDependencySet([]byte(good)); err != nil || len(ds.ChainIDs()) != 2 {
		t.Fatalf("%q: %v", good, err)
	}
}

// A dependency-set file never panics the process, however it is written.
func FuzzParseDependencySet(f *testing.F) {
	for _, seed := range []string{`{"dependencies":{"901":{}}}`, `{"dependencies":{"901":{"activationTime":1}},"overrideMessageExpiryWindow":60}`,
		`{"dependencies":[1,{"a":[]}]}`, `{"x":{"y":[[[]]]}}`, `[]`, `{"dependencies":{"1":{"chainIndex":"0"}}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ds, err := ParseDependencySet(data)
		if (ds == nil) == (err == nil) {
			t.Fatalf("%q: set %v, error %v", data, ds, err)
		}
	})
}
