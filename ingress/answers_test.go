package ingress

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestAnswerBudgetBoundsInAllAndPerIP(t *testing.T) {
	var gauge int64
	b := newAnswerBudget(100, 30, func(v int64) { gauge = v })
	a, a2, c := b.hold("a"), b.hold("a"), b.hold("c")
	// a's answer started while the client held nothing: it may pass the share (one large read).
	if !a.grow(20) || !a.grow(15) {
		t.Fatalf("one answer past the share: held %d, refused %q", a.n, a.refused)
	}
	// A second answer of the same client is held to the share.
	if a2.grow(1) || a2.refused != "ip" {
		t.Fatalf("a second answer over the per-IP share of 30: refused %q", a2.refused)
	}
	if which, _ := b.over("a"); which != "ip" {
		t.Fatalf("a past its share: over = %q", which)
	}
	a.resize(20)
	if !a2.grow(10) || a2.grow(1) {
		t.Fatalf("a second answer within the share: held %d, refused %q", a2.n, a2.refused)
	}
	a2.release()
	// The total bounds every answer, exempt or not.
	if !c.grow(70) || gauge != 90 || c.grow(11) || c.refused != "total" {
		t.Fatalf("c's answer up to the total of 100: held %d, gauge %d, refused %q", c.n, gauge, c.refused)
	}
	c.grow(10)
	d := b.hold("d")
	if d.grow(1) || d.refused != "total" {
		t.Fatalf("the total is full: refused %q", d.refused)
	}
	c.resize(10)
	a.release()
	c.done()
	if gauge != 0 || len(b.byIP) != 0 {
		t.Fatalf("all given back: gauge %d, %d IPs tracked", gauge, len(b.byIP))
	}
	// A hold handed to the writer is given back by the writer only.
	e := b.hold("e")
	e.grow(5)
	e.handed = true
	e.done()
	if gauge != 5 {
		t.Fatalf("a handed hold was given back by its request: gauge %d", gauge)
	}
	body := &heldBody{Reader: bytes.NewReader(nil), h: e}
	body.Close()
	body.Close()
	if gauge != 0 {
		t.Fatalf("after the write: gauge %d", gauge)
	}
}

// onlyReader hides a reader's other methods, as a chunked body stream does.
type onlyReader struct{ io.Reader }

func TestReadAnswerChargesBeforeBuffering(t *testing.T) {
	answer := bytes.Repeat([]byte("x"), 100_000)
	for _, length := range []int{len(answer), -1} {
		b := newAnswerBudget(1<<20, 1<<20, func(int64) {})
		h := b.hold("a")
		got, err := readAnswer(onlyReader{bytes.NewReader(answer)}, length, 1<<20, h)
		if err != nil || !bytes.Equal(got, answer) || h.n < int64(len(answer)) || h.n > 2*int64(len(answer)) {
			t.Fatalf("length %d: %d bytes, held %d, %v", length, len(got), h.n, err)
		}
		small := newAnswerBudget(50_000, 50_000, func(int64) {}).hold("a")
		if _, err := readAnswer(onlyReader{bytes.NewReader(answer)}, length, 1<<20, small); !errors.Is(err, errAnswerBudget) {
			t.Fatalf("length %d over the budget: %v", length, err)
		}
		if _, err := readAnswer(onlyReader{bytes.NewReader(answer)}, length, 99_999, nil); err == nil {
			t.Fatalf("length %d over the limit was read", length)
		}
	}
}
