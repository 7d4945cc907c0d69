package main

import (
	"context"

	"github.com/interopgate/interopgate/batching"
	sc "github.com/interopgate/interopgate/supervisorclient"
)

// coalescedChecker sends the checks of concurrent callers to a Checker together, through a
// group-commit coalescer: what arrives while callsInFlight calls are out leaves as one batch.
type coalescedChecker struct {
	c *batching.Coalescer[sc.Request, sc.Verdict]
}

func coalesce(next sc.Checker, callsInFlight, maxBatch int) sc.Checker {
	if callsInFlight <= 0 {
		return next
	}
	return &coalescedChecker{c: batching.New(batching.Config{MaxInFlight: callsInFlight, MaxBatch: maxBatch}, next.CheckAccessLists, nil)}
}

func (c *coalescedChecker) CheckAccessList(ctx context.Context, req sc.Request) sc.Verdict {
	return c.CheckAccessLists(ctx, []sc.Request{req})[0]
}

func (c *coalescedChecker) CheckAccessLists(ctx context.Context, reqs []sc.Request) []sc.Verdict {
	vs, err := c.c.Do(ctx, reqs)
	if err != nil {
		vs = make([]sc.Verdict, len(reqs))
		for i := range vs {
			vs[i] = sc.Unavailable("", err)
		}
	}
	return vs
}
