package loadtest

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// Expect is what a scenario's request should get: accepted (a result), or a JSON-RPC error with
// one of Codes (both may be right: Accept and Codes).
type Expect struct {
	Accept bool
	Codes  []int
}

func (e Expect) String() string {
	parts := make([]string, len(e.Codes))
	for i, c := range e.Codes {
		parts[i] = fmt.Sprint(c)
	}
	switch {
	case e.Accept && len(parts) > 0:
		return "accepted or error " + strings.Join(parts, "|")
	case e.Accept:
		return "accepted"
	}
	return "error " + strings.Join(parts, "|")
}

// Request is one HTTP request of a scenario.
type Request struct {
	Body   []byte
	Expect Expect
	// Invalid marks a request carrying a tx that must never be accepted: accepting it is the
	// worst wrong outcome, counted apart.
	Invalid bool
	// Interop marks a request carrying an interop tx (the cost per interop tx counts them).
	Interop bool
	// Settle, when set, fixes Expect and Invalid once the answer is in: for requests whose
	// right answer depends on what happens after the send (a borderline tx's initiating
	// message must really land where it was predicted). It may wait, bounded.
	Settle func(r *Request)
}

// Scenario makes the requests of one traffic shape. Next is called concurrently.
type Scenario interface {
	Name() string
	// Next returns request i (i counts from 0 for this scenario).
	Next(i int) Request
}

// Factory builds a scenario for an environment, doing its preparation (emitting initiating
// messages, signing transactions) before the clock starts.
type Factory func(ctx context.Context, env *Env) (Scenario, error)

// Catalog lists the scenarios by name.
type Catalog map[string]Factory

// Names lists the catalog's scenario names, sorted.
func (c Catalog) Names() []string {
	out := make([]string, 0, len(c))
	for n := range c {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// weighted is a mix of scenarios: request i goes to the scenario whose slot i falls in.
type weighted struct {
	name  string
	parts []Scenario
	slots []int // scenario index per slot of one round
}

// Mix combines scenarios with integer weights into one, keeping each part's name for the
// report (see Split).
func Mix(name string, parts []Scenario, weights []int) Scenario {
	w := &weighted{name: name, parts: parts}
	for i, n := range weights {
		for range n {
			w.slots = append(w.slots, i)
		}
	}
	return w
}

func (w *weighted) Name() string { return w.name }

// Next maps i to the part of its slot and that part's own sequence number.
func (w *weighted) Next(i int) Request {
	round, slot := i/len(w.slots), i%len(w.slots)
	part := w.slots[slot]
	// The part's own index: how many of its slots came before in this and earlier rounds.
	before := 0
	for s := 0; s < slot; s++ {
		if w.slots[s] == part {
			before++
		}
	}
	perRound := 0
	for _, p := range w.slots {
		if p == part {
			perRound++
		}
	}
	return w.parts[part].Next(round*perRound + before)
}

// partOf names the part request i of a mix belongs to (the scenario itself otherwise).
func partOf(s Scenario, i int) string {
	if w, ok := s.(*weighted); ok {
		return w.parts[w.slots[i%len(w.slots)]].Name()
	}
	return s.Name()
}
