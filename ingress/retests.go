package ingress

// The re-test budget (issue 17): a borderline tx (its messages not provable yet) is re-tested
// while its client waits, one filter check each time; txs whose messages never come would turn
// one request into retry_attempts+1 checks. Re-tests are bounded in flight across clients and per
// window per client IP and per sender; beyond the budget the tx is answered at once with its
// retryable code.

import (
	"context"
	"fmt"
	"math/big"
	"strings"

	"github.com/ethereum/go-ethereum/core/types"
)

// retestBudget takes a slot for it's re-test (nil), or says why there is none: the global bound
// (max_retests_in_flight, held until admission ends), the client IP's or the sender's budget
// (retest_budget_per_ip, retest_budget_per_sender per retest_budget_window: each distinct tx
// counts once per window; copies of one tx in one round share one filter call and only the
// first, charge, is counted).
func (j *judge) retestBudget(ctx context.Context, it *txItem, charge bool) *clientError {
	spent := func(which, outcome string) *clientError {
		j.metrics.retest(outcome)
		e := fromVerdict(it.verdict)
		e.rpc.Message = fmt.Sprintf("%s (not re-tested: %s; retry later)", e.rpc.Message, which)
		return e
	}
	if !it.retest {
		if j.retesting.Add(1) > int64(j.cfg.MaxRetestsInFlight) {
			j.retesting.Add(-1)
			return spent("the gateway's re-tests in flight are at their bound", "budget_global")
		}
		it.retest = true
	}
	if !charge {
		return nil
	}
	window := j.cfg.RetestBudgetWindow.D()
	// A tx counts once per window, however many copies of it are sent or re-tested: copies check
	// the same messages (the duplicate flood of one borderline tx is one tx to the budget).
	if j.cfg.RetestBudgetPerIP > 0 || j.cfg.RetestBudgetPerSender > 0 {
		if first, _ := j.st.Limiter.Allow(ctx, "retest:tx:"+it.hash.Hex(), 1, window); !first {
			return nil
		}
	}
	if c := callerOf(ctx); j.cfg.RetestBudgetPerIP > 0 && c.ip != "" && c.factor != 0 {
		if ok, _ := j.st.Limiter.Allow(ctx, "retest:ip:"+c.ip, j.cfg.RetestBudgetPerIP*c.factor, window); !ok {
			return spent("your address's re-test budget is spent", "budget_ip")
		}
	}
	if j.cfg.RetestBudgetPerSender > 0 {
		from, err := j.senderOf(it, types.LatestSignerForChainID(new(big.Int).SetUint64(j.cfg.ChainID)))
		if err == nil {
			if ok, _ := j.st.Limiter.Allow(ctx, "retest:sender:"+strings.ToLower(from.Hex()), j.cfg.RetestBudgetPerSender, window); !ok {
				return spent("the sender's re-test budget is spent", "budget_sender")
			}
		}
	}
	return nil
}

// releaseRetests gives back the in-flight slots items held.
func (j *judge) releaseRetests(items []*txItem) {
	for _, it := range items {
		if it.retest {
			it.retest = false
			j.retesting.Add(-1)
		}
	}
}
