// Package store holds the gateway's shared state behind small interfaces, each with an
// in-memory implementation (the default, one replica) and a Redis one (replicas share it):
//
//   - Verdicts: final check verdicts by key, with a TTL;
//   - Limiter: fixed-window rate limits by key;
//   - Queue: a durable delay queue with leases, so a replica that dies with claimed items loses
//     nothing (the lease runs out and another replica claims them);
//   - Statuses: what became of an asynchronously admitted transaction;
//   - Feed: the accepted interop transactions, for the revalidator.
//
// With Redis configured, every operation that fails on Redis falls back to the in-memory
// state (see Fallback), counted in a metric and logged, so a Redis outage degrades sharing,
// never availability. It imports nothing of interopgate's.
package store
