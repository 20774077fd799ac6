package api

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/onramp/onramp"
)

type createRepRequest struct {
	Email string `json:"email"`
	Name  string `json:"name"`
	// Password is optional: an initial password for the rep (until email
	// invitations exist, it is how an admin lets a new rep sign in).
	Password string `json:"password"`
}

// createRep is POST /api/v1/admin/reps: creates the rep and starts their
// onboarding workflow. A rep whose workflow could not start yet is created
// all the same (201): their onboarding starts as soon as Temporal answers.
func (s *Server) createRep(c *gin.Context) {
	var req createRepRequest
	if err := bindJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	ctx := c.Request.Context()
	admin := userOf(c)
	nu := onramp.NewUser{OrgID: admin.OrgID, Email: req.Email, Name: req.Name, Role: onramp.RoleRep, Password: req.Password}
	if err := nu.Validate(); err != nil {
		fail(c, err)
		return
	}
	org, err := s.Users.FindOrgByID(ctx, admin.OrgID)
	if err != nil {
		fail(c, err)
		return
	}
	u, err := s.Onboarding.CreateRep(ctx, org, nu)
	if u == nil {
		fail(c, err)
		return
	}
	if err != nil {
		s.log.Warn("rep created; onboarding not started yet", "rep", u.ID, "err", err)
	}
	s.audit(c, "rep.create", u.ID, map[string]any{"email": u.Email})
	c.JSON(http.StatusCreated, u)
}

// audit records an admin or support action; a failure is logged, not fatal
// (the action itself is done).
func (s *Server) audit(c *gin.Context, action, target string, detail map[string]any) {
	u := userOf(c)
	if err := s.Users.Audit(c.Request.Context(), onramp.AuditEntry{OrgID: u.OrgID, ActorID: u.ID, Action: action, Target: target, Detail: detail}); err != nil {
		s.log.Error("audit", "action", action, "err", err)
	}
}

// listReps is GET /api/v1/admin/reps, from the Postgres projection.
func (s *Server) listReps(c *gin.Context) {
	reps, err := s.Projection.ListReps(c.Request.Context(), userOf(c).OrgID)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, reps)
}

// AdminProgressResponse is one rep's onboarding as admins see it.
type AdminProgressResponse struct {
	Rep      *onramp.User       `json:"rep"`
	Progress *onramp.Progress   `json:"progress"`
	Events   []onramp.StepEvent `json:"events"`
}

// adminProgress is GET /api/v1/admin/reps/:rep, from the projection.
func (s *Server) adminProgress(c *gin.Context) {
	rep := repOf(c)
	p, ev, err := s.repDetail(c.Request.Context(), rep)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, AdminProgressResponse{Rep: rep, Progress: p, Events: ev})
}

// repDetail reads a rep's onboarding and step-event log from the projection.
func (s *Server) repDetail(ctx context.Context, rep *onramp.User) (*onramp.Progress, []onramp.StepEvent, error) {
	p, err := s.Projection.Progress(ctx, rep.OrgID, rep.ID)
	if err != nil {
		return nil, nil, err
	}
	ev, err := s.Projection.StepEvents(ctx, rep.OrgID, rep.ID)
	return p, ev, err
}

// resetStep is POST /api/v1/admin/reps/:rep/steps/:step/reset.
func (s *Server) resetStep(c *gin.Context) {
	s.stepAction(c, "step.reset", s.Onboarding.ResetStep)
}

// retryStep is POST /api/v1/support/reps/:rep/steps/:step/retry.
func (s *Server) retryStep(c *gin.Context) {
	s.stepAction(c, "step.retry", s.Onboarding.Retry)
}

func (s *Server) stepAction(c *gin.Context, action string, do func(ctx context.Context, orgID, repID string, step onramp.StepKey, key string) (*onramp.Progress, error)) {
	step, err := onramp.ParseStepKey(c.Param("step"))
	if err != nil {
		fail(c, err)
		return
	}
	rep := repOf(c)
	p, err := do(c.Request.Context(), rep.OrgID, rep.ID, step, idempotencyKey(c))
	if err != nil {
		fail(c, err)
		return
	}
	s.audit(c, action, rep.ID, map[string]any{"step": step})
	c.JSON(http.StatusOK, p)
}

// stuck is GET /api/v1/support/stuck: reps with a stuck step.
func (s *Server) stuck(c *gin.Context) {
	reps, err := s.stuckReps(c)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, reps)
}

func (s *Server) stuckReps(c *gin.Context) ([]onramp.RepSummary, error) {
	reps, err := s.Projection.ListReps(c.Request.Context(), userOf(c).OrgID)
	if err != nil {
		return nil, err
	}
	out := []onramp.RepSummary{}
	for _, r := range reps {
		if len(r.StuckSteps) > 0 {
			out = append(out, r)
		}
	}
	return out, nil
}

// listStreams is GET /api/v1/admin/streams.
func (s *Server) listStreams(c *gin.Context) {
	st, err := s.Streams.Streams(c.Request.Context(), userOf(c).OrgID)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, st)
}

// createStream is POST /api/v1/admin/streams {key, name}. The rules are the
// domain's (onramp.Stream.Validate), applied by the store.
func (s *Server) createStream(c *gin.Context) {
	var st onramp.Stream
	if err := bindJSON(c, &st); err != nil {
		fail(c, err)
		return
	}
	if err := st.Validate(); err != nil {
		fail(c, err)
		return
	}
	if err := s.Streams.CreateStream(c.Request.Context(), userOf(c).OrgID, st); err != nil {
		fail(c, err)
		return
	}
	s.audit(c, "stream.create", st.Key, nil)
	c.JSON(http.StatusCreated, st)
}
