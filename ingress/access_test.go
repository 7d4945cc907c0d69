package ingress_test

// Issue 16: CORS for browsers, per-method limits, API keys that exempt or raise the limits.

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/interopgate/interopgate/ingress"
	"github.com/interopgate/interopgate/internal/config"
)

func request(t *testing.T, method, url, body string, headers map[string]string) *fasthttp.Response {
	t.Helper()
	req, resp := fasthttp.AcquireRequest(), &fasthttp.Response{}
	defer fasthttp.ReleaseRequest(req)
	req.SetRequestURI(url)
	req.Header.SetMethod(method)
	req.Header.SetContentType("application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	req.SetBodyString(body)
	if err := fasthttp.DoTimeout(req, resp, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestCORS(t *testing.T) {
	f := newFakes(t, 0, func(c *ingress.Config) { c.CORSOrigins = []string{"https://app.example"} })
	pre := map[string]string{"Origin": "https://app.example", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
	resp := request(t, "OPTIONS", f.gw.URL(), "", pre)
	if resp.StatusCode() != http.StatusNoContent || string(resp.Header.Peek("Access-Control-Allow-Origin")) != "https://app.example" ||
		!strings.Contains(string(resp.Header.Peek("Access-Control-Allow-Methods")), "POST") {
		t.Fatalf("a preflight from an allowed origin: %d %s", resp.StatusCode(), resp.Header.String())
	}
	pre["Origin"] = "https://evil.example"
	resp = request(t, "OPTIONS", f.gw.URL(), "", pre)
	if resp.StatusCode() != http.StatusForbidden || len(resp.Header.Peek("Access-Control-Allow-Origin")) != 0 {
		t.Fatalf("a preflight from another origin: %d %s", resp.StatusCode(), resp.Header.String())
	}
	call := `{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}`
	resp = request(t, "POST", f.gw.URL(), call, map[string]string{"Origin": "https://app.example"})
	if resp.StatusCode() != 200 || string(resp.Header.Peek("Access-Control-Allow-Origin")) != "https://app.example" {
		t.Fatalf("a call from an allowed origin: %d %s", resp.StatusCode(), resp.Header.String())
	}
	// Off by default: no header, preflights refused.
	off := newFakes(t, 0, nil)
	if resp := request(t, "OPTIONS", off.gw.URL(), "", pre); resp.StatusCode() == http.StatusNoContent || len(resp.Header.Peek("Access-Control-Allow-Origin")) != 0 {
		t.Fatalf("CORS off: %d %s", resp.StatusCode(), resp.Header.String())
	}
}

func TestMethodLimitsAndAPIKeys(t *testing.T) {
	const key, keyExempt = "0123456789abcdef-raise", "0123456789abcdef-exempt"
	f := newFakesKeys(t, func(c *ingress.Config) {
		c.IPRateLimit, c.IPRateWindow = 4, config.Duration(time.Minute)
		c.MethodLimits = []ingress.MethodLimit{{Method: "eth_blockNumber", Limit: 2, Window: config.Duration(time.Minute)}}
	}, []ingress.APIKey{{Name: "raised", Key: key, LimitFactor: 2}, {Name: "exempt", Key: keyExempt, LimitFactor: 0}})
	blockNumber := `{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`
	chainID := `{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}`
	status := func(body string, headers map[string]string) (int, string) {
		resp := request(t, "POST", f.gw.URL(), body, headers)
		return resp.StatusCode(), string(resp.Body())
	}
	// Per method: the third eth_blockNumber is refused, eth_chainId is not; in a batch too.
	for i := range 3 {
		st, b := status(blockNumber, nil)
		if want := i < 2; (st == 200 && !strings.Contains(b, "error")) != want {
			t.Fatalf("eth_blockNumber %d: %d %s", i+1, st, b)
		}
		if i == 2 && (st != 429 || !strings.Contains(b, "-32016")) {
			t.Fatalf("over the method's limit: %d %s", st, b)
		}
	}
	if st, b := status(`[`+chainID+`,`+blockNumber+`]`, nil); st != 200 || !strings.Contains(b, `"result":"0x386"`) || !strings.Contains(b, "-32016") {
		t.Fatalf("a batch over the method's limit: %d %s", st, b)
	}
	// Per IP (4 in the window, 4 used): refused without a key; a key with factor 2 gets 8; a
	// key with factor 0 is exempt; an unknown key is refused with 401.
	if st, _ := status(chainID, nil); st != 429 {
		t.Fatalf("over ip_rate_limit: %d", st)
	}
	if st, b := status(chainID, map[string]string{"X-Api-Key": key}); st != 200 {
		t.Fatalf("a key that raises the limit: %d %s", st, b)
	}
	for range 10 {
		if st, b := status(blockNumber, map[string]string{"X-Api-Key": keyExempt}); st != 200 || strings.Contains(b, "error") {
			t.Fatalf("an exempt key: %d %s", st, b)
		}
	}
	if st, b := status(chainID, map[string]string{"X-Api-Key": "not-a-known-key-at-all"}); st != 401 || !strings.Contains(b, "-32001") {
		t.Fatalf("an unknown key: %d %s", st, b)
	}
}

func TestLoadAPIKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.toml")
	if err := os.WriteFile(path, []byte("[[keys]]\nname = \"a\"\nkey = \"aaaaaaaaaaaaaaaa\"\nlimit_factor = 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	keys, err := ingress.LoadAPIKeys(path, "b:bbbbbbbbbbbbbbbb:0")
	if err != nil || len(keys) != 2 || keys[0].LimitFactor != 3 || keys[1].Name != "b" {
		t.Fatalf("%+v %v", keys, err)
	}
	for env, want := range map[string]string{"c:short:1": "at least 16", "c:cccccccccccccccc:x": "not a number", "c:cccccccccccccccc": "name:key:limit_factor",
		"a:aaaaaaaaaaaaaaaa:1": "twice"} {
		if _, err := ingress.LoadAPIKeys(path, env); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", env, err, want)
		}
	}
}

// Found by the review: settings that could never apply passed the config check.
func TestAccessConfigIsChecked(t *testing.T) {
	for name, mutate := range map[string]func(*ingress.Config){
		"limit on a send": func(c *ingress.Config) {
			c.MethodLimits = []ingress.MethodLimit{{Method: "eth_sendRawTransaction", Limit: 1, Window: config.Duration(time.Second)}}
		},
		"limit on a typo": func(c *ingress.Config) {
			c.MethodLimits = []ingress.MethodLimit{{Method: "eth_foo", Limit: 1, Window: config.Duration(time.Second)}}
		},
		"a method limited twice": func(c *ingress.Config) {
			l := ingress.MethodLimit{Method: "eth_call", Limit: 1, Window: config.Duration(time.Second)}
			c.MethodLimits = []ingress.MethodLimit{l, l}
		},
		"an origin with a path":    func(c *ingress.Config) { c.CORSOrigins = []string{"https://app.example/path"} },
		"an origin with no scheme": func(c *ingress.Config) { c.CORSOrigins = []string{"app.example"} },
		"* with others":            func(c *ingress.Config) { c.CORSOrigins = []string{"*", "https://a.example"} },
		"a header HTTP uses":       func(c *ingress.Config) { c.APIKeyHeader = "Content-Type" },
		"a header with a space":    func(c *ingress.Config) { c.APIKeyHeader = "X Bad" },
	} {
		cfg := ingress.DefaultConfig()
		cfg.ChainID = 902
		mutate(&cfg)
		if err := cfg.Check(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	cfg := ingress.DefaultConfig()
	cfg.ChainID = 902
	cfg.CORSOrigins = []string{"https://app.example", "http://localhost:3000"}
	cfg.MethodLimits = []ingress.MethodLimit{{Method: "eth_call", Limit: 50, Window: config.Duration(time.Second)}}
	cfg.APIKeyHeader = "Authorization"
	if err := cfg.Check(); err != nil {
		t.Fatalf("a good config: %v", err)
	}
}
