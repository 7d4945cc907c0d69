package revalidator

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/interopgate/interopgate/accesslist"
	sc "github.com/interopgate/interopgate/supervisorclient"
)

// msgVerdict is what a message is known to be, and until when.
type msgVerdict struct {
	valid   bool
	code    int
	message string
	until   time.Time
	checked time.Time
}

// messageTable holds the verdicts of individual executing messages. A message's existence and
// content do not depend on who executes it or when: those rules (timing, dependency set) are
// applied locally to each caller's descriptor, so one upstream check answers every access list
// that names the message. Safe for concurrent use.
type messageTable struct {
	max  int
	deps *accesslist.DependencySet

	mu sync.RWMutex
	m  map[accesslist.Message]msgVerdict
}

func newMessageTable(max int, deps *accesslist.DependencySet) *messageTable {
	return &messageTable{max: max, deps: deps, m: map[accesslist.Message]msgVerdict{}}
}

// set records verdicts; when the table is full, expired entries go first, then it refuses
// (a message not known is checked upstream, never guessed).
func (t *messageTable) set(msgs []accesslist.Message, vs []msgVerdict, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, m := range msgs {
		if _, ok := t.m[m]; !ok && len(t.m) >= t.max {
			for k, v := range t.m {
				if !now.Before(v.until) {
					delete(t.m, k)
				}
			}
			if len(t.m) >= t.max {
				return
			}
		}
		t.m[m] = vs[i]
	}
}

// forget drops what is known of msgs (an upstream that no longer knows them).
func (t *messageTable) forget(msgs []accesslist.Message) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, m := range msgs {
		delete(t.m, m)
	}
}

// clear forgets everything (a failsafe transition).
// forgetChain drops the verdicts of every message initiated on chainID, and says how many.
func (t *messageTable) forgetChain(chainID uint64) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for m := range t.m {
		if m.ChainID.IsUint64() && m.ChainID.Uint64() == chainID {
			delete(t.m, m)
			n++
		}
	}
	return n
}

func (t *messageTable) clear() {
	t.mu.Lock()
	defer t.mu.Unlock()
	clear(t.m)
}

func (t *messageTable) len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.m)
}

// lastChecked is when m was last checked (zero if never).
func (t *messageTable) lastChecked(m accesslist.Message) time.Time {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.m[m].checked
}

// errUnknown: a message of the list has no live verdict.
var errUnknown = errors.New("a message is not known yet")

// decide is the one decision of both paths, a cycle's evaluation of a pooled tx and a check
// served to the node, from the table alone: a verdict, or errUnknown when any message lacks a
// live one. keys is how many inbox keys the access list had, msgs the messages they parsed to,
// parseErr why they did not parse. Local rules (parse, dependency set, timing against exec)
// come first, as the reference filter's content checks come after its timing ones.
func (t *messageTable) decide(keys int, msgs []accesslist.Message, parseErr error, exec accesslist.ExecContext, now time.Time) (sc.Verdict, error) {
	if keys == 0 {
		return sc.Verdict{Class: sc.ClassValid, Endpoint: "revalidator"}, nil // the reference answers null
	}
	if parseErr != nil {
		return invalid(sc.CodeInvalidParams, "failed to read data: "+parseErr.Error()), nil
	}
	return t.answerMessages(msgs, exec, now)
}

func (t *messageTable) answerMessages(msgs []accesslist.Message, exec accesslist.ExecContext, now time.Time) (sc.Verdict, error) {
	for _, m := range msgs {
		if err := t.deps.CheckMessage(exec, m); err != nil {
			if errors.Is(err, accesslist.ErrUnknownChain) {
				return invalid(sc.CodeUnknownChain, err.Error()), nil
			}
			return invalid(sc.CodeConflict, fmt.Sprintf("%v (message timestamp %d)", err, m.Timestamp)), nil
		}
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	unknown := false
	for _, m := range msgs {
		v, ok := t.m[m]
		switch {
		case !ok || !now.Before(v.until):
			unknown = true
		case !v.valid:
			return invalid(v.code, v.message), nil
		}
	}
	if unknown {
		return sc.Verdict{}, errUnknown
	}
	return sc.Verdict{Class: sc.ClassValid, Endpoint: "revalidator"}, nil
}

func invalid(code int, msg string) sc.Verdict {
	return sc.Verdict{Class: sc.ClassInvalid, Code: code, Message: msg, Endpoint: "revalidator"}
}
