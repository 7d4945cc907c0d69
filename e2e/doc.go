// Package e2e runs interopgate against the real OP Stack clients (op-geth's mempool today).
// It is a module of its own so that the product's module keeps linking upstream go-ethereum.
package e2e
