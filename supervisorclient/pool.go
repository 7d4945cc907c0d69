package supervisorclient

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Strategy is how a Pool combines its endpoints.
type Strategy string

const (
	// StrategyFirst asks only the first endpoint.
	StrategyFirst Strategy = "first"
	// StrategyFailover asks endpoints in order, skipping for a cool-down any that failed at the
	// transport level (unreachable, timeout, HTTP 5xx).
	StrategyFailover Strategy = "failover"
	// StrategyAny asks all endpoints at once and takes the first definitive verdict to arrive:
	// a slow or hanging endpoint costs nothing while another answers.
	StrategyAny Strategy = "any"
	// StrategyAgreement (the default) asks all endpoints and needs MinResponses definitive
	// verdicts: failsafe from any endpoint is failsafe, any invalid is invalid, otherwise valid
	// needs a quorum of valid answers.
	StrategyAgreement Strategy = "agreement"
)

// DefaultCooldown is how long failover skips an endpoint after a transport failure.
const DefaultCooldown = 10 * time.Second

// PoolConfig configures a Pool.
type PoolConfig struct {
	// Strategy (default agreement).
	Strategy Strategy
	// MinResponses is the agreement quorum of valid answers (default: every endpoint).
	MinResponses int
	// Cooldown for failover (default 10 s).
	Cooldown time.Duration
}

// Check validates the config for n endpoints and names the bad field.
func (c *PoolConfig) Check(n int) error {
	switch c.Strategy {
	case "", StrategyFirst, StrategyFailover, StrategyAny, StrategyAgreement:
	default:
		return fmt.Errorf("strategy %q: want first, failover, any or agreement", c.Strategy)
	}
	if c.MinResponses < 0 || (n > 0 && c.MinResponses > n) {
		return fmt.Errorf("min_responses %d: want between 1 and the number of endpoints (%d)", c.MinResponses, n)
	}
	if c.Cooldown < 0 {
		return errors.New("cooldown must not be negative")
	}
	return nil
}

// Endpoint is one filter of a Pool.
type Endpoint struct {
	Name    string
	Checker Checker
}

// Pool is a Checker over several filters. With no endpoint every check is unavailable. It is
// safe for concurrent use.
type Pool struct {
	cfg       PoolConfig
	endpoints []Endpoint
	now       func() time.Time

	mu        sync.Mutex
	coolUntil []time.Time // failover: per endpoint, guarded by mu
}

// ErrNoEndpoint is the cause of every verdict of a pool with no endpoint.
var ErrNoEndpoint = errors.New("no interop filter endpoint configured")

// NewPool validates cfg and builds a pool.
func NewPool(endpoints []Endpoint, cfg PoolConfig, opts ...Option) (*Pool, error) {
	if err := cfg.Check(len(endpoints)); err != nil {
		return nil, fmt.Errorf("filter pool: %w", err)
	}
	if cfg.Strategy == "" {
		cfg.Strategy = StrategyAgreement
	}
	if cfg.MinResponses == 0 {
		cfg.MinResponses = max(len(endpoints), 1)
	}
	if cfg.Cooldown == 0 {
		cfg.Cooldown = DefaultCooldown
	}
	o := buildOptions(opts)
	return &Pool{cfg: cfg, endpoints: endpoints, now: o.now, coolUntil: make([]time.Time, len(endpoints))}, nil
}

// Needed is how many endpoints must answer for a check to get a definitive verdict: the
// agreement quorum (MinResponses), or 1 for first, failover and any.
func (p *Pool) Needed() int {
	if p.cfg.Strategy == StrategyAgreement {
		return p.cfg.MinResponses
	}
	return 1
}

// CheckAccessList checks one request with the pool's strategy.
func (p *Pool) CheckAccessList(ctx context.Context, req Request) Verdict {
	return p.CheckAccessLists(ctx, []Request{req})[0]
}

// CheckAccessLists checks the requests with the pool's strategy; each endpoint receives them as
// one call to its own CheckAccessLists (a JSON-RPC batch for a Client).
func (p *Pool) CheckAccessLists(ctx context.Context, reqs []Request) []Verdict {
	if len(p.endpoints) == 0 {
		out := make([]Verdict, len(reqs))
		for i := range out {
			out[i] = Unavailable("", ErrNoEndpoint)
		}
		return out
	}
	switch p.cfg.Strategy {
	case StrategyFirst:
		return fit(p.endpoints[0].Checker.CheckAccessLists(ctx, reqs), len(reqs))
	case StrategyFailover:
		return p.failover(ctx, reqs)
	}
	if p.cfg.Strategy == StrategyAny {
		return p.askAny(ctx, reqs)
	}
	answers := p.askAll(ctx, reqs)
	out := make([]Verdict, len(reqs))
	per := make([]Verdict, len(p.endpoints))
	for i := range reqs {
		for e := range p.endpoints {
			per[e] = answers[e][i]
		}
		out[i] = combineAgreement(per, p.cfg.MinResponses)
	}
	return out
}

// askAll sends reqs to every endpoint concurrently and waits for all of them (each is bounded
// by its own timeout).
func (p *Pool) askAll(ctx context.Context, reqs []Request) [][]Verdict {
	answers := make([][]Verdict, len(p.endpoints))
	var wg sync.WaitGroup
	for e := 1; e < len(p.endpoints); e++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[e] = fit(p.endpoints[e].Checker.CheckAccessLists(ctx, reqs), len(reqs))
		}()
	}
	// The first endpoint is asked on the caller's goroutine, meanwhile: one endpoint costs no
	// hand-off.
	answers[0] = fit(p.endpoints[0].Checker.CheckAccessLists(ctx, reqs), len(reqs))
	wg.Wait()
	return answers
}

// askAny sends reqs to every endpoint at once and returns as soon as each request has a
// definitive verdict from one of them, or when all have answered (issue 19's review: the
// strategy waited for every endpoint, so one hanging filter cost every check its timeout).
// Endpoints still asking finish in the background, bounded by their own timeout and
// connection limit; their answers are not waited for.
func (p *Pool) askAny(ctx context.Context, reqs []Request) []Verdict {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // a Client's later sub-batches are not sent
	type answer struct{ vs []Verdict }
	answers := make(chan answer, len(p.endpoints)) // buffered: a late endpoint never blocks
	for e := range p.endpoints {
		go func() { answers <- answer{fit(p.endpoints[e].Checker.CheckAccessLists(ctx, reqs), len(reqs))} }()
	}
	per := make([][]Verdict, len(reqs)) // each request's answers, in the order they arrived
	open := len(reqs)                   // requests without a definitive verdict yet
	for range p.endpoints {
		a := <-answers
		for i, v := range a.vs {
			if definitive(v.Class) && !slices.ContainsFunc(per[i], func(w Verdict) bool { return definitive(w.Class) }) {
				open--
			}
			per[i] = append(per[i], v)
		}
		if open == 0 {
			break
		}
	}
	out := make([]Verdict, len(reqs))
	for i := range reqs {
		out[i] = combineAny(per[i])
	}
	return out
}

// failover asks endpoints in order; requests whose verdict was a transport failure move on to
// the next endpoint, and the failing endpoint cools down. When every endpoint is cooling down,
// they are tried anyway: a stale cool-down must not turn into an outage.
func (p *Pool) failover(ctx context.Context, reqs []Request) []Verdict {
	out := make([]Verdict, len(reqs))
	pending := make([]int, len(reqs))
	for i := range pending {
		pending[i] = i
	}
	order := p.failoverOrder()
	for _, e := range order {
		if len(pending) == 0 {
			break
		}
		sub := make([]Request, len(pending))
		for j, i := range pending {
			sub[j] = reqs[i]
		}
		vs := fit(p.endpoints[e].Checker.CheckAccessLists(ctx, sub), len(sub))
		next := pending[:0]
		failed := false
		for j, i := range pending {
			out[i] = vs[j]
			if IsTransport(vs[j]) {
				failed = true
				next = append(next, i)
			}
		}
		if failed {
			p.coolDown(e)
		}
		pending = next
	}
	return out
}

// failoverOrder lists the endpoints not cooling down, in configured order, then the cooling ones.
func (p *Pool) failoverOrder() []int {
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	ready := make([]int, 0, len(p.endpoints))
	var cooling []int
	for e := range p.endpoints {
		if now.Before(p.coolUntil[e]) {
			cooling = append(cooling, e)
		} else {
			ready = append(ready, e)
		}
	}
	return append(ready, cooling...)
}

func (p *Pool) coolDown(e int) {
	until := p.now().Add(p.cfg.Cooldown)
	p.mu.Lock()
	p.coolUntil[e] = until
	p.mu.Unlock()
}

func definitive(c Class) bool {
	return c == ClassValid || c == ClassInvalid || c == ClassFailsafe
}

// combineAny takes the first definitive verdict of vs (in the order they arrived); with none, a retry-later if
// any endpoint said so, else unavailable.
func combineAny(vs []Verdict) Verdict {
	contested := false
	for _, v := range vs {
		contested = contested || v.Class == ClassValid
	}
	for _, v := range vs {
		if definitive(v.Class) {
			if v.Class == ClassInvalid {
				v.Ambiguous = v.Ambiguous || contested
			}
			return v
		}
	}
	return fallback(vs, "no filter gave a definitive verdict")
}

// combineAgreement: failsafe from any endpoint wins; then any invalid (an invalid answer makes
// the outcome invalid whatever the others say, since mixed valid/invalid is invalid); then valid
// if at least min endpoints said valid; then retry-later if any endpoint said so; else
// unavailable.
func combineAgreement(vs []Verdict, min int) Verdict {
	for _, v := range vs {
		if v.Class == ClassFailsafe {
			return v
		}
	}
	valid := 0
	for _, v := range vs {
		if v.Class == ClassValid {
			valid++
		}
	}
	for _, v := range vs {
		if v.Class == ClassInvalid {
			// The filters disagree: still invalid, but not a fact to remember.
			v.Ambiguous = v.Ambiguous || valid > 0
			return v
		}
	}
	if valid >= min {
		return Verdict{Class: ClassValid, Endpoint: fmt.Sprintf("%d of %d filters", valid, len(vs))}
	}
	return fallback(vs, fmt.Sprintf("only %d of the %d valid answers required", valid, min))
}

func fallback(vs []Verdict, why string) Verdict {
	for _, v := range vs {
		if v.Class == ClassRetryLater {
			return v
		}
	}
	var errs []error
	for _, v := range vs {
		if v.Err != nil {
			errs = append(errs, v.Err)
		}
	}
	return Unavailable("", fmt.Errorf("%s: %w", why, errors.Join(errs...)))
}

// errShortAnswer marks the verdicts a checker failed to give.
var errShortAnswer = errors.New("the checker answered fewer verdicts than checks")

// fit makes vs n verdicts long: a checker that answers too few must not crash its caller, and
// the missing verdicts are unavailable.
func fit(vs []Verdict, n int) []Verdict {
	for len(vs) < n {
		vs = append(vs, Unavailable("", errShortAnswer))
	}
	return vs[:n]
}
