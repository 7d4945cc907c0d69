package supervisorclient

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/interopgate/interopgate/internal/netcause"
)

// DefaultFailsafeInterval is how often op-geth polls admin_getFailsafeEnabled.
const DefaultFailsafeInterval = time.Second

// NamedFailsafeSource is one filter the watcher polls.
type NamedFailsafeSource struct {
	Name   string
	Source FailsafeSource
}

// FailsafeWatcherConfig configures a FailsafeWatcher.
type FailsafeWatcherConfig struct {
	// Interval between polls (default 1 s).
	Interval time.Duration
	// Timeout of each poll (default: the interval).
	Timeout time.Duration
	// OnChange, if set, is called with the new aggregate state each time it changes, and with
	// each poll error. It runs on the watcher's goroutine and must not block.
	OnChange func(enabled bool)
	OnError  func(endpoint string, err error)
	// Needed is how many endpoints the checks need answering (Pool.Needed); the quorum
	// headroom is those answering minus Needed (0: unset, taken as 1).
	Needed int
	// OnlyFirst: the strategy asks the first endpoint only (first): the headroom is 0 while it
	// answers, -1 while it does not, whatever the others do (found by a review).
	OnlyFirst bool
	// OnReachability, if set, is called when an endpoint stops answering (with the poll's
	// error) or answers again (err nil), and OnHeadroom when the headroom changes. They run on
	// the watcher's goroutine and must not block.
	OnReachability func(endpoint string, up bool, err error)
	OnHeadroom     func(headroom, up, needed int)
}

// EndpointState is one filter endpoint as the last poll found it.
type EndpointState struct {
	Name string `json:"name"`
	Up   bool   `json:"up"`
	// Cause is why the last poll failed (netcause: refused, dns, tls, timeout, …; empty while it
	// answers), and Err its text, at most maxErrText bytes with control characters escaped: a
	// filter or a proxy in front of it writes it, and it is shown and logged.
	Cause string `json:"cause,omitempty"`
	Err   string `json:"error,omitempty"`
}

// maxErrText bounds an endpoint's error text as kept (found by a review: a 4 MiB message with a
// forged line reached /readyz verbatim).
const maxErrText = 200

// tame is err's text as EndpointState keeps it.
func tame(err error) string {
	q := strconv.Quote(err.Error())
	q = q[1 : len(q)-1]
	if len(q) > maxErrText {
		q = q[:maxErrText] + "…"
	}
	return q
}

// Reachability is every endpoint's state as of the last poll and the quorum headroom.
type Reachability struct {
	Endpoints []EndpointState `json:"endpoints"`
	Up        int             `json:"up"`
	Needed    int             `json:"needed"`
	Headroom  int             `json:"headroom"`
}

// FailsafeWatcher polls admin_getFailsafeEnabled on every source. The aggregate is enabled while
// any source reports failsafe on. A source that cannot be polled keeps its last known state:
// checks against an unreachable filter already fail closed, and flapping on every timeout
// would evict mempools for nothing. It is safe for concurrent use.
type FailsafeWatcher struct {
	cfg     FailsafeWatcherConfig
	sources []NamedFailsafeSource
	metrics *Metrics

	mu       sync.Mutex
	state    []bool          // last known state per source, guarded by mu
	reach    []EndpointState // per source, guarded by mu
	headroom int             // guarded by mu
	polled   bool            // a poll has been made; guarded by mu
	enabled  atomic.Bool
	// answered is how many sources answered the last poll; -1 before the first.
	answered atomic.Int32
}

// NewFailsafeWatcher builds a watcher; call Run to start polling.
func NewFailsafeWatcher(sources []NamedFailsafeSource, cfg FailsafeWatcherConfig, opts ...Option) *FailsafeWatcher {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultFailsafeInterval
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = cfg.Interval
	}
	o := buildOptions(opts)
	if cfg.Needed <= 0 {
		cfg.Needed = 1
	}
	w := &FailsafeWatcher{cfg: cfg, sources: sources, metrics: o.metrics, state: make([]bool, len(sources)),
		reach: make([]EndpointState, len(sources)), headroom: len(sources) - cfg.Needed}
	if cfg.OnlyFirst {
		w.headroom = 0
	}
	w.answered.Store(-1)
	for i, s := range sources {
		w.metrics.setFailsafe(s.Name, -1)
		w.reach[i] = EndpointState{Name: s.Name, Up: true} // until a poll says otherwise
	}
	return w
}

// Reachability reports each endpoint's state as of the last poll, and the quorum headroom.
func (w *FailsafeWatcher) Reachability() Reachability {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := Reachability{Endpoints: append([]EndpointState(nil), w.reach...), Needed: w.cfg.Needed, Headroom: w.headroom}
	for _, e := range w.reach {
		if e.Up {
			r.Up++
		}
	}
	return r
}

// Enabled reports the aggregate state as of the last poll.
func (w *FailsafeWatcher) Enabled() bool { return w.enabled.Load() }

// Answering reports whether any source answered the last poll (true before the first): a
// process whose filters all stopped answering can say so even when it has nothing to check.
func (w *FailsafeWatcher) Answering() bool { return w.answered.Load() != 0 }

// QuorumAnswers reports whether enough sources answered the last poll for the pool's strategy
// (the headroom is not below 0; true before the first): with fewer, every check fails closed
// (found by a review: a revalidator read ready with one of its two agreement filters down).
func (w *FailsafeWatcher) QuorumAnswers() bool {
	if w.answered.Load() < 0 {
		return true
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.headroom >= 0
}

// Run polls at once and then every interval until ctx is done.
func (w *FailsafeWatcher) Run(ctx context.Context) {
	t := time.NewTicker(w.cfg.Interval)
	defer t.Stop()
	for {
		w.Poll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Poll asks every source once, concurrently, and updates the state.
func (w *FailsafeWatcher) Poll(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	type answer struct {
		on  bool
		err error
	}
	answers := make([]answer, len(w.sources))
	var wg sync.WaitGroup
	for i, s := range w.sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			on, err := s.Source.FailsafeEnabled(ctx)
			answers[i] = answer{on, err}
		}()
	}
	wg.Wait()

	w.mu.Lock()
	defer w.mu.Unlock()
	anyOn := false
	n := int32(0)
	for i, a := range answers {
		if a.err == nil {
			n++
		}
		if a.err != nil {
			if w.cfg.OnError != nil {
				w.cfg.OnError(w.sources[i].Name, a.err)
			}
			w.metrics.setFailsafe(w.sources[i].Name, -1) // unknown (found by a review: it kept the last answer)
		} else {
			w.state[i] = a.on
			w.metrics.setFailsafe(w.sources[i].Name, boolGauge(a.on))
		}
		anyOn = anyOn || w.state[i]
		was := w.reach[i].Up
		w.reach[i].Up, w.reach[i].Err, w.reach[i].Cause = a.err == nil, "", ""
		if a.err != nil {
			w.reach[i].Err, w.reach[i].Cause = tame(a.err), netcause.Of(a.err, 0)
			var te *TransportError
			if errors.As(a.err, &te) {
				w.reach[i].Cause = te.Cause()
			}
		}
		if was != (a.err == nil) && w.cfg.OnReachability != nil {
			var err error
			if a.err != nil {
				err = errors.New(w.reach[i].Err)
			}
			w.cfg.OnReachability(w.sources[i].Name, a.err == nil, err)
		}
	}
	w.answered.Store(n)
	headroom := int(n) - w.cfg.Needed
	if w.cfg.OnlyFirst && len(w.reach) > 0 {
		headroom = 0
		if !w.reach[0].Up {
			headroom = -1
		}
	}
	for i := range w.reach {
		w.metrics.setReachable(w.sources[i].Name, w.reach[i].Up, headroom)
	}
	if headroom != w.headroom || !w.polled {
		// The first poll says where the quorum stands, a headroom of 0 included (found by a
		// review: a gateway started with one filter, headroom 0, never warned).
		w.polled = true
		w.headroom = headroom
		if w.cfg.OnHeadroom != nil {
			w.cfg.OnHeadroom(headroom, int(n), w.cfg.Needed)
		}
	}
	if w.enabled.Swap(anyOn) != anyOn && w.cfg.OnChange != nil {
		w.cfg.OnChange(anyOn)
	}
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
