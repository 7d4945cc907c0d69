package ingress

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/interopgate/interopgate/accesslist"
	sc "github.com/interopgate/interopgate/supervisorclient"
)

// txItem is one transaction going through admission.
type txItem struct {
	raw     []byte
	hash    common.Hash
	interop bool
	msgs    []accesslist.Message
	keys    []common.Hash // the inbox keys as the tx carries them: what the filter is asked
	key     string        // verdict cache and single-flight key: a digest of keys
	stage   stage
	charged bool // the per-sender limit was applied (once per tx, never per re-test)
	verdict sc.Verdict
	err     *clientError // final rejection
	queue   bool         // to be handed to the durable queue
	decided bool
	tx      *types.Transaction // decoded once (interop txs), for the sender and the stateless checks
	retest  bool               // holds a slot of the re-test budget
	funded  bool               // the sender's balance and nonce were checked (once per tx)
	from    common.Address     // the sender, once recovered
}

// prepare runs every check that needs no remote call (pipeline steps 2–4). A non-interop tx
// comes back decided and valid: it is forwarded untouched.
func (j *judge) prepare(raw []byte) *txItem {
	it := &txItem{raw: raw}
	if len(raw) > j.cfg.MaxTxBytes {
		return it.reject(newClientError(CodeTxTooLarge, http.StatusRequestEntityTooLarge, "tx_too_large",
			fmt.Sprintf("transaction of %d bytes exceeds the limit of %d", len(raw), j.cfg.MaxTxBytes)))
	}
	scan, err := accesslist.ScanRaw(raw)
	if err != nil {
		return it.reject(errInvalidParams("invalid transaction: " + err.Error()))
	}
	switch scan.Type {
	case accesslist.DepositTxType:
		return it.reject(errInvalidParams("deposit transactions cannot be submitted over RPC"))
	case types.BlobTxType:
		// OP Stack chains take no blob transactions: no filter call for one.
		return it.reject(errInvalidParams("blob transactions (type 3) are not accepted on OP Stack chains"))
	}
	if scan.HasChainID && scan.ChainID != j.chainID {
		return it.reject(newClientError(CodeServerError, http.StatusBadRequest, "wrong_chain",
			fmt.Sprintf("invalid chain id %s for this endpoint: it serves chain %d", scan.ChainID.Dec(), j.cfg.ChainID)))
	}
	if len(scan.InboxKeys) == 0 {
		// Not an interop tx: forwarded untouched, so this path stays nearly free.
		it.decided, it.verdict = true, sc.Verdict{Class: sc.ClassValid}
		return it
	}
	it.interop = true
	it.hash = crypto.Keccak256Hash(raw) // for duplicates, the tx status, the queue and the feed
	if len(scan.InboxKeys) > j.cfg.MaxInboxEntries {
		return it.reject(newClientError(CodeAccessListTooLarge, http.StatusRequestEntityTooLarge, "access_list_too_large",
			fmt.Sprintf("access list has %d inbox entries, more than the limit of %d", len(scan.InboxKeys), j.cfg.MaxInboxEntries)))
	}
	msgs, err := accesslist.ParseMessages(scan.InboxKeys)
	if err != nil {
		return it.reject(newClientError(sc.CodeInvalidParams, http.StatusBadRequest, "malformed_access_list",
			"failed to read data: the CrossL2Inbox access-list entries do not parse: "+err.Error()))
	}
	it.msgs = accesslist.Dedup(msgs)
	it.keys = scan.InboxKeys
	if e := j.localRules(it.msgs, j.execContext()); e != nil {
		return it.reject(e)
	}
	// What no pool would take, by the tx alone: the full decode costs far less than the filter
	// check it spares (plain txs skip it: the sentry judges them, this path stays nearly free).
	it.tx = new(types.Transaction)
	if err := it.tx.UnmarshalBinary(raw); err != nil {
		return it.reject(errInvalidParams("invalid transaction: " + err.Error()))
	}
	if e := j.statelessChecks(it.tx); e != nil {
		return it.reject(e)
	}
	it.key = j.cache.key(it.keys)
	return it
}

func (it *txItem) reject(e *clientError) *txItem {
	it.decided, it.err = true, e
	return it
}

// execContext is the executing descriptor the gateway checks with: this chain, now plus the
// expected inclusion delay, and the configured timeout.
func (j *judge) execContext() accesslist.ExecContext {
	ts := uint64(j.now().Add(j.cfg.ExecTimestampOffset.D()).Unix())
	return accesslist.ExecContext{ChainID: j.chainID, Timestamp: ts, Timeout: j.cfg.MessageTimeout}
}

// localRules maps the dependency set's verdict on each message to the filter's codes.
func (j *judge) localRules(msgs []accesslist.Message, exec accesslist.ExecContext) *clientError {
	for _, m := range msgs {
		err := j.deps.CheckMessage(exec, m)
		switch {
		case err == nil:
		case errors.Is(err, accesslist.ErrUnknownChain):
			return fromVerdict(sc.Verdict{Class: sc.ClassInvalid, Code: sc.CodeUnknownChain, Message: err.Error(), Endpoint: localEndpoint})
		default:
			return fromVerdict(sc.Verdict{Class: sc.ClassInvalid, Code: sc.CodeConflict, Endpoint: localEndpoint,
				Message: fmt.Sprintf("%v (message timestamp %d)", err, m.Timestamp)})
		}
	}
	return nil
}

// flights lets identical concurrent checks share one filter call.
type flights struct {
	mu sync.Mutex
	m  map[string]*flight
}

type flight struct {
	key    string
	req    sc.Request // what the leader asks the filter
	done   chan struct{}
	v      sc.Verdict
	joined int // followers waiting; guarded by flights.mu
}

// decide gives every undecided interop item a verdict (pipeline steps 5–7). Items needing the
// filter go to it in one CheckAccessLists call.
func (j *judge) decide(ctx context.Context, items []*txItem) {
	on := j.failsafe()
	j.cache.noteFailsafe(on)
	if on {
		for _, it := range items {
			it.verdict = sc.Verdict{Class: sc.ClassFailsafe}
		}
		return
	}
	misses := j.cache.lookup(ctx, items)
	if len(misses) == 0 {
		return
	}
	// Leaders call the filter; followers wait for an identical check already in flight. Flights
	// are registered before senders are charged, so copies arriving meanwhile join them: a
	// follower costs the filter nothing and is not charged (the limit counts filter calls).
	leaders := map[string][]*txItem{}
	var order []*flight
	followers := map[*flight][]*txItem{}
	j.flights.mu.Lock()
	for _, it := range misses {
		if f, ok := j.flights.m[it.key]; ok && leaders[it.key] == nil {
			f.joined++
			followers[f] = append(followers[f], it)
			j.metrics.join()
			continue
		}
		if leaders[it.key] == nil {
			f := &flight{key: it.key, req: j.request(it), done: make(chan struct{})}
			j.flights.m[it.key] = f
			order = append(order, f)
		}
		leaders[it.key] = append(leaders[it.key], it)
	}
	j.flights.mu.Unlock()
	// Who cannot pay is refused before the per-sender limit is charged: a replay of a sender's
	// mined txs must not spend its limit (found by the review).
	if j.cfg.SenderStateCheck {
		order = j.checkFunds(ctx, order, leaders)
	}
	if j.cfg.SenderRateLimit > 0 {
		order = j.chargeLeaders(ctx, order, leaders)
	}

	// The in-flight bound: one slot per distinct check; checks that find no slot are shed.
	var reqs []sc.Request
	var flying []*flight
	for _, f := range order {
		select {
		case j.inflight <- struct{}{}:
			reqs = append(reqs, f.req)
			flying = append(flying, f)
		default:
			j.metrics.shedOne()
			j.finishFlight(f.key, sc.Verdict{Class: sc.ClassUnavailable, Err: errShed})
		}
	}
	if len(reqs) > 0 {
		// The flights' call has a deadline of its own, not the leader's: others joined them, and
		// a leader's end (its client gone, a deadline sooner than theirs) must not become their
		// verdict (found by a review: followers inherited it). A leader with time for the whole
		// call makes it on its own goroutine; one without hands it off and leaves at its deadline.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*j.cfg.FilterTimeout.D())
		fly := func() {
			defer cancel()
			j.fly(fctx, flying, reqs)
		}
		if d, ok := ctx.Deadline(); ok && time.Until(d) < 2*j.cfg.FilterTimeout.D() {
			go fly()
		} else {
			fly()
		}
	}
	// Leaders and followers alike take their flight's verdict, or leave at their deadline.
	for _, f := range order {
		j.await(ctx, f, leaders[f.key])
	}
	for f, its := range followers {
		j.await(ctx, f, its)
	}
}

// fly checks the flights' requests (one slot of the in-flight bound each, taken by the caller),
// remembers the verdicts and ends the flights.
func (j *judge) fly(ctx context.Context, flying []*flight, reqs []sc.Request) {
	j.metrics.inflightAdd(len(reqs))
	verdicts := j.checkFilter(ctx, reqs)
	for range reqs {
		<-j.inflight
	}
	j.metrics.inflightAdd(-len(reqs))
	keys := make([]string, len(flying))
	for i, f := range flying {
		keys[i] = f.key
		if verdicts[i].Class == sc.ClassFailsafe {
			j.cache.noteFailsafe(true)
		}
	}
	j.cache.remember(ctx, keys, verdicts)
	for i, f := range flying {
		j.finishFlight(f.key, verdicts[i])
	}
}

// await gives its the verdict of flight f, or ctx's end as unavailable.
func (j *judge) await(ctx context.Context, f *flight, its []*txItem) {
	if len(its) == 0 {
		return // a flight kept for its followers alone
	}
	var v sc.Verdict
	select {
	case <-f.done:
		v = f.v
	case <-ctx.Done():
		v = sc.Unavailable("", ctx.Err())
	}
	for _, it := range its {
		it.verdict = v
	}
}

// checkFilter sends reqs to the filter pool through the coalescer: with other requests' checks
// when filter calls are already in flight. Waiting is bounded by ctx, the flights' deadline of twice the filter timeout (one
// call ahead, then ours).
func (j *judge) checkFilter(ctx context.Context, reqs []sc.Request) []sc.Verdict {
	verdicts, err := j.filter.Do(ctx, reqs)
	if err != nil {
		verdicts = make([]sc.Verdict, len(reqs))
		for i := range verdicts {
			verdicts[i] = sc.Unavailable("", err)
		}
	}
	return verdicts
}

// errShed marks a check refused by the in-flight bound.
var errShed = errors.New("in-flight check bound reached")

// finishFlight gives the flight of key its verdict and ends it (its waiters take the verdict).
func (j *judge) finishFlight(key string, v sc.Verdict) {
	j.flights.mu.Lock()
	f := j.flights.m[key]
	delete(j.flights.m, key)
	j.flights.mu.Unlock()
	f.v = v
	close(f.done)
}

// request asks the filter about exactly the keys the verdict is cached under.
func (j *judge) request(it *txItem) sc.Request {
	return sc.Request{InboxKeys: it.keys, MinSafety: j.safety, Executing: j.execContext()}
}

// chargeLeaders applies the per-sender limit to the leaders of each new flight and returns the
// keys still to check: a key whose leaders are all over the limit is checked anyway when
// others joined it meanwhile (they were not charged and wait for its verdict), else dropped.
func (j *judge) chargeLeaders(ctx context.Context, order []*flight, leaders map[string][]*txItem) []*flight {
	for _, f := range order {
		j.limitSenders(ctx, leaders[f.key]) // rejects (decides) the ones over the limit
	}
	return j.keepFlights(order, leaders)
}

// limitSenders applies the per-sender limit, once per transaction, to txs that would reach
// the filter, and returns the ones within it. Recovering the sender costs an ecrecover, paid
// only on a cache miss.
func (j *judge) limitSenders(ctx context.Context, items []*txItem) []*txItem {
	signer := types.LatestSignerForChainID(new(big.Int).SetUint64(j.cfg.ChainID))
	out := items[:0]
	for _, it := range items {
		if it.charged {
			out = append(out, it)
			continue
		}
		it.charged = true
		from, recovered := j.recoverSender(it, signer)
		if !recovered {
			continue
		}
		ok, _ := j.st.Limiter.Allow(ctx, "sender:"+strings.ToLower(from.Hex()), j.cfg.SenderRateLimit, j.cfg.SenderRateWindow.D())
		if !ok {
			it.reject(newClientError(CodeSenderRateLimit, http.StatusTooManyRequests, "sender_rate_limited",
				fmt.Sprintf("sender %s is over the interop rate limit of %d per %s: slow down", from.Hex(), j.cfg.SenderRateLimit, j.cfg.SenderRateWindow.D())))
			continue
		}
		out = append(out, it)
	}
	return out
}

// recoverSender recovers it's sender into it.from, or rejects it (a signature that recovers no
// sender): false then.
func (j *judge) recoverSender(it *txItem, signer types.Signer) (common.Address, bool) {
	from, err := j.senderOf(it, signer)
	if err != nil {
		it.reject(errInvalidParams("invalid transaction signature: " + err.Error()))
		return common.Address{}, false
	}
	it.from = from
	return from, true
}

// senderOf recovers the tx's sender (decoding it if prepare did not).
func (j *judge) senderOf(it *txItem, signer types.Signer) (common.Address, error) {
	if it.tx == nil {
		it.tx = new(types.Transaction)
		if err := it.tx.UnmarshalBinary(it.raw); err != nil {
			return common.Address{}, err
		}
	}
	return types.Sender(signer, it.tx)
}

// admit runs items through the pipeline, re-testing borderline ones while their clients wait
// (steps 5–8). It returns when every item is decided: to forward, to reject (it.err), or, for
// items that may be queued, to queue (it.queue).
func (j *judge) admit(ctx context.Context, items []*txItem) {
	defer j.releaseRetests(items)
	pending := make([]*txItem, 0, len(items))
	for _, it := range items {
		if !it.decided {
			pending = append(pending, it)
		}
	}
	for retests := 0; len(pending) > 0; retests++ {
		if retests > 0 {
			t := time.NewTimer(j.cfg.RetryDelay.D())
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				for _, it := range pending {
					it.reject(fromVerdict(sc.Unavailable("", ctx.Err())))
				}
				return
			}
		}
		j.decide(ctx, pending)
		next := pending[:0]
		charged := map[string]bool{} // identical checks re-test as one filter call: charged once
		for _, it := range pending {
			if it.decided { // rejected inside decide (sender limit, bad signature)
				continue
			}
			if retests > 0 {
				j.metrics.retest(it.verdict.Class.String())
			}
			act, e := j.fate(it.verdict, retests, it.stage)
			if act == actRetest {
				if be := j.retestBudget(ctx, it, !charged[it.key]); be != nil {
					act, e = actReject, be
				}
				charged[it.key] = true
			}
			switch act {
			case actForward:
				it.decided = true
			case actRetest:
				next = append(next, it)
			case actQueue:
				it.decided, it.queue = true, true
			default:
				it.reject(e)
			}
		}
		pending = next
	}
}
