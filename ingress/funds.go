package ingress

// Can the sender pay (issue 17): before an interop tx costs a filter check, its sender's balance
// and nonce are read from a sentry, in one batched call per admission round, and cached per
// sender for about a block. A tx whose nonce is used, or whose sender cannot pay gas × fee cap +
// value, is refused with geth's text. The cost is a lower bound (the L1 data fee and the sender's
// other pending txs are not counted), so a tx the chain would take is never refused; when the
// sentries cannot say, the check is skipped (fail open to the filter, never closed).

import (
	"context"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// senderState is what a sentry said of a sender, and when.
type senderState struct {
	balance *big.Int
	nonce   uint64
	at      time.Time
}

// senderStates caches sender states, bounded (when full, new senders are read but not kept).
type senderStates struct {
	mu sync.Mutex
	m  map[common.Address]senderState
}

func (s *senderStates) get(a common.Address, now time.Time, ttl time.Duration) (senderState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.m[a]
	if ok && now.Sub(st.at) > ttl {
		delete(s.m, a)
		return senderState{}, false
	}
	return st, ok
}

// put caches st (its at is when it was read).
func (s *senderStates) put(a common.Address, st senderState, limit int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[common.Address]senderState{}
	}
	if _, ok := s.m[a]; ok || len(s.m) < limit {
		s.m[a] = st
	}
}

// checkFunds refuses the leaders whose sender cannot pay or whose nonce is used, once per tx,
// and drops the flights left without a leader (as chargeLeaders does).
func (j *judge) checkFunds(ctx context.Context, order []*flight, leaders map[string][]*txItem) []*flight {
	signer := types.LatestSignerForChainID(new(big.Int).SetUint64(j.cfg.ChainID))
	now := j.now()
	var need []*txItem
	states := map[common.Address]senderState{}
	var unknown []common.Address
	for _, f := range order {
		for _, it := range leaders[f.key] {
			// A queued tx is not checked: a "nonce too low" for it may mean a replica that died
			// forwarded it and it was mined, which the queue settles by looking it up.
			if it.funded || it.decided || it.tx == nil || it.stage == stageQueued {
				continue
			}
			it.funded = true
			from, ok := j.recoverSender(it, signer)
			if !ok {
				continue
			}
			need = append(need, it)
			if _, seen := states[from]; seen || slices.Contains(unknown, from) {
				continue
			}
			if st, ok := j.senders.get(from, now, j.cfg.SenderStateTTL.D()); ok {
				states[from] = st
			} else {
				unknown = append(unknown, from)
			}
		}
	}
	if len(need) == 0 {
		return order
	}
	for a, st := range j.states.readSenderStates(ctx, unknown, now) {
		states[a] = st
		j.senders.put(a, st, j.cfg.MaxSenderStates)
	}
	// A refusal rests on a state read in this round, never on a cached one: a sender funded (or
	// a nonce freed by a reorg) since the cache was filled is read again first.
	var stale []common.Address
	for _, it := range need {
		if st, ok := states[it.from]; ok && st.at.Before(now) && refuses(it.tx, st) && !slices.Contains(stale, it.from) {
			stale = append(stale, it.from)
		}
	}
	if len(stale) > 0 {
		fresh := j.states.readSenderStates(ctx, stale, now)
		for _, a := range stale {
			if st, ok := fresh[a]; ok {
				states[a] = st
				j.senders.put(a, st, j.cfg.MaxSenderStates)
			} else {
				delete(states, a) // cannot say now: the filter decides
			}
		}
	}
	for _, it := range need {
		st, ok := states[it.from]
		if !ok {
			continue // the sentries could not say: the filter decides
		}
		if it.tx.Nonce() < st.nonce {
			it.reject(newClientError(CodeServerError, http.StatusOK, "nonce_too_low",
				fmt.Sprintf("nonce too low: next nonce %d, tx nonce %d", st.nonce, it.tx.Nonce())))
			continue
		}
		if cost := txCost(it.tx); st.balance.Cmp(cost) < 0 {
			it.reject(newClientError(CodeServerError, http.StatusOK, "insufficient_funds",
				fmt.Sprintf("insufficient funds for gas * price + value: balance %s, tx cost %s, overshot %s", st.balance, cost, new(big.Int).Sub(cost, st.balance))))
		}
	}
	return j.keepFlights(order, leaders)
}

// refuses says whether st refuses tx (a used nonce, or too little balance).
func refuses(tx *types.Transaction, st senderState) bool {
	return tx.Nonce() < st.nonce || st.balance.Cmp(txCost(tx)) < 0
}

// txCost is what the sender must hold at least: gas × fee cap + value (the L1 data fee aside).
func txCost(tx *types.Transaction) *big.Int {
	cost := new(big.Int).Mul(tx.GasFeeCap(), new(big.Int).SetUint64(tx.Gas()))
	return cost.Add(cost, tx.Value())
}

// keepFlights drops the leaders that were decided (rejected) and the flights left without one,
// unless others joined them meanwhile (they wait for its verdict).
func (j *judge) keepFlights(order []*flight, leaders map[string][]*txItem) []*flight {
	kept := order[:0]
	for _, f := range order {
		live := leaders[f.key][:0]
		for _, it := range leaders[f.key] {
			if !it.decided {
				live = append(live, it)
			}
		}
		leaders[f.key] = live
		if len(live) > 0 {
			kept = append(kept, f)
			continue
		}
		j.flights.mu.Lock()
		waiting := f.joined > 0
		if !waiting {
			delete(j.flights.m, f.key)
		}
		j.flights.mu.Unlock()
		if waiting {
			kept = append(kept, f)
		} else {
			close(f.done)
		}
	}
	return kept
}
