package onramp

import (
	"errors"
	"fmt"
	"time"
)

// Application error codes. Each maps to exactly one HTTP status in api/errors.go.
const (
	EBADREQUEST   = "bad_request"  // malformed request (not JSON, wrong types)
	EINVALID      = "invalid"      // well-formed but fails validation
	ENOTFOUND     = "not_found"    // no such thing (or not in the caller's org)
	ECONFLICT     = "conflict"     // state does not allow it (duplicate, already finished)
	EUNAUTHORIZED = "unauthorized" // not signed in, or bad credentials
	EFORBIDDEN    = "forbidden"    // signed in but the role or CSRF token does not allow it
	ETOOLARGE     = "too_large"    // request body or upload over its limit
	EUNSUPPORTED  = "unsupported"  // unsupported media type (e.g. a GIF as a photo)
	ERATELIMITED  = "rate_limited" // too many attempts
	EUNAVAILABLE  = "unavailable"  // a dependency (Temporal, Postgres, Redis) did not answer in time
	EINTERNAL     = "internal"     // anything else; never shown in detail
)

// Error is the application error. Code is one of the E* constants, Message is
// safe to show to the user, Fields holds per-field messages for forms, Op names
// the operation for logs and Err the cause (never shown).
type Error struct {
	Code    string
	Message string
	Fields  map[string]string
	Op      string
	Err     error
	// RetryAfter, for ERATELIMITED, is when the caller may try again.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	s := e.Code + ": " + e.Message
	if e.Op != "" {
		s = e.Op + ": " + s
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an application error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldErrors returns an EINVALID error carrying per-field messages.
// It returns nil when fields is empty, so validators can end with it.
func FieldErrors(fields map[string]string) error {
	if len(fields) == 0 {
		return nil
	}
	msg := "Please correct the highlighted fields."
	if len(fields) == 1 {
		for _, m := range fields {
			msg = m
		}
	}
	return &Error{Code: EINVALID, Message: msg, Fields: fields}
}

// ErrorCode returns the code of the application error in err's chain,
// "" for nil and EINTERNAL for anything else.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-facing message of err; "Internal error." for
// errors that are not application errors.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) && e.Code != EINTERNAL {
		return e.Message
	}
	return "Internal error."
}

// ErrorFields returns the per-field messages of err, if any.
func ErrorFields(err error) map[string]string {
	var e *Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}

// ErrorRetryAfter returns when to try again after err (ERATELIMITED), or 0.
func ErrorRetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}
