package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v4"
	"go.uber.org/zap"

	"github.com/interopgate/interopgate/devnet"
	"github.com/interopgate/interopgate/filterapi"
	"github.com/interopgate/interopgate/supervisorclient/light"
)

// Issue 18: interopgate failsafe enable, status and disable against two filters: the devnet's
// light filter (admin_setFailsafeEnabled on its own port) and one whose admin port takes a JWT,
// as op-interop-filter's does (--admin.jwt-secret: HS256, "iat" within 60 s).
func TestFailsafeCommand(t *testing.T) {
	net, err := devnet.Start(devnet.Config{}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { net.Close() })
	start := func() *filterapi.Server {
		checker, err := light.New(light.Config{Chains: []light.ChainRPC{{ChainID: 901, RPC: net.Chain(901).RPCURL()}, {ChainID: 902, RPC: net.Chain(902).RPCURL()}},
			Dependencies: net.DependencySet(), CrossUnsafeHead: light.HeadLatest})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(checker.Close)
		api, err := filterapi.New(checker, filterapi.Config{AllowSetFailsafe: true}, filterapi.WithLogger(zap.NewNop()))
		if err != nil {
			t.Fatal(err)
		}
		if err := api.Start("127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { api.Shutdown(context.Background()) })
		return api
	}
	light, guarded := start(), start()
	secret := [32]byte{1, 2, 3}
	secretFile := filepath.Join(t.TempDir(), "jwt.hex")
	if err := os.WriteFile(secretFile, []byte(fmt.Sprintf("0x%x\n", secret)), 0o600); err != nil {
		t.Fatal(err)
	}
	target, _ := url.Parse(guarded.URL())
	proxy := httputil.NewSingleHostReverseProxy(target)
	admin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, err := jwt.Parse(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), func(*jwt.Token) (any, error) { return secret[:], nil },
			jwt.WithValidMethods([]string{"HS256"}))
		claims, _ := token.Claims.(jwt.MapClaims)
		iat, _ := claims["iat"].(float64)
		if err != nil || !token.Valid || time.Since(time.Unix(int64(iat), 0)).Abs() > time.Minute {
			http.Error(w, "missing token", http.StatusUnauthorized)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(admin.Close)
	config := func(jwtFile string) string {
		return writeFile(t, "gw.toml", fmt.Sprintf(`
[gateway]
chain_id = 902
[[filters.endpoints]]
name = "light"
url = %q
[[filters.endpoints]]
name = "guarded"
url = %q
admin_url = %q
admin_jwt_secret = %q
`, light.URL(), guarded.URL(), admin.URL, jwtFile))
	}
	cfg := config(secretFile)
	out, err := run(t, "failsafe", "status", "--config", cfg)
	if err != nil || !strings.Contains(out, "off: every endpoint reports the failsafe off") {
		t.Fatalf("status: %v\n%s", err, out)
	}
	out, err = run(t, "failsafe", "enable", "--config", cfg)
	if err != nil || !strings.Contains(out, "failsafe ON") || !light.FailsafeEnabled() || !guarded.FailsafeEnabled() {
		t.Fatalf("enable: %v\n%s", err, out)
	}
	// A wrong secret: the guarded endpoint refuses, and the command will not say "cleared".
	wrong := filepath.Join(t.TempDir(), "wrong.hex")
	_ = os.WriteFile(wrong, []byte(fmt.Sprintf("%x", [32]byte{9})), 0o600)
	out, err = run(t, "failsafe", "disable", "--timeout", "1s", "--config", config(wrong))
	if err == nil || strings.Contains(out, "cleared") || !guarded.FailsafeEnabled() || light.FailsafeEnabled() {
		t.Fatalf("disable with a wrong secret: %v\n%s", err, out)
	}
	// The table after the wait shows what each says now (found by a review: read under the
	// expired context, the light filter read "unknown").
	if !regexp.MustCompile(`(?m)^light\s+off\s+yes`).MatchString(out) || !regexp.MustCompile(`(?m)^guarded\s+on\s+yes`).MatchString(out) {
		t.Fatalf("the table after the wait:\n%s", out)
	}
	// The config is read as strictly as the service reads it: a typo is named, not ignored.
	typo := writeFile(t, "typo.toml", "[gateway]\nchain_id = 902\n[[filters.endpoints]]\nname = \"x\"\nurl = \"http://127.0.0.1:1\"\nadmin_ulr = \"http://127.0.0.1:2\"\n")
	if _, err := run(t, "failsafe", "status", "--config", typo); err == nil || !strings.Contains(err.Error(), `unknown config key "filters.endpoints[0].admin_ulr"`) {
		t.Fatalf("a typo in the config: %v", err)
	}
	out, err = run(t, "failsafe", "disable", "--config", cfg)
	if err != nil || !strings.Contains(out, "cleared") || light.FailsafeEnabled() || guarded.FailsafeEnabled() {
		t.Fatalf("disable: %v\n%s", err, out)
	}
	// An endpoint that does not answer: its state is unknown, and the status says so.
	guarded.Shutdown(context.Background())
	out, err = run(t, "failsafe", "status", "--config", cfg)
	if err == nil || !strings.Contains(out, "unknown") || !strings.Contains(out, "no: ") || strings.Contains(out, "cleared") {
		t.Fatalf("status with an endpoint down: %v\n%s", err, out)
	}
}

// A second review found the failsafe command reading a config only as strictly as its keys:
// a bad strategy, a bad admin URL and a secret that is not one passed, the last found only
// when enable called the endpoint. They are named before anything is sent.
func TestFailsafeChecksTheConfigFirst(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.hex")
	_ = os.WriteFile(bad, []byte("not hex"), 0o600)
	cfg := writeFile(t, "gw.toml", fmt.Sprintf("[gateway]\nchain_id = 902\n[filters]\nstrategy = \"bogus\"\n[[filters.endpoints]]\nname = \"a\"\nurl = \"http://127.0.0.1:1\"\nadmin_url = \"ftp://x\"\nadmin_jwt_secret = %q\n", bad))
	_, err := run(t, "failsafe", "status", "--config", cfg)
	for _, want := range []string{`strategy "bogus"`, `admin_url "ftp://x"`, "admin_jwt_secret " + bad + ": want 32 bytes of hex"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q not named in: %v", want, err)
		}
	}
}
