package api

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/web"
)

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// renderPage renders a page, or a plain error when the template fails.
func (s *Server) renderPage(c *gin.Context, status int, page string, data any) {
	var buf bytes.Buffer
	if err := s.pages.Render(&buf, page, data); err != nil {
		s.log.Error("render page", "page", page, "err", err)
		c.Data(http.StatusInternalServerError, "text/plain; charset=utf-8", []byte("Internal error."))
		return
	}
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

func (s *Server) base(c *gin.Context, title string) web.Base {
	b := web.Base{Title: title, Dev: s.Dev}
	if sess := sessionOf(c); sess != nil {
		b.User, b.CSRFToken = &sess.User, sess.CSRFToken
	}
	return b
}

func (s *Server) errorPage(c *gin.Context, status int, e ErrorResponse) web.ErrorPage {
	return web.ErrorPage{Base: s.base(c, "Error"), Status: status, Code: e.Code, Message: e.Message}
}

// home sends each role to its page.
func (s *Server) home(c *gin.Context) {
	c.Redirect(http.StatusSeeOther, homeOf(userOf(c)))
}

// wizardPage is GET /wizard and /wizard/:step. A finished onboarding is
// shown read-only (from the projection once the workflow is closed).
func (s *Server) wizardPage(c *gin.Context) {
	u := userOf(c)
	ctx := c.Request.Context()
	p, err := s.Onboarding.Progress(ctx, u.OrgID, u.ID)
	if err != nil {
		fail(c, err)
		return
	}
	if st := p.Step(onramp.StepAccount); st != nil && st.Status != onramp.StatusDone && !p.Finished {
		// Signed in: the account step is done (if sign-in could not tell the workflow).
		if p, err = s.Onboarding.SignedIn(ctx, u.OrgID, u.ID); err != nil {
			fail(c, err)
			return
		}
	}
	key := c.Param("step")
	if key == "" {
		c.Redirect(http.StatusSeeOther, "/wizard/"+string(p.CurrentStep))
		return
	}
	step, err := onramp.ParseStepKey(key)
	if err != nil {
		fail(c, err)
		return
	}
	if p.Step(step) == nil {
		fail(c, onramp.Errorf(onramp.ENOTFOUND, "Unknown step %q.", step))
		return
	}
	set, err := s.loadSettings(ctx, u)
	if err != nil {
		fail(c, err)
		return
	}
	rp := p.ForRep()
	s.renderPage(c, http.StatusOK, "wizard", web.WizardPage{
		Base: s.base(c, step.Info().Title), Progress: rp, Step: *rp.Step(step), LearningLinks: web.LearningLinks,
		Settings: set.Settings,
	})
}

// settingsPage is GET /settings: the rep's profile, calendar settings and
// notifications, editable at any time (the guide's Settings → Me).
func (s *Server) settingsPage(c *gin.Context) {
	p, set, err := s.repProgressAndSettings(c)
	if err != nil {
		fail(c, err)
		return
	}
	s.renderPage(c, http.StatusOK, "settings", web.SettingsPage{Base: s.base(c, "Settings"), Progress: p, Settings: set.Settings})
}

// repProgressAndSettings loads what the rep's settings and console pages
// show: their progress (as a rep sees it) and their saved settings.
func (s *Server) repProgressAndSettings(c *gin.Context) (onramp.Progress, *SettingsResponse, error) {
	u := userOf(c)
	ctx := c.Request.Context()
	p, err := s.Onboarding.Progress(ctx, u.OrgID, u.ID)
	if err != nil {
		return onramp.Progress{}, nil, err
	}
	set, err := s.loadSettings(ctx, u)
	if err != nil {
		return onramp.Progress{}, nil, err
	}
	return p.ForRep(), set, nil
}

// adminPage is GET /admin: the org's reps from the projection.
func (s *Server) adminPage(c *gin.Context) {
	reps, err := s.Projection.ListReps(c.Request.Context(), userOf(c).OrgID)
	if err != nil {
		fail(c, err)
		return
	}
	s.renderPage(c, http.StatusOK, "admin", web.AdminPage{Base: s.base(c, "Reps"), Reps: reps})
}

// adminRepPage is GET /admin/reps/:rep.
func (s *Server) adminRepPage(c *gin.Context) {
	u := userOf(c)
	ctx := c.Request.Context()
	rep, err := s.Users.FindUser(ctx, u.OrgID, c.Param("rep"))
	if err != nil {
		fail(c, err)
		return
	}
	if rep.Role != onramp.RoleRep {
		fail(c, onramp.Errorf(onramp.ENOTFOUND, "Rep not found."))
		return
	}
	p, ev, err := s.repDetail(ctx, rep)
	if err != nil {
		fail(c, err)
		return
	}
	s.renderPage(c, http.StatusOK, "admin_rep", web.AdminRepPage{Base: s.base(c, rep.Name), Rep: *rep, Progress: *p, Events: ev})
}

// supportPage is GET /support: stuck steps.
func (s *Server) supportPage(c *gin.Context) {
	stuck, err := s.stuckReps(c)
	if err != nil {
		fail(c, err)
		return
	}
	// Attempts and the last error of each stuck step, from the projection.
	details := make(map[string]*onramp.Progress, len(stuck))
	for _, r := range stuck {
		if details[r.ID], err = s.Projection.Progress(c.Request.Context(), r.OrgID, r.ID); err != nil {
			fail(c, err)
			return
		}
	}
	s.renderPage(c, http.StatusOK, "support", web.SupportPage{Base: s.base(c, "Support"), Stuck: stuck, Details: details})
}

// consolePage is GET /console: the rep's live visitor streams and chats.
// The page reads its entries and chats from the API and keeps them live
// from /api/v1/events?console=1 (which also marks the rep online).
func (s *Server) consolePage(c *gin.Context) {
	p, set, err := s.repProgressAndSettings(c)
	if err != nil {
		fail(c, err)
		return
	}
	s.renderPage(c, http.StatusOK, "console", web.ConsolePage{Base: s.base(c, "Console"), Progress: p, Settings: set.Settings})
}

// chatPage is GET /chat/:org: the visitor's side of a chat, public (it
// stands in for the widget on the org's website). An unknown org is a
// not-found page.
func (s *Server) chatPage(c *gin.Context) {
	slug := c.Param("org")
	page := web.ChatPage{Base: s.base(c, "Chat"), OrgSlug: slug}
	org, err := s.Users.FindOrgBySlug(c.Request.Context(), slug)
	if err != nil {
		if onramp.ErrorCode(err) == onramp.ENOTFOUND {
			err = onramp.Errorf(onramp.ENOTFOUND, "There is no chat here: check the address.")
		}
		fail(c, err)
		return
	}
	page.OrgName = org.Name
	page.Title = "Chat"
	if page.OrgName != "" {
		page.Title = "Chat with " + page.OrgName
	}
	s.renderPage(c, http.StatusOK, "chat", page)
}
