package opreth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"go.uber.org/zap"

	"github.com/interopgate/interopgate/accesslist"
	"github.com/interopgate/interopgate/devnet"
)

// Config is the model's, with op-reth's values as defaults (DefaultConfig).
type Config struct {
	// Endpoints are the --rollup.interop-http URLs: every one is asked (required).
	Endpoints []string
	// MinResponses is --rollup.interop-min-responses: valid answers that admit a tx; 0 = every
	// endpoint.
	MinResponses int
	// CheckTimeout bounds one check of one endpoint (2 s).
	CheckTimeout time.Duration
	// FailsafePoll is how often every endpoint is asked admin_getFailsafeEnabled (1 s).
	FailsafePoll time.Duration
	// ValidityWindow: a tx admitted valid is kept until the head's timestamp plus this, in
	// seconds; it is also the descriptor's timeout (7200).
	ValidityWindow uint64
	// RecheckWindow: at each block, txs within this many seconds of their deadline are checked
	// again (60).
	RecheckWindow uint64
	// MaxConcurrentRechecks bounds those checks in flight (10).
	MaxConcurrentRechecks int
	// GasReservation: a tx whose gas limit exceeds the block gas limit minus this is refused
	// (70,000: the L1-info deposit's).
	GasReservation uint64
	// InteropTime is the chain's interop activation (Lagoon): before it interop txs are refused.
	InteropTime uint64
	// MinSafety asked of the endpoints ("cross-unsafe").
	MinSafety string
}

// DefaultConfig is op-reth's behaviour; Endpoints must still be set.
func DefaultConfig() Config {
	return Config{CheckTimeout: 2 * time.Second, FailsafePoll: time.Second, ValidityWindow: 7200, RecheckWindow: 60,
		MaxConcurrentRechecks: 10, GasReservation: 70_000, MinSafety: "cross-unsafe"}
}

// Stats counts what the model did, for tests and the devnet.
type Stats struct {
	IngressChecks int64 // checks sent at ingress (one per endpoint per tx)
	Rechecks      int64 // checks sent by the per-block sweep
	Evicted       int64 // interop txs evicted (gate, reorg, deadline, invalid at a re-check)
}

// entry is an interop tx the pool took.
type entry struct {
	tx       *types.Transaction
	keys     []common.Hash
	deadline uint64 // head timestamp past which it is removed
}

// Pool is the model: a devnet.PoolPolicy. Safe for concurrent use.
type Pool struct {
	cfg       Config
	chain     *devnet.Chain
	endpoints []*endpoint
	quorum    int
	log       *zap.Logger

	gate   atomic.Bool // the failsafe gate: on while any endpoint said true
	pollMu sync.Mutex  // one failsafe round at a time: a late answer never overwrites a newer one

	mu       sync.Mutex
	txs      map[common.Hash]*entry
	leftOut  []*types.Transaction // interop txs the builder left out while the gate was on
	ingress  atomic.Int64
	rechecks atomic.Int64
	evicted  atomic.Int64

	stop chan struct{}
	done chan struct{}
}

// New returns a devnet.ChainConfig.PoolPolicy that builds the model for a chain and starts its
// failsafe poll (stopped by Close).
func New(cfg Config, log *zap.Logger) (func(*devnet.Chain) (devnet.PoolPolicy, error), *Pool, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, nil, errors.New("opreth: at least one interop endpoint is required (--rollup.interop-http)")
	}
	if cfg.MinResponses < 0 || cfg.MinResponses > len(cfg.Endpoints) {
		return nil, nil, fmt.Errorf("opreth: min responses %d with %d endpoints", cfg.MinResponses, len(cfg.Endpoints))
	}
	if log == nil {
		log = zap.NewNop()
	}
	p := &Pool{cfg: cfg, quorum: cfg.MinResponses, log: log, txs: map[common.Hash]*entry{},
		stop: make(chan struct{}), done: make(chan struct{})}
	if p.quorum == 0 {
		p.quorum = len(cfg.Endpoints)
	}
	client := &http.Client{}
	for _, u := range cfg.Endpoints {
		p.endpoints = append(p.endpoints, &endpoint{url: u, client: client})
	}
	build := func(c *devnet.Chain) (devnet.PoolPolicy, error) {
		p.chain = c
		go p.pollFailsafe()
		return p, nil
	}
	return build, p, nil
}

// Close stops the failsafe poll.
func (p *Pool) Close() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
		if p.chain != nil {
			<-p.done
		}
	}
}

// Gate reports whether the failsafe gate is on.
func (p *Pool) Gate() bool { return p.gate.Load() }

// Stats returns the counters.
func (p *Pool) Stats() Stats {
	return Stats{IngressChecks: p.ingress.Load(), Rechecks: p.rechecks.Load(), Evicted: p.evicted.Load()}
}

// Tracked reports whether the model holds the interop tx (admitted, not evicted, not mined).
func (p *Pool) Tracked(h common.Hash) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.txs[h]
	return ok
}

// pollFailsafe asks every endpoint every FailsafePoll: any true turns the gate on at once; it
// clears only when every endpoint answered false (a silent endpoint keeps it as it is).
func (p *Pool) pollFailsafe() {
	defer close(p.done)
	t := time.NewTicker(p.cfg.FailsafePoll)
	defer t.Stop()
	for {
		p.PollFailsafe(context.Background())
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
	}
}

// PollFailsafe runs one round of the failsafe poll (the poll's own loop calls it every
// FailsafePoll; tests call it to take a round now).
func (p *Pool) PollFailsafe(ctx context.Context) {
	p.pollMu.Lock()
	defer p.pollMu.Unlock()
	ons := make([]bool, len(p.endpoints))
	oks := make([]bool, len(p.endpoints))
	var wg sync.WaitGroup
	for i, e := range p.endpoints {
		wg.Go(func() { ons[i], oks[i] = e.failsafe(ctx, p.cfg.CheckTimeout) })
	}
	wg.Wait()
	allFalse := true
	for i := range ons {
		if oks[i] && ons[i] {
			if !p.gate.Swap(true) {
				p.log.Warn("op-reth model: failsafe gate on")
			}
			return
		}
		if !oks[i] {
			allFalse = false
		}
	}
	if allFalse && p.gate.Swap(false) {
		p.log.Info("op-reth model: failsafe gate off")
	}
}

// Admit is op-reth's ingress (validator.rs), in its order: type-3 refused; a gas limit above the
// block's minus the reservation refused; interop txs before activation refused; with the gate
// on refused without a call; else every endpoint asked, admitted at the quorum; only then the
// pool's own checks (balance, nonce, fees: geth's here).
func (p *Pool) Admit(ctx context.Context, tx *types.Transaction) error {
	if tx.Type() == types.BlobTxType {
		return errors.New("transaction type not supported")
	}
	head := p.chain.Head()
	if limit := head.GasLimit; tx.Gas()+p.cfg.GasReservation > limit {
		return fmt.Errorf("exceeds block gas limit: gas %d above %d minus the %d reserved for the L1-info deposit", tx.Gas(), limit, p.cfg.GasReservation)
	}
	keys := accesslist.InboxKeys(tx)
	if len(keys) == 0 {
		return p.chain.AddTx(tx)
	}
	if head.Time < p.cfg.InteropTime {
		return errors.New("cross chain tx is invalid before interop")
	}
	if p.gate.Load() {
		return errors.New("invalid cross chain tx: failsafe is enabled")
	}
	if a := p.check(ctx, keys, head.Time); a.Class != Valid {
		return fmt.Errorf("invalid cross chain tx: %s (%d): %s", a.Class, a.Code, a.Message)
	}
	if err := p.chain.AddTx(tx); err != nil {
		return err
	}
	p.mu.Lock()
	p.txs[tx.Hash()] = &entry{tx: tx, keys: keys, deadline: head.Time + p.cfg.ValidityWindow}
	p.mu.Unlock()
	return nil
}

// check asks every endpoint at once and decides as op-reth does: admitted once quorum valid
// answers arrived, unless a failsafe answer arrived first; refused at the first definitive
// invalid or rejection; refused when the answers run out short of the quorum.
func (p *Pool) check(ctx context.Context, keys []common.Hash, headTime uint64) Answer {
	body := checkBody(keys, p.cfg.MinSafety, p.chain.ID(), headTime, p.cfg.ValidityWindow)
	answers := make(chan Answer, len(p.endpoints))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, e := range p.endpoints {
		p.ingress.Add(1)
		go func() { answers <- e.check(ctx, body, p.cfg.CheckTimeout) }()
	}
	valid := 0
	last := Answer{Class: NoAnswer, Message: "no endpoint answered"}
	for range p.endpoints {
		a := <-answers
		switch a.Class {
		case Valid:
			if valid++; valid >= p.quorum {
				return a
			}
		case Failsafe, Invalid, Rejected:
			return a
		default:
			last = a
		}
	}
	last.Message = fmt.Sprintf("%d of %d valid answers: %s", valid, p.quorum, last.Message)
	return last
}

// BeforeBuild is the payload builder's rule (#21448): while the gate is on, no tx with a
// CrossL2Inbox entry goes in the block. They are taken out of the pool for the build and come
// back after it unless the block's maintenance evicts them (the gate is still on).
func (p *Pool) BeforeBuild() {
	if !p.gate.Load() {
		return
	}
	out := interopIn(p.chain.PoolTxs())
	if len(out) == 0 {
		return
	}
	p.chain.RemoveTxs(hashesOf(out))
	p.mu.Lock()
	p.leftOut = append(p.leftOut, out...)
	p.mu.Unlock()
}

// Committed is maintain.rs on a Commit: with the gate on every interop tx is evicted; with it
// off, txs past their deadline are removed and those within RecheckWindow of it are checked
// again, MaxConcurrentRechecks at a time: a definitive invalid (or a rejection) evicts, a valid
// answer moves the deadline, anything else keeps the tx.
func (p *Pool) Committed(head *types.Header) {
	p.mu.Lock()
	leftOut := p.leftOut
	p.leftOut = nil
	p.mu.Unlock()
	if p.gate.Load() {
		p.evictAllInterop("failsafe gate")
		p.evicted.Add(int64(len(leftOut)))
		return
	}
	for _, tx := range leftOut { // the gate cleared while the block was built: they stay
		if err := p.chain.AddTx(tx); err != nil {
			p.forget(tx.Hash())
		}
	}
	p.sweep(head)
}

// ClearTxpool is reth's admin_clearTxpool (its admin API, where `--http.api admin` opens it):
// every tx of the pool removed, interop or not; the answer is how many.
func (p *Pool) ClearTxpool() uint64 {
	n := p.chain.ClearPool()
	p.mu.Lock()
	clear(p.txs)
	p.leftOut = nil
	p.mu.Unlock()
	return uint64(n)
}

// Reorged is maintain.rs on a Reorg of its own chain: every interop tx is evicted.
func (p *Pool) Reorged(*types.Header) { p.evictAllInterop("reorg") }

func (p *Pool) evictAllInterop(why string) {
	out := interopIn(p.chain.PoolTxs())
	removed := p.chain.RemoveTxs(hashesOf(out))
	p.mu.Lock()
	clear(p.txs)
	p.mu.Unlock()
	p.evicted.Add(int64(removed))
	if removed > 0 {
		p.log.Info("op-reth model: every interop tx evicted", zap.String("why", why), zap.Int("txs", removed))
	}
}

func (p *Pool) forget(h common.Hash) {
	p.mu.Lock()
	delete(p.txs, h)
	p.mu.Unlock()
}

// sweep is the per-block deadline rule.
func (p *Pool) sweep(head *types.Header) {
	p.mu.Lock()
	var due, expired []*entry
	for h, e := range p.txs {
		switch {
		case !p.chain.InPool(h):
			delete(p.txs, h) // mined or replaced
		case head.Time > e.deadline:
			expired = append(expired, e)
			delete(p.txs, h)
		case e.deadline-head.Time <= p.cfg.RecheckWindow:
			due = append(due, e)
		}
	}
	p.mu.Unlock()
	evict := hashesOfEntries(expired)
	var mu sync.Mutex
	sem := make(chan struct{}, p.cfg.MaxConcurrentRechecks)
	var wg sync.WaitGroup
	for _, e := range due {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			p.rechecks.Add(int64(len(p.endpoints)))
			switch a := p.check(context.Background(), e.keys, head.Time); a.Class {
			case Valid:
				p.mu.Lock()
				e.deadline = head.Time + p.cfg.ValidityWindow
				p.mu.Unlock()
			case Invalid, Rejected:
				mu.Lock()
				evict = append(evict, e.tx.Hash())
				mu.Unlock()
				p.forget(e.tx.Hash())
			}
		})
	}
	wg.Wait()
	if len(evict) > 0 {
		p.evicted.Add(int64(p.chain.RemoveTxs(evict)))
	}
}

func interopIn(txs []*types.Transaction) []*types.Transaction {
	var out []*types.Transaction
	for _, tx := range txs {
		if len(accesslist.InboxKeys(tx)) > 0 {
			out = append(out, tx)
		}
	}
	return out
}

func hashesOf(txs []*types.Transaction) []common.Hash {
	out := make([]common.Hash, len(txs))
	for i, tx := range txs {
		out[i] = tx.Hash()
	}
	return out
}

func hashesOfEntries(es []*entry) []common.Hash {
	out := make([]common.Hash, len(es))
	for i, e := range es {
		out[i] = e.tx.Hash()
	}
	return out
}
