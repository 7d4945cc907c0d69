package revalidator

// Answering: checks served to the node (its --rollup.interop-http or InteropMessageRPC) from
// the message table, the misses coalesced upstream.

import (
	"context"

	"github.com/interopgate/interopgate/accesslist"
	sc "github.com/interopgate/interopgate/supervisorclient"
)

// CheckAccessList answers one check cache-first (see CheckAccessLists).
func (r *Revalidator) CheckAccessList(ctx context.Context, req sc.Request) sc.Verdict {
	return r.CheckAccessLists(ctx, []sc.Request{req})[0]
}

// CheckAccessLists answers each check from the message table when every message of it is
// known; the others go upstream together (coalesced with other callers' misses), and a valid
// answer fills the table.
func (r *Revalidator) CheckAccessLists(ctx context.Context, reqs []sc.Request) []sc.Verdict {
	out := make([]sc.Verdict, len(reqs))
	parsed := make([][]accesslist.Message, len(reqs)) // once per request: kept for a valid upstream answer
	now := r.now()
	var missIdx []int
	for i, q := range reqs {
		msgs, perr := accesslist.ParseMessages(q.InboxKeys)
		parsed[i] = msgs
		if q.MinSafety == sc.SafetyUnsafe || q.MinSafety == sc.SafetyCrossUnsafe {
			if v, err := r.msgs.decide(len(q.InboxKeys), msgs, perr, q.Executing, now); err == nil {
				out[i] = v
				r.stats.hits.Add(1)
				r.metrics.lookup(true)
				continue
			}
		}
		missIdx = append(missIdx, i)
		r.stats.misses.Add(1)
		r.metrics.lookup(false)
	}
	if len(missIdx) == 0 {
		return out
	}
	miss := make([]sc.Request, len(missIdx))
	for j, i := range missIdx {
		miss[j] = reqs[i]
	}
	vs, err := r.up.Do(ctx, miss)
	if err == nil {
		r.noteUpstream(vs)
	}
	for j, i := range missIdx {
		if err != nil {
			out[i] = sc.Unavailable("", err)
			continue
		}
		out[i] = vs[j]
		if msgs := parsed[i]; vs[j].Class == sc.ClassValid && len(msgs) > 0 {
			vv := make([]msgVerdict, len(msgs))
			for k := range vv {
				vv[k] = msgVerdict{valid: true, until: now.Add(r.cfg.ValidTTL.D()), checked: now}
			}
			r.msgs.set(msgs, vv, now)
		}
	}
	return out
}
