package api

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/onramp/onramp"
)

const (
	sessionCookie   = "onramp_session"
	loginCSRFCookie = "onramp_login_csrf"
	csrfHeader      = "X-CSRF-Token"
	csrfField       = "csrf_token"
)

func (s *Server) recoverer(c *gin.Context) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("panic", "request_id", requestID(c), "path", c.Request.URL.Path, "panic", fmt.Sprint(v))
			if !c.Writer.Written() {
				c.AbortWithStatusJSON(http.StatusInternalServerError, ErrorResponse{Code: onramp.EINTERNAL, Message: "Internal error."})
			}
		}
	}()
	c.Next()
}

func newID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func requestIDMiddleware(c *gin.Context) {
	id := c.GetHeader("X-Request-ID")
	if id == "" || len(id) > 64 {
		id = newID()
	}
	c.Set("request_id", id)
	c.Header("X-Request-ID", id)
	c.Next()
}

func requestID(c *gin.Context) string { return c.GetString("request_id") }

func (s *Server) logRequests(c *gin.Context) {
	start := time.Now()
	c.Next()
	s.log.Debug("request", "request_id", requestID(c), "method", c.Request.Method, "path", c.FullPath(),
		"status", c.Writer.Status(), "duration", time.Since(start))
}

func securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; style-src 'self'; script-src 'self'; frame-ancestors 'none'")
	c.Next()
}

// limitBody caps the request body; reading past it fails with ETOOLARGE.
func limitBody(n int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.ContentLength > n {
			fail(c, onramp.Errorf(onramp.ETOOLARGE, "Request body too large (at most %d bytes).", n))
			return
		}
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, n)
		c.Next()
	}
}

// bodyError maps a body-reading error to an application error.
func bodyError(err error, what string) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return onramp.Errorf(onramp.ETOOLARGE, "%s is too large.", what)
	}
	return &onramp.Error{Code: onramp.EBADREQUEST, Message: "Malformed " + what + ".", Err: err}
}

// session loads the signed-in user. api=true answers 401 JSON when there is
// none; pages redirect to /login.
func (s *Server) session(api bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		token, err := c.Cookie(sessionCookie)
		var sess *onramp.Session
		if err == nil && token != "" {
			sess, err = s.Users.FindSession(c.Request.Context(), token)
		}
		if sess == nil {
			if err != nil && onramp.ErrorCode(err) != onramp.EUNAUTHORIZED && token != "" {
				fail(c, err)
				return
			}
			if api {
				fail(c, onramp.Errorf(onramp.EUNAUTHORIZED, "Sign in first."))
				return
			}
			c.Redirect(http.StatusSeeOther, "/login?next="+url.QueryEscape(c.Request.URL.RequestURI()))
			c.Abort()
			return
		}
		c.Set("session", sess)
		c.Next()
	}
}

func sessionOf(c *gin.Context) *onramp.Session {
	v, _ := c.Get("session")
	s, _ := v.(*onramp.Session)
	return s
}

func userOf(c *gin.Context) *onramp.User { return &sessionOf(c).User }

// csrf checks the session's CSRF token on every state-changing request:
// header X-CSRF-Token, or form field csrf_token. Never from the query
// string: URLs end up in logs and Referer headers.
func (s *Server) csrf(c *gin.Context) {
	switch c.Request.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		c.Next()
		return
	}
	sess := sessionOf(c)
	got := c.GetHeader(csrfHeader)
	if got == "" && c.ContentType() == "application/x-www-form-urlencoded" {
		got = c.PostForm(csrfField)
	}
	if sess == nil || got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(sess.CSRFToken)) != 1 {
		fail(c, onramp.Errorf(onramp.EFORBIDDEN, "Missing or invalid CSRF token. Reload the page and try again."))
		return
	}
	c.Next()
}

// role lets through only users with one of the roles.
func (s *Server) role(roles ...onramp.Role) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !slices.Contains(roles, userOf(c).Role) {
			fail(c, onramp.Errorf(onramp.EFORBIDDEN, "Your role (%s) cannot do this.", userOf(c).Role))
			return
		}
		c.Next()
	}
}

// rep resolves the :rep parameter ("me" or an ID) to a rep of the caller's
// org. A rep may only see themselves; admins and support see their org's
// reps; other orgs' reps are not found.
func (s *Server) rep(c *gin.Context) {
	u := userOf(c)
	id := c.Param("rep")
	if id == "me" {
		id = u.ID
	}
	if u.Role == onramp.RoleRep && id != u.ID {
		// Not found rather than forbidden: do not reveal other reps.
		fail(c, onramp.Errorf(onramp.ENOTFOUND, "Rep not found."))
		return
	}
	rep := u
	if id != u.ID {
		var err error
		if rep, err = s.Users.FindUser(c.Request.Context(), u.OrgID, id); err != nil {
			fail(c, err)
			return
		}
	}
	if rep.Role != onramp.RoleRep {
		fail(c, onramp.Errorf(onramp.ENOTFOUND, "Rep not found."))
		return
	}
	c.Set("rep", rep)
	c.Next()
}

func repOf(c *gin.Context) *onramp.User {
	v, _ := c.Get("rep")
	r, _ := v.(*onramp.User)
	return r
}

// self lets a rep change only their own onboarding.
func (s *Server) self(c *gin.Context) {
	if repOf(c).ID != userOf(c).ID {
		fail(c, onramp.Errorf(onramp.EFORBIDDEN, "Only the rep can change their own onboarding."))
		return
	}
	c.Next()
}

// bindJSON decodes a JSON body into v, with a clear error.
func bindJSON(c *gin.Context, v any) error {
	if ct := c.ContentType(); ct != "application/json" {
		return onramp.Errorf(onramp.EUNSUPPORTED, "Send JSON (Content-Type: application/json).")
	}
	if err := c.ShouldBindJSON(v); err != nil {
		return bodyError(err, "JSON body")
	}
	return nil
}

// idempotencyKeyRE is the form of an Idempotency-Key: up to 64 letters,
// digits and "-_.:" (a UUID fits).
var idempotencyKeyRE = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,64}$`)

// checkIdempotencyKey refuses a malformed Idempotency-Key header (400)
// rather than ignoring it: a client that sent one counts on it.
func checkIdempotencyKey(c *gin.Context) {
	if k := c.GetHeader("Idempotency-Key"); k != "" && !idempotencyKeyRE.MatchString(k) {
		fail(c, onramp.Errorf(onramp.EBADREQUEST, "Idempotency-Key must be 1 to 64 letters, digits, or any of - _ . :"))
		return
	}
	c.Next()
}

// idempotencyKey is the request's Idempotency-Key header (checked by
// checkIdempotencyKey), "" when absent: the wizard sends the same key when
// the rep sends the same form again (after a 503, say), and the workflow
// then applies it once.
func idempotencyKey(c *gin.Context) string { return c.GetHeader("Idempotency-Key") }

// retryAfterSeconds is a Retry-After value: whole seconds, at least 1.
func retryAfterSeconds(d time.Duration) string {
	return strconv.Itoa(max(1, int((d+time.Second-1)/time.Second)))
}
