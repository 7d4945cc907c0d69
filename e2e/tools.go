//go:build tools

package e2e

// The reference filter, built by the reference suite from this module's requirements (so at
// the pinned version, with the op-geth this module replaces go-ethereum with).
import _ "github.com/ethereum-optimism/optimism/op-interop-filter/cmd"
