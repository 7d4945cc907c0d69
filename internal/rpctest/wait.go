package rpctest

import (
	"testing"
	"time"
)

// WaitFor polls cond every 20 ms until it holds, or fails the test after d: tests wait for
// something to happen this way, never by sleeping a fixed time.
func WaitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond) // polling against a deadline
	}
}
