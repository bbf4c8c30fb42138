package httpapi

import (
	"fmt"
	"net/http"
)

// Alpaca's error codes. The data API answers every rejected parameter with
// 422 and code 42210000, whatever the parameter; the message is what tells
// them apart. The 400 and 404 codes follow the same scheme (HTTP status
// times 100,000 plus a detail), as Alpaca's trading API uses them.
const (
	codeBadRequest   = 40010001
	codeUnauthorized = 40110000
	codeNotFound     = 40410000
	codeInvalid      = 42210000
)

// apiError is an error response in Alpaca's shape: {"code":N,"message":"…"},
// or just {"message":"…"} when code is 0 (Alpaca omits the code on auth and
// internal errors). Messages may quote client input; they are JSON-escaped
// when written.
type apiError struct {
	status int
	code   int
	msg    string
}

// invalidParam is a 422 for a parameter whose value Alpaca would refuse.
func invalidParam(format string, args ...any) *apiError {
	return &apiError{status: http.StatusUnprocessableEntity, code: codeInvalid, msg: fmt.Sprintf(format, args...)}
}

// badRequest is a 400 for a request that names no valid symbols.
func badRequest(format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: codeBadRequest, msg: fmt.Sprintf(format, args...)}
}

// Fixed responses. errInternal never says what went wrong: store errors can
// carry file paths and other internals, which go to the log instead.
var (
	errForbidden        = &apiError{status: http.StatusForbidden, msg: "forbidden"}
	errUnauthorized     = &apiError{status: http.StatusUnauthorized, code: codeUnauthorized, msg: "request is not authorized"}
	errNotFound         = &apiError{status: http.StatusNotFound, msg: "not found"}
	errMethodNotAllowed = &apiError{status: http.StatusMethodNotAllowed, msg: "method not allowed"}
	errInternal         = &apiError{status: http.StatusInternalServerError, msg: "internal server error"}
	errTimeout          = &apiError{status: http.StatusGatewayTimeout, msg: "request timed out"}
	errInvalidToken     = invalidParam("invalid page token")
	errInvalidTimeframe = invalidParam("invalid timeframe")
)

// noData is the 404 of a single-symbol latest or snapshot request for a
// symbol Tape has nothing for.
func noData(what, symbol string) *apiError {
	return &apiError{status: http.StatusNotFound, code: codeNotFound, msg: "no " + what + " found for " + symbol}
}

// notServed is the 404 of an endpoint whose store Tape was not given.
func notServed(what string) *apiError {
	return &apiError{status: http.StatusNotFound, code: codeNotFound, msg: "not found: this Tape serves no " + what}
}

// appendError appends e's JSON body.
func appendError(b []byte, e *apiError) []byte {
	b = append(b, '{')
	if e.code != 0 {
		b = append(b, `"code":`...)
		b = appendInt(b, int64(e.code))
		b = append(b, ',')
	}
	b = append(b, `"message":`...)
	b = appendString(b, e.msg)
	return append(b, '}')
}
