package ingress

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/interopgate/interopgate/store"
	sc "github.com/interopgate/interopgate/supervisorclient"
)

// verdictCache decides what may be remembered, for how long, and under which key. The store
// behind it may be shared by every replica through Redis, so it holds only facts that cannot
// be wrong for another gateway or the next sender:
//
//   - the key is a digest of the inbox keys exactly as the filter was asked about them, under
//     a fingerprint of everything else that decides the verdict (chain, safety, timeout,
//     timestamp offset, and the caller's description of the filters: namespace, strategy,
//     quorum, classification), so differently configured gateways never share verdicts;
//   - valid verdicts live valid_ttl; invalid ones invalid_ttl, and only when unambiguous;
//     nothing else is stored;
//   - a failsafe transition voids every verdict made before it.
type verdictCache struct {
	j           *judge
	fingerprint string
	// failsafeOn is the last failsafe state seen; changedAt (unix ms) when it last changed.
	failsafeOn atomic.Bool
	changedAt  atomic.Int64
}

func newVerdictCache(j *judge, checkerID string) *verdictCache {
	h := crypto.NewKeccakState()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], j.cfg.ChainID)
	h.Write(n[:])
	binary.BigEndian.PutUint64(n[:], j.cfg.MessageTimeout)
	h.Write(n[:])
	binary.BigEndian.PutUint64(n[:], uint64(j.cfg.ExecTimestampOffset.D()/time.Second))
	h.Write(n[:])
	h.Write([]byte(j.cfg.MinSafety))
	h.Write([]byte{0})
	h.Write([]byte(checkerID))
	return &verdictCache{j: j, fingerprint: hex.EncodeToString(h.Sum(nil)[:8])}
}

// key is the cache and single-flight key of an access list as the tx carries it.
func (c *verdictCache) key(keys []common.Hash) string {
	h := crypto.NewKeccakState()
	for i := range keys {
		h.Write(keys[i][:])
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return "v:" + c.fingerprint + ":" + hex.EncodeToString(sum[:])
}

// noteFailsafe records the failsafe state; a change voids the cache.
func (c *verdictCache) noteFailsafe(on bool) {
	if c.failsafeOn.Swap(on) != on {
		c.changedAt.Store(c.j.now().UnixMilli())
	}
}

// ttl is how long v may be reused; 0 means never.
func (c *verdictCache) ttl(v sc.Verdict) time.Duration {
	switch {
	case v.Class == sc.ClassValid:
		return c.j.cfg.ValidTTL.D()
	case v.Class == sc.ClassInvalid && !v.Ambiguous:
		return c.j.cfg.InvalidTTL.D()
	}
	return 0
}

// lookup gives items their cached verdicts, in one store round trip, and returns the misses.
func (c *verdictCache) lookup(ctx context.Context, items []*txItem) []*txItem {
	keys := make([]string, len(items))
	for i, it := range items {
		keys[i] = it.key
	}
	vs, found, err := c.j.st.Verdicts.GetVerdicts(ctx, keys)
	voidBefore := c.changedAt.Load()
	var misses []*txItem
	for i, it := range items {
		hit := err == nil && found[i] && vs[i].At > voidBefore
		c.j.metrics.cacheLookup(hit)
		if !hit {
			misses = append(misses, it)
			continue
		}
		it.verdict = sc.Verdict{Class: sc.Class(vs[i].Class), Code: vs[i].Code, Message: vs[i].Message, Endpoint: "cache"}
	}
	return misses
}

// remember stores the verdicts of one filter round that may be reused, in one round trip.
func (c *verdictCache) remember(ctx context.Context, keys []string, verdicts []sc.Verdict) {
	now := c.j.now().UnixMilli()
	var entries []store.VerdictEntry
	for i, v := range verdicts {
		if ttl := c.ttl(v); ttl > 0 {
			entries = append(entries, store.VerdictEntry{Key: keys[i], TTL: ttl,
				Verdict: store.Verdict{Class: uint8(v.Class), Code: v.Code, Message: v.Message, At: now}})
		}
	}
	if len(entries) > 0 {
		_ = c.j.st.Verdicts.SetVerdicts(ctx, entries) // a cache: a failed write costs a later call, nothing else
	}
}

// Forwarded txs are remembered in the same store under their hash, so a repeat is answered
// locally: the tx was judged and the sentry took it.
func forwardedKey(h common.Hash) string { return "tx:" + h.Hex() }

// seen reports which items were forwarded recently, in one store round trip.
func (c *verdictCache) seen(ctx context.Context, items []*txItem) []bool {
	out := make([]bool, len(items))
	if c.j.cfg.DuplicateTTL <= 0 || len(items) == 0 {
		return out
	}
	keys := make([]string, len(items))
	for i, it := range items {
		keys[i] = forwardedKey(it.hash)
	}
	_, found, err := c.j.st.Verdicts.GetVerdicts(ctx, keys)
	if err == nil {
		copy(out, found)
	}
	return out
}

// forwarded records txs the sentry took.
func (c *verdictCache) forwarded(ctx context.Context, hashes []common.Hash) {
	if c.j.cfg.DuplicateTTL <= 0 || len(hashes) == 0 {
		return
	}
	now := c.j.now().UnixMilli()
	entries := make([]store.VerdictEntry, len(hashes))
	for i, h := range hashes {
		entries[i] = store.VerdictEntry{Key: forwardedKey(h), TTL: c.j.cfg.DuplicateTTL.D(),
			Verdict: store.Verdict{Class: uint8(sc.ClassValid), At: now}}
	}
	_ = c.j.st.Verdicts.SetVerdicts(ctx, entries)
}
