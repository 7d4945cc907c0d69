package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Shared flag names, as the OP Stack spells them.
const (
	flagLogLevel       = "log.level"
	flagLogFormat      = "log.format"
	flagMetricsEnabled = "metrics.enabled"
	flagMetricsAddr    = "metrics.addr"
	flagMetricsPort    = "metrics.port"
)

// sharedFlags are every command's flags; withMetrics adds the metrics listener's (the load test
// serves no metrics: issue 18 found them listed and doing nothing).
func sharedFlags(withMetrics bool) []cli.Flag {
	flags := []cli.Flag{
		&cli.StringFlag{Name: flagLogLevel, Value: "info", Usage: "log level: debug, info, warn, error", EnvVars: []string{"INTEROPGATE_LOG_LEVEL"}},
		&cli.StringFlag{Name: flagLogFormat, Value: "json", Usage: "log format: json or console (devnet defaults to console)", EnvVars: []string{"INTEROPGATE_LOG_FORMAT"}},
	}
	if !withMetrics {
		return flags
	}
	return append(flags,
		&cli.BoolFlag{Name: flagMetricsEnabled, Value: true, Usage: "serve Prometheus metrics on their own port", EnvVars: []string{"INTEROPGATE_METRICS_ENABLED"}},
		&cli.StringFlag{Name: flagMetricsAddr, Value: "0.0.0.0", Usage: "metrics listen address", EnvVars: []string{"INTEROPGATE_METRICS_ADDR"}},
		&cli.IntFlag{Name: flagMetricsPort, Value: 7300, Usage: "metrics listen port (0 picks a free port)", EnvVars: []string{"INTEROPGATE_METRICS_PORT"}},
	)
}

// newLogger builds the process's logger from the shared flags. Only main builds loggers; every
// package receives one.
func newLogger(c *cli.Context) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(c.String(flagLogLevel))
	if err != nil {
		return nil, fmt.Errorf("--%s: %w", flagLogLevel, err)
	}
	var cfg zap.Config
	switch format := c.String(flagLogFormat); format {
	case "json":
		cfg = zap.NewProductionConfig()
	case "console":
		cfg = zap.NewDevelopmentConfig()
		cfg.Development = false
		cfg.EncoderConfig.EncodeLevel = zapcore.CapitalColorLevelEncoder
	default:
		return nil, fmt.Errorf("--%s %q: want json or console", flagLogFormat, format)
	}
	cfg.Level = zap.NewAtomicLevelAt(level)
	// An operational error ("filters below quorum") is not a bug: no Go stack trace in its line
	// (found by a review, in both formats).
	cfg.DisableStacktrace = true
	return cfg.Build()
}
