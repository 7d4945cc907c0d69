// Package rpctest is a real JSON-RPC server on a loopback port for tests: it answers single and
// batch requests through a handler the test supplies, records the exact request bodies it
// received, counts requests, and can add latency or fail at the HTTP level. It is how tests fake
// a peer (an interop filter, a sentry node) without mocking the client under test.
package rpctest
