package devnet

import (
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"go.uber.org/zap"

	"github.com/interopgate/interopgate/accesslist"
)

// Config configures a devnet. The zero value is two on-demand chains, 901 and 902, with four
// funded accounts.
type Config struct {
	// ChainIDs of the chains (default 901 and 902).
	ChainIDs []uint64
	// BlockTime between blocks on every chain, in whole seconds; 0 means blocks only on Commit
	// (tests), one second of chain time apart. Block n of every chain is at
	// GenesisTime + n·block_time, so the chains move in lockstep.
	BlockTime time.Duration
	// GenesisTime is the timestamp of block 0 of every chain (default: now).
	GenesisTime uint64
	// Accounts is the number of funded accounts, the same on every chain (default 4).
	Accounts int
	// HTTPHost of the chains' RPC servers (default 127.0.0.1).
	HTTPHost string
	// BasePort is the RPC port of the first chain, the next chains counting up from it;
	// 0 picks free ports.
	BasePort int
	// ExpiryWindow of the dependency set (0: the protocol's 7 days).
	ExpiryWindow uint64
	// PoolPolicies gives chains, by chain ID, pool rules besides geth's own (ChainConfig.PoolPolicy).
	PoolPolicies map[uint64]func(*Chain) (PoolPolicy, error)
	// AdminAPI lists the chains that serve the admin namespace over HTTP (ChainConfig.AdminAPI).
	AdminAPI []uint64
}

// Account is a funded account with a known key.
type Account struct {
	Address common.Address
	Key     *ecdsa.PrivateKey
}

// KeyHex is the private key as 0x-prefixed hex, for endpoint files and wallets.
func (a Account) KeyHex() string { return "0x" + common.Bytes2Hex(crypto.FromECDSA(a.Key)) }

// Devnet is a set of running chains that form one interop dependency set.
type Devnet struct {
	Chains   []*Chain
	Accounts []Account
	deps     *accesslist.DependencySet
}

// AccountBalance is what each account holds at genesis: a million ether.
var accountBalance = new(big.Int).Mul(big.NewInt(1_000_000), big.NewInt(params.Ether))

// DevAccount returns the i-th devnet account. Keys are derived from a fixed seed, so every
// devnet, test and script agrees on them. Never use them anywhere else.
func DevAccount(i int) Account {
	seed := crypto.Keccak256([]byte("interopgate devnet account " + strconv.Itoa(i)))
	key, err := crypto.ToECDSA(seed)
	if err != nil {
		panic(fmt.Sprintf("devnet account %d: %v", i, err)) // a keccak output is a valid key with overwhelming probability
	}
	return Account{Address: crypto.PubkeyToAddress(key.PublicKey), Key: key}
}

// Start starts every chain. On error the chains already started are closed.
func Start(cfg Config, log *zap.Logger) (*Devnet, error) {
	if len(cfg.ChainIDs) == 0 {
		cfg.ChainIDs = []uint64{901, 902}
	}
	if cfg.Accounts == 0 {
		cfg.Accounts = 4
	}
	deps, err := accesslist.NewDependencySet(cfg.ChainIDs, cfg.ExpiryWindow)
	if err != nil {
		return nil, fmt.Errorf("devnet: %w", err)
	}
	if cfg.GenesisTime == 0 {
		cfg.GenesisTime = uint64(time.Now().Unix())
	}
	d := &Devnet{deps: deps}
	alloc := types.GenesisAlloc{
		EmitterAddress:                 {Code: emitterCode, Balance: new(big.Int)},
		accesslist.CrossL2InboxAddress: {Code: inboxCode, Balance: new(big.Int)},
	}
	for i := 0; i < cfg.Accounts; i++ {
		a := DevAccount(i)
		d.Accounts = append(d.Accounts, a)
		alloc[a.Address] = types.Account{Balance: accountBalance}
	}
	seen := map[uint64]bool{}
	for i, id := range cfg.ChainIDs {
		port := 0
		if cfg.BasePort != 0 {
			port = cfg.BasePort + i
		}
		if seen[id] {
			d.Close()
			return nil, fmt.Errorf("devnet: chain ID %d twice", id)
		}
		seen[id] = true
		c, err := StartChain(ChainConfig{ChainID: id, BlockTime: cfg.BlockTime, GenesisTime: cfg.GenesisTime, HTTPHost: cfg.HTTPHost, HTTPPort: port, Alloc: alloc, PoolPolicy: cfg.PoolPolicies[id], AdminAPI: slices.Contains(cfg.AdminAPI, id)}, log)
		if err != nil {
			d.Close()
			return nil, err
		}
		d.Chains = append(d.Chains, c)
	}
	if cfg.BlockTime == 0 {
		for _, c := range d.Chains {
			for _, p := range d.Chains {
				if p != c {
					c.peers = append(c.peers, p)
				}
			}
		}
	}
	return d, nil
}

// Chain returns the chain with the given ID, or nil.
func (d *Devnet) Chain(id uint64) *Chain {
	for _, c := range d.Chains {
		if c.ID() == id {
			return c
		}
	}
	return nil
}

// Commit makes the next block, with its pending transactions, on every chain (a Commit of
// one chain of an on-demand devnet makes empty blocks on the others).
func (d *Devnet) Commit() {
	for _, c := range d.Chains {
		c.commitOne(false)
	}
}

// DependencySet is the set of the devnet's chains, with its expiry window.
func (d *Devnet) DependencySet() *accesslist.DependencySet { return d.deps }

// Close stops every chain.
func (d *Devnet) Close() error {
	var errs []error
	for _, c := range d.Chains {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}
