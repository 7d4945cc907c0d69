package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Issue 18: `interopgate failsafe enable|status|disable` against the real op-interop-filter,
// its admin port guarded by a JWT as an operator runs it.
func TestFailsafeCommandAgainstTheReference(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	d, _ := startMates(t, ctx)
	secret := filepath.Join(t.TempDir(), "jwt.hex")
	if err := os.WriteFile(secret, []byte("0x"+strings.Repeat("ab", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	ref := startReference(t, d, referenceOptions{expiryWindow: expiryWindow, adminJWT: secret})
	bin := filepath.Join(t.TempDir(), "interopgate")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/interopgate")
	build.Dir = ".." // the main module, with its own dependencies
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building interopgate: %v\n%s", err, out)
	}
	cfg := filepath.Join(t.TempDir(), "gateway.toml")
	body := fmt.Sprintf("[[filters.endpoints]]\nname = \"op-interop-filter\"\nurl = %q\nadmin_url = %q\nadmin_jwt_secret = %q\n", ref.url, ref.adminURL, secret)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	failsafe := func(verb string) (string, error) {
		out, err := exec.CommandContext(ctx, bin, "failsafe", verb, "--config", cfg).CombinedOutput()
		return string(out), err
	}
	for _, step := range []struct{ verb, want string }{
		{"status", "off: every endpoint"}, {"enable", "failsafe ON"}, {"status", "failsafe ON"}, {"disable", "cleared"}, {"status", "off: every endpoint"},
	} {
		if out, err := failsafe(step.verb); err != nil || !strings.Contains(out, step.want) {
			t.Fatalf("failsafe %s: %v\n%s", step.verb, err, out)
		}
	}
	// Without the admin port's secret, op-interop-filter refuses: nothing is reported cleared.
	if _, err := failsafe("enable"); err != nil {
		t.Fatal(err)
	}
	noJWT := filepath.Join(t.TempDir(), "nojwt.toml")
	_ = os.WriteFile(noJWT, []byte(fmt.Sprintf("[[filters.endpoints]]\nname = \"op-interop-filter\"\nurl = %q\nadmin_url = %q\n", ref.url, ref.adminURL)), 0o600)
	out, err := exec.CommandContext(ctx, bin, "failsafe", "disable", "--timeout", "2s", "--config", noJWT).CombinedOutput()
	if err == nil || strings.Contains(string(out), "cleared") {
		t.Fatalf("disable without the JWT: %v\n%s", err, out)
	}
}
