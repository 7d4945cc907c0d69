package ingress

import (
	"testing"
	"time"
)

// A sentry whose head stopped while another's moved leaves the rotation after max_head_age; if
// every head stopped (the chain did), no one does.
func TestHeadAgeTakesAStoppedSentryOut(t *testing.T) {
	g, err := NewGroup(GroupConfig{Backends: []BackendConfig{{Name: "moving", URL: "http://127.0.0.1:1"}, {Name: "stopped", URL: "http://127.0.0.1:2"}},
		MaxHeadAge: time.Minute}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	moving, stopped := g.backends[0], g.backends[1]
	set := func(b *backend, head uint64, at time.Time) { b.head.Store(head); b.headAt.Store(at.UnixNano()) }
	set(moving, 100, now.Add(-2*time.Minute))
	set(stopped, 100, now.Add(-2*time.Minute))
	g.updateSync(now)
	if !stopped.inSync.Load() || !moving.inSync.Load() {
		t.Fatal("every head stopped (the chain did): no sentry may leave the rotation")
	}
	set(moving, 130, now.Add(-time.Second))
	g.updateSync(now)
	if stopped.inSync.Load() || !moving.inSync.Load() {
		t.Fatal("a sentry whose head stopped for 2 min while another's moved is still in the rotation")
	}
	for _, b := range g.order() {
		if b == stopped {
			t.Fatal("the stopped sentry is still in the order of backends to try")
		}
	}
	set(stopped, 130, now)
	g.updateSync(now)
	if !stopped.inSync.Load() {
		t.Fatal("the sentry moved again and caught up but stays out")
	}
}
