package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/urfave/cli/v2"
	"go.uber.org/zap"

	"github.com/interopgate/interopgate/accesslist"
	"github.com/interopgate/interopgate/internal/config"
)

// newRegistry is the process's metrics registry, with Go runtime and process collectors.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// startMetrics serves reg on --metrics.addr:--metrics.port at /metrics, if metrics are
// enabled, and returns a function that stops the server.
// metricsPath serves another registry beside /metrics (the devnet's revalidator: its metric
// names would collide with the devnet filter's on one registry).
type metricsPath struct {
	path string
	reg  *prometheus.Registry
}

func startMetrics(c *cli.Context, reg *prometheus.Registry, log *zap.Logger, more ...metricsPath) (func(), error) {
	if !c.Bool(flagMetricsEnabled) {
		return func() {}, nil
	}
	addr := net.JoinHostPort(c.String(flagMetricsAddr), strconv.Itoa(c.Int(flagMetricsPort)))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen %s: %w (use --%s or --%s=false)", addr, err, flagMetricsPort, flagMetricsEnabled)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	for _, m := range more {
		mux.Handle(m.path, promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg}))
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", zap.Error(err))
		}
	}()
	log.Info("metrics listening", zap.String("url", "http://"+ln.Addr().String()+"/metrics"))
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

// signalContext is cancelled by SIGINT or SIGTERM, or when parent is.
func signalContext(parent context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(parent, syscall.SIGINT, syscall.SIGTERM)
}

// serviceFlags are the flags of a service subcommand configured by a TOML file; addr and port
// are the config's defaults, shown by --help (issue 18: it showed "default: 0").
func serviceFlags(envPrefix, addr string, port int) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "config", Usage: "TOML config file", EnvVars: []string{envPrefix + "_CONFIG"}},
		&cli.BoolFlag{Name: "print-default-config", Usage: "print the default config and exit"},
		&cli.BoolFlag{Name: "check-config", Usage: "load and validate the config as a start would (no connection is made), say \"config ok\" and exit; exit 2 naming the bad key otherwise"},
		&cli.StringFlag{Name: "rpc.addr", Value: addr, Usage: "listen address (overrides rpc.addr; the default is the config's)"},
		&cli.IntFlag{Name: "rpc.port", Value: port, Usage: "listen port (overrides rpc.port; the default is the config's)"},
	}
}

// loadServiceConfig fills cfg (holding the defaults) from --config, the environment and the
// --rpc flags. With --print-default-config it prints the defaults instead and done is true.
func loadServiceConfig(c *cli.Context, st *appState, cfg any, addr *string, port *int, envPrefix string) (done bool, err error) {
	if c.Bool("print-default-config") {
		out, err := config.Encode(cfg)
		if err != nil {
			return true, err
		}
		_, err = st.stdout.Write(out)
		return true, err
	}
	if err := config.Load(c.String("config"), cfg, envPrefix, os.Environ()); err != nil {
		return false, cli.Exit(err.Error(), 2)
	}
	if c.IsSet("rpc.addr") {
		*addr = c.String("rpc.addr")
	}
	if c.IsSet("rpc.port") {
		*port = c.Int("rpc.port")
	}
	// The listen settings are checked here, so --check-config names them (found by a review:
	// port 70000 passed the check and failed the start).
	var errs configErrors
	errs.add("rpc", checkListen(*addr, *port))
	if c.Bool(flagMetricsEnabled) {
		errs.add("--metrics", checkListen(c.String(flagMetricsAddr), c.Int(flagMetricsPort)))
		if p := c.Int(flagMetricsPort); p != 0 && p == *port {
			errs.add("rpc", fmt.Errorf("port %d is the metrics port too (--metrics.port): the second listener would fail", p))
		}
	}
	if err := errs.err(); err != nil {
		return false, cli.Exit(err.Error(), 2)
	}
	return false, nil
}

// configExit ends a start whose config is wrong (exit 2), naming the environment variables that
// set keys of cfg under prefix: the key an error names may come from one of them rather than
// the file (found by a review: an override sent the operator looking in the file).
func configExit(err error, cfg any, prefix string) error {
	msg := err.Error()
	if env := config.EnvOverrides(cfg, prefix, os.Environ()); len(env) > 0 {
		msg += "\n(keys set from the environment: " + strings.Join(env, ", ") + ")"
	}
	return cli.Exit(msg, 2)
}

// checkListen validates a listen address and port: an IP address, a host name or empty (every
// interface), and a port from 0 (any free one) to 65535.
func checkListen(addr string, port int) error {
	var errs []error
	if port < 0 || port > 65535 {
		errs = append(errs, fmt.Errorf("port %d: want 0 to 65535", port))
	}
	if addr != "" && net.ParseIP(addr) == nil && (!hostName.MatchString(addr) || allDigits.MatchString(addr)) {
		errs = append(errs, fmt.Errorf("addr %q: want an IP address or a host name", addr))
	}
	return errors.Join(errs...)
}

// allDigits is what is an IPv4 address or nothing (999.1.1.1 is no host name).
var allDigits = regexp.MustCompile(`^[0-9.]+$`)

// hostName is a DNS host name (RFC 1123 labels).
var hostName = regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)

// maxDependencySetBytes bounds a dependency-set file (a real one names a few chains).
const maxDependencySetBytes = 1 << 20

// loadDependencySet reads the dependency-set file at path or, without one, builds the set of
// chains with the given expiry window. section names the config section in errors.
func loadDependencySet(section, path string, chains []uint64, window uint64) (*accesslist.DependencySet, error) {
	if path != "" {
		data, err := config.ReadFileBounded(path, maxDependencySetBytes)
		if err != nil {
			return nil, fmt.Errorf("%s.dependency_set: %w", section, err)
		}
		deps, err := accesslist.ParseDependencySet(data)
		if err != nil {
			return nil, fmt.Errorf("%s.dependency_set %s: %w", section, path, err)
		}
		return deps, nil
	}
	if len(chains) == 0 {
		return nil, fmt.Errorf("%s: no chain configured: set dependency_set or the chains", section)
	}
	return accesslist.NewDependencySet(chains, window)
}

// configOK ends a --check-config run: the config built without error.
func configOK(c *cli.Context, st *appState) (bool, error) {
	if !c.Bool("check-config") {
		return false, nil
	}
	_, err := fmt.Fprintln(st.stdout, "config ok")
	return true, err
}
