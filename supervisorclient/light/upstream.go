package light

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/interopgate/interopgate/accesslist"
)

// upstream is the RPC of one source chain, with a bound on concurrent requests.
type upstream struct {
	chainID uint64
	label   string // the chain ID as a metric label
	url     string
	client  *rpc.Client
	sem     chan struct{}
	timeout time.Duration
	stats   *Stats
	metrics *Metrics
}

func newUpstream(chainID uint64, url string, maxConcurrent int, timeout time.Duration, stats *Stats, m *Metrics) (*upstream, error) {
	client, err := rpc.DialOptions(context.Background(), url, rpc.WithHTTPClient(&http.Client{Timeout: timeout}))
	if err != nil {
		return nil, fmt.Errorf("chain %d rpc %q: %w", chainID, url, err)
	}
	return &upstream{
		chainID: chainID, label: fmt.Sprint(chainID), url: url, client: client,
		sem: make(chan struct{}, maxConcurrent), timeout: timeout, stats: stats, metrics: m,
	}, nil
}

// header is what a check needs of a block header.
type header struct {
	Number hexutil.Uint64 `json:"number"`
	Hash   common.Hash    `json:"hash"`
	Time   hexutil.Uint64 `json:"timestamp"`
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
	latest   *header
	rule     *header // the cross-unsafe head; nil when no check needs it
}

// fetchHeaders reads the canonical headers at numbers, the latest header and, if ruleTag is
// not empty, the header it names, in one JSON-RPC batch.
func (u *upstream) fetchHeaders(ctx context.Context, numbers []uint64, ruleTag string) (heads, error) {
	elems := make([]rpc.BatchElem, 0, len(numbers)+2)
	results := make([]*header, len(numbers)+2)
	for i, n := range numbers {
		elems = append(elems, rpc.BatchElem{Method: "eth_getBlockByNumber", Args: []any{hexutil.Uint64(n), false}, Result: &results[i]})
	}
	elems = append(elems, rpc.BatchElem{Method: "eth_getBlockByNumber", Args: []any{"latest", false}, Result: &results[len(numbers)]})
	if ruleTag != "" {
		elems = append(elems, rpc.BatchElem{Method: "eth_getBlockByNumber", Args: []any{ruleTag, false}, Result: &results[len(numbers)+1]})
	}
	if err := u.batch(ctx, "eth_getBlockByNumber", elems); err != nil {
		return heads{}, fmt.Errorf("chain %d: eth_getBlockByNumber: %w", u.chainID, err)
	}
	h := heads{byNumber: make(map[uint64]*header, len(numbers))}
	for i, n := range numbers {
		if elems[i].Error != nil {
			return heads{}, fmt.Errorf("chain %d: eth_getBlockByNumber(%d): %w", u.chainID, n, elems[i].Error)
		}
		if r := results[i]; r != nil && uint64(r.Number) != n {
			return heads{}, fmt.Errorf("chain %d: asked for block %d, got %d", u.chainID, n, r.Number)
		}
		h.byNumber[n] = results[i]
	}
	for i := len(numbers); i < len(elems); i++ {
		if elems[i].Error != nil {
			return heads{}, fmt.Errorf("chain %d: eth_getBlockByNumber(%v): %w", u.chainID, elems[i].Args[0], elems[i].Error)
		}
	}
	h.latest = results[len(numbers)]
	if h.latest == nil {
		return heads{}, fmt.Errorf("chain %d: no latest block", u.chainID)
	}
	if ruleTag != "" {
		h.rule = results[len(numbers)+1]
		if h.rule == nil {
			// A chain with no safe block yet (just started) has nothing at that level.
			h.rule = &header{Number: 0}
		}
	}
	return h, nil
}

// fetchLogs reads the logs of each block hash with eth_getLogs, in one JSON-RPC batch.
func (u *upstream) fetchLogs(ctx context.Context, hashes []common.Hash) (map[common.Hash]blockLogs, error) {
	elems := make([]rpc.BatchElem, len(hashes))
	results := make([][]rpcLog, len(hashes))
	for i, h := range hashes {
		elems[i] = rpc.BatchElem{Method: "eth_getLogs", Args: []any{map[string]any{"blockHash": h}}, Result: &results[i]}
	}
	if err := u.batch(ctx, "eth_getLogs", elems); err != nil {
		return nil, fmt.Errorf("chain %d: eth_getLogs: %w", u.chainID, err)
	}
	out := make(map[common.Hash]blockLogs, len(hashes))
	for i, h := range hashes {
		if elems[i].Error != nil {
			return nil, fmt.Errorf("chain %d: eth_getLogs(block %s): %w", u.chainID, h, elems[i].Error)
		}
		logs := make(blockLogs, 0, len(results[i]))
		for _, l := range results[i] {
			if l.BlockHash != h || l.Removed {
				return nil, fmt.Errorf("chain %d: eth_getLogs(block %s) returned a log of block %s (removed=%v)", u.chainID, h, l.BlockHash, l.Removed)
			}
			logs = append(logs, logRecord{index: uint32(l.Index), origin: l.Address, payloadHash: accesslist.PayloadHash(l.Topics, l.Data)})
		}
		sort.Slice(logs, func(a, b int) bool { return logs[a].index < logs[b].index })
		out[h] = logs
	}
	return out, nil
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
