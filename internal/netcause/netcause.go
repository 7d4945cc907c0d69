// Package netcause names why a call to a peer (a sentry, a filter) failed, with a small fixed
// set of words for metric labels and logs: "refused", "dns", "tls", "timeout", "reset",
// "closed", "http_5xx"… An operator reading "timeout" after 4 ms knows it was not one (issue 18:
// "a connector error that failed in ~4.5 ms cost a multi-day investigation").
package netcause

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
)

// Of names the cause of err (nil: "ok"); status is the HTTP status when the peer answered one
// (an error status is named by its class, "http_4xx" or "http_5xx", when err says no more).
func Of(err error, status int) string {
	if err == nil {
		switch {
		case status >= 500:
			return "http_5xx"
		case status >= 400:
			return "http_4xx"
		}
		return "ok"
	}
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var recordErr tls.RecordHeaderError
	var netErr net.Error
	msg := strings.ToLower(err.Error())
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.As(err, &dnsErr):
		return "dns"
	case errors.As(err, &certErr), errors.As(err, &unknownAuth), errors.As(err, &hostErr), errors.As(err, &recordErr),
		strings.Contains(msg, "tls:"), strings.Contains(msg, "x509:"):
		return "tls"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &netErr) && netErr.Timeout(), strings.Contains(msg, "timeout"):
		return "timeout"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		strings.Contains(msg, "connection closed"), strings.Contains(msg, "closed connection"):
		return "closed"
	case strings.Contains(msg, "connection refused"):
		return "refused"
	case strings.Contains(msg, "no such host"):
		return "dns"
	case status >= 500:
		return "http_5xx"
	case status >= 400:
		return "http_4xx"
	}
	return "other"
}
