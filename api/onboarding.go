package api

import (
	"context"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/photo"
)

// forViewer is what the signed-in user may see of p: a rep never sees the
// detail of failures (the database's or provider's words); support and
// admins do.
func forViewer(c *gin.Context, p *onramp.Progress) onramp.Progress {
	if userOf(c).Role == onramp.RoleRep {
		return p.ForRep()
	}
	return *p
}

// progress is GET /api/v1/reps/:rep/onboarding: the workflow's state while
// it runs, the projection once it is closed.
func (s *Server) progress(c *gin.Context) {
	rep := repOf(c)
	p, err := s.Onboarding.Progress(c.Request.Context(), rep.OrgID, rep.ID)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, forViewer(c, p))
}

// stepEvents is GET /api/v1/reps/:rep/onboarding/events: the step-event
// log (without failure detail for the rep).
func (s *Server) stepEvents(c *gin.Context) {
	rep := repOf(c)
	ev, err := s.Projection.StepEvents(c.Request.Context(), rep.OrgID, rep.ID)
	if err != nil {
		fail(c, err)
		return
	}
	if userOf(c).Role == onramp.RoleRep {
		for i := range ev {
			ev[i].Error = ""
		}
	}
	c.JSON(http.StatusOK, ev)
}

// respond answers 200 with the progress, or 202 when the step could not be
// saved yet and is now stuck (support will retry it).
func respond(c *gin.Context, p *onramp.Progress, step onramp.StepKey) {
	status := http.StatusOK
	if st := p.Step(step); st != nil && st.Status == onramp.StatusStuck {
		status = http.StatusAccepted
	}
	c.JSON(status, forViewer(c, p))
}

// save saves a step's settings for the rep, in the wizard or later.
func (s *Server) save(c *gin.Context, set onramp.Settings) {
	rep := repOf(c)
	p, err := s.Onboarding.SaveSettings(c.Request.Context(), rep.OrgID, rep.ID, set, idempotencyKey(c))
	if err != nil {
		fail(c, err)
		return
	}
	respond(c, p, set.Step())
}

// putAvailability is PUT …/availability: calendar settings (step 6).
func (s *Server) putAvailability(c *gin.Context) {
	var av onramp.Availability
	if err := bindJSON(c, &av); err != nil {
		fail(c, err)
		return
	}
	s.save(c, &av)
}

// putNotifications is PUT …/notifications (step 7); the streams named must
// be the org's.
func (s *Server) putNotifications(c *gin.Context) {
	var n onramp.NotificationPrefs
	if err := bindJSON(c, &n); err != nil {
		fail(c, err)
		return
	}
	streams, err := s.Streams.Streams(c.Request.Context(), repOf(c).OrgID)
	if err == nil {
		err = n.CheckStreams(streams)
	}
	if err != nil {
		fail(c, err)
		return
	}
	s.save(c, &n)
}

// putBrowser is PUT …/browser: what the browser granted (step 8).
func (s *Server) putBrowser(c *gin.Context) {
	var b onramp.BrowserPermissions
	if err := bindJSON(c, &b); err != nil {
		fail(c, err)
		return
	}
	s.save(c, &b)
}

// putOtherStep answers a PUT for a step that takes no settings here.
func (s *Server) putOtherStep(c *gin.Context) {
	step, err := onramp.ParseStepKey(c.Param("step"))
	switch {
	case err != nil:
	case step == onramp.StepAccount:
		err = onramp.Errorf(onramp.EINVALID, "The account step is completed by signing in.")
	case step == onramp.StepFinish:
		err = onramp.Errorf(onramp.EINVALID, "Confirm the finish step with POST …/onboarding/steps/finish.")
	default:
		err = onramp.Errorf(onramp.EINVALID, "%q is set up through its integration, which is not available yet: use “Set up later” for now.", step.Info().Title)
	}
	fail(c, err)
}

// Limits of the profile form, besides the body's size.
const (
	maxProfileParts = 8
	maxFieldBytes   = 4 << 10
)

// putProfile is PUT …/profile (step 3): a multipart form with one photo
// (optional when one is saved already), first_name, last_name and title,
// read as a stream. Everything is checked before anything is stored; the
// photo is then staged, and served only once the profile is saved.
func (s *Server) putProfile(c *gin.Context) {
	ctx := c.Request.Context()
	rep := repOf(c)
	prof, img, err := readProfileForm(ctx, c)
	if err != nil {
		fail(c, err)
		return
	}
	if img != nil {
		prof.PhotoID = "new" // stands for the upload until it is staged
	} else if saved, err := s.Settings.AllSettings(ctx, rep.OrgID, rep.ID); err != nil {
		fail(c, err)
		return
	} else if old, ok := saved[onramp.StepProfile].(*onramp.Profile); ok {
		prof.PhotoID = old.PhotoID
	}
	if err := prof.Validate(); err != nil {
		fail(c, err)
		return
	}
	if img != nil {
		if prof.PhotoID, err = s.Photos.StagePhoto(ctx, &onramp.Photo{OrgID: rep.OrgID, UserID: rep.ID, ContentType: img.ContentType, Width: img.Width, Height: img.Height, Data: img.Data}); err != nil {
			fail(c, err)
			return
		}
	}
	s.save(c, prof)
}

// readProfileForm reads the profile form: at most one photo part (decoded
// and re-encoded by the photo package), the three text fields, and a
// bounded number of parts.
func readProfileForm(ctx context.Context, c *gin.Context) (*onramp.Profile, *photo.Result, error) {
	mt, params, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, nil, onramp.Errorf(onramp.EUNSUPPORTED, "Send the profile as multipart/form-data.")
	}
	mr, err := c.Request.MultipartReader()
	if err != nil {
		return nil, nil, bodyError(err, "form")
	}
	prof := &onramp.Profile{}
	var img *photo.Result
	for n := 0; ; n++ {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		} else if err != nil {
			return nil, nil, bodyError(err, "form")
		}
		if n >= maxProfileParts {
			return nil, nil, onramp.Errorf(onramp.EBADREQUEST, "Too many form fields.")
		}
		switch part.FormName() {
		case "photo":
			if part.FileName() == "" {
				continue
			}
			if img != nil {
				return nil, nil, withField(onramp.Errorf(onramp.EINVALID, "Send one photo."), "photo")
			}
			if img, err = photo.Process(ctx, part); err != nil {
				return nil, nil, withField(err, "photo")
			}
		case "first_name", "last_name", "title":
			b, err := io.ReadAll(io.LimitReader(part, maxFieldBytes+1))
			if err != nil {
				return nil, nil, bodyError(err, "form")
			}
			if len(b) > maxFieldBytes {
				return nil, nil, withField(onramp.Errorf(onramp.EINVALID, "This field is too long."), part.FormName())
			}
			switch part.FormName() {
			case "first_name":
				prof.FirstName = string(b)
			case "last_name":
				prof.LastName = string(b)
			default:
				prof.Title = string(b)
			}
		}
		part.Close()
	}
	return prof, img, nil
}

// withField attaches a validation error's message to a form field.
func withField(err error, field string) error {
	code := onramp.ErrorCode(err)
	if code == onramp.EINTERNAL || code == onramp.EUNAVAILABLE {
		return err
	}
	return &onramp.Error{Code: code, Message: onramp.ErrorMessage(err), Fields: map[string]string{field: onramp.ErrorMessage(err)}, Err: err}
}

// skipStep is POST …/onboarding/steps/:step/skip ("set up later").
func (s *Server) skipStep(c *gin.Context) {
	step, err := onramp.ParseStepKey(c.Param("step"))
	if err != nil {
		fail(c, err)
		return
	}
	rep := repOf(c)
	p, err := s.Onboarding.Skip(c.Request.Context(), rep.OrgID, rep.ID, step, idempotencyKey(c))
	if err != nil {
		fail(c, err)
		return
	}
	respond(c, p, step)
}

// finish is POST …/onboarding/steps/finish.
func (s *Server) finish(c *gin.Context) {
	rep := repOf(c)
	p, err := s.Onboarding.Finish(c.Request.Context(), rep.OrgID, rep.ID, idempotencyKey(c))
	if err != nil {
		fail(c, err)
		return
	}
	respond(c, p, onramp.StepFinish)
}

// photo serves a saved profile photo at its stable URL.
func (s *Server) photo(c *gin.Context) {
	p, err := s.Photos.FindPhoto(c.Request.Context(), c.Param("org"), strings.TrimSuffix(c.Param("id"), ".jpg"))
	if err != nil {
		fail(c, err)
		return
	}
	c.Header("Cache-Control", "public, max-age=31536000, immutable")
	c.Data(http.StatusOK, p.ContentType, p.Data)
}
