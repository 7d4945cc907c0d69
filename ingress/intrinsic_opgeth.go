//go:build opgeth

package ingress

import (
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
)

// intrinsicGas is op-geth's intrinsic gas of tx (core.IntrinsicGas, Shanghai's rules and later).
func intrinsicGas(tx *types.Transaction) (uint64, error) {
	return core.IntrinsicGas(tx.Data(), tx.AccessList(), tx.SetCodeAuthorizations(), tx.To() == nil, true, true, true)
}

// floorDataGas is EIP-7623's calldata floor of tx (core.FloorDataGas).
func floorDataGas(tx *types.Transaction) (uint64, error) { return core.FloorDataGas(tx.Data()) }
