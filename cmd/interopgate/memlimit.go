package main

import (
	"fmt"
	"math"
	"os"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/urfave/cli/v2"
	"go.uber.org/zap"
)

const flagAutoMemLimitRatio = "auto-gomemlimit.ratio"

// memLimitFlag is the services' (gateway, revalidator, filter) soft memory limit, as Prometheus
// sets its own: a fraction of the container's memory limit. Without one the Go runtime lets the
// heap grow to twice what is live before it collects, so a burst that is bounded in live bytes
// (docs/operations.md, "Sizing") can still double the resident memory and meet the OOM killer.
func memLimitFlag() cli.Flag {
	return &cli.Float64Flag{Name: flagAutoMemLimitRatio, Value: 0.9, EnvVars: []string{"INTEROPGATE_AUTO_GOMEMLIMIT_RATIO"},
		Usage: "set the Go runtime's soft memory limit (GOMEMLIMIT) to this fraction of the container's memory limit (cgroup); 0 = off; an explicit GOMEMLIMIT wins"}
}

// applyMemLimit sets the soft memory limit from the cgroup's limit, unless GOMEMLIMIT is set or
// there is no limit to follow (logged either way).
func applyMemLimit(c *cli.Context, log *zap.Logger) error {
	ratio := c.Float64(flagAutoMemLimitRatio)
	if ratio < 0 || ratio > 1 {
		return fmt.Errorf("--%s %v: want a fraction between 0 (off) and 1", flagAutoMemLimitRatio, ratio)
	}
	if v := os.Getenv("GOMEMLIMIT"); v != "" {
		log.Info("memory limit from GOMEMLIMIT", zap.String("GOMEMLIMIT", v))
		return nil
	}
	if ratio == 0 {
		return nil
	}
	limit, err := memlimit.Set(memlimit.WithRatio(ratio), memlimit.WithProvider(memlimit.FromCgroup))
	if err != nil || limit <= 0 || limit == math.MaxInt64 {
		log.Info("no container memory limit found: the Go runtime's memory limit is not set", zap.NamedError("reason", err))
		return nil
	}
	log.Info("memory limit set from the container's", zap.Int64("gomemlimit_bytes", limit), zap.Float64("ratio", ratio))
	return nil
}
