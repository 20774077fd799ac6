package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/onramp/onramp"
)

// statusOf is the one table from error codes to HTTP status.
var statusOf = map[string]int{
	onramp.EBADREQUEST:   http.StatusBadRequest,
	onramp.EINVALID:      http.StatusUnprocessableEntity,
	onramp.ENOTFOUND:     http.StatusNotFound,
	onramp.ECONFLICT:     http.StatusConflict,
	onramp.EUNAUTHORIZED: http.StatusUnauthorized,
	onramp.EFORBIDDEN:    http.StatusForbidden,
	onramp.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	onramp.EUNSUPPORTED:  http.StatusUnsupportedMediaType,
	onramp.ERATELIMITED:  http.StatusTooManyRequests,
	onramp.EUNAVAILABLE:  http.StatusServiceUnavailable,
	onramp.EINTERNAL:     http.StatusInternalServerError,
}

// ErrorResponse is the JSON body of every API error.
type ErrorResponse struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
}

// fail records err for the error middleware and stops the chain.
func fail(c *gin.Context, err error) {
	_ = c.Error(err)
	c.Abort()
}

// errorMiddleware renders the last error a handler recorded: JSON under
// /api/ and /scim/, an error page elsewhere. Only internal errors are logged
// with their detail.
func (s *Server) errorMiddleware(c *gin.Context) {
	c.Next()
	if len(c.Errors) == 0 || c.Writer.Written() {
		return
	}
	err := c.Errors.Last().Err
	var ge *gin.Error
	if errors.As(err, &ge) {
		err = ge.Err
	}
	code := onramp.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if code == onramp.EINTERNAL || code == onramp.EUNAVAILABLE {
		s.log.Error("request failed", "request_id", requestID(c), "method", c.Request.Method, "path", c.FullPath(), "code", code, "err", err)
	}
	if ra := onramp.ErrorRetryAfter(err); ra > 0 {
		c.Header("Retry-After", retryAfterSeconds(ra))
	}
	body := ErrorResponse{Code: code, Message: onramp.ErrorMessage(err), Fields: onramp.ErrorFields(err)}
	if wantsJSON(c) {
		c.JSON(status, body)
		return
	}
	s.renderPage(c, status, "error", s.errorPage(c, status, body))
}

func wantsJSON(c *gin.Context) bool {
	p := c.Request.URL.Path
	return strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/scim/") || strings.HasPrefix(p, "/healthz") || strings.HasPrefix(p, "/readyz")
}
