// Package deadconn makes a fasthttp client survive a peer that restarts: a request whose
// pooled keep-alive connection turned out dead is sent again on a fresh connection.
package deadconn

import (
	"errors"
	"io"
	"syscall"

	"github.com/valyala/fasthttp"
)

// maxAttempts bounds the sends of one request: the first, and fresh-connection retries for
// the rare race where another dead connection is handed back while the idle ones are closed.
const maxAttempts = 3

// Retry installs the policy on c. Only the requests this project sends go through such a
// client, and each is safe to send twice: a filter check, a read, and a resend of the same
// signed tx (a node answers "already known"). Dial errors and timeouts are never retried.
func Retry(c *fasthttp.Client) {
	c.RetryIfErr = func(_ *fasthttp.Request, attempts int, err error) (resetTimeout, retry bool) {
		if attempts >= maxAttempts || !Dead(err) {
			return false, false
		}
		// The peer closed every connection it had: the idle ones are dead too.
		c.CloseIdleConnections()
		return false, true
	}
}

// Dead reports whether err means the connection was closed by the peer.
func Dead(err error) bool {
	return errors.Is(err, fasthttp.ErrConnectionClosed) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
