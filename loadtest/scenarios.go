package loadtest

import (
	"context"
	"fmt"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/interopgate/interopgate/accesslist"
	"github.com/interopgate/interopgate/devnet"
)

// JSON-RPC codes the scenarios expect (protocol.md §7 and the gateway's own).
const (
	codeConflict          = -320600
	codeUnknownChain      = -320501
	codeInvalidParams     = -32602
	codeBatchTooLarge     = -32014
	codeAccessListTooLong = -32022
	codeServerError       = -32000 // a node's answer to a tx it refuses, "nonce too low" among them
	codeFuture            = -321401
	codeSenderRateLimit   = -32017
	codeOutOfScope        = -321100
)

// fixed is a scenario cycling over prepared requests.
type fixed struct {
	name string
	reqs []Request
}

func (f *fixed) Name() string       { return f.name }
func (f *fixed) Next(i int) Request { return f.reqs[i%len(f.reqs)] }

// Scenarios is every scenario, by name.
func Scenarios() Catalog {
	return Catalog{
		"valid":                 valid,
		"invalid-checksum":      invalidChecksum,
		"unknown-chain":         unknownChain,
		"expired":               expired,
		"same-timestamp":        sameTimestamp,
		"malformed":             malformed,
		"oversized-access-list": oversizedAccessList,
		"limit-access-list":     limitAccessList,
		"interop-batch":         interopBatch,
		"duplicate-flood":       duplicateFlood,
		"unique-invalid-flood":  uniqueInvalidFlood,
		"intrinsic-gas":         intrinsicGasFlood,
		"unfunded-flood":        unfundedFlood,
		"nonce-too-low":         nonceTooLow,
		"borderline-flood":      borderlineFlood,
		"batch-bomb":            batchBomb,
		"borderline":            borderlineScenario,
		"plain":                 plain,
		"reads":                 reads,
		"mix":                   mix,
	}
}

// emit makes n initiating messages on the source chain.
func emit(ctx context.Context, env *Env, n int) ([]devnet.Emitted, error) {
	out := make([]devnet.Emitted, n)
	for i := range out {
		e, err := env.Devnet.Chain(env.SourceChain).Emit(ctx, env.Devnet.Accounts[0], common.Hash{0x10, 0xad}, []byte(fmt.Sprint("loadtest ", i)))
		if err != nil {
			return nil, fmt.Errorf("emitting initiating message %d: %w", i, err)
		}
		out[i] = e
	}
	return out, nil
}

// valid: interop txs executing real initiating messages, signed by many funded keys.
func valid(ctx context.Context, env *Env) (Scenario, error) {
	if err := env.needDevnet("valid"); err != nil {
		return nil, err
	}
	msgs, err := emit(ctx, env, 8)
	if err != nil {
		return nil, err
	}
	accts := env.accounts(0)
	s, err := newSigner(ctx, env, accts)
	if err != nil {
		return nil, err
	}
	f := &fixed{name: "valid"}
	for i := range env.Txs {
		raw := s.signExec(accts[i%len(accts)], msgs[i%len(msgs)])
		f.reqs = append(f.reqs, Request{Body: sendRaw(i, raw), Expect: Expect{Accept: true}, Interop: true})
	}
	return f, nil
}

// invalidTxs signs n txs whose access lists keysOf(i) makes, by accounts of part 3 (they must
// never be accepted, so their nonces are never consumed).
func invalidTxs(ctx context.Context, env *Env, name string, n int, codes []int, keysOf func(i int) []common.Hash) (Scenario, error) {
	if err := env.needDevnet(name); err != nil {
		return nil, err
	}
	accts := env.accounts(3)[2:] // [0] is the borderline flood's, [1] the nonce-too-low's (its nonces get used)
	s, err := newSigner(ctx, env, accts)
	if err != nil {
		return nil, err
	}
	f := &fixed{name: name}
	for i := range n {
		a := accts[i%len(accts)]
		raw := signAt(env.ChainID, a, s.nonces[a.Address], keysOf(i), nil)
		f.reqs = append(f.reqs, Request{Body: sendRaw(i, raw), Expect: Expect{Codes: codes}, Invalid: true, Interop: true})
	}
	return f, nil
}

// invalid-checksum: real messages with one checksum bit flipped (a few distinct lists, so the
// verdict cache helps).
func invalidChecksum(ctx context.Context, env *Env) (Scenario, error) {
	if err := env.needDevnet("invalid-checksum"); err != nil {
		return nil, err
	}
	msgs, err := emit(ctx, env, 4)
	if err != nil {
		return nil, err
	}
	return invalidTxs(ctx, env, "invalid-checksum", min(env.Txs, 64), []int{codeConflict}, func(i int) []common.Hash {
		keys := append([]common.Hash(nil), msgs[i%len(msgs)].Keys()...)
		keys[len(keys)-1][31] ^= 1
		return keys
	})
}

// unknown-chain: a source chain outside the dependency set (refused without a filter call).
func unknownChain(ctx context.Context, env *Env) (Scenario, error) {
	return invalidTxs(ctx, env, "unknown-chain", min(env.Txs, 64), []int{codeUnknownChain}, func(i int) []common.Hash {
		return accesslist.EncodeMessages([]accesslist.Message{fabricated(5, nowUnix()-60, uint32(i))})
	})
}

// expired: a message older than the expiry window (refused locally).
func expired(ctx context.Context, env *Env) (Scenario, error) {
	return invalidTxs(ctx, env, "expired", min(env.Txs, 64), []int{codeConflict}, func(i int) []common.Hash {
		return accesslist.EncodeMessages([]accesslist.Message{fabricated(env.SourceChain, nowUnix()-8*24*3600, uint32(i))})
	})
}

// same-timestamp: executed at or before its initiating timestamp (refused locally).
func sameTimestamp(ctx context.Context, env *Env) (Scenario, error) {
	return invalidTxs(ctx, env, "same-timestamp", min(env.Txs, 64), []int{codeConflict}, func(i int) []common.Hash {
		return accesslist.EncodeMessages([]accesslist.Message{fabricated(env.SourceChain, nowUnix()+3600, uint32(i))})
	})
}

// malformed: inbox entries that do not parse (refused without a filter call).
func malformed(ctx context.Context, env *Env) (Scenario, error) {
	return invalidTxs(ctx, env, "malformed", min(env.Txs, 64), []int{codeInvalidParams}, func(i int) []common.Hash {
		return []common.Hash{{accesslist.PrefixChecksum, byte(i)}, {accesslist.PrefixLookup, 1}}
	})
}

// oversized-access-list: one inbox entry more than the target allows.
func oversizedAccessList(ctx context.Context, env *Env) (Scenario, error) {
	return invalidTxs(ctx, env, "oversized-access-list", min(env.Txs, 16), []int{codeAccessListTooLong}, func(i int) []common.Hash {
		var msgs []accesslist.Message
		for j := 0; len(accesslist.EncodeMessages(msgs)) <= env.MaxInboxEntries; j++ {
			msgs = append(msgs, fabricated(env.SourceChain, nowUnix()-60, uint32(i*1000+j)))
		}
		return accesslist.EncodeMessages(msgs)
	})
}

// limit-access-list: access lists exactly at the target's limit, of messages no log backs: the
// most a single tx may ask of the filter.
func limitAccessList(ctx context.Context, env *Env) (Scenario, error) {
	return invalidTxs(ctx, env, "limit-access-list", min(env.Txs, 16), []int{codeConflict}, func(i int) []common.Hash {
		var msgs []accesslist.Message
		for j := 0; len(accesslist.EncodeMessages(msgs))+2 <= env.MaxInboxEntries; j++ {
			msgs = append(msgs, fabricated(env.SourceChain, nowUnix()-60, uint32(i*1000+j)))
		}
		return accesslist.EncodeMessages(msgs)
	})
}

// interop-batch: batches of the target's maximum size, every call a distinct valid interop tx.
func interopBatch(ctx context.Context, env *Env) (Scenario, error) {
	if err := env.needDevnet("interop-batch"); err != nil {
		return nil, err
	}
	msgs, err := emit(ctx, env, 8)
	if err != nil {
		return nil, err
	}
	accts := env.accounts(1)[1:] // account 0 of this range is the duplicate flood's
	s, err := newSigner(ctx, env, accts)
	if err != nil {
		return nil, err
	}
	f := &fixed{name: "interop-batch"}
	for b := 0; b < max(env.Txs/env.MaxBatch, 1); b++ {
		calls := make([]string, env.MaxBatch)
		for i := range calls {
			n := b*env.MaxBatch + i
			calls[i] = string(sendRaw(i, s.signExec(accts[n%len(accts)], msgs[n%len(msgs)])))
		}
		f.reqs = append(f.reqs, Request{Body: []byte("[" + strings.Join(calls, ",") + "]"), Expect: Expect{Accept: true}, Interop: true})
	}
	return f, nil
}

// duplicate-flood: one valid tx, sent over and over. The gateway answers a repeat with the tx's
// hash while it remembers forwarding it (duplicate_ttl, 30 s); after that it judges the repeat
// anew and relays what the node says of a tx it has mined: -32000 "nonce too low", as a node
// answers a resend itself (issue 19: expecting "accepted" then counted 299 wrong outcomes).
func duplicateFlood(ctx context.Context, env *Env) (Scenario, error) {
	if err := env.needDevnet("duplicate-flood"); err != nil {
		return nil, err
	}
	msgs, err := emit(ctx, env, 1)
	if err != nil {
		return nil, err
	}
	accts := env.accounts(1)
	s, err := newSigner(ctx, env, accts[:1])
	if err != nil {
		return nil, err
	}
	raw := s.signExec(accts[0], msgs[0])
	return &fixed{name: "duplicate-flood", reqs: []Request{{Body: sendRaw(1, raw), Expect: Expect{Accept: true, Codes: []int{codeServerError}}, Interop: true}}}, nil
}

// unique-invalid-flood: every tx names a different message no log backs: no cache helps, each
// one costs the target a filter check.
func uniqueInvalidFlood(ctx context.Context, env *Env) (Scenario, error) {
	return invalidTxs(ctx, env, "unique-invalid-flood", env.Txs, []int{codeConflict}, func(i int) []common.Hash {
		return accesslist.EncodeMessages([]accesslist.Message{fabricated(env.SourceChain, nowUnix()-60, uint32(i))})
	})
}

// intrinsic-gas: txs executing real messages with a gas limit of 21,000, below their intrinsic gas
// (the access list's cost): no pool takes them, so a gateway must refuse them without a filter
// check (-32000 "intrinsic gas too low"); its cost line should show about 0 checks per tx.
func intrinsicGasFlood(ctx context.Context, env *Env) (Scenario, error) {
	if err := env.needDevnet("intrinsic-gas"); err != nil {
		return nil, err
	}
	msgs, err := emit(ctx, env, 4)
	if err != nil {
		return nil, err
	}
	accts := env.accounts(3)[2:] // [0] is the borderline flood's, [1] the nonce-too-low's (its nonces get used)
	f := &fixed{name: "intrinsic-gas"}
	for i := range env.Txs {
		a := accts[i%len(accts)]
		raw := signGas(env.ChainID, a, uint64(i), msgs[i%len(msgs)].Keys(), 21_000)
		f.reqs = append(f.reqs, Request{Body: sendRaw(i, raw), Expect: Expect{Codes: []int{codeServerError}}, Invalid: true, Interop: true})
	}
	return f, nil
}

// unfunded-flood: each tx from a fresh key that holds nothing, each naming a different message
// (so no verdict cache can help: without the balance check every one would cost a filter check):
// no pool takes them, so a gateway must refuse them without one (-32000 "insufficient funds");
// about 0 checks per tx.
func unfundedFlood(_ context.Context, env *Env) (Scenario, error) {
	if err := env.needDevnet("unfunded-flood"); err != nil {
		return nil, err
	}
	f := &fixed{name: "unfunded-flood"}
	for i := range env.Txs {
		key, err := crypto.GenerateKey()
		if err != nil {
			return nil, err
		}
		a := devnet.Account{Address: crypto.PubkeyToAddress(key.PublicKey), Key: key}
		keys := accesslist.EncodeMessages([]accesslist.Message{fabricated(env.SourceChain, nowUnix()-60, uint32(i))})
		raw := signGas(env.ChainID, a, 0, keys, 100_000)
		f.reqs = append(f.reqs, Request{Body: sendRaw(i, raw), Expect: Expect{Codes: []int{codeServerError}}, Invalid: true, Interop: true})
	}
	return f, nil
}

// nonce-too-low: valid txs executing real messages with nonces their sender used already on the
// executing chain (4 transfers mined first): refused without a filter check (-32000 "nonce too
// low").
func nonceTooLow(ctx context.Context, env *Env) (Scenario, error) {
	if err := env.needDevnet("nonce-too-low"); err != nil {
		return nil, err
	}
	msgs, err := emit(ctx, env, 4)
	if err != nil {
		return nil, err
	}
	a := env.accounts(3)[1]
	chain := env.Devnet.Chain(env.ChainID)
	s, err := newSigner(ctx, env, []devnet.Account{a})
	if err != nil {
		return nil, err
	}
	used := s.nonces[a.Address]
	for range 4 {
		var tx types.Transaction
		if err := tx.UnmarshalBinary(s.sign(a, nil, nil)); err != nil {
			return nil, err
		}
		if err := chain.Client().SendTransaction(ctx, &tx); err != nil {
			return nil, fmt.Errorf("nonce-too-low: using nonces: %w", err)
		}
		if _, err := chain.WaitReceipt(ctx, tx.Hash()); err != nil {
			return nil, fmt.Errorf("nonce-too-low: using nonces: %w", err)
		}
	}
	f := &fixed{name: "nonce-too-low"}
	for i := range env.Txs {
		raw := signGas(env.ChainID, a, used+uint64(i%4), msgs[i%len(msgs)].Keys(), 100_000+uint64(i)) // distinct txs
		// -32017: past 20 a second from one sender, the per-sender limit refuses first (as cheap).
		f.reqs = append(f.reqs, Request{Body: sendRaw(i, raw), Expect: Expect{Codes: []int{codeServerError, codeSenderRateLimit}}, Invalid: true, Interop: true})
	}
	return f, nil
}

// borderline-flood: txs from one funded key naming a log in 901's next block, which does not
// exist yet and will never hold it (a made-up checksum): the filter says "not yet" (-321401)
// until the block is made, then "no such log" (-320600). Each would be re-tested while its client
// waits; the per-sender limit and the re-test budget keep the filter's cost near one check per tx
// (at most 1 + retry_attempts). Made at send time, so the block is always the next one.
func borderlineFlood(_ context.Context, env *Env) (Scenario, error) {
	if err := env.needDevnet("borderline-flood"); err != nil {
		return nil, err
	}
	return &borderlineFloodScenario{env: env, acct: env.accounts(3)[0]}, nil
}

type borderlineFloodScenario struct {
	env  *Env
	acct devnet.Account
}

func (b *borderlineFloodScenario) Name() string { return "borderline-flood" }

func (b *borderlineFloodScenario) Next(i int) Request {
	head := b.env.Devnet.Chain(b.env.SourceChain).Head()
	m := fabricated(b.env.SourceChain, head.Time+1, uint32(i))
	m.BlockNumber = head.Number.Uint64() + 1
	raw := signGas(b.env.ChainID, b.acct, 0, accesslist.EncodeMessages([]accesslist.Message{m}), 100_000)
	return Request{Body: sendRaw(i, raw), Expect: Expect{Codes: []int{codeFuture, codeOutOfScope, codeConflict, codeSenderRateLimit}}, Invalid: true, Interop: true}
}

// batch-bomb: a batch one call over the target's limit (refused whole, before decoding).
func batchBomb(_ context.Context, env *Env) (Scenario, error) {
	calls := make([]string, env.MaxBatch+1)
	for i := range calls {
		calls[i] = fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"eth_blockNumber","params":[]}`, i)
	}
	return &fixed{name: "batch-bomb", reqs: []Request{{Body: []byte("[" + strings.Join(calls, ",") + "]"),
		Expect: Expect{Codes: []int{codeBatchTooLarge}}}}}, nil
}

// plain: transfers without an access list (forwarded untouched).
func plain(ctx context.Context, env *Env) (Scenario, error) {
	if err := env.needDevnet("plain"); err != nil {
		return nil, err
	}
	accts := env.accounts(2)
	s, err := newSigner(ctx, env, accts)
	if err != nil {
		return nil, err
	}
	f := &fixed{name: "plain"}
	for i := range env.Txs {
		f.reqs = append(f.reqs, Request{Body: sendRaw(i, s.sign(accts[i%len(accts)], nil, nil)), Expect: Expect{Accept: true}})
	}
	return f, nil
}

// reads: allowed reads, proxied.
func reads(context.Context, *Env) (Scenario, error) {
	return &fixed{name: "reads", reqs: []Request{
		{Body: []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`), Expect: Expect{Accept: true}},
		{Body: []byte(`{"jsonrpc":"2.0","id":2,"method":"eth_getBalance","params":["0x000000000000000000000000000000000000dEaD","latest"]}`), Expect: Expect{Accept: true}},
		{Body: []byte(`{"jsonrpc":"2.0","id":3,"method":"eth_chainId","params":[]}`), Expect: Expect{Accept: true}},
	}}, nil
}

// mix: a realistic blend, with a share of attack traffic.
func mix(ctx context.Context, env *Env) (Scenario, error) {
	parts := []struct {
		name   string
		weight int
	}{{"valid", 3}, {"plain", 2}, {"reads", 2}, {"invalid-checksum", 1}, {"unique-invalid-flood", 1}, {"duplicate-flood", 1}, {"borderline", 1},
		{"intrinsic-gas", 1}, {"unfunded-flood", 1}, {"nonce-too-low", 1}, {"borderline-flood", 1}}
	var scenarios []Scenario
	var weights []int
	for _, p := range parts {
		s, err := Build(ctx, env, p.name)
		if err != nil {
			return nil, err
		}
		scenarios = append(scenarios, s)
		weights = append(weights, p.weight)
	}
	return Mix("mix", scenarios, weights), nil
}

// Build prepares the named scenario ("a+b" mixes scenarios with equal weights).
func Build(ctx context.Context, env *Env, name string) (Scenario, error) {
	if strings.Contains(name, "+") {
		var parts []Scenario
		var weights []int
		for _, n := range strings.Split(name, "+") {
			s, err := Build(ctx, env, n)
			if err != nil {
				return nil, err
			}
			parts = append(parts, s)
			weights = append(weights, 1)
		}
		return Mix(name, parts, weights), nil
	}
	f, ok := Scenarios()[name]
	if !ok {
		return nil, fmt.Errorf("unknown scenario %q (have %s)", name, strings.Join(Scenarios().Names(), ", "))
	}
	return f(ctx, env)
}
