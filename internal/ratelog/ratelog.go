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

// Printf logs lines at Warn, at most one per interval, saying how many it left out.
type Printf struct {
	log   *zap.Logger
	msg   string
	every time.Duration

	mu      sync.Mutex
	last    time.Time
	skipped int
}

// New returns a Printf logging to log under msg, at most one line per every.
func New(log *zap.Logger, msg string, every time.Duration) *Printf {
	return &Printf{log: log, msg: msg, every: every}
}

// Printf logs one line (the fasthttp.Logger and similar interfaces).
func (p *Printf) Printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if now.Sub(p.last) < p.every {
		p.skipped++
		return
	}
	line := fmt.Sprintf(format, args...)
	if len(line) > MaxLineBytes {
		line = line[:MaxLineBytes] + "…"
	}
	p.log.Warn(p.msg, zap.String("line", line), zap.Int("left_out", p.skipped))
	p.last, p.skipped = now, 0
}
