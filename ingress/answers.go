package ingress

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
)

// ConnOverheadBytes is what one open client connection costs the gateway while it holds a
// request or an answer, answer bytes aside: its serving goroutine's stack, fasthttp's read and
// write buffers and request context. Measured by TestClientsThatNeverReadCannotGrowMemory
// (1,000 connections; docs/operations.md, "Sizing"); the bound of memory held for clients is
// max_conns × ConnOverheadBytes + max_unread_answer_bytes.
const ConnOverheadBytes = 24 << 10

// smallAnswer is the size below which an answer is not charged to the budget: errors, hashes,
// most reads. max_conns of them are part of ConnOverheadBytes.
const smallAnswer = 2 << 10

// errAnswerBudget: the answer would exceed the bytes held for clients that have not read theirs.
var errAnswerBudget = errors.New("answer budget exhausted")

// answerBudget bounds the bytes of sentry answers the gateway holds for clients: from the moment
// a sentry's answer is read until the client has taken it (or its connection ends). A client
// that does not read keeps its answer until write_timeout; the budget keeps the sum of such
// answers, in all and per client IP, inside configured bounds (issue 19: 1,000 connections that
// never read grew a gateway by 740 MiB). Safe for concurrent use.
type answerBudget struct {
	total, perIP int64
	mu           sync.Mutex
	used         int64
	byIP         map[string]int64 // only IPs holding answers: at most max_conns entries
	changed      func(held int64) // the metric
}

func newAnswerBudget(total, perIP int, changed func(int64)) *answerBudget {
	return &answerBudget{total: int64(total), perIP: int64(perIP), byIP: map[string]int64{}, changed: changed}
}

// over reports whether ip already holds its share of answers: its requests are then refused
// before a sentry is asked. (A full total refuses only answers that need charging, at the
// charge: small answers, sends among them, are always served.)
func (b *answerBudget) over(ip string) (which string, held int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if held := b.byIP[ip]; held >= b.perIP {
		return "ip", held
	}
	return "", 0
}

// heldBy is what ip holds.
func (b *answerBudget) heldBy(ip string) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.byIP[ip]
}

// take charges n bytes to ip, or names the bound it would cross ("ip" or "total"). A hold that
// started while its client held nothing (exempt) may grow past the client's share, up to the
// total, so one large read is never refused for its size alone, however it is read.
func (b *answerBudget) take(ip string, n int64, exempt *bool, first bool) (refused string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	held := b.byIP[ip]
	if first {
		*exempt = held == 0
	}
	switch {
	case !*exempt && held+n > b.perIP:
		return "ip"
	case b.used+n > b.total:
		return "total"
	}
	b.used += n
	b.byIP[ip] = held + n
	b.changed(b.used)
	return ""
}

func (b *answerBudget) give(ip string, n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
	if b.byIP[ip] -= n; b.byIP[ip] <= 0 {
		delete(b.byIP, ip)
	}
	b.changed(b.used)
}

// hold is one request's share of the budget: it grows as a sentry's answer is read and
// assembled, and is given back when the client has taken the answer. Used by one goroutine at a
// time (the request's, then fasthttp's writer).
type hold struct {
	budget *answerBudget
	ip     string
	n      int64
	handed bool // the answer went to the writer, which gives the hold back
	// refused names the bound a grow crossed ("ip" or "total"), for the client's error.
	refused string
	// exempt: the hold started while its client held nothing: it may pass the client's share.
	exempt, started bool
}

func (b *answerBudget) hold(ip string) *hold { return &hold{budget: b, ip: ip} }

// grow charges n more bytes; false when the budget cannot take them.
func (h *hold) grow(n int) bool {
	if h == nil || n <= 0 {
		return true
	}
	first := !h.started
	h.started = true
	if h.refused = h.budget.take(h.ip, int64(n), &h.exempt, first); h.refused != "" {
		return false
	}
	h.n += int64(n)
	return true
}

// resize sets the hold to n bytes, giving back what it held beyond (it never grows).
func (h *hold) resize(n int) {
	if h == nil || int64(n) >= h.n {
		return
	}
	h.budget.give(h.ip, h.n-int64(n))
	h.n = int64(n)
}

func (h *hold) release() {
	if h == nil {
		return
	}
	h.budget.give(h.ip, h.n)
	h.n = 0
}

// done ends the request's use of the hold: given back unless the writer owns it now.
func (h *hold) done() {
	if h != nil && !h.handed {
		h.release()
	}
}

// heldBody is an answer that fasthttp streams to the client; Close, which fasthttp calls when
// the write ended (written, failed, timed out or the connection closed), gives its hold back.
type heldBody struct {
	*bytes.Reader
	h    *hold
	once sync.Once
}

func (b *heldBody) Close() error {
	b.once.Do(b.h.release)
	return nil
}

// readAnswer reads a sentry's answer body, charging h before each part is buffered, so an answer
// the budget cannot hold is never read into memory. contentLength < 0 is a chunked or
// until-close body (a geth node's large answers are chunked): it is read in pieces of
// answerPiece bytes and joined once, so its bytes are copied once and the hold ends at its size.
// limit bounds the answer (bytes).
func readAnswer(r io.Reader, contentLength, limit int, h *hold) ([]byte, error) {
	if contentLength > limit {
		return nil, fmt.Errorf("answer of %d bytes exceeds %d", contentLength, limit)
	}
	if contentLength >= 0 {
		if !h.grow(contentLength) {
			return nil, errAnswerBudget
		}
		buf := make([]byte, contentLength)
		_, err := io.ReadFull(r, buf)
		return buf, err
	}
	var pieces [][]byte
	size, charged := 0, 0
	for {
		n := answerPiece
		if len(pieces) == 0 {
			n = firstAnswerPiece // most answers are small: they are not charged a whole piece
		}
		if !h.grow(n) {
			return nil, errAnswerBudget
		}
		charged += n
		piece := make([]byte, n)
		n, err := io.ReadFull(r, piece)
		pieces = append(pieces, piece[:n])
		size += n
		if size > limit {
			return nil, fmt.Errorf("answer exceeds %d bytes", limit)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if len(pieces) == 1 {
		return pieces[0], nil
	}
	if !h.grow(size) {
		return nil, errAnswerBudget
	}
	out := make([]byte, 0, size)
	for _, p := range pieces {
		out = append(out, p...)
	}
	if h != nil {
		h.resize(int(h.n) - charged) // the pieces are garbage now
	}
	return out, nil
}

// A chunked answer is read in pieces: a small first one, then answerPiece bytes at a time.
const firstAnswerPiece, answerPiece = 4 << 10, 32 << 10
