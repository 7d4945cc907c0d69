package rpctest

import (
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// Post sends body as a JSON POST to url (timeout one minute) and returns the HTTP status and
// the response body.
func Post(t testing.TB, url, body string) (int, []byte) {
	t.Helper()
	return PostWith(t, url, body, nil)
}

// PostWith is Post with extra request headers.
func PostWith(t testing.TB, url, body string, headers map[string]string) (int, []byte) {
	t.Helper()
	status, answer, err := PostErr(url, body, headers)
	if err != nil {
		t.Fatal(err)
	}
	return status, answer
}

// PostErr is PostWith for any goroutine: the transport's failure is returned, not fatal.
func PostErr(url, body string, headers map[string]string) (int, []byte, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(url)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	req.SetBodyString(body)
	if err := fasthttp.DoTimeout(req, resp, time.Minute); err != nil {
		return 0, nil, err
	}
	return resp.StatusCode(), append([]byte(nil), resp.Body()...), nil
}
