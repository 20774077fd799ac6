package api

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/web"
)

// Sign-in limits, per minute. Every attempt from one client address
// counts; for an account only failures count, and only from browsers the
// account has not signed in from before: a stranger typing wrong passwords
// for someone's email locks out new browsers for a minute at most, never
// the browser the rep uses every day, whose device cookie has a budget of
// its own.
const (
	loginWindow     = time.Minute
	loginPerIP      = 30
	loginFailures   = 10 // per account, from browsers without its device cookie
	loginPerDevice  = 10 // failures per device cookie
	deviceCookie    = "onramp_device"
	deviceCookieTTL = 365 * 24 * time.Hour
)

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// SessionResponse is the body of a successful sign-in and of GET /me.
type SessionResponse struct {
	User      onramp.User `json:"user"`
	CSRFToken string      `json:"csrf_token"`
}

// rateLimited is the answer when a limit is reached, with the real wait:
// what ("Too many sign-in attempts.") and when to try again.
func rateLimited(what string, retryAfter time.Duration) error {
	secs := int(math.Ceil(retryAfter.Seconds()))
	if secs < 1 {
		secs = 1
	}
	return &onramp.Error{Code: onramp.ERATELIMITED, RetryAfter: time.Duration(secs) * time.Second,
		Message: what + " Try again in " + plural(secs, "second") + "."}
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}

// signIn checks the rate limits and credentials, starts a new session (a
// session is never reused across sign-ins) and, for a rep, completes the
// account step (done at the first successful sign-in).
func (s *Server) signIn(c *gin.Context, email, password string) (*onramp.Session, error) {
	ctx := c.Request.Context()
	email = strings.ToLower(strings.TrimSpace(email))
	if email == "" || password == "" {
		return nil, onramp.FieldErrors(map[string]string{"email": "Enter your email and password."})
	}
	if len(email) > 254 || len(password) > 1024 {
		return nil, onramp.Errorf(onramp.EUNAUTHORIZED, "Wrong email or password.")
	}
	if ok, wait, err := s.Limiter.Allow(ctx, "login:ip:"+c.ClientIP(), loginPerIP, loginWindow); err != nil {
		return nil, err
	} else if !ok {
		return nil, rateLimited("Too many sign-in attempts.", wait)
	}
	// Count the attempt as a failure first, and take it back if it
	// succeeds: checking first and counting after would let concurrent
	// guesses through while the first ones are being checked.
	failKey, failLimit := "login:email:"+email, loginFailures
	if dev, ok := s.deviceOf(c, email); ok {
		failKey, failLimit = "login:device:"+dev, loginPerDevice
	}
	if ok, wait, err := s.Limiter.Allow(ctx, failKey, failLimit, loginWindow); err != nil {
		return nil, err
	} else if !ok {
		return nil, rateLimited("Too many sign-in attempts.", wait)
	}
	u, err := s.Users.Authenticate(ctx, email, password)
	if err != nil {
		if onramp.ErrorCode(err) != onramp.EUNAUTHORIZED {
			s.refund(ctx, failKey) // not a failed guess: the database did not answer
		}
		return nil, err
	}
	s.refund(ctx, failKey)
	if u.Status == onramp.UserDisabled {
		return nil, onramp.Errorf(onramp.EUNAUTHORIZED, "This account is disabled.")
	}
	// A new session at every sign-in; the one this browser had, if any,
	// ends (session fixation).
	if old, err := c.Cookie(sessionCookie); err == nil && old != "" {
		if err := s.Users.DeleteSession(ctx, old); err != nil {
			s.log.Warn("delete previous session", "err", err)
		}
	}
	token, sess, err := s.Users.CreateSession(ctx, u, s.SessionTTL)
	if err != nil {
		return nil, err
	}
	http.SetCookie(c.Writer, &http.Cookie{
		Name: sessionCookie, Value: token, Path: "/", HttpOnly: true, Secure: !s.Dev,
		SameSite: http.SameSiteLaxMode, Expires: sess.ExpiresAt,
	})
	s.setDevice(c, email)
	if u.Role == onramp.RoleRep && u.Status == onramp.UserInvited {
		// If Temporal does not answer now, the wizard completes it on its
		// next load: signing in still works.
		if _, err := s.Onboarding.SignedIn(ctx, u.OrgID, u.ID); err != nil {
			s.log.Warn("account step not completed at sign-in", "rep", u.ID, "err", err)
		}
	}
	return sess, nil
}

// refund takes back a sign-in attempt that was not a failed guess.
func (s *Server) refund(ctx context.Context, key string) {
	if err := s.Limiter.Refund(ctx, key, loginWindow); err != nil {
		s.log.Warn("refund sign-in attempt", "err", err)
	}
}

// deviceKey derives the key of device cookies from the secret key (once,
// in New).
func deviceKey(secret []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("onramp device cookie v1"))
	return m.Sum(nil)
}

func (s *Server) deviceMAC(email, nonce string) string {
	m := hmac.New(sha256.New, s.deviceSecret)
	m.Write([]byte(email + "\x00" + nonce))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// deviceOf returns the ID of this browser's device cookie when the cookie
// was issued at a successful sign-in of email.
func (s *Server) deviceOf(c *gin.Context, email string) (string, bool) {
	v, err := c.Cookie(deviceCookie)
	if err != nil || len(v) > 128 {
		return "", false
	}
	nonce, mac, ok := strings.Cut(v, ".")
	if !ok || subtle.ConstantTimeCompare([]byte(mac), []byte(s.deviceMAC(email, nonce))) != 1 {
		return "", false
	}
	return nonce, true
}

// setDevice gives this browser a device cookie for email (after a
// successful sign-in).
func (s *Server) setDevice(c *gin.Context, email string) {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	nonce := hex.EncodeToString(b)
	http.SetCookie(c.Writer, &http.Cookie{
		Name: deviceCookie, Value: nonce + "." + s.deviceMAC(email, nonce), Path: "/", HttpOnly: true, Secure: !s.Dev,
		SameSite: http.SameSiteLaxMode, MaxAge: int(deviceCookieTTL / time.Second),
	})
}

// login is POST /api/v1/session (JSON). A cross-site form cannot send JSON
// without a CORS preflight, so it needs no CSRF token; the session's token
// comes back in the body.
func (s *Server) login(c *gin.Context) {
	var req loginRequest
	if err := bindJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	sess, err := s.signIn(c, req.Email, req.Password)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, SessionResponse{User: sess.User, CSRFToken: sess.CSRFToken})
}

func (s *Server) me(c *gin.Context) {
	sess := sessionOf(c)
	c.JSON(http.StatusOK, SessionResponse{User: sess.User, CSRFToken: sess.CSRFToken})
}

// loginPage is GET /login. The form is protected by a double-submit CSRF
// cookie (there is no session yet).
func (s *Server) loginPage(c *gin.Context) {
	token := newID() + newID()
	http.SetCookie(c.Writer, &http.Cookie{Name: loginCSRFCookie, Value: token, Path: "/login", HttpOnly: true, Secure: !s.Dev, SameSite: http.SameSiteStrictMode})
	s.renderPage(c, http.StatusOK, "login", web.LoginPage{Base: web.Base{Title: "Sign in", CSRFToken: token, Dev: s.Dev}, Next: safeNext(c.Query("next"))})
}

// loginForm is POST /login.
func (s *Server) loginForm(c *gin.Context) {
	email, next := c.PostForm("email"), safeNext(c.PostForm("next"))
	cookie, _ := c.Cookie(loginCSRFCookie)
	form := c.PostForm(csrfField)
	page := web.LoginPage{Base: web.Base{Title: "Sign in", CSRFToken: cookie, Dev: s.Dev}, Email: email, Next: next}
	if cookie == "" || subtle.ConstantTimeCompare([]byte(cookie), []byte(form)) != 1 {
		page.Error = "Your sign-in form expired. Please try again."
		page.CSRFToken = ""
		s.loginPageWith(c, http.StatusForbidden, page)
		return
	}
	sess, err := s.signIn(c, email, c.PostForm("password"))
	if err != nil {
		code := onramp.ErrorCode(err)
		if code == onramp.EINTERNAL || code == onramp.EUNAVAILABLE {
			fail(c, err)
			return
		}
		if ra := onramp.ErrorRetryAfter(err); ra > 0 {
			c.Header("Retry-After", retryAfterSeconds(ra))
		}
		page.Error = onramp.ErrorMessage(err)
		s.loginPageWith(c, statusOf[code], page)
		return
	}
	if next == "" {
		next = homeOf(&sess.User)
	}
	c.Redirect(http.StatusSeeOther, next)
}

func (s *Server) loginPageWith(c *gin.Context, status int, page web.LoginPage) {
	if page.CSRFToken == "" {
		page.CSRFToken = newID() + newID()
		http.SetCookie(c.Writer, &http.Cookie{Name: loginCSRFCookie, Value: page.CSRFToken, Path: "/login", HttpOnly: true, Secure: !s.Dev, SameSite: http.SameSiteStrictMode})
	}
	s.renderPage(c, status, "login", page)
}

// safeNext keeps only local paths, so sign-in cannot redirect elsewhere.
func safeNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || next == "" || u.IsAbs() || u.Host != "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return ""
	}
	return next
}

func homeOf(u *onramp.User) string {
	switch u.Role {
	case onramp.RoleAdmin:
		return "/admin"
	case onramp.RoleSupport:
		return "/support"
	}
	return "/wizard"
}

// sessionHandle names a session in events without its token: live streams
// of the session end when it does.
func sessionHandle(token string) string {
	h := sha256.Sum256([]byte("onramp session handle\x00" + token))
	return hex.EncodeToString(h[:16])
}

// logout ends the session (form or API), and its live streams on every
// API instance.
func (s *Server) logout(c *gin.Context) {
	if token, err := c.Cookie(sessionCookie); err == nil {
		if err := s.Users.DeleteSession(c.Request.Context(), token); err != nil {
			fail(c, err)
			return
		}
		if sess := sessionOf(c); sess != nil {
			s.announceSessionEnded(c.Request.Context(), sess.User.OrgID, token)
		}
	}
	http.SetCookie(c.Writer, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: !s.Dev, SameSite: http.SameSiteLaxMode})
	if wantsJSON(c) {
		c.Status(http.StatusNoContent)
		return
	}
	c.Redirect(http.StatusSeeOther, "/login")
}

// announceSessionEnded tells every API instance that a session ended, so
// its streams end now rather than at their next check. Best effort: the
// periodic check ends them anyway.
func (s *Server) announceSessionEnded(ctx context.Context, orgID, token string) {
	data, _ := json.Marshal(onramp.SessionEnded{Session: sessionHandle(token)})
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := s.Bus.Publish(ctx, onramp.Event{ID: newID(), OrgID: orgID, Type: onramp.EventSessionEnded, At: time.Now(), Data: data}); err != nil {
		s.log.Warn("announce session end", "err", err)
	}
}
