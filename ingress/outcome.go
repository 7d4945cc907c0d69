package ingress

import (
	"errors"
	"fmt"
	"net/http"

	sc "github.com/interopgate/interopgate/supervisorclient"
)

// action is what becomes of a transaction after a verdict.
type action int

const (
	actForward    action = iota // valid: to the sentries
	actReject                   // with the error fate returns
	actRetest                   // the client waits: re-test after retry_delay
	actQueue                    // answer the client with the hash; the durable queue finishes the job
	actReschedule               // already queued: re-test after retry_delay
)

// stage is where a transaction is when its verdict arrives.
type stage int

const (
	stageWaiting   stage = iota // its client waits for the final answer (sync mode, bundles, Sync sends)
	stageQueueable              // async mode, a single-tx send: it may be queued
	stageQueued                 // in the durable queue: its client already has the hash
)

// fate is the one place that maps a verdict, and the re-tests already made, to what happens
// next; admission, settling a call and the queue worker all ask it.
//
//   - valid: forward.
//   - retry-later: re-test (waiting), queue (queueable) or reschedule (queued) while fewer than
//     retry_attempts re-tests were made; then reject, saying it is still not provable.
//   - unavailable: a waiting client gets a retryable error at once (holding it costs more than
//     its retry); a queued tx is rescheduled within the same bound, since its client cannot
//     retry what it believes accepted. Shed checks are rejected while the client is there.
//   - invalid and failsafe: reject.
func (j *judge) fate(v sc.Verdict, retests int, st stage) (action, *clientError) {
	switch v.Class {
	case sc.ClassValid:
		return actForward, nil
	case sc.ClassRetryLater:
		if retests >= j.cfg.RetryAttempts {
			return actReject, j.exhausted(v, retests)
		}
		switch st {
		case stageQueueable:
			return actQueue, nil
		case stageQueued:
			return actReschedule, nil
		}
		return actRetest, nil
	case sc.ClassUnavailable:
		if st == stageQueued {
			if retests >= max(j.cfg.RetryAttempts, 1) {
				return actReject, j.exhausted(v, retests)
			}
			return actReschedule, nil
		}
		if errors.Is(v.Err, errShed) {
			return actReject, newClientError(CodeLimitExceeded, http.StatusServiceUnavailable, "shed",
				"the gateway is at its limit of interop checks in flight: retry in a moment")
		}
	}
	return actReject, fromVerdict(v)
}

func (j *judge) exhausted(v sc.Verdict, retests int) *clientError {
	e := fromVerdict(v)
	e.rpc.Message = fmt.Sprintf("%s (still not provable after %d re-tests)", e.rpc.Message, retests)
	return e
}
