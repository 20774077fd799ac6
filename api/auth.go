package api

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/web"
)

// Login attempts allowed per minute, per client address and per email.
const (
	loginPerIP    = 30
	loginPerEmail = 10
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

// signIn checks the rate limits and credentials, starts a session and, for
// a rep, completes the account step (done at the first successful sign-in).
func (s *Server) signIn(c *gin.Context, email, password string) (*onramp.Session, error) {
	ctx := c.Request.Context()
	email = strings.ToLower(strings.TrimSpace(email))
	if email == "" || password == "" {
		return nil, onramp.FieldErrors(map[string]string{"email": "Enter your email and password."})
	}
	for _, l := range []struct {
		key string
		n   int
	}{{"login:ip:" + c.ClientIP(), loginPerIP}, {"login:email:" + email, loginPerEmail}} {
		ok, _, err := s.Limiter.Allow(ctx, l.key, l.n, time.Minute)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, onramp.Errorf(onramp.ERATELIMITED, "Too many sign-in attempts. Wait a minute and try again.")
		}
	}
	u, err := s.Users.Authenticate(ctx, email, password)
	if err != nil {
		return nil, err
	}
	if u.Status == onramp.UserDisabled {
		return nil, onramp.Errorf(onramp.EUNAUTHORIZED, "This account is disabled.")
	}
	token, sess, err := s.Users.CreateSession(ctx, u, s.SessionTTL)
	if err != nil {
		return nil, err
	}
	http.SetCookie(c.Writer, &http.Cookie{
		Name: sessionCookie, Value: token, Path: "/", HttpOnly: true, Secure: !s.Dev,
		SameSite: http.SameSiteLaxMode, Expires: sess.ExpiresAt,
	})
	if u.Role == onramp.RoleRep && u.Status == onramp.UserInvited {
		// If Temporal does not answer now, the wizard completes it on its
		// next load: signing in still works.
		if _, err := s.Onboarding.SignedIn(ctx, u.OrgID, u.ID); err != nil {
			s.log.Warn("account step not completed at sign-in", "rep", u.ID, "err", err)
		}
	}
	return sess, nil
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

// logout ends the session (form or API).
func (s *Server) logout(c *gin.Context) {
	if token, err := c.Cookie(sessionCookie); err == nil {
		if err := s.Users.DeleteSession(c.Request.Context(), token); err != nil {
			fail(c, err)
			return
		}
	}
	http.SetCookie(c.Writer, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: !s.Dev, SameSite: http.SameSiteLaxMode})
	if wantsJSON(c) {
		c.Status(http.StatusNoContent)
		return
	}
	c.Redirect(http.StatusSeeOther, "/login")
}
