package main

// interopgate failsafe status|enable|disable: the filters' failsafe at hand (issue 18), against
// the filters a gateway's or revalidator's config names.

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ethereum/go-ethereum/node"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/interopgate/interopgate/internal/config"
	sc "github.com/interopgate/interopgate/supervisorclient"
	"github.com/pelletier/go-toml/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/urfave/cli/v2"
	"go.uber.org/zap"
)

func failsafeCommand(st *appState) *cli.Command {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "config", Required: true, Usage: "a gateway's or revalidator's TOML config: its [filters] endpoints are the ones acted on"},
		&cli.DurationFlag{Name: "timeout", Value: 10 * time.Second, Usage: "how long to wait for every endpoint to report the state asked for; the table is then read once more, for at most half of it (5 s at most)"},
	}
	action := func(want *bool) cli.ActionFunc {
		return func(c *cli.Context) error { return runFailsafe(c, st, want) }
	}
	on, off := true, false
	return &cli.Command{
		Name:  "failsafe",
		Usage: "show, enable or clear the interop failsafe of the filters a config names",
		Description: "status asks each filter endpoint admin_getFailsafeEnabled; enable and disable call " +
			"admin_setFailsafeEnabled on each endpoint's admin_url (op-interop-filter's JWT-protected admin port, " +
			"with admin_jwt_secret; the interopgate light filter with allow_set_failsafe), then read every endpoint " +
			"back until each reports the state asked for. It reports \"cleared\" only when every endpoint says off, " +
			"and exits 1 when an endpoint does not answer or disagrees.",
		Subcommands: []*cli.Command{
			{Name: "status", Usage: "each endpoint's failsafe and reachability", Flags: flags, Action: action(nil)},
			{Name: "enable", Usage: "turn the failsafe on at every endpoint", Flags: flags, Action: action(&on)},
			{Name: "disable", Usage: "clear the failsafe at every endpoint", Flags: flags, Action: action(&off)},
		},
	}
}

// failsafeState is one endpoint's answer.
type failsafeState struct {
	name string
	on   bool
	err  error
}

func runFailsafe(c *cli.Context, st *appState, want *bool) error {
	if c.Duration("timeout") <= 0 {
		return cli.Exit("--timeout must be positive", 2)
	}
	eps, err := failsafeEndpoints(c.String("config"))
	if err != nil {
		return cli.Exit(err.Error(), 2)
	}
	ctx, cancel := context.WithTimeout(c.Context, c.Duration("timeout"))
	defer cancel()
	if want != nil {
		for _, e := range eps {
			if err := setFailsafe(ctx, e, *want); err != nil {
				fmt.Fprintf(st.stderr, "%s: admin_setFailsafeEnabled(%v): %v\n", e.Name, *want, err)
			}
		}
	}
	// Read every endpoint back until each reports the state asked for (or, for status, once).
	var states []failsafeState
	for {
		states = readFailsafe(ctx, eps)
		if want == nil || agree(states, *want) || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond): // polling the endpoints against the timeout
		}
	}
	if ctx.Err() != nil {
		// The wait is over; the table shows what each endpoint says now, under a bound of its
		// own (found by a review: read under the expired context, a live endpoint read
		// "unknown: context deadline exceeded").
		last, cancel := context.WithTimeout(c.Context, min(5*time.Second, c.Duration("timeout")/2))
		states = readFailsafe(last, eps)
		cancel()
	}
	printFailsafe(st.stdout, states)
	anyOn, failed := false, false
	for _, s := range states {
		failed = failed || s.err != nil
		anyOn = anyOn || s.on
	}
	switch {
	case want != nil && !agree(states, *want):
		return cli.Exit(fmt.Sprintf("not every endpoint reports the failsafe %s", onOff(*want)), 1)
	case failed:
		return cli.Exit("not every endpoint answered: the failsafe state is not known everywhere", 1)
	case anyOn:
		fmt.Fprintln(st.stdout, "failsafe ON: every interop tx is refused")
	default:
		if want == nil {
			fmt.Fprintln(st.stdout, "off: every endpoint reports the failsafe off")
		} else {
			fmt.Fprintln(st.stdout, "cleared: every endpoint reports the failsafe off")
		}
	}
	return nil
}

// failsafeEndpoints reads the filter endpoints of the config at path, a gateway's or a
// revalidator's (told apart by its sections), as strictly as that service reads it (found by a
// review: a typo such as admin_ulr was ignored, and the admin call went to url).
func failsafeEndpoints(path string) ([]filterEndpoint, error) {
	data, err := config.ReadFileBounded(path, config.MaxFileBytes)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	var sections map[string]any
	if err := toml.Unmarshal(data, &sections); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, config.Decode(data, &struct{}{}))
	}
	// As config.Load reads it, from the bytes read once.
	load := func(cfg any, envPrefix string) error {
		if err := config.Decode(data, cfg); err != nil {
			return fmt.Errorf("config %s: %w", path, err)
		}
		return config.ApplyEnv(cfg, envPrefix, os.Environ())
	}
	var filters *filtersConfig
	switch _, reval := sections["revalidator"]; {
	case reval || sections["node"] != nil:
		cfg := defaultRevalidatorConfig()
		if err := load(cfg, "INTEROPGATE_REVALIDATOR"); err != nil {
			return nil, err
		}
		filters = &cfg.Filters
	default:
		cfg := defaultGatewayConfig()
		if err := load(cfg, "INTEROPGATE_GATEWAY"); err != nil {
			return nil, err
		}
		filters = &cfg.Filters
	}
	eps := filters.Endpoints
	if len(eps) == 0 {
		return nil, fmt.Errorf("config %s names no [[filters.endpoints]]", path)
	}
	// The checks the service makes of its [filters] (strategy, URLs, an endpoint twice), and the
	// admin secrets this command will use, before anything is sent (found by a review).
	var errs configErrors
	_, _, err = filters.build(zap.NewNop(), sc.NewMetrics(prometheus.NewRegistry()))
	errs.add("", err)
	for i, e := range eps {
		if e.AdminJWTSecret != "" {
			_, err := readJWTSecret(e.AdminJWTSecret)
			errs.add(fmt.Sprintf("filters.endpoints[%d]", i), err)
		}
	}
	if err := errs.err(); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return eps, nil
}

func agree(states []failsafeState, want bool) bool {
	for _, s := range states {
		if s.err != nil || s.on != want {
			return false
		}
	}
	return true
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

func readFailsafe(ctx context.Context, eps []filterEndpoint) []failsafeState {
	out := make([]failsafeState, len(eps))
	for i, e := range eps {
		out[i].name = e.Name
		client, err := rpc.DialContext(ctx, e.URL)
		if err != nil {
			out[i].err = err
			continue
		}
		out[i].err = client.CallContext(ctx, &out[i].on, "admin_getFailsafeEnabled")
		client.Close()
	}
	return out
}

// setFailsafe calls admin_setFailsafeEnabled at the endpoint's admin URL, with a JWT from its
// secret when one is given (op-interop-filter's admin port requires one).
func setFailsafe(ctx context.Context, e filterEndpoint, on bool) error {
	url := e.AdminURL
	if url == "" {
		url = e.URL
	}
	var opts []rpc.ClientOption
	if e.AdminJWTSecret != "" {
		secret, err := readJWTSecret(e.AdminJWTSecret)
		if err != nil {
			return err
		}
		opts = append(opts, rpc.WithHTTPAuth(node.NewJWTAuth(secret)))
	}
	client, err := rpc.DialOptions(ctx, url, opts...)
	if err != nil {
		return err
	}
	defer client.Close()
	return client.CallContext(ctx, nil, "admin_setFailsafeEnabled", on)
}

// readJWTSecret reads an admin port's JWT secret file: 32 bytes of hex, as op-interop-filter's
// --admin.jwt-secret.
func readJWTSecret(path string) ([32]byte, error) {
	raw, err := config.ReadFileBounded(path, 1<<10)
	if err != nil {
		return [32]byte{}, fmt.Errorf("admin_jwt_secret: %w", err)
	}
	b, err := hex.DecodeString(strings.TrimPrefix(strings.TrimSpace(string(raw)), "0x"))
	if err != nil || len(b) != 32 {
		return [32]byte{}, fmt.Errorf("admin_jwt_secret %s: want 32 bytes of hex", path)
	}
	return [32]byte(b), nil
}

func printFailsafe(w io.Writer, states []failsafeState) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "endpoint\tfailsafe\treachable\t")
	for _, s := range states {
		if s.err != nil {
			fmt.Fprintf(tw, "%s\tunknown\tno: %v\t\n", s.name, s.err)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\tyes\t\n", s.name, onOff(s.on))
	}
	tw.Flush()
}
