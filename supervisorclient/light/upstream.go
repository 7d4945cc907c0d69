package light

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/interopgate/interopgate/accesslist"
)

// upstream is the RPC of one source chain, with a bound on concurrent requests.
type upstream struct {
	chainID  uint64
	label    string // the chain ID as a metric label
	url      string
	client   *rpc.Client
	sem      chan struct{}
	timeout  time.Duration
	maxCalls int           // calls per JSON-RPC batch: a node refuses larger ones (geth: 1,000)
	lastOK   *atomic.Int64 // unix nanos of the last successful read (shared by copies)
	head     *headClock    // the chain's latest block timestamp (shared by copies)
	stats    *Stats
	metrics  *Metrics
}

func newUpstream(chainID uint64, url string, maxConcurrent, maxCalls int, timeout time.Duration, stats *Stats, m *Metrics) (*upstream, error) {
	client, err := rpc.DialOptions(context.Background(), url, rpc.WithHTTPClient(&http.Client{Timeout: timeout}))
	if err != nil {
		return nil, fmt.Errorf("chain %d rpc %q: %w", chainID, url, err)
	}
	return &upstream{
		chainID: chainID, label: fmt.Sprint(chainID), url: url, client: client, maxCalls: maxCalls, lastOK: new(atomic.Int64), head: new(headClock),
		sem: make(chan struct{}, maxConcurrent), timeout: timeout, stats: stats, metrics: m,
	}, nil
}

// header is what a check needs of a block header.
type header struct {
	Number hexutil.Uint64 `json:"number"`
	Hash   common.Hash    `json:"hash"`
	Time   hexutil.Uint64 `json:"timestamp"`
	Bloom  types.Bloom    `json:"logsBloom"`
}

// rpcLog is what a check needs of a log.
type rpcLog struct {
	Address   common.Address `json:"address"`
	Topics    []common.Hash  `json:"topics"`
	Data      hexutil.Bytes  `json:"data"`
	BlockHash common.Hash    `json:"blockHash"`
	Index     hexutil.Uint   `json:"logIndex"`
	Removed   bool           `json:"removed"`
}

// batches sends elems as JSON-RPC batches of at most maxCalls calls, concurrently within the
// chain's bound; the first transport error is returned (per-call errors are in elems).
func (u *upstream) batches(ctx context.Context, method string, elems []rpc.BatchElem) error {
	if len(elems) <= u.maxCalls {
		return u.batch(ctx, method, elems)
	}
	errs := make(chan error, (len(elems)+u.maxCalls-1)/u.maxCalls)
	n := 0
	for lo := 0; lo < len(elems); lo += u.maxCalls {
		part := elems[lo:min(lo+u.maxCalls, len(elems))]
		n++
		go func() { errs <- u.batch(ctx, method, part) }()
	}
	var first error
	for range n {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// batch sends elems as one JSON-RPC batch, within the chain's concurrency bound.
func (u *upstream) batch(ctx context.Context, method string, elems []rpc.BatchElem) error {
	select {
	case u.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-u.sem }()
	ctx, cancel := context.WithTimeout(ctx, u.timeout)
	defer cancel()
	start := time.Now()
	err := u.client.BatchCallContext(ctx, elems)
	u.stats.httpRequests.Add(1)
	u.stats.calls.Add(int64(len(elems)))
	u.metrics.upstream(u.label, method, len(elems), err, time.Since(start))
	return err
}

// heads are the headers a batch of checks needs from one chain.
type heads struct {
	byNumber map[uint64]*header // nil value: no canonical block at that number
	failed   map[uint64]error   // numbers whose header could not be read: only their checks fail
	latest   *header
	rule     *header // the cross-unsafe head; nil when no check needs it
}

// maxBlockNumber is the highest block number a node can have: geth reads numbers as int64 and
// refuses larger ones, so they are never asked (no such block exists).
const maxBlockNumber = 1<<63 - 1

// fetchHeaders reads the canonical headers at numbers, the latest header and, if ruleTag is
// not empty, the header it names, in JSON-RPC batches of at most maxCalls. A number the node
// cannot answer fails alone.
func (u *upstream) fetchHeaders(ctx context.Context, numbers []uint64, ruleTag string) (heads, error) {
	asked := make([]uint64, 0, len(numbers))
	for _, n := range numbers {
		if n <= maxBlockNumber {
			asked = append(asked, n)
		}
	}
	elems := make([]rpc.BatchElem, 0, len(asked)+2)
	results := make([]*header, len(asked)+2)
	for i, n := range asked {
		elems = append(elems, rpc.BatchElem{Method: "eth_getBlockByNumber", Args: []any{hexutil.Uint64(n), false}, Result: &results[i]})
	}
	elems = append(elems, rpc.BatchElem{Method: "eth_getBlockByNumber", Args: []any{"latest", false}, Result: &results[len(asked)]})
	if ruleTag != "" {
		elems = append(elems, rpc.BatchElem{Method: "eth_getBlockByNumber", Args: []any{ruleTag, false}, Result: &results[len(asked)+1]})
	}
	if err := u.batches(ctx, "eth_getBlockByNumber", elems); err != nil {
		return heads{}, fmt.Errorf("chain %d: eth_getBlockByNumber: %w", u.chainID, err)
	}
	u.readOK()
	h := heads{byNumber: make(map[uint64]*header, len(numbers)), failed: map[uint64]error{}}
	for i, n := range asked {
		if elems[i].Error != nil {
			h.failed[n] = fmt.Errorf("chain %d: eth_getBlockByNumber(%d): %w", u.chainID, n, elems[i].Error)
			continue
		}
		if r := results[i]; r != nil && uint64(r.Number) != n {
			h.failed[n] = fmt.Errorf("chain %d: asked for block %d, got %d", u.chainID, n, r.Number)
			continue
		}
		h.byNumber[n] = results[i]
	}
	numbers = asked
	for i := len(numbers); i < len(elems); i++ {
		if elems[i].Error != nil {
			return heads{}, fmt.Errorf("chain %d: eth_getBlockByNumber(%v): %w", u.chainID, elems[i].Args[0], elems[i].Error)
		}
	}
	h.latest = results[len(numbers)]
	if h.latest == nil {
		return heads{}, fmt.Errorf("chain %d: no latest block", u.chainID)
	}
	u.head.saw(uint64(h.latest.Time))
	if ruleTag != "" {
		h.rule = results[len(numbers)+1]
		if h.rule == nil {
			// A chain with no safe block yet (just started) has nothing at that level.
			h.rule = &header{Number: 0}
		}
	}
	return h, nil
}

// maxLogCalls bounds the eth_getLogs calls of one batch: their answers can be large, and a
// node refuses a batch answer over its size limit (geth: 25 MB).
const maxLogCalls = 100

// fetchLogs reads the logs of each block with eth_getLogs by block hash, in batches. Each
// answer is checked complete against its block (indices 0..n-1, the same logs bloom as the
// header) before it is believed: a truncated or empty answer from a flaky or load-balanced RPC
// fails that block's checks, and is never cached. A block that fails does not fail the others.
func (u *upstream) fetchLogs(ctx context.Context, blocks []*header) (map[common.Hash]blockLogs, map[common.Hash]error, error) {
	elems := make([]rpc.BatchElem, len(blocks))
	results := make([][]rpcLog, len(blocks))
	for i, b := range blocks {
		elems[i] = rpc.BatchElem{Method: "eth_getLogs", Args: []any{map[string]any{"blockHash": b.Hash}}, Result: &results[i]}
	}
	logsUp := *u // the same connection and bound, smaller batches
	logsUp.maxCalls = min(u.maxCalls, maxLogCalls)
	if err := logsUp.batches(ctx, "eth_getLogs", elems); err != nil {
		return nil, nil, fmt.Errorf("chain %d: eth_getLogs: %w", u.chainID, err)
	}
	out := make(map[common.Hash]blockLogs, len(blocks))
	failed := map[common.Hash]error{}
	for i, b := range blocks {
		if elems[i].Error != nil {
			failed[b.Hash] = fmt.Errorf("chain %d: eth_getLogs(block %s): %w", u.chainID, b.Hash, elems[i].Error)
			continue
		}
		logs, err := completeLogs(b, results[i])
		if err != nil {
			failed[b.Hash] = fmt.Errorf("chain %d: eth_getLogs(block %d %s): %w", u.chainID, b.Number, b.Hash, err)
			continue
		}
		out[b.Hash] = logs
	}
	return out, failed, nil
}

// completeLogs turns one block's eth_getLogs answer into records, if it is the whole of the
// block's logs: all of that block, none removed, indices 0..n-1, and the bloom the header has.
func completeLogs(b *header, got []rpcLog) (blockLogs, error) {
	logs := make(blockLogs, 0, len(got))
	var bloom types.Bloom
	for _, l := range got {
		if l.BlockHash != b.Hash || l.Removed {
			return nil, fmt.Errorf("a log of block %s (removed=%v) in the answer", l.BlockHash, l.Removed)
		}
		bloom.Add(l.Address.Bytes())
		for _, t := range l.Topics {
			bloom.Add(t.Bytes())
		}
		logs = append(logs, logRecord{index: uint32(l.Index), origin: l.Address, payloadHash: accesslist.PayloadHash(l.Topics, l.Data)})
	}
	sort.Slice(logs, func(a, c int) bool { return logs[a].index < logs[c].index })
	for i, l := range logs {
		if l.index != uint32(i) {
			return nil, fmt.Errorf("incomplete answer: log indices are not 0..%d", len(logs)-1)
		}
	}
	if bloom != b.Bloom {
		return nil, fmt.Errorf("incomplete answer: %d logs whose bloom is not the header's", len(logs))
	}
	return logs, nil
}

// chainID asks the node for its chain ID.
func (u *upstream) chainIDOf(ctx context.Context) (uint64, error) {
	var id hexutil.Uint64
	elems := []rpc.BatchElem{{Method: "eth_chainId", Result: &id}}
	if err := u.batch(ctx, "eth_chainId", elems); err != nil {
		return 0, err
	}
	if elems[0].Error != nil {
		return 0, elems[0].Error
	}
	return uint64(id), nil
}
