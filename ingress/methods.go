package ingress

import (
	"context"

	"github.com/interopgate/interopgate/internal/jsonrpc"
)

// methodKind is how the gateway serves a method.
type methodKind int

const (
	// methodRefused: not served on this endpoint (-32601, HTTP 403 as proxyd).
	methodRefused methodKind = iota
	// methodRead: forwarded to a sentry as it was judged (its canonical encoding).
	methodRead
	// methodSend: a tx submission, through interop admission, then forwarded.
	methodSend
	// methodLocal: answered by the gateway itself.
	methodLocal
)

// method is one entry of the method table.
type method struct {
	kind methodKind
	// answer makes the whole JSON-RPC answer of a methodLocal call.
	answer func(ctx context.Context, r *jsonrpc.Request) []byte
}

// methodTable declares, once, how each method the gateway serves is served; the single-call and
// batch paths both dispatch through it. Built from the config by New; immutable after.
type methodTable map[string]method

// newMethodTable declares the reads of the allow-list, the submission methods the config
// enables, and the gateway's own methods.
func (g *Gateway) newMethodTable(reads []string) methodTable {
	t := methodTable{}
	for _, m := range reads {
		t[m] = method{kind: methodRead}
	}
	sends := map[string]bool{
		MethodSendRawTransaction:            true,
		MethodSendRawTransactionConditional: true,
		MethodSendRawTransactionSync:        g.cfg.EnableSendRawTransactionSync,
		MethodSendBundle:                    g.cfg.EnableSendBundle,
	}
	for m, on := range sends {
		if on {
			t[m] = method{kind: methodSend}
		}
	}
	t[MethodGetTransactionStatus] = method{kind: methodLocal, answer: g.txStatus}
	return t
}

// lookup returns the method's entry; a method not in the table is refused.
func (t methodTable) lookup(name string) method {
	if m, ok := t[name]; ok {
		return m
	}
	return method{kind: methodRefused}
}

// label is the method's metrics label: its name when the table has it, else "other" (label
// values stay bounded).
func (t methodTable) label(name string) string {
	if _, ok := t[name]; ok {
		return name
	}
	return "other"
}
