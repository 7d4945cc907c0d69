package ingress_test

// Issue 17: borderline txs whose messages never come cannot multiply the filter's load: re-tests
// are budgeted per client IP, per sender and in flight; beyond, the tx is answered at once with
// its retryable code.

import (
	"strings"
	"testing"
	"time"

	"github.com/interopgate/interopgate/ingress"
	"github.com/interopgate/interopgate/internal/config"
)

func TestTheRetestBudget(t *testing.T) {
	f := newFakes(t, -321401, func(c *ingress.Config) { // the filter: "future data", for ever
		c.RetryDelay, c.RetryAttempts = d(5*time.Millisecond), 3
		c.RetestBudgetPerIP, c.RetestBudgetPerSender, c.RetestBudgetWindow = 2, 0, config.Duration(time.Minute)
	})
	checks := func(body string) (int64, rpcReply) {
		before := f.filter.Calls()
		_, b := post(t, f.gw.URL(), body)
		return f.filter.Calls() - before, reply(t, b)
	}
	// Two txs use the address's budget of 2 re-tested txs: 4 checks each, then "still not provable".
	for i := range 2 {
		n, r := checks(sendRawBody(1, interopTx(t, 1+i, 0, 902, keysOf(message(9100+i)))))
		if n != 4 || r.Error == nil || r.Error.Code != -321401 || !strings.Contains(r.Error.Message, "after 3 re-tests") {
			t.Fatalf("tx %d within the budget: %d checks, %+v", i, n, r.Error)
		}
	}
	// The third gets one check and its retryable code at once.
	n, r := checks(sendRawBody(1, interopTx(t, 3, 0, 902, keysOf(message(9102)))))
	if n != 1 || r.Error == nil || r.Error.Code != -321401 || !strings.Contains(r.Error.Message, "re-test budget is spent") {
		t.Fatalf("past the budget: %d checks, %+v", n, r.Error)
	}
}

func TestTheRetestBudgetPerSender(t *testing.T) {
	f := newFakes(t, -321401, func(c *ingress.Config) {
		c.RetryDelay, c.RetryAttempts = d(5*time.Millisecond), 3
		c.RetestBudgetPerIP, c.RetestBudgetPerSender, c.RetestBudgetWindow = 0, 1, config.Duration(time.Minute)
	})
	_, b := post(t, f.gw.URL(), sendRawBody(1, interopTx(t, 1, 0, 902, keysOf(message(9200)))))
	if r := reply(t, b); r.Error == nil || !strings.Contains(r.Error.Message, "after 3 re-tests") {
		t.Fatalf("first tx of the sender: %s", b)
	}
	_, b = post(t, f.gw.URL(), sendRawBody(1, interopTx(t, 1, 1, 902, keysOf(message(9201)))))
	if r := reply(t, b); r.Error == nil || !strings.Contains(r.Error.Message, "sender's re-test budget is spent") {
		t.Fatalf("the same sender past its budget: %s", b)
	}
	_, b = post(t, f.gw.URL(), sendRawBody(1, interopTx(t, 2, 0, 902, keysOf(message(9202)))))
	if r := reply(t, b); r.Error == nil || !strings.Contains(r.Error.Message, "after 3 re-tests") {
		t.Fatalf("another sender: %s", b)
	}
}

// Found by CI: 40 copies of one borderline tx (the load test's duplicate flood, a fresh message)
// spent its sender's budget and 11 got "budget spent". A tx counts once per window.
func TestCopiesOfOneTxCountOnceAgainstTheBudget(t *testing.T) {
	f := newFakes(t, -321401, func(c *ingress.Config) {
		c.RetryDelay, c.RetryAttempts = d(5*time.Millisecond), 2
		c.RetestBudgetPerSender, c.RetestBudgetWindow = 2, config.Duration(time.Minute)
		c.DuplicateTTL = 0 // every copy goes through admission
	})
	body := sendRawBody(1, interopTx(t, 1, 0, 902, keysOf(message(9400))))
	for i := range 10 {
		_, b := post(t, f.gw.URL(), body)
		if r := reply(t, b); r.Error == nil || strings.Contains(r.Error.Message, "budget is spent") {
			t.Fatalf("copy %d of one tx: %s", i, b)
		}
	}
}
