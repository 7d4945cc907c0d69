package store

import (
	"context"
	"errors"
	"net"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// boundHook makes redis.timeout the bound of each operation as a whole, whatever state the
// client is in: the dial, the wait for a pooled connection, go-redis's own retries and a
// Cluster's redirects all run under one deadline (ContextTimeoutEnabled makes the socket
// operations honour it). Before, one operation could cost a dial timeout plus a read timeout,
// and on a Cluster whose master had died, 1.8–2.1 s of retries (issue 19).
//
// On a Cluster, a failure that can mean the topology changed (a connection refused or reset, a
// timeout, CLUSTERDOWN, READONLY, LOADING, TRYAGAIN) asks the client to reload its slot map at
// once (go-redis reloads in the background, at most once per 200 ms); it would otherwise wait
// for a MOVED, which a dead master never sends.
type boundHook struct {
	timeout time.Duration
	reload  func() // nil unless a Cluster
	onOp    func(d time.Duration, err error)
}

func (h boundHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h boundHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		ctx, cancel := h.bound(ctx)
		defer cancel()
		start := time.Now()
		err := next(ctx, cmd)
		h.done(start, err)
		return err
	}
}

func (h boundHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		ctx, cancel := h.bound(ctx)
		defer cancel()
		start := time.Now()
		err := next(ctx, cmds)
		h.done(start, err)
		return err
	}
}

// bound gives ctx the operation's deadline unless it has an earlier one.
func (h boundHook) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Deadline(); ok && time.Until(d) <= h.timeout {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, h.timeout)
}

func (h boundHook) done(start time.Time, err error) {
	if errors.Is(err, redis.Nil) || err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") {
		err = nil // a missing key is an answer; NOSCRIPT is a script's first try (EVAL follows)
	}
	if h.onOp != nil {
		h.onOp(time.Since(start), err)
	}
	if err != nil && h.reload != nil && topologyMayHaveChanged(err) {
		h.reload()
	}
}

// topologyMayHaveChanged reports whether err can mean a Cluster node died, moved or was
// promoted (MOVED and ASK go-redis handles itself).
func topologyMayHaveChanged(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	m := err.Error()
	for _, p := range []string{"CLUSTERDOWN", "READONLY", "LOADING", "TRYAGAIN", "MASTERDOWN", "connection refused", "connection reset", "broken pipe", "EOF"} {
		if strings.Contains(m, p) {
			return true
		}
	}
	return false
}
