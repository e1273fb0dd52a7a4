package caddyliveness

import (
	"fmt"
	"net/http"

	"github.com/caddy-liveness/caddy-liveness/internal/extract"
)

// Source names where images are looked for in a request.
type Source = extract.Source

// inputError is a request the handler cannot check: the client's fault.
type inputError = extract.Error

func badRequest(format string, a ...any) *inputError {
	return &inputError{Status: http.StatusBadRequest, Reason: "malformed_request", Msg: fmt.Sprintf(format, a...)}
}

func tooLarge(where, format string, a ...any) *inputError {
	return &inputError{Status: http.StatusRequestEntityTooLarge, Reason: "too_large", Msg: fmt.Sprintf(format, a...), Where: where}
}
