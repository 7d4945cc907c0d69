package netcause

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// Each cause from a real failure on loopback, not from a constructed error value.
func TestOfNamesRealFailures(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closedAddr := ln.Addr().String()
	ln.Close()
	_, refused := net.Dial("tcp", closedAddr)

	_, dns := net.DefaultResolver.LookupHost(context.Background(), "no-such-host.invalid")

	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer slow.Close()
	_, timeout := (&http.Client{Timeout: 20 * time.Millisecond}).Get(slow.URL)

	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer tlsSrv.Close()
	_, badCert := (&http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{}}}).Get(tlsSrv.URL)

	for _, c := range []struct {
		err    error
		status int
		want   string
	}{
		{refused, 0, "refused"}, {&net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}, 0, "dns"},
		{timeout, 0, "timeout"}, {badCert, 0, "tls"}, {nil, 503, "http_5xx"}, {nil, 200, "ok"},
		{errors.New("weird"), 0, "other"}, {fmt.Errorf("wrapped: %w", context.DeadlineExceeded), 0, "timeout"},
	} {
		if got := Of(c.err, c.status); got != c.want {
			t.Errorf("Of(%v, %d) = %q, want %q", c.err, c.status, got, c.want)
		}
	}
	if dns != nil && Of(dns, 0) != "dns" {
		t.Errorf("a real lookup failure: %q (%v)", Of(dns, 0), dns)
	}
}
