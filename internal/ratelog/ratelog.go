// Package ratelog takes a library's printf lines into a zap log, rate-limited and cut short: a
// server library writes a line per malformed request, quoting it, and the client controls both
// how many and what they say (found by a review: 500 malformed requests wrote 500 plain-text
// lines into a JSON log).
package ratelog

import (
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
)

// MaxLineBytes bounds a line as logged.
const MaxLineBytes = 256

// Limiter lets one line through per interval and counts the ones it holds back. Safe for
// concurrent use; the zero value lets every line through (an interval of 0).
type Limiter struct {
	Every time.Duration

	mu      sync.Mutex
	last    time.Time
	skipped int
}

// Allow reports whether a line may be written now and, if so, how many were left out since the
// last one.
func (l *Limiter) Allow() (ok bool, leftOut int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if !l.last.IsZero() && now.Sub(l.last) < l.Every {
		l.skipped++
		return false, 0
	}
	leftOut = l.skipped
	l.last, l.skipped = now, 0
	return true, leftOut
}

// Printf logs lines at Warn, at most one per interval, saying how many it left out.
type Printf struct {
	log   *zap.Logger
	msg   string
	limit Limiter
}

// New returns a Printf logging to log under msg, at most one line per every.
func New(log *zap.Logger, msg string, every time.Duration) *Printf {
	return &Printf{log: log, msg: msg, limit: Limiter{Every: every}}
}

// Printf logs one line (the fasthttp.Logger and similar interfaces).
func (p *Printf) Printf(format string, args ...any) {
	ok, leftOut := p.limit.Allow()
	if !ok {
		return
	}
	line := fmt.Sprintf(format, args...)
	if len(line) > MaxLineBytes {
		line = line[:MaxLineBytes] + "…"
	}
	p.log.Warn(p.msg, zap.String("line", line), zap.Int("left_out", leftOut))
}
