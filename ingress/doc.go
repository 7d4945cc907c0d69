// Package ingress is the gateway: a fasthttp JSON-RPC proxy in front of the sentry nodes that
// forwards allowed reads untouched and admits eth_sendRawTransaction (and its variants) through
// the interop pipeline of DESIGN.md, cheapest check first:
//
//  1. body size, JSON shape, batch size, method allow-list, per-IP rate limit;
//  2. decode the raw tx (accesslist.ScanRaw, no full decode), tx size, chain ID;
//  3. no inbox keys: forward untouched;
//  4. parse the keys, access-list size, de-duplicate, local rules (timing, dependency set);
//  5. failsafe; verdict cache by access-list digest; identical concurrent checks share one call;
//  6. per-sender rate limit; a bound on in-flight filter checks (shed, never queue unbounded);
//  7. the filter pool (one upstream JSON-RPC batch for the checks of one request);
//  8. borderline verdicts re-tested after a delay, the client waiting (default) or answered at
//     once with the tx hash while a durable queue finishes the job (async mode);
//  9. valid: forward to the sentries and publish on the tx feed; invalid: the protocol error.
package ingress
