//go:build !opgeth

package ingress

import (
	"errors"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
	"github.com/holiman/uint256"
)

// opStackRules are the forks of an OP Stack chain since Isthmus (Prague's rules, EIP-7623's
// calldata floor among them), as the intrinsic-gas rules read them.
var opStackRules = params.Rules{IsHomestead: true, IsEIP150: true, IsEIP155: true, IsEIP158: true, IsEIP2929: true,
	IsByzantium: true, IsConstantinople: true, IsPetersburg: true, IsIstanbul: true, IsBerlin: true, IsLondon: true,
	IsMerge: true, IsShanghai: true, IsCancun: true, IsPrague: true}

// intrinsicGas is go-ethereum's intrinsic gas of tx (core.IntrinsicGas; its signature differs
// in op-geth, intrinsic_opgeth.go).
func intrinsicGas(tx *types.Transaction) (uint64, error) {
	value, overflow := uint256.FromBig(tx.Value())
	if overflow {
		return 0, errors.New("value exceeds 256 bits")
	}
	return core.IntrinsicGas(tx.Data(), tx.AccessList(), tx.SetCodeAuthorizations(), common.Address{}, tx.To(), value, opStackRules)
}

// floorDataGas is EIP-7623's calldata floor of tx (core.FloorDataGas).
func floorDataGas(tx *types.Transaction) (uint64, error) {
	value, overflow := uint256.FromBig(tx.Value())
	if overflow {
		return 0, errors.New("value exceeds 256 bits")
	}
	return core.FloorDataGas(opStackRules, common.Address{}, tx.To(), value, tx.Data(), tx.AccessList())
}
