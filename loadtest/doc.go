// Package loadtest attacks a JSON-RPC endpoint (an interopgate gateway, proxyd, a node) with the
// traffic shapes the gateway exists to survive, and measures it honestly: an open loop at a
// target rate, latency from each request's intended send time (a slow answer cannot hide the
// requests queued behind it), every answer classified (HTTP status, JSON-RPC code, transport
// error) against what its scenario expects, and a wrong outcome — above all an invalid
// transaction accepted — counted and reported.
//
// It speaks only JSON-RPC; scenarios that need real initiating messages and funded keys take
// them from an in-process devnet.
package loadtest
