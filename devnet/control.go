package devnet

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rpc"
)

// Head is a chain's latest block, as the control namespace reports it.
type Head struct {
	ChainID   uint64      `json:"chainID"`
	Number    uint64      `json:"number"`
	Timestamp uint64      `json:"timestamp"`
	Hash      common.Hash `json:"hash"`
}

// Message is an initiating message the devnet emitted: where it is and the inbox keys that
// execute it (what an executing tx puts in its access list).
type Message struct {
	ChainID     uint64         `json:"chainID"`
	BlockNumber uint64         `json:"blockNumber"`
	Timestamp   uint64         `json:"timestamp"`
	LogIndex    uint32         `json:"logIndex"`
	Origin      common.Address `json:"origin"`
	PayloadHash common.Hash    `json:"payloadHash"`
	BlockHash   common.Hash    `json:"blockHash"`
	TxHash      common.Hash    `json:"txHash"`
	InboxKeys   []common.Hash  `json:"inboxKeys"`
}

// MessageOf describes an emitted message.
func MessageOf(e Emitted) Message {
	return Message{
		ChainID: e.ID.ChainID.Uint64(), BlockNumber: e.ID.BlockNumber, Timestamp: e.ID.Timestamp, LogIndex: e.ID.LogIndex,
		Origin: e.ID.Origin, PayloadHash: e.PayloadHash, BlockHash: e.BlockHash, TxHash: e.TxHash, InboxKeys: e.Keys(),
	}
}

func headOf(id uint64, h *types.Header) Head {
	return Head{ChainID: id, Number: h.Number.Uint64(), Timestamp: h.Time, Hash: h.Hash()}
}

// ControlAPI is the devnet_ JSON-RPC namespace: what a script or another process (a load test,
// op-interop-filter's differential run) needs to steer the running devnet.
type ControlAPI struct {
	d     *Devnet
	emits sync.Mutex // emits come from one account: one at a time keeps its nonces in order
}

// NewControlAPI returns the devnet_ namespace of d.
func NewControlAPI(d *Devnet) *ControlAPI { return &ControlAPI{d: d} }

func (a *ControlAPI) chain(id uint64) (*Chain, error) {
	c := a.d.Chain(id)
	if c == nil {
		return nil, fmt.Errorf("chain %d is not a chain of this devnet", id)
	}
	return c, nil
}

// Heads is every chain's latest block (devnet_heads).
func (a *ControlAPI) Heads() []Head {
	out := make([]Head, len(a.d.Chains))
	for i, c := range a.d.Chains {
		out[i] = headOf(c.ID(), c.Head())
	}
	return out
}

// Commit makes the next block on every chain, in lockstep (devnet_commit).
func (a *ControlAPI) Commit() []Head {
	a.d.Commit()
	return a.Heads()
}

// CommitAlone makes the next block on one chain only, leaving the others behind
// (devnet_commitAlone): how to see a lagging chain.
func (a *ControlAPI) CommitAlone(chainID uint64) (Head, error) {
	c, err := a.chain(chainID)
	if err != nil {
		return Head{}, err
	}
	return headOf(chainID, c.CommitAlone()), nil
}

// Reorg replaces the chain's last depth blocks (devnet_reorg): messages they initiated are
// gone, their blocks keep numbers and timestamps. It returns the new head.
func (a *ControlAPI) Reorg(chainID, depth uint64) (Head, error) {
	c, err := a.chain(chainID)
	if err != nil {
		return Head{}, err
	}
	if err := c.Reorg(depth); err != nil {
		return Head{}, err
	}
	return headOf(chainID, c.Head()), nil
}

// Emit makes an initiating message on the chain with the given data, from the devnet's first
// account, waits until it is mined (committing on an on-demand devnet) and describes it
// (devnet_emit).
func (a *ControlAPI) Emit(ctx context.Context, chainID uint64, data hexutil.Bytes) (Message, error) {
	c, err := a.chain(chainID)
	if err != nil {
		return Message{}, err
	}
	if len(data) > maxEmitData {
		return Message{}, fmt.Errorf("data of %d bytes: at most %d", len(data), maxEmitData)
	}
	a.emits.Lock()
	defer a.emits.Unlock()
	e, err := c.Emit(ctx, a.d.Accounts[0], controlTopic, data)
	if err != nil {
		return Message{}, err
	}
	return MessageOf(e), nil
}

// controlTopic is the topic of messages emitted through devnet_emit.
var controlTopic = common.HexToHash("0xc0")

// maxEmitData bounds what one devnet_emit may log.
const maxEmitData = 64 << 10

// ControlServer serves the devnet_ namespace over HTTP.
type ControlServer struct {
	srv  *http.Server
	rpc  *rpc.Server
	addr net.Addr
	done chan struct{}
}

// ServeControl starts the devnet_ JSON-RPC namespace on addr (host:port; port 0 picks one).
func (d *Devnet) ServeControl(addr string) (*ControlServer, error) {
	rs := rpc.NewServer()
	if err := rs.RegisterName("devnet", NewControlAPI(d)); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("devnet control: %w", err)
	}
	s := &ControlServer{
		srv: &http.Server{Handler: http.MaxBytesHandler(rs, 1<<20), ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 2 * time.Minute},
		rpc: rs, addr: ln.Addr(), done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln) // ErrServerClosed after Close
	}()
	return s, nil
}

// URL is the control endpoint.
func (s *ControlServer) URL() string { return "http://" + s.addr.String() }

// Close stops serving.
func (s *ControlServer) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	s.rpc.Stop()
	<-s.done
	return err
}
