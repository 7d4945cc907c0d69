package loadtest

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/holiman/uint256"

	"github.com/interopgate/interopgate/accesslist"
	"github.com/interopgate/interopgate/devnet"
)

// borderline: interop txs sent while their initiating message still waits in the source
// chain's pool. On a devnet whose chains make block n at genesis + n·block_time, the message
// for block n is emitted just after block n−1, so its identifier (block n, the block's
// timestamp, log index 0) is known in advance; txs naming it are sent until block n is made,
// up to a block time before their message exists. A filter answers "not yet" (-321100) until
// then; the target must re-test and accept them, never reject them for good.
//
// Whether the message really landed where predicted is known only after block n: each
// request settles its expectation then (accepted if it did; -320600 if it did not, when the
// tx names nothing and accepting it would be the worst wrong outcome).
type borderline struct {
	env    *Env
	src    *devnet.Chain
	from   devnet.Account   // emits on the source chain
	accts  []devnet.Account // sign the executing txs
	nonces []atomic.Uint64
	cur    atomic.Pointer[predicted] // the message txs name now
	demand atomic.Int64              // unix nanos of the last Next: the emitter idles without it
}

// predicted is a message emitted into the source chain's pool, and where it will be.
type predicted struct {
	keys      []common.Hash
	data      []byte // the validateMessage call
	block     uint64
	settled   chan struct{} // closed once block is made and the prediction checked
	held      bool          // the message is in block at log 0 (valid after settled)
	unchecked bool          // the run ended before block was made: the prediction stands
}

// borderlineSettleWait bounds how long a request waits for its message's block to be checked.
const borderlineSettleWait = 30 * time.Second

func borderlineScenario(ctx context.Context, env *Env) (Scenario, error) {
	if err := env.needDevnet("borderline"); err != nil {
		return nil, err
	}
	src := env.Devnet.Chain(env.SourceChain)
	if src.OnDemand() {
		return nil, errors.New("scenario borderline needs a devnet with a block time (blocks made by the clock): it predicts where the next block's message will be")
	}
	accts := env.accounts(4)
	b := &borderline{env: env, src: src, from: accts[0], accts: accts[1:], nonces: make([]atomic.Uint64, len(accts)-1)}
	client := env.Devnet.Chain(env.ChainID).Client()
	for i, a := range b.accts {
		n, err := client.PendingNonceAt(ctx, a.Address)
		if err != nil {
			return nil, fmt.Errorf("nonce of %s: %w", a.Address, err)
		}
		b.nonces[i].Store(n)
	}
	b.demand.Store(time.Now().UnixNano())
	ready := make(chan struct{})
	go b.emitter(ctx, ready)
	select {
	case <-ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(time.Duration(3*src.BlockTime()+5) * time.Second):
		return nil, errors.New("scenario borderline: no message predicted within 3 blocks")
	}
	return b, nil
}

func (b *borderline) Name() string { return "borderline" }

// Next signs a tx naming the message of the block being made now.
func (b *borderline) Next(i int) Request {
	b.demand.Store(time.Now().UnixNano())
	p := b.cur.Load()
	k := i % len(b.accts)
	raw := signAt(b.env.ChainID, b.accts[k], b.nonces[k].Add(1)-1, p.keys, p.data)
	return Request{Body: sendRaw(i, raw), Expect: Expect{Accept: true}, Interop: true, Settle: p.settle}
}

// settle fixes the request's expectation once the predicted block is checked.
func (p *predicted) settle(r *Request) {
	select {
	case <-p.settled:
	case <-time.After(borderlineSettleWait):
		r.Expect = Expect{} // unknown: any answer counts as wrong rather than guessed right
		return
	}
	if !p.held && !p.unchecked {
		r.Expect, r.Invalid = Expect{Codes: []int{codeConflict}}, true
	}
}

// emitter, once per block while the scenario is used: right after block n−1 it sends the
// message for block n and publishes it; once block n is made it checks where the message
// landed. It stops when ctx ends, and idles when nothing asked for a tx for 3 block times.
func (b *borderline) emitter(ctx context.Context, ready chan<- struct{}) {
	var nonce uint64
	if n, err := b.src.Client().PendingNonceAt(ctx, b.from.Address); err == nil {
		nonce = n
	}
	var pending *predicted // emitted, its block not checked yet
	var pendingTx common.Hash
	blockTime := time.Duration(b.src.BlockTime()) * time.Second
	tick := time.NewTicker(10 * time.Millisecond) // the in-process chain's head, polled
	defer tick.Stop()
	for ctx.Err() == nil {
		head := b.src.Head()
		if pending != nil && head.Number.Uint64() >= pending.block {
			b.check(ctx, pending, pendingTx)
			pending = nil
		}
		sealAt := time.Unix(int64(head.Time+b.src.BlockTime()), 0)
		idle := time.Since(time.Unix(0, b.demand.Load())) > 3*blockTime
		if pending == nil && !idle && time.Until(sealAt) > blockTime/4 {
			p, tx, err := b.emit(ctx, nonce, head.Number.Uint64()+1, head.Time+b.src.BlockTime())
			if err == nil {
				nonce++
				pending, pendingTx = p, tx
				if b.cur.Swap(p) == nil {
					close(ready)
				}
			}
		}
		// Until the head moves (or a block is overdue: a broken chain must not hang us).
		for ctx.Err() == nil && b.src.Head().Number.Cmp(head.Number) == 0 && time.Now().Before(sealAt.Add(2*blockTime)) {
			select {
			case <-ctx.Done():
			case <-tick.C:
			}
		}
	}
	if pending != nil {
		pending.unchecked = true // the run is over before its block: keep the prediction
		close(pending.settled)
	}
}

// emit sends the emitter tx for block n at timestamp ts and predicts its message.
func (b *borderline) emit(ctx context.Context, nonce, n, ts uint64) (*predicted, common.Hash, error) {
	topic, data := common.Hash{0xb0, 0x4d}, []byte(fmt.Sprintf("borderline %d", n))
	tx, err := b.src.EmitTx(b.from, nonce, topic, data)
	if err != nil {
		return nil, common.Hash{}, err
	}
	if err := b.src.Client().SendTransaction(ctx, tx); err != nil {
		return nil, common.Hash{}, err
	}
	id := accesslist.Identifier{Origin: devnet.EmitterAddress, BlockNumber: n, LogIndex: 0, Timestamp: ts, ChainID: *uint256.NewInt(b.src.ID())}
	keys, call := execute(id, accesslist.PayloadHash([]common.Hash{topic}, data))
	return &predicted{keys: keys, data: call, block: n, settled: make(chan struct{})}, tx.Hash(), nil
}

// check settles p: its message holds if the emit tx was mined in p.block as its first log.
func (b *borderline) check(ctx context.Context, p *predicted, tx common.Hash) {
	defer close(p.settled)
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	r, err := b.src.Client().TransactionReceipt(cctx, tx)
	p.held = err == nil && r.Status == types.ReceiptStatusSuccessful && r.BlockNumber.Uint64() == p.block &&
		len(r.Logs) == 1 && r.Logs[0].Index == 0
}
