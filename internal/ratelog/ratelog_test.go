package ratelog

import (
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// A flood of lines makes one, cut short, then one saying how many were left out.
func TestAFloodMakesOneLine(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	p := New(zap.New(core), "http server", time.Hour)
	for i := range 500 {
		p.Printf("error when serving connection %d: %s", i, strings.Repeat("x", 10_000))
	}
	if logs.Len() != 1 {
		t.Fatalf("%d lines for 500, want 1", logs.Len())
	}
	if line := logs.All()[0].ContextMap()["line"].(string); len(line) > MaxLineBytes+len("…") {
		t.Fatalf("a line of %d bytes", len(line))
	}
	p.limit.last = p.limit.last.Add(-2 * time.Hour) // the interval is over
	p.Printf("again")
	if n := logs.All()[1].ContextMap()["left_out"]; n != int64(499) {
		t.Fatalf("left_out %v, want 499", n)
	}
}
