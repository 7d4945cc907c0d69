// Command interopgate is the one binary of the project: the ingress gateway, the mempool
// revalidator, the light filter, the devnet and the load test, each a subcommand.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/urfave/cli/v2"
	"go.uber.org/zap"
)

// version is set at link time (-ldflags "-X main.version=v1.2.3"); otherwise it comes from the
// module's build information.
var version = ""

func main() {
	if err := newApp(os.Stdout, os.Stderr).Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "interopgate:", err)
		os.Exit(exitCode(err))
	}
}

func exitCode(err error) int {
	if ec, ok := err.(cli.ExitCoder); ok {
		return ec.ExitCode()
	}
	return 1
}

// appState is what every subcommand receives: the output streams and the one logger, built from
// the shared flags before any subcommand runs.
type appState struct {
	stdout, stderr io.Writer
	log            *zap.Logger
}

// newApp builds the command tree. It holds no global state, so tests build as many as they like.
func newApp(stdout, stderr io.Writer) *cli.App {
	st := &appState{stdout: stdout, stderr: stderr, log: zap.NewNop()}
	return &cli.App{
		Name:    "interopgate",
		Usage:   "keep invalid OP Stack interop transactions away from the block builder",
		Version: buildVersion(),
		Description: "interopgate checks the executing messages of OP Stack interop transactions before " +
			"they reach a sequencer: a gateway in front of the sentry nodes, a revalidator beside the " +
			"mempool, a light filter that proves messages with eth_getLogs, a devnet and a load test.",
		Writer:               stdout,
		ErrWriter:            stderr,
		EnableBashCompletion: true,
		Commands: []*cli.Command{
			withShared(st, gatewayCommand(st)),
			withShared(st, revalidatorCommand(st)),
			withShared(st, filterCommand(st)),
			withShared(st, devnetCommand(st)),
			withShared(st, loadtestCommand(st)),
			withShared(st, failsafeCommand(st)),
			docCommand(st),
		},
		After: func(*cli.Context) error {
			_ = st.log.Sync() // stderr cannot always be synced; nothing to do about it
			return nil
		},
		ExitErrHandler: func(*cli.Context, error) {}, // main prints and exits; tests read the error
	}
}

// withShared gives a subcommand the shared flags (log, metrics) and builds the one logger from
// them before the subcommand runs.
func withShared(st *appState, cmd *cli.Command) *cli.Command {
	cmd.Flags = append(cmd.Flags, sharedFlags(cmd.Name != "loadtest" && cmd.Name != "failsafe")...)
	service := cmd.Name == "gateway" || cmd.Name == "revalidator" || cmd.Name == "filter"
	if service {
		cmd.Flags = append(cmd.Flags, memLimitFlag())
	}
	cmd.Before = func(c *cli.Context) error {
		// The devnet is for people at a terminal: console logs unless asked otherwise.
		if cmd.Name == "devnet" && !c.IsSet(flagLogFormat) {
			_ = c.Set(flagLogFormat, "console")
		}
		log, err := newLogger(c)
		if err != nil {
			return cli.Exit(err.Error(), 2)
		}
		st.log = log
		if service {
			if err := applyMemLimit(c, log); err != nil {
				return cli.Exit(err.Error(), 2)
			}
		}
		return nil
	}
	return cmd
}

func buildVersion() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := info.Main.Version
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += "+" + s.Value[:12]
		}
	}
	return v
}
