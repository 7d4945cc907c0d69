// Package batching coalesces concurrent calls into batches ("group commit"): a call goes out at
// once while fewer than MaxInFlight batches are in flight, and calls that arrive meanwhile wait
// and leave together, up to MaxBatch requests, as soon as a slot frees. An idle system adds no
// latency; a loaded one sends fewer, larger upstream batches. It knows nothing of what it
// batches (the gateway uses it for filter checks) and imports nothing of interopgate's.
package batching
