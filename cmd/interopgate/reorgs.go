package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/interopgate/interopgate/revalidator"
)

// reorgAccounts are the loadtest devnet's accounts beyond the scenarios', one per reorg round.
const reorgAccounts = 64

// sourceReorgs drives `loadtest --source-reorgs`: rounds of a message emitted on chain 901, a tx
// executing it sent through the gateway (accepted: the message is valid), and the message's block
// reorged away, while the load runs. Chain 902's pool is the op-reth model asking the revalidator:
// the tx must leave the pool unmined.
type sourceReorgs struct {
	d      *loadtestDevnet
	target string
	done   chan struct{}
	mu     sync.Mutex
	res    reorgResult
}

// reorgResult is what became of the rounds' txs.
type reorgResult struct {
	rounds, refused, minedBefore, mined, evicted, stuck int
	restored                                            int64           // valid txs the revalidator sent back after the node dropped them
	minedLate                                           []time.Duration // for the mined: from the reorg to their receipt seen
	eviction                                            string          // the revalidator's lever
	clears, clearResent                                 int64           // with clear-txpool: admin_clearTxpool calls, txs sent back after them
	restorations                                        []revalidator.Restoration
	blocks                                              []uint64        // 902 blocks from the reorg to the tx's eviction
	latency                                             []time.Duration // time from the reorg to its eviction
	errors                                              []string
}

// startSourceReorgs spreads n rounds over the run's duration.
func startSourceReorgs(ctx context.Context, d *loadtestDevnet, target string, n int, duration time.Duration) *sourceReorgs {
	s := &sourceReorgs{d: d, target: target, done: make(chan struct{})}
	n = min(n, reorgAccounts)
	go func() {
		defer close(s.done)
		every := duration / time.Duration(n+1)
		for i := range n {
			select {
			case <-ctx.Done():
				return
			case <-time.After(every): // the rounds' pacing over the run, not a wait for an event
			}
			s.round(ctx, i)
		}
	}()
	return s
}

func (s *sourceReorgs) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.res.errors = append(s.res.errors, err.Error())
}

// round is one message, one tx through the gateway, one reorg, and the tx followed until it is
// mined or leaves the pool (bounded by 15 s).
func (s *sourceReorgs) round(ctx context.Context, i int) {
	c901, c902 := s.d.net.Chain(901), s.d.net.Chain(902)
	acct := s.d.net.Accounts[scenarioAccounts+i]
	e, err := c901.Emit(ctx, acct, common.Hash{0x7e, byte(i)}, []byte(fmt.Sprint("reorged away ", i)))
	if err != nil {
		s.fail(fmt.Errorf("emit: %w", err))
		return
	}
	// op-reth's pool asks as of its head: the tx goes once 902 has a block after the message's.
	for deadline := time.Now().Add(5 * time.Second); c902.Head().Time <= e.ID.Timestamp && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond) // polling the head against a deadline
	}
	tx, err := c902.ExecutingTx(ctx, acct, 0, e.Keys())
	if err != nil {
		s.fail(fmt.Errorf("signing: %w", err))
		return
	}
	s.mu.Lock()
	s.res.rounds++
	s.mu.Unlock()
	if err := sendRaw(ctx, s.target, tx); err != nil {
		s.mu.Lock()
		s.res.refused++
		s.mu.Unlock()
		return
	}
	depth := c901.Head().Number.Uint64() - e.ID.BlockNumber + 1
	if err := c901.Reorg(depth); err != nil {
		s.fail(fmt.Errorf("reorg: %w", err))
		return
	}
	at, from := time.Now(), c902.Head().Number.Uint64()
	for deadline := at.Add(15 * time.Second); ; {
		if r, err := c902.Client().TransactionReceipt(ctx, tx.Hash()); err == nil && r != nil {
			s.mu.Lock()
			if r.BlockNumber.Uint64() <= from {
				s.res.minedBefore++ // before the reorg: valid when it was included
			} else {
				s.res.mined++
				s.res.minedLate = append(s.res.minedLate, time.Since(at))
			}
			s.mu.Unlock()
			return
		}
		if !c902.InPool(tx.Hash()) {
			s.mu.Lock()
			s.res.evicted++
			s.res.blocks = append(s.res.blocks, c902.Head().Number.Uint64()-from)
			s.res.latency = append(s.res.latency, time.Since(at))
			s.mu.Unlock()
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			s.mu.Lock()
			s.res.stuck++
			s.mu.Unlock()
			return
		}
		time.Sleep(20 * time.Millisecond) // polling the tx against a deadline
	}
}

// wait ends with the last round.
func (s *sourceReorgs) wait() reorgResult {
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.d.reval != nil {
		st := s.d.reval.Stats()
		s.res.restored, s.res.clears, s.res.clearResent, s.res.restorations = st.Restored, st.PoolClears, st.ClearResent, st.Restorations
	}
	s.res.eviction = s.d.eviction
	return s.res
}

func (r reorgResult) print(w io.Writer) {
	median := func(xs []uint64) uint64 {
		if len(xs) == 0 {
			return 0
		}
		ys := slices.Clone(xs)
		slices.Sort(ys)
		return ys[len(ys)/2]
	}
	ms := make([]uint64, len(r.latency))
	for i, l := range r.latency {
		ms[i] = uint64(l.Milliseconds())
	}
	fmt.Fprintf(w, "\nsource reorgs: %d rounds (a message on 901, a tx executing it through the gateway, its block reorged away)\n", r.rounds)
	fmt.Fprintf(w, "  mined after the reorg (invalid): %d   evicted unmined: %d   still pooled after 15 s: %d   refused by the gateway: %d   mined before the reorg: %d\n",
		r.mined, r.evicted, r.stuck, r.refused, r.minedBefore)
	for _, d := range r.minedLate {
		fmt.Fprintf(w, "  a tx mined after the reorg: its receipt seen %d ms after the reorg\n", d.Milliseconds())
	}
	if r.evicted > 0 {
		fmt.Fprintf(w, "  eviction after the reorg: median %d blocks of chain 902 (max %d), median %d ms (max %d)\n",
			median(r.blocks), slices.Max(r.blocks), median(ms), slices.Max(ms))
	}
	fmt.Fprintf(w, "  lever: %s", r.eviction)
	if r.eviction == revalidator.EvictClearTxpool {
		fmt.Fprintf(w, " (admin_clearTxpool %d times, %d txs sent back after them)", r.clears, r.clearResent)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  valid interop txs the pool dropped and the revalidator sent back: %d\n", r.restored)
	if len(r.restorations) > 0 {
		delays, blocks := make([]uint64, len(r.restorations)), make([]uint64, len(r.restorations))
		for i, x := range r.restorations {
			delays[i], blocks[i] = uint64(x.Delay.Milliseconds()), x.Blocks
		}
		what := "restoration (a dropped tx back in the pool)"
		if r.eviction == revalidator.EvictClearTxpool {
			what = "restoration (from a clear to the last tx back, and dropped txs back)"
		}
		fmt.Fprintf(w, "  %s: median %d ms (max %d), median %d blocks of chain 902 (max %d), %d samples\n",
			what, median(delays), slices.Max(delays), median(blocks), slices.Max(blocks), len(r.restorations))
	}
	for _, e := range r.errors {
		fmt.Fprintf(w, "  error: %s\n", e)
	}
}

// sendRaw sends tx with eth_sendRawTransaction and fails on a JSON-RPC error.
func sendRaw(ctx context.Context, url string, tx *types.Transaction) error {
	raw, _ := tx.MarshalBinary()
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction", "params": []string{hexutil.Encode(raw)}})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var out struct {
		Error *struct{ Message string } `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return err
	}
	if out.Error != nil {
		return fmt.Errorf("%s", out.Error.Message)
	}
	return nil
}
