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
	// Data is the optional error data as raw JSON (for example the revert data of eth_call).
	Data json.RawMessage `json:"data,omitempty"`
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
	// invalid: an element that is valid JSON but not a call (not an object, a method that is
	// not a string, an object or array id): answered -32600, as geth does.
	invalid bool
}

// IsNotification reports whether the call has no id and so gets no response. As in geth, an
// object without an id is a notification only if it names a method and is version 2.0;
// otherwise it is an invalid request, answered with a null id.
func (r *Request) IsNotification() bool {
	return r.ID == nil && r.Method != "" && r.JSONRPC == "2.0" && !r.invalid
}

// Validate checks the envelope of one call; the error is answered under r.ID (null when the id
// could not be read, or is not a valid id).
func (r *Request) Validate() *Error {
	switch {
	case len(r.ID) > 0 && (r.ID[0] == '{' || r.ID[0] == '['):
		return Errorf(CodeInvalidRequest, "invalid request: the id must be a string, a number, a boolean or null")
	case r.invalid:
		return Errorf(CodeInvalidRequest, "invalid request: not a call object with a string method and a valid id")
	case r.Method == "":
		return Errorf(CodeInvalidRequest, `invalid request: missing "method"`)
	case r.JSONRPC != "2.0":
		return Errorf(CodeInvalidRequest, `invalid request: "jsonrpc" must be "2.0"`)
	}
	return nil
}

// decodeCall decodes one call object as geth reads it: an element that is valid JSON but not a
// call is kept as an invalid one (answered -32600), with its id when one is readable; an id
// that is an object or an array is no id (geth answers such a call -32600 with a null id).
func decodeCall(raw []byte) Request {
	var r Request
	if json.Unmarshal(raw, &r) != nil {
		var loose struct {
			ID json.RawMessage `json:"id"`
		}
		_ = json.Unmarshal(raw, &loose) // a method that is not a string: keep the id
		r = Request{ID: loose.ID, invalid: true}
	}
	checkID(&r)
	return r
}

// checkID makes an object or array id no id (the call invalid), and gives an object that is
// neither a call nor a notification a null id to be answered under.
func checkID(r *Request) {
	if len(r.ID) > 0 && (r.ID[0] == '{' || r.ID[0] == '[') {
		r.ID, r.invalid = nullID, true
	}
	if r.ID == nil && !r.IsNotification() {
		r.ID = nullID
	}
}

// nullID is the id of responses to requests whose id could not be read.
var nullID = json.RawMessage("null")

// BatchLen counts the elements of the JSON array body starts with, without decoding or
// allocating anything, and stops counting once past limit (returning limit+1): a batch is
// refused by its length before any element costs memory. For a body that is not an array it
// returns 0; for malformed JSON the count is only an estimate, and Parse rejects it anyway.
func BatchLen(body []byte, limit int) int {
	depth, commas := 0, 0
	inString, escaped, any := false, false, false
	for _, c := range body {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case ' ', '\t', '\r', '\n':
		case '[', '{':
			if depth == 0 && c == '{' {
				return 0
			}
			if depth == 1 {
				any = true
			}
			depth++
		case ']', '}':
			depth--
			if depth <= 0 {
				if any {
					return commas + 1
				}
				return 0
			}
		case '"':
			inString = true
			if depth == 1 {
				any = true
			}
		case ',':
			if depth == 1 {
				commas++
				if commas >= limit {
					return limit + 1
				}
			}
		default:
			if depth == 0 {
				return 0
			}
			if depth == 1 {
				any = true
			}
		}
	}
	if any {
		return commas + 1
	}
	return 0
}

// Parse splits a body into calls. batch reports whether the body was a JSON array. An error is
// for the whole body (unparseable, empty batch, batch over maxBatch) and is answered with a
// single error response with a null id. A batch's length is checked (BatchLen) before any
// element is decoded.
func Parse(body []byte, maxBatch int) (reqs []Request, batch bool, err *Error) {
	body = bytes.TrimLeft(body, " \t\r\n")
	if len(body) == 0 {
		return nil, false, Errorf(CodeParseError, "parse error: empty body")
	}
	if body[0] == '[' && maxBatch > 0 {
		if n := BatchLen(body, maxBatch); n > maxBatch {
			return nil, true, Errorf(CodeInvalidRequest, "batch of more than "+strconv.Itoa(maxBatch)+" calls exceeds the limit of "+strconv.Itoa(maxBatch))
		}
	}
	if !json.Valid(body) {
		e := json.Unmarshal(body, &struct{}{}) // the syntax error, found before anything is decoded
		return nil, body[0] == '[', Errorf(CodeParseError, "parse error: "+e.Error())
	}
	if body[0] != '[' {
		if ambiguous(body) {
			return nil, false, errAmbiguous()
		}
		return []Request{decodeCall(body)}, false, nil
	}
	// Fast path: every element is an object with a string method.
	if e := json.Unmarshal(body, &reqs); e == nil {
		if len(reqs) == 0 {
			return nil, true, Errorf(CodeInvalidRequest, "empty batch")
		}
		if maxBatch > 0 && len(reqs) > maxBatch {
			return nil, true, Errorf(CodeInvalidRequest, "batch of "+strconv.Itoa(len(reqs))+" calls exceeds the limit of "+strconv.Itoa(maxBatch))
		}
		if anyAmbiguous(body) {
			return nil, true, errAmbiguous()
		}
		for i := range reqs {
			checkID(&reqs[i])
		}
		return reqs, true, nil
	}
	var raw []json.RawMessage
	if e := json.Unmarshal(body, &raw); e != nil {
		return nil, true, Errorf(CodeParseError, "parse error: "+e.Error())
	}
	if len(raw) == 0 {
		return nil, true, Errorf(CodeInvalidRequest, "empty batch")
	}
	if maxBatch > 0 && len(raw) > maxBatch {
		return nil, true, Errorf(CodeInvalidRequest, "batch of "+strconv.Itoa(len(raw))+" calls exceeds the limit of "+strconv.Itoa(maxBatch))
	}
	reqs = make([]Request, len(raw))
	for i, r := range raw {
		if ambiguous(r) {
			return nil, true, errAmbiguous()
		}
		reqs[i] = decodeCall(r)
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
	if len(e.Data) > 0 {
		dst = append(dst, `,"data":`...)
		dst = append(dst, e.Data...)
	}
	return append(dst, "}}"...)
}

func appendHead(dst []byte, id json.RawMessage) []byte {
	if len(id) == 0 {
		id = nullID
	}
	dst = append(dst, `{"jsonrpc":"2.0","id":`...)
	return append(dst, id...)
}

// Elements splits a JSON array into its elements, as sub-slices of body (nothing is copied),
// for reading a trusted peer's batch answer. ok is false when body is not a valid JSON array.
func Elements(body []byte) (elems [][]byte, ok bool) {
	body = bytes.TrimSpace(body)
	if len(body) < 2 || body[0] != '[' || !json.Valid(body) {
		return nil, false
	}
	depth, start := 0, 1
	inString, escaped := false, false
	for i, c := range body {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '[', '{':
			depth++
		case ']', '}':
			depth--
			if depth == 0 {
				if e := bytes.TrimSpace(body[start:i]); len(e) > 0 {
					elems = append(elems, e)
				}
				return elems, true
			}
		case ',':
			if depth == 1 {
				elems = append(elems, bytes.TrimSpace(body[start:i]))
				start = i + 1
			}
		}
	}
	return elems, true
}
