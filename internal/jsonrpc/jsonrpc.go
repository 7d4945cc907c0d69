package jsonrpc

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// Standard JSON-RPC error codes.
const (
	CodeParseError     = -32700
	CodeInvalidRequest = -32600
	CodeMethodNotFound = -32601
	CodeInvalidParams  = -32602
	CodeInternal       = -32603
)

// Error is a JSON-RPC error object. Values are never mutated after creation.
type Error struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Message }

// Errorf builds an Error.
func Errorf(code int, msg string) *Error { return &Error{Code: code, Message: msg} }

// Request is one call. ID is the raw JSON id, nil for a notification (no id member).
type Request struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params"`
}

// IsNotification reports whether the call has no id and so gets no response.
func (r *Request) IsNotification() bool { return r.ID == nil }

// Validate checks the envelope of one call.
func (r *Request) Validate() *Error {
	if r.JSONRPC != "2.0" {
		return Errorf(CodeInvalidRequest, `invalid request: "jsonrpc" must be "2.0"`)
	}
	if r.Method == "" {
		return Errorf(CodeInvalidRequest, `invalid request: missing "method"`)
	}
	if len(r.ID) > 0 {
		switch r.ID[0] {
		case '"', 'n', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		default:
			return Errorf(CodeInvalidRequest, "invalid request: id must be a string, a number or null")
		}
	}
	return nil
}

// nullID is the id of responses to requests whose id could not be read.
var nullID = json.RawMessage("null")

// Parse splits a body into calls. batch reports whether the body was a JSON array. An error is
// for the whole body (unparseable, empty batch, batch over maxBatch) and is answered with a
// single error response with a null id.
func Parse(body []byte, maxBatch int) (reqs []Request, batch bool, err *Error) {
	body = bytes.TrimLeft(body, " \t\r\n")
	if len(body) == 0 {
		return nil, false, Errorf(CodeParseError, "parse error: empty body")
	}
	if body[0] != '[' {
		var r Request
		if e := json.Unmarshal(body, &r); e != nil {
			return nil, false, Errorf(CodeParseError, "parse error: "+e.Error())
		}
		return []Request{r}, false, nil
	}
	// Fast path: every element is an object.
	if e := json.Unmarshal(body, &reqs); e == nil {
		if len(reqs) == 0 {
			return nil, true, Errorf(CodeInvalidRequest, "invalid request: empty batch")
		}
		if maxBatch > 0 && len(reqs) > maxBatch {
			return nil, true, Errorf(CodeInvalidRequest, "batch of "+strconv.Itoa(len(reqs))+" calls exceeds the limit of "+strconv.Itoa(maxBatch))
		}
		return reqs, true, nil
	}
	var raw []json.RawMessage
	if e := json.Unmarshal(body, &raw); e != nil {
		return nil, true, Errorf(CodeParseError, "parse error: "+e.Error())
	}
	if len(raw) == 0 {
		return nil, true, Errorf(CodeInvalidRequest, "invalid request: empty batch")
	}
	if maxBatch > 0 && len(raw) > maxBatch {
		return nil, true, Errorf(CodeInvalidRequest, "batch of "+strconv.Itoa(len(raw))+" calls exceeds the limit of "+strconv.Itoa(maxBatch))
	}
	reqs = make([]Request, len(raw))
	for i, r := range raw {
		if e := json.Unmarshal(r, &reqs[i]); e != nil {
			// Not an object: keep a marker so the caller answers -32600 for this element.
			reqs[i] = Request{ID: nullID}
		}
	}
	return reqs, true, nil
}

// AppendResult appends {"jsonrpc":"2.0","id":id,"result":result}; result is raw JSON.
func AppendResult(dst []byte, id json.RawMessage, result []byte) []byte {
	dst = appendHead(dst, id)
	dst = append(dst, `,"result":`...)
	dst = append(dst, result...)
	return append(dst, '}')
}

// AppendError appends {"jsonrpc":"2.0","id":id,"error":{"code":…,"message":…}}.
func AppendError(dst []byte, id json.RawMessage, e *Error) []byte {
	dst = appendHead(dst, id)
	dst = append(dst, `,"error":{"code":`...)
	dst = strconv.AppendInt(dst, int64(e.Code), 10)
	dst = append(dst, `,"message":`...)
	msg, _ := json.Marshal(e.Message) // a string always marshals
	dst = append(dst, msg...)
	return append(dst, "}}"...)
}

func appendHead(dst []byte, id json.RawMessage) []byte {
	if len(id) == 0 {
		id = nullID
	}
	dst = append(dst, `{"jsonrpc":"2.0","id":`...)
	return append(dst, id...)
}
