package ingress

// Checks of a tx that need no state and no remote call: what geth's and op-reth's pools refuse
// at ingress by the tx alone (core/txpool/validation.go), run before an interop tx costs a filter
// check, with the error text geth gives (docs/gateway.md, step 4).

import (
	"fmt"
	"net/http"

	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
)

// l1InfoGasReservation is the gas of an OP Stack block kept for its L1-info deposit: op-reth
// refuses a tx whose gas limit exceeds the block's minus it.
const l1InfoGasReservation = 70_000

// statelessChecks refuses what no pool would take: a fee cap below the tip cap, init code over
// the limit, a gas limit below the intrinsic gas or EIP-7623's calldata floor (eip7623), or
// above the block gas limit minus the L1-info reservation (block_gas_limit, when set).
func (j *judge) statelessChecks(tx *types.Transaction) *clientError {
	reject := func(reason, msg string) *clientError {
		return newClientError(CodeServerError, http.StatusOK, reason, msg)
	}
	if tx.GasFeeCapIntCmp(tx.GasTipCap()) < 0 {
		return reject("tip_above_fee_cap", fmt.Sprintf("max priority fee per gas higher than max fee per gas: maxPriorityFeePerGas: %s, maxFeePerGas: %s",
			tx.GasTipCap(), tx.GasFeeCap()))
	}
	// A fee cap of 0 can pay no base fee (never below 7 wei under EIP-1559), and it would make
	// the sender check's cost 0, which an empty account passes (found by the review).
	if tx.GasFeeCap().Sign() == 0 {
		return reject("fee_cap_zero", "max fee per gas less than block base fee: maxFeePerGas: 0")
	}
	if tx.To() == nil && len(tx.Data()) > params.MaxInitCodeSize {
		return reject("init_code_too_large", fmt.Sprintf("max initcode size exceeded: code size %d limit %d", len(tx.Data()), params.MaxInitCodeSize))
	}
	if limit := j.cfg.BlockGasLimit; limit > 0 && tx.Gas()+l1InfoGasReservation > limit {
		return reject("gas_limit", fmt.Sprintf("exceeds block gas limit: gas %d above %d minus the %d reserved for the L1-info deposit",
			tx.Gas(), limit, l1InfoGasReservation))
	}
	intrinsic, err := intrinsicGas(tx)
	if err != nil {
		return reject("intrinsic_gas", err.Error())
	}
	if tx.Gas() < intrinsic {
		return reject("intrinsic_gas", fmt.Sprintf("intrinsic gas too low: gas %d, minimum needed %d", tx.Gas(), intrinsic))
	}
	if j.cfg.EIP7623 {
		floor, err := floorDataGas(tx)
		if err != nil {
			return reject("intrinsic_gas", err.Error())
		}
		if tx.Gas() < floor {
			return reject("intrinsic_gas", fmt.Sprintf("insufficient gas for floor data gas cost: gas %d, minimum needed %d", tx.Gas(), floor))
		}
	}
	return nil
}
