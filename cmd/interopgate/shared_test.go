package main

import (
	"errors"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/interopgate/interopgate/internal/rpctest"
)

// A review found that filter endpoints shared one rate-limited line: of six going down at once
// only the first was logged, and a flapping endpoint's "answers again" could be the last line
// while it was down. Each endpoint has its own budget, and changes within it are summed up by a
// line at its end saying the state then.
func TestEachFilterEndpointsReachabilityIsLogged(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	reach := newReachLog(zap.New(core), 100*time.Millisecond)
	for _, ep := range []string{"a", "b", "c"} {
		reach.note(ep, false, errors.New("connection refused"))
	}
	if n := logs.FilterMessage("filter endpoint does not answer").Len(); n != 3 {
		t.Fatalf("%d lines for three endpoints going down, want 3", n)
	}
	// a flaps: up, down, up, down within the interval. The summing-up line says down.
	reach.note("a", true, nil)
	reach.note("a", false, errors.New("timeout"))
	reach.note("a", true, nil)
	reach.note("a", false, errors.New("timeout"))
	if n := logs.Len(); n != 3 {
		t.Fatalf("%d lines during the interval, want none more", n)
	}
	rpctest.WaitFor(t, "the interval's summing-up line", 10*time.Second, func() bool { return logs.Len() == 4 })
	last := logs.All()[3]
	fields := last.ContextMap()
	if last.Message != "filter endpoint does not answer" || fields["endpoint"] != "a" || fields["changes_left_out"] != int64(3) || fields["error"] != "timeout" {
		t.Fatalf("summing-up line: %q %v", last.Message, fields)
	}
}

// A review found one filter listed twice under spellings of its URL that reach the same server.
func TestSameEndpoint(t *testing.T) {
	base := sameEndpoint("http://127.0.0.1:8560")
	for _, u := range []string{"http://127.0.0.1:8560/", "HTTP://127.0.0.1:8560", "http://127.0.0.1:08560", "http://127.0.0.1:8560#x"} {
		if sameEndpoint(u) != base {
			t.Errorf("%s: %s, want %s", u, sameEndpoint(u), base)
		}
	}
	for _, u := range []string{"http://127.0.0.1:8561", "https://127.0.0.1:8560", "http://127.0.0.1:8560/other", "http://127.0.0.2:8560"} {
		if sameEndpoint(u) == base {
			t.Errorf("%s reads as the same endpoint", u)
		}
	}
	if sameEndpoint("http://a") != sameEndpoint("http://a:80") {
		t.Error("the scheme's default port")
	}
}
