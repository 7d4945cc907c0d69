// Package e2e runs interopgate against the real OP Stack clients: op-geth's mempool (asking the
// revalidator) and op-interop-filter (the judge of the light filter and the gateway, and, by
// cross-validating the executing messages the devnet mines, of what the gateway let through).
// It is a module of its own so that the product's module keeps linking upstream go-ethereum.
package e2e
