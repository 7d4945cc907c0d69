//go:build !opgeth

package devnet

import (
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
)

// systemContracts are the system contracts of the genesis (go-ethereum's own list).
func systemContracts() types.GenesisAlloc { return core.SystemContractAllocs() }
