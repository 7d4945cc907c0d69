package config

import (
	"os"
	"strings"
	"testing"
	"time"
)

type sample struct {
	RPC struct {
		Addr string `toml:"addr"`
		Port int    `toml:"port"`
	} `toml:"rpc"`
	Filter struct {
		Timeout  Duration `toml:"timeout"`
		Enabled  bool     `toml:"enabled"`
		Chains   []uint64 `toml:"chains"`
		Backends []struct {
			URL string `toml:"url"`
		} `toml:"backends"`
	} `toml:"filter"`
}

func TestDecodeStrict(t *testing.T) {
	var s sample
	err := Decode([]byte("[rpc]\naddr = \"0.0.0.0\"\nprot = 8545\n"), &s)
	if err == nil || !strings.Contains(err.Error(), `line 3: unknown config key "rpc.prot"`) {
		t.Fatalf("typo: %v", err)
	}
	err = Decode([]byte("[filter]\ntimeout = \"soon\"\n"), &s)
	if err == nil || !strings.Contains(err.Error(), "duration") {
		t.Fatalf("bad duration: %v", err)
	}
	if err := Decode([]byte("[filter]\ntimeout = \"250ms\"\nchains = [901, 902]\n[[filter.backends]]\nurl = \"http://a\"\n"), &s); err != nil {
		t.Fatal(err)
	}
	if s.Filter.Timeout.D() != 250*time.Millisecond || len(s.Filter.Chains) != 2 || s.Filter.Backends[0].URL != "http://a" {
		t.Fatalf("%+v", s)
	}
}

func TestApplyEnv(t *testing.T) {
	var s sample
	s.RPC.Port = 1
	env := []string{"INTEROPGATE_X_RPC_PORT=9000", "INTEROPGATE_X_FILTER_TIMEOUT=3s", "INTEROPGATE_X_FILTER_ENABLED=true",
		"INTEROPGATE_X_FILTER_CHAINS=1, 2,3", "INTEROPGATE_LOG_LEVEL=debug", "PATH=/bin"}
	if err := ApplyEnv(&s, "INTEROPGATE_X", env); err != nil {
		t.Fatal(err)
	}
	if s.RPC.Port != 9000 || s.Filter.Timeout.D() != 3*time.Second || !s.Filter.Enabled || len(s.Filter.Chains) != 3 || s.Filter.Chains[2] != 3 {
		t.Fatalf("%+v", s)
	}
	// An empty value empties a list.
	if err := ApplyEnv(&s, "INTEROPGATE_X", []string{"INTEROPGATE_X_FILTER_CHAINS="}); err != nil || s.Filter.Chains == nil || len(s.Filter.Chains) != 0 {
		t.Fatalf("emptied list: %v %v", s.Filter.Chains, err)
	}
	for _, bad := range []string{"INTEROPGATE_X_RPC_PORT=many", "INTEROPGATE_X_RPC_PROT=1", "INTEROPGATE_X_FILTER_CHAINS=1,x"} {
		if err := ApplyEnv(&s, "INTEROPGATE_X", []string{bad}); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestEncodeAndKeys(t *testing.T) {
	var s sample
	s.Filter.Timeout = Duration(2 * time.Second)
	out, err := Encode(&s)
	if err != nil || !strings.Contains(string(out), "timeout = '2s'") {
		t.Fatalf("%s %v", out, err)
	}
	var back sample
	if err := Decode(out, &back); err != nil || back.Filter.Timeout != s.Filter.Timeout {
		t.Fatalf("round trip: %v", err)
	}
	if n := len(Keys(&s)); n != 5 {
		t.Fatalf("%d keys, want 5 (tables in lists are file-only)", n)
	}
}

// Issue 18: a bare number where a duration is meant decoded as nanoseconds ("request_timeout =
// 15" was 15 ns, and every read then timed out). It is refused with the key, in nested sections
// and lists of tables too.
func TestADurationWithoutUnitIsRefused(t *testing.T) {
	type item struct {
		Every Duration `toml:"every"`
	}
	type cfg struct {
		Timeout Duration `toml:"timeout"`
		Section struct {
			Poll Duration `toml:"poll"`
		} `toml:"section"`
		Items []item `toml:"items"`
		Count int    `toml:"count"`
	}
	for doc, key := range map[string]string{
		"timeout = 15\n":          `timeout: 15`,
		"[section]\npoll = 250\n": `section.poll: 250`,
		"[[items]]\nevery = \"1s\"\n[[items]]\nevery = 2\n": `items[1].every`,
	} {
		var c cfg
		err := Decode([]byte(doc), &c)
		if err == nil || !strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), "unit") {
			t.Errorf("%q: %v, want the key %s named", doc, err, key)
		}
	}
	var c cfg
	if err := Decode([]byte("timeout = \"15s\"\ncount = 3\n[section]\npoll = \"250ms\"\n"), &c); err != nil || c.Timeout.D() != 15*time.Second || c.Section.Poll.D() != 250*time.Millisecond {
		t.Fatalf("durations with units: %v %+v", err, c)
	}
}

// Issue 18: a value of the wrong type is named by its key and line, in the config's terms, not
// by the Go field it decodes into.
func TestAWrongTypeNamesTheKey(t *testing.T) {
	var s sample
	for body, want := range map[string]string{
		"[rpc]\nport = \"8545\"\n":     `line 2 column 8: rpc.port: a TOML string where a whole number is wanted`,
		"[filter]\nenabled = 1\n":      `filter.enabled: a TOML integer where true or false is wanted`,
		"[filter]\nchains = \"901\"\n": `filter.chains: a TOML string where an array is wanted`,
	} {
		err := Decode([]byte(body), &s)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "struct field") {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
	}
}

// Issue 18: a config with several errors reported them one per run. Every unknown key, value of
// the wrong kind and duration without its unit is named in one error, by line, in file order.
func TestEveryProblemIsNamedAtOnce(t *testing.T) {
	var s sample
	doc := "[rpc]\n" +
		"addr = 8545\n" + // 2: a number for a string
		"prot = 1\n" + // 3: a typo
		"[filter]\n" +
		"timeout = 15\n" + // 5: no unit
		"enabled = \"yes\"\n" + // 6: a string for a bool
		"chains = [901, \"902\", -1]\n" + // 7: a string and a negative in a list of chain IDs
		"[[filter.backends]]\n" +
		"url = \"http://a\"\n" +
		"[[filter.backends]]\n" +
		"uri = \"http://b\"\n" // 11: a typo in the second table of a list
	err := Decode([]byte(doc), &s)
	if err == nil {
		t.Fatal("accepted")
	}
	want := []string{
		"7 problems:",
		"line 2 column 8: rpc.addr: a TOML integer where a string is wanted",
		`line 3: unknown config key "rpc.prot"`,
		"line 5 column 11: filter.timeout: 15 is not a duration",
		"line 6 column 11: filter.enabled: a TOML string where true or false is wanted",
		"line 7 column 16: filter.chains[1]: a TOML string where a whole number is wanted",
		"line 7 column 23: filter.chains[2]: -1 is negative",
		`line 11: unknown config key "filter.backends[1].uri"`,
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%v", len(lines), len(want), err)
	}
	for i, w := range want {
		if !strings.Contains(lines[i], w) {
			t.Errorf("line %d: %q, want %q", i, lines[i], w)
		}
	}
}

// Inline tables and arrays of inline tables are checked too; their keys take the line they are on.
func TestInlineTablesAreChecked(t *testing.T) {
	var s sample
	err := Decode([]byte("rpc = { addr = \"x\", port = \"1\" }\nfilter = { backends = [ { url = \"a\" }, { url = 1 } ] }\n"), &s)
	if err == nil || !strings.Contains(err.Error(), "line 1") || !strings.Contains(err.Error(), "rpc.port: a TOML string where a whole number is wanted") ||
		!strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "filter.backends[1].url: a TOML integer where a string is wanted") {
		t.Fatalf("%v", err)
	}
}

// A config file never panics the process, however it is written.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{"[rpc]\naddr = 1\n", "rpc = { port = \"x\" }\n", "[[filter.backends]]\nurl = 1\n[[filter.backends]]\n",
		"filter.chains = [1, [2], {a = 1}]\n", "[filter]\ntimeout = 1.5\n", "a.b.c = 1\n[x.'y.z']\n"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var s sample
		_ = Decode(data, &s)
	})
}

// A config file is bounded (found by a review: the TOML decoder's cost grows with the square of a
// table's keys, and a 5 MB file ran for minutes): a larger one is refused before it is decoded.
func TestAConfigFileIsBounded(t *testing.T) {
	path := t.TempDir() + "/big.toml"
	if err := os.WriteFile(path, []byte(strings.Repeat("#", MaxFileBytes+1)), 0o600); err != nil {
		t.Fatal(err)
	}
	var s sample
	if err := Load(path, &s, "X", nil); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("a file past the bound: %v", err)
	}
	if err := os.WriteFile(path, []byte(strings.Repeat("#", MaxFileBytes-1)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Load(path, &s, "X", nil); err != nil {
		t.Fatalf("a file at the bound: %v", err)
	}
}

// An array of tables where a table is wanted is named with its line, and columns count
// characters, not bytes (both found by a review).
func TestPositionsOfArraysAndWideCharacters(t *testing.T) {
	var s sample
	for body, want := range map[string]string{
		"# é\n[[rpc]]\naddr = \"x\"\n":              "line 2 column 3: rpc: a TOML array where a table is wanted",
		"[rpc]\naddr = \"é\"\nport = \"é\"\n":       "line 3 column 8: rpc.port",
		"rpc = { addr = \"é\", port = \"1\" }\n":    "line 1 column 28: rpc.port",
		"[rpc]\naddr = \"x\"\n\n[rpc.x.y]\nz = 1\n": `line 4: unknown config key "rpc.x"`,
		"[[zzz.backends]]\nurl = 1\n":               `line 1: unknown config key "zzz"`,
	} {
		if err := Decode([]byte(body), &s); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
	}
}
