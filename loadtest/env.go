package loadtest

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/interopgate/interopgate/accesslist"
	"github.com/interopgate/interopgate/devnet"
)

// Env is what scenarios are prepared for.
type Env struct {
	// ChainID is the chain the target serves (the executing chain).
	ChainID uint64
	// Devnet provides initiating messages and funded keys; scenarios that need them refuse to
	// run without it.
	Devnet *devnet.Devnet
	// SourceChain is the devnet chain the initiating messages are emitted on.
	SourceChain uint64
	// Txs is how many distinct transactions a scenario prepares at most; beyond, it cycles.
	Txs int
	// MaxBatch is the target's batch limit (the batch bomb sends one more).
	MaxBatch int
	// MaxInboxEntries is the target's access-list limit (the oversized list has one more).
	MaxInboxEntries int
	// ScenarioAccounts is how many of the devnet's accounts (the first ones) the scenarios share
	// out; 0: all. The rest are for whoever runs beside them (the source-reorg driver).
	ScenarioAccounts int
	// Side and Sides split every part of the accounts again, Sides ways, and take slice Side:
	// --compare builds its scenario once per target, so that no tx of one reaches the other.
	// Sides 0 or 1: no split.
	Side, Sides int
}

// accountParts is how many equal ranges the devnet accounts are split into: 0 valid, 1 the
// duplicate flood and interop batches, 2 plain, 3 invalid, 4 borderline.
const accountParts = 5

// accounts returns the devnet accounts of part (0..4) of equal ranges, so scenarios that
// consume nonces never share an account.
func (e *Env) accounts(part int) []devnet.Account {
	total := len(e.Devnet.Accounts)
	if e.ScenarioAccounts > 0 {
		total = min(total, e.ScenarioAccounts)
	}
	n := total / accountParts
	accts := e.Devnet.Accounts[part*n : (part+1)*n]
	if e.Sides > 1 {
		m := len(accts) / e.Sides
		accts = accts[e.Side*m : (e.Side+1)*m]
	}
	return accts
}

func (e *Env) needDevnet(name string) error {
	if e.Devnet == nil {
		return fmt.Errorf("scenario %s needs the devnet (--devnet): it signs with funded keys and emits initiating messages", name)
	}
	return nil
}

// signer signs txs for the executing chain with devnet keys, with nonces read once per account.
type signer struct {
	env    *Env
	nonces map[common.Address]uint64
}

func newSigner(ctx context.Context, env *Env, accts []devnet.Account) (*signer, error) {
	s := &signer{env: env, nonces: map[common.Address]uint64{}}
	client := env.Devnet.Chain(env.ChainID).Client()
	for _, a := range accts {
		n, err := client.PendingNonceAt(ctx, a.Address)
		if err != nil {
			return nil, fmt.Errorf("nonce of %s: %w", a.Address, err)
		}
		s.nonces[a.Address] = n
	}
	return s, nil
}

// sign makes the next tx of account a: to the CrossL2Inbox with keys as its access list and
// data as its calldata, or a plain transfer when keys is nil.
func (s *signer) sign(a devnet.Account, keys []common.Hash, data []byte) []byte {
	nonce := s.nonces[a.Address]
	s.nonces[a.Address] = nonce + 1
	return signAt(s.env.ChainID, a, nonce, keys, data)
}

// signExec makes the next tx of account a, executing m as an application does (execute).
func (s *signer) signExec(a devnet.Account, m devnet.Emitted) []byte {
	keys, data := execute(m.ID, m.PayloadHash)
	return s.sign(a, keys, data)
}

// execute is what a tx executing a message as an application does carries: the message's inbox
// keys, and a call to the inbox's validateMessage, which emits ExecutingMessage once mined (so a
// filter that cross-validates blocks, as op-interop-filter does, judges what the load test got
// mined).
func execute(id accesslist.Identifier, payloadHash common.Hash) (keys []common.Hash, data []byte) {
	keys = accesslist.EncodeMessages([]accesslist.Message{id.Message(payloadHash)})
	return keys, devnet.ValidateMessageCalldata(id, payloadHash)
}

func signAt(chainID uint64, a devnet.Account, nonce uint64, keys []common.Hash, data []byte) []byte {
	inner := &types.DynamicFeeTx{ChainID: new(big.Int).SetUint64(chainID), Nonce: nonce,
		GasTipCap: big.NewInt(1e9), GasFeeCap: big.NewInt(100e9), Gas: 21000}
	if keys != nil {
		to := accesslist.CrossL2InboxAddress
		inner.To, inner.Gas, inner.Data = &to, 60_000+2_000*uint64(len(keys)), data
		inner.AccessList = types.AccessList{{Address: accesslist.CrossL2InboxAddress, StorageKeys: keys}}
	} else {
		to := common.Address{0x10, 0xad}
		inner.To, inner.Value = &to, big.NewInt(1)
	}
	tx := types.MustSignNewTx(a.Key, types.LatestSignerForChainID(inner.ChainID), inner)
	raw, _ := tx.MarshalBinary()
	return raw
}

// signGas signs an executing tx of keys with the given gas limit.
func signGas(chainID uint64, a devnet.Account, nonce uint64, keys []common.Hash, gas uint64) []byte {
	to := accesslist.CrossL2InboxAddress
	tx := types.MustSignNewTx(a.Key, types.LatestSignerForChainID(new(big.Int).SetUint64(chainID)), &types.DynamicFeeTx{
		ChainID: new(big.Int).SetUint64(chainID), Nonce: nonce, GasTipCap: big.NewInt(1e9), GasFeeCap: big.NewInt(100e9), Gas: gas, To: &to,
		AccessList: types.AccessList{{Address: accesslist.CrossL2InboxAddress, StorageKeys: keys}}})
	raw, _ := tx.MarshalBinary()
	return raw
}

// sendRaw is an eth_sendRawTransaction call.
func sendRaw(id int, raw []byte) []byte {
	return []byte(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"eth_sendRawTransaction","params":["%s"]}`, id, hexutil.Encode(raw)))
}

// fabricated is a message from the source chain that no log backs: a random checksum.
func fabricated(chain uint64, ts uint64, logIndex uint32) accesslist.Message {
	m := accesslist.Message{BlockNumber: 1, Timestamp: ts, LogIndex: logIndex}
	m.ChainID.SetUint64(chain)
	_, _ = rand.Read(m.Checksum[:])
	m.Checksum[0] = accesslist.PrefixChecksum
	return m
}

func nowUnix() uint64 { return uint64(time.Now().Unix()) }
