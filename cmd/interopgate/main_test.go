package main

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/interopgate/interopgate/internal/config"
	"github.com/urfave/cli/v2"
)

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := newApp(&out, &out).Run(append([]string{"interopgate"}, args...))
	return out.String(), err
}

func TestVersion(t *testing.T) {
	out, err := run(t, "--version")
	if err != nil || !strings.HasPrefix(out, "interopgate version ") {
		t.Fatalf("%q, %v", out, err)
	}
}

func TestHelpListsSubcommands(t *testing.T) {
	out, err := run(t, "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"gateway", "revalidator", "filter", "devnet", "loadtest"} {
		if !strings.Contains(out, want) {
			t.Errorf("help lacks %s", want)
		}
	}
	for _, sub := range []string{"gateway", "filter", "devnet"} {
		out, err := run(t, sub, "--help")
		if err != nil || !strings.Contains(out, "--log.level") || !strings.Contains(out, "--metrics.port") {
			t.Errorf("%s --help lacks the shared flags (%v)", sub, err)
		}
	}
}

func TestLoggerFlags(t *testing.T) {
	check := func(args []string, wantErr string) {
		t.Helper()
		app := &cli.App{Flags: sharedFlags(true), Action: func(c *cli.Context) error {
			_, err := newLogger(c)
			return err
		}}
		err := app.Run(append([]string{"x"}, args...))
		if wantErr == "" && err != nil || wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)) {
			t.Errorf("%v: err %v, want %q", args, err, wantErr)
		}
	}
	check(nil, "")
	check([]string{"--log.format", "console", "--log.level", "debug"}, "")
	check([]string{"--log.level", "loud"}, "log.level")
	check([]string{"--log.format", "xml"}, "log.format")
	t.Setenv("INTEROPGATE_LOG_LEVEL", "nope")
	check(nil, "log.level")
}

func TestBadLogFlagFailsBeforeAnySubcommand(t *testing.T) {
	_, err := run(t, "revalidator", "--log.level", "loud")
	if err == nil || !strings.Contains(err.Error(), "log.level") {
		t.Fatalf("err %v", err)
	}
}

func TestDocMetricsListsEveryComponent(t *testing.T) {
	out, err := run(t, "doc", "metrics")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"`interopgate_filter_checks_total` | endpoint,method,outcome |", "`interopgate_light_checks_total`",
		"`interopgate_filterapi_calls_total`", "`interopgate_gateway_redis_up`", "`interopgate_gateway_shed_total`"} {
		if !strings.Contains(out, want) {
			t.Errorf("doc metrics lacks %s", want)
		}
	}
	if n := strings.Count(out, "\n| `interopgate_"); n < 25 {
		t.Errorf("only %d metrics documented", n)
	}
}

// Every config key of every service subcommand is in the operations guide's reference: a key
// added without documentation fails here (regenerate with `interopgate doc config`).
func TestConfigReferenceIsComplete(t *testing.T) {
	guide, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []any{defaultGatewayConfig(), defaultRevalidatorConfig(), defaultFilterConfig()} {
		for _, e := range config.Reference(cfg) {
			if !strings.Contains(string(guide), "| `"+e.Key+"` |") {
				t.Errorf("%T key %s is not in docs/operations.md (run interopgate doc config)", cfg, e.Key)
			}
		}
	}
}

// Issue 18: the load test serves no metrics, so it lists no --metrics.* flags (they were listed
// and did nothing); the services do.
func TestOnlyServicesTakeMetricsFlags(t *testing.T) {
	app := newApp(io.Discard, io.Discard)
	for _, cmd := range app.Commands {
		has := false
		for _, f := range cmd.Flags {
			if strings.HasPrefix(f.Names()[0], "metrics.") {
				has = true
			}
		}
		if want := cmd.Name != "loadtest" && cmd.Name != "doc" && cmd.Name != "failsafe"; has != want {
			t.Errorf("%s: metrics flags %v, want %v", cmd.Name, has, want)
		}
	}
}

// Found by a review: --json and --plot were silently ignored with --compare.
func TestCompareRefusesSingleRunOutputs(t *testing.T) {
	for _, f := range []string{"--json=r.json", "--plot=p.png"} {
		_, err := run(t, "loadtest", "--target", "http://127.0.0.1:1", "--compare", "http://127.0.0.1:2", f)
		if err == nil || !strings.Contains(err.Error(), "not available with --compare") {
			t.Errorf("%s with --compare: %v", f, err)
		}
	}
}
