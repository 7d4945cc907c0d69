// Package jsonrpc is the JSON-RPC 2.0 envelope shared by interopgate's servers: splitting a
// body into single or batch requests with a bound on the batch, typed errors with stable codes,
// and appending responses without reflection.
package jsonrpc
