package opreth

// Each rule of the model on its own, on a devnet chain whose real geth pool and builder the
// model runs around, asking scripted filter endpoints.

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rpc"
	"go.uber.org/zap/zaptest"

	"github.com/interopgate/interopgate/accesslist"
	"github.com/interopgate/interopgate/devnet"
	"github.com/interopgate/interopgate/internal/rpctest"
)

// filterEndpoint is a scripted interop endpoint: its check answer (0 = valid, else an error
// code), its failsafe answer, and the bodies of the checks it got.
type filterEndpoint struct {
	srv      *rpctest.Server
	code     atomic.Int64
	failsafe atomic.Bool
	checks   atomic.Int64
	mu       sync.Mutex
	bodies   []string
	inFlight atomic.Int64
	maxIn    atomic.Int64
	delay    atomic.Int64 // of each check, in ns
}

func newEndpoint(t *testing.T) *filterEndpoint {
	e := &filterEndpoint{}
	e.srv = rpctest.New(t, func(method string, params json.RawMessage) (any, *rpctest.Error) {
		switch method {
		case "admin_getFailsafeEnabled":
			return e.failsafe.Load(), nil
		case "interop_checkAccessList":
			n := e.inFlight.Add(1)
			defer e.inFlight.Add(-1)
			for m := e.maxIn.Load(); n > m && !e.maxIn.CompareAndSwap(m, n); m = e.maxIn.Load() {
			}
			e.checks.Add(1)
			e.mu.Lock()
			e.bodies = append(e.bodies, string(params))
			e.mu.Unlock()
			if d := time.Duration(e.delay.Load()); d > 0 {
				time.Sleep(d) // the endpoint's latency itself
			}
			if c := e.code.Load(); c != 0 {
				return nil, &rpctest.Error{Code: int(c), Message: fmt.Sprint("scripted ", c)}
			}
			return nil, nil
		}
		return nil, &rpctest.Error{Code: -32601, Message: "no such method"}
	})
	e.srv.KeepBodies(false)
	return e
}

type rig struct {
	net       *devnet.Devnet
	chain     *devnet.Chain
	pool      *Pool
	endpoints []*filterEndpoint
	nonces    map[int]uint64
}

func newRig(t *testing.T, endpoints int, mutate func(*Config)) *rig {
	t.Helper()
	r := &rig{nonces: map[int]uint64{}}
	cfg := DefaultConfig()
	for range endpoints {
		e := newEndpoint(t)
		r.endpoints = append(r.endpoints, e)
		cfg.Endpoints = append(cfg.Endpoints, e.srv.URL)
	}
	cfg.FailsafePoll = time.Hour // rounds are taken by the tests (PollFailsafe)
	if mutate != nil {
		mutate(&cfg)
	}
	build, pool, err := New(cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	r.pool = pool
	net, err := devnet.Start(devnet.Config{Accounts: 8, PoolPolicies: map[uint64]func(*devnet.Chain) (devnet.PoolPolicy, error){902: build},
		AdminAPI: []uint64{902}}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pool.Close(); net.Close() })
	r.net, r.chain = net, net.Chain(902)
	return r
}

var keysSeq atomic.Int64

// keys are inbox keys of one made-up message (the scripted endpoints judge them).
func keys() []common.Hash {
	i := keysSeq.Add(1)
	m := accesslist.Message{BlockNumber: uint64(i), Timestamp: uint64(time.Now().Unix() - 60), LogIndex: uint32(i)}
	m.ChainID.SetUint64(901)
	m.Checksum = common.Hash{accesslist.PrefixChecksum, byte(i), byte(i >> 8)}
	return accesslist.EncodeMessages([]accesslist.Message{m})
}

// tx signs a type-2 tx from account acct with its next nonce (plus gap, to leave it queued),
// the given gas and inbox keys (none: a plain transfer).
func (r *rig) tx(t *testing.T, acct int, gap uint64, gas uint64, ks []common.Hash) *types.Transaction {
	t.Helper()
	a := r.net.Accounts[acct]
	nonce := r.nonces[acct] + gap
	if gap == 0 {
		r.nonces[acct]++
	}
	var al types.AccessList
	if len(ks) > 0 {
		al = types.AccessList{{Address: accesslist.CrossL2InboxAddress, StorageKeys: ks}}
	}
	to := common.Address{0x42}
	tx, err := types.SignTx(types.NewTx(&types.DynamicFeeTx{ChainID: big.NewInt(902), Nonce: nonce, GasTipCap: big.NewInt(1),
		GasFeeCap: big.NewInt(1e12), Gas: gas, To: &to, AccessList: al}), types.LatestSignerForChainID(big.NewInt(902)), a.Key)
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

func (r *rig) send(tx *types.Transaction) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return r.chain.Client().SendTransaction(ctx, tx)
}

func (r *rig) checks() int64 {
	n := int64(0)
	for _, e := range r.endpoints {
		n += e.checks.Load()
	}
	return n
}

func mustSend(t *testing.T, r *rig, tx *types.Transaction) {
	t.Helper()
	if err := r.send(tx); err != nil {
		t.Fatalf("tx refused: %v", err)
	}
}

func mustRefuse(t *testing.T, r *rig, tx *types.Transaction, want string) {
	t.Helper()
	err := r.send(tx)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("want a refusal with %q, got %v", want, err)
	}
	if r.chain.InPool(tx.Hash()) {
		t.Fatal("a refused tx is in the pool")
	}
}

// Ingress, in op-reth's order: the cheap refusals ask no endpoint; an interop tx asks every
// endpoint once, with op-reth's request (hex chain ID, the head's timestamp, timeout 7200).
func TestIngressOrderAndRequest(t *testing.T) {
	r := newRig(t, 2, nil)
	head := r.chain.Head()

	mustRefuse(t, r, r.tx(t, 0, 0, head.GasLimit-69_999, keys()), "exceeds block gas limit")
	mustSend(t, r, r.tx(t, 1, 0, 21_000+3_000, nil)) // no inbox entry: no call
	if n := r.checks(); n != 0 {
		t.Fatalf("refusals and a plain tx asked the endpoints %d times", n)
	}

	r.endpoints[0].failsafe.Store(true)
	r.pool.PollFailsafe(context.Background())
	mustRefuse(t, r, r.tx(t, 2, 0, 100_000, keys()), "failsafe")
	if n := r.checks(); n != 0 {
		t.Fatalf("with the gate on the endpoints were asked %d times", n)
	}
	r.endpoints[0].failsafe.Store(false)
	r.pool.PollFailsafe(context.Background())

	ks := keys()
	tx := r.tx(t, 3, 0, 100_000, ks)
	mustSend(t, r, tx)
	if !r.chain.InPool(tx.Hash()) || !r.pool.Tracked(tx.Hash()) {
		t.Fatal("an admitted interop tx is not in the pool")
	}
	for i, e := range r.endpoints {
		if e.checks.Load() != 1 {
			t.Fatalf("endpoint %d asked %d times, want once", i, e.checks.Load())
		}
		keysJSON, _ := json.Marshal(ks)
		want := fmt.Sprintf(`[%s,"cross-unsafe",{"chainID":"0x386","timestamp":"0x%x","timeout":"0x1c20"}]`, keysJSON, head.Time)
		if got := e.bodies[0]; got != want {
			t.Fatalf("endpoint %d got\n%s\nwant\n%s", i, got, want)
		}
	}
}

func TestNoInteropBeforeActivation(t *testing.T) {
	r := newRig(t, 1, func(c *Config) { c.InteropTime = uint64(time.Now().Unix()) + 3600 })
	mustRefuse(t, r, r.tx(t, 0, 0, 100_000, keys()), "before interop")
	if n := r.checks(); n != 0 {
		t.Fatalf("asked %d times", n)
	}
}

// The classification table of interop_filter/errors.rs.
func TestClassification(t *testing.T) {
	for code, want := range map[int]Class{
		0: Valid, -320602: Failsafe, -321401: Soft, -320400: Soft, -32603: NoAnswer,
		-321100: Invalid, -320600: Invalid, -320501: Invalid, -320500: Invalid, -321500: Invalid,
		-32602: Rejected, -32000: Rejected, -32601: Rejected,
	} {
		if got := classify(code); got != want {
			t.Errorf("code %d: %s, want %s", code, got, want)
		}
	}
	// At ingress only a quorum of valid answers admits: every other class refuses.
	r := newRig(t, 1, nil)
	for _, code := range []int64{-321100, -320602, -321401, -32603, -32602} {
		r.endpoints[0].code.Store(code)
		mustRefuse(t, r, r.tx(t, 0, 0, 100_000, keys()), fmt.Sprint(code))
	}
}

// The quorum (--rollup.interop-min-responses): admitted at N valid answers; a failsafe answer
// that arrived before the quorum wins; answers that run out short of it refuse.
func TestQuorum(t *testing.T) {
	r := newRig(t, 3, func(c *Config) { c.MinResponses = 2; c.CheckTimeout = 500 * time.Millisecond })
	r.endpoints[2].srv.SetHTTPStatus(503) // one endpoint down
	mustSend(t, r, r.tx(t, 0, 0, 100_000, keys()))

	r.endpoints[1].srv.SetHTTPStatus(503) // two down: one valid answer of two needed
	mustRefuse(t, r, r.tx(t, 1, 0, 100_000, keys()), "1 of 2 valid answers")

	r.endpoints[1].srv.SetHTTPStatus(0)
	r.endpoints[2].srv.SetHTTPStatus(0)
	r.endpoints[2].code.Store(-320602) // answers at once; the valid ones come later
	r.endpoints[0].delay.Store(int64(100 * time.Millisecond))
	r.endpoints[1].delay.Store(int64(100 * time.Millisecond))
	mustRefuse(t, r, r.tx(t, 2, 0, 100_000, keys()), "failsafe")
}

// The gate: any endpoint saying true turns it on; it clears only when every endpoint says false
// (a silent one keeps it on).
func TestFailsafeGate(t *testing.T) {
	r := newRig(t, 2, nil)
	ctx := context.Background()
	r.endpoints[0].failsafe.Store(true)
	r.pool.PollFailsafe(ctx)
	if !r.pool.Gate() {
		t.Fatal("one endpoint said true: the gate is off")
	}
	r.endpoints[0].failsafe.Store(false)
	r.endpoints[1].srv.SetHTTPStatus(503)
	r.pool.PollFailsafe(ctx)
	if !r.pool.Gate() {
		t.Fatal("a silent endpoint let the gate clear")
	}
	r.endpoints[1].srv.SetHTTPStatus(0)
	r.pool.PollFailsafe(ctx)
	if r.pool.Gate() {
		t.Fatal("every endpoint said false: the gate is on")
	}
}

// A block made while the gate is on: the builder leaves every interop tx out, and the block's
// maintenance evicts them all, valid or not; other txs are mined as usual.
func TestGateEvictsEveryInteropTx(t *testing.T) {
	r := newRig(t, 1, nil)
	var interop []*types.Transaction
	for i := range 3 {
		tx := r.tx(t, i, 0, 100_000, keys())
		mustSend(t, r, tx)
		interop = append(interop, tx)
	}
	plain := r.tx(t, 5, 0, 21_000, nil)
	mustSend(t, r, plain)
	r.endpoints[0].failsafe.Store(true)
	r.pool.PollFailsafe(context.Background())
	head := r.chain.Commit()
	block, err := r.chain.Client().BlockByHash(context.Background(), head.Hash())
	if err != nil {
		t.Fatal(err)
	}
	if len(block.Transactions()) != 1 || block.Transactions()[0].Hash() != plain.Hash() {
		t.Fatalf("the block made with the gate on has %d txs, want only the plain one", len(block.Transactions()))
	}
	for _, tx := range interop {
		if r.chain.InPool(tx.Hash()) || r.pool.Tracked(tx.Hash()) {
			t.Fatal("an interop tx survived a block made with the gate on")
		}
	}
}

// The sweep at each block, with the gate off: a tx within RecheckWindow of its deadline is asked
// about again (at most MaxConcurrentRechecks at once): invalid evicts, valid moves the deadline,
// soft keeps it; past its deadline it is removed without a call.
func TestDeadlineSweep(t *testing.T) {
	r := newRig(t, 1, func(c *Config) { c.ValidityWindow = 6; c.RecheckWindow = 2 })
	e := r.endpoints[0]
	// Queued txs (a nonce gap) stay in the pool across blocks.
	invalidLater := r.tx(t, 0, 1, 100_000, keys())
	validLater := r.tx(t, 1, 1, 100_000, keys())
	softLater := r.tx(t, 2, 1, 100_000, keys())
	for _, tx := range []*types.Transaction{invalidLater, validLater, softLater} {
		mustSend(t, r, tx)
	}
	for i := range 25 { // enough to see the bound on re-checks in flight
		mustSend(t, r, r.tx(t, 3+i%5, uint64(2+i/5), 100_000, keys()))
	}
	admitted := e.checks.Load()
	// Deadline = admission head + 6: blocks +1..+3 are outside the window, no call.
	for range 3 {
		r.chain.Commit()
	}
	if e.checks.Load() != admitted {
		t.Fatalf("re-checks before the window: %d", e.checks.Load()-admitted)
	}
	// Block +4 is within 2 s of the deadline: every tx is asked again; the scripted answers
	// depend on the body, so give each tx its own.
	e.delay.Store(int64(20 * time.Millisecond))
	r.endpoints[0].srv.SetHandler(func(method string, params json.RawMessage) (any, *rpctest.Error) {
		if method == "admin_getFailsafeEnabled" {
			return false, nil
		}
		n := e.inFlight.Add(1)
		defer e.inFlight.Add(-1)
		for m := e.maxIn.Load(); n > m && !e.maxIn.CompareAndSwap(m, n); m = e.maxIn.Load() {
		}
		e.checks.Add(1)
		time.Sleep(20 * time.Millisecond) // the endpoint's latency itself
		switch {
		case strings.Contains(string(params), accesslist.InboxKeys(invalidLater)[0].Hex()[2:]):
			return nil, &rpctest.Error{Code: -320600, Message: "conflicting data"}
		case strings.Contains(string(params), accesslist.InboxKeys(softLater)[0].Hex()[2:]):
			return nil, &rpctest.Error{Code: -321401, Message: "data unavailable"}
		}
		return nil, nil
	})
	r.chain.Commit()
	if got := e.checks.Load() - admitted; got != 28 {
		t.Fatalf("re-checks at the window: %d, want 28", got)
	}
	if m := e.maxIn.Load(); m > 10 {
		t.Fatalf("%d re-checks in flight at once, want at most 10", m)
	}
	if r.chain.InPool(invalidLater.Hash()) {
		t.Fatal("a tx found invalid at its re-check is still in the pool")
	}
	if !r.chain.InPool(validLater.Hash()) || !r.chain.InPool(softLater.Hash()) {
		t.Fatal("a valid or soft re-check evicted its tx")
	}
	// Block +7 is past the soft one's deadline (+6): removed, no call; the valid one's deadline
	// moved to +10.
	before := e.checks.Load()
	for range 3 {
		r.chain.Commit()
	}
	if r.chain.InPool(softLater.Hash()) {
		t.Fatal("a tx past its deadline is still in the pool")
	}
	if !r.chain.InPool(validLater.Hash()) {
		t.Fatal("a tx whose deadline a valid re-check moved was removed")
	}
	// The soft one is asked again at +5 and +6 (still within the window, its deadline unmoved),
	// then removed at +7 without a call; the valid ones' deadlines moved out of the window.
	if n := e.checks.Load() - before; n != 2 {
		t.Fatalf("%d calls at +5..+7, want 2 (the soft tx's)", n)
	}
}

// A reorg of its own chain evicts every interop tx.
func TestOwnReorgEvictsEveryInteropTx(t *testing.T) {
	r := newRig(t, 1, nil)
	for range 3 {
		r.chain.Commit()
	}
	tx := r.tx(t, 0, 1, 100_000, keys())
	mustSend(t, r, tx)
	if err := r.chain.Reorg(1); err != nil {
		t.Fatal(err)
	}
	if r.chain.InPool(tx.Hash()) || r.pool.Tracked(tx.Hash()) {
		t.Fatal("an interop tx survived a reorg of its own chain")
	}
}

// admin_clearTxpool (reth's admin API) empties the pool, interop txs and others, pending and
// queued, answers how many it removed, and the model forgets the interop ones.
func TestAdminClearTxpool(t *testing.T) {
	r := newRig(t, 1, nil)
	r.chain.Commit()
	interop := r.tx(t, 0, 0, 100_000, keys())
	plain := r.tx(t, 1, 0, 21_000, nil)
	queued := r.tx(t, 2, 1, 21_000, nil)
	for _, tx := range []*types.Transaction{interop, plain, queued} {
		mustSend(t, r, tx)
	}
	c, err := rpc.Dial(r.chain.RPCURL()) // over HTTP, where the admin namespace is opened
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var n uint64
	if err := c.Call(&n, "admin_clearTxpool"); err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Fatalf("admin_clearTxpool answered %d, want 3", n)
	}
	for _, tx := range []*types.Transaction{interop, plain, queued} {
		if r.chain.InPool(tx.Hash()) {
			t.Fatalf("tx %s survived admin_clearTxpool", tx.Hash())
		}
	}
	if r.pool.Tracked(interop.Hash()) {
		t.Fatal("the model still tracks a cleared interop tx")
	}
	mustSend(t, r, interop) // taken again, asked again
}
