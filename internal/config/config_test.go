package config

import (
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
	if err == nil || !strings.Contains(err.Error(), `"rpc.prot" (line 3)`) {
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
		"timeout = 15\n":          `"timeout"`,
		"[section]\npoll = 250\n": `"section.poll"`,
		"[[items]]\nevery = \"1s\"\n[[items]]\nevery = 2\n": `"items.1.every"`,
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
		"[rpc]\nport = \"8545\"\n":     `line 2 column 8: rpc.port: a TOML string where a number is wanted`,
		"[filter]\nenabled = 1\n":      `filter.enabled: a TOML integer where true or false is wanted`,
		"[filter]\nchains = \"901\"\n": `filter.chains: a TOML string where an array is wanted`,
	} {
		err := Decode([]byte(body), &s)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "struct field") {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
	}
}
