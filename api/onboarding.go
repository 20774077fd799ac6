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

// progress is GET /api/v1/reps/:rep/onboarding: the workflow's own state.
func (s *Server) progress(c *gin.Context) {
	rep := repOf(c)
	p, err := s.Onboarding.Progress(c.Request.Context(), rep.OrgID, rep.ID)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, p)
}

// stepEvents is GET /api/v1/reps/:rep/onboarding/events: the step-event log.
func (s *Server) stepEvents(c *gin.Context) {
	rep := repOf(c)
	ev, err := s.Store.StepEvents(c.Request.Context(), rep.OrgID, rep.ID)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, ev)
}

// SettingsResponse is what the wizard's forms are filled with.
type SettingsResponse struct {
	Profile          *onramp.Profile            `json:"profile"`
	PhotoURL         string                     `json:"photo_url,omitempty"`
	TitleSuggestions []string                   `json:"title_suggestions"`
	Availability     onramp.Availability        `json:"availability"`
	Notifications    onramp.NotificationPrefs   `json:"notifications"`
	Browser          *onramp.BrowserPermissions `json:"browser"`
	Streams          []onramp.Stream            `json:"streams"`
	Sounds           []string                   `json:"sounds"`
}

// loadSettings reads the rep's saved settings, or the defaults.
func (s *Server) loadSettings(ctx context.Context, rep *onramp.User) (*SettingsResponse, error) {
	org, err := s.Users.FindOrgByID(ctx, rep.OrgID)
	if err != nil {
		return nil, err
	}
	streams, err := s.Store.Streams(ctx, rep.OrgID)
	if err != nil {
		return nil, err
	}
	out := &SettingsResponse{
		TitleSuggestions: onramp.TitleSuggestions(org.Name), Streams: streams, Sounds: onramp.Sounds,
		Availability: onramp.DefaultAvailability(""), Notifications: onramp.DefaultNotificationPrefs(streams),
	}
	if out.Profile, err = s.Store.Profile(ctx, rep.OrgID, rep.ID); err != nil && onramp.ErrorCode(err) != onramp.ENOTFOUND {
		return nil, err
	} else if out.Profile != nil && out.Profile.PhotoID != "" {
		out.PhotoURL = photoURL(rep.OrgID, out.Profile.PhotoID)
	}
	if av, err := s.Store.Availability(ctx, rep.OrgID, rep.ID); err == nil {
		out.Availability = *av
	} else if onramp.ErrorCode(err) != onramp.ENOTFOUND {
		return nil, err
	}
	if n, err := s.Store.NotificationPrefs(ctx, rep.OrgID, rep.ID); err == nil {
		for k, v := range n.Streams {
			out.Notifications.Streams[k] = v
		}
		n.Streams = out.Notifications.Streams
		out.Notifications = *n
	} else if onramp.ErrorCode(err) != onramp.ENOTFOUND {
		return nil, err
	}
	if out.Browser, err = s.Store.BrowserPermissions(ctx, rep.OrgID, rep.ID); err != nil && onramp.ErrorCode(err) != onramp.ENOTFOUND {
		return nil, err
	}
	return out, nil
}

func photoURL(orgID, id string) string { return "/photos/" + orgID + "/" + id }

// settings is GET /api/v1/reps/:rep/settings.
func (s *Server) settings(c *gin.Context) {
	out, err := s.loadSettings(c.Request.Context(), repOf(c))
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, out)
}

// submitStep is PUT /api/v1/reps/:rep/onboarding/steps/:step.
func (s *Server) submitStep(c *gin.Context) {
	step, err := onramp.ParseStepKey(c.Param("step"))
	if err != nil {
		fail(c, err)
		return
	}
	rep := repOf(c)
	ctx := c.Request.Context()
	var p *onramp.Progress
	switch step {
	case onramp.StepProfile:
		p, err = s.submitProfile(c, rep)
	case onramp.StepAvailability:
		var av onramp.Availability
		if err = bindJSON(c, &av); err == nil {
			if err = av.Validate(); err == nil {
				p, err = s.Onboarding.SubmitAvailability(ctx, rep.OrgID, rep.ID, av)
			}
		}
	case onramp.StepNotifications:
		var n onramp.NotificationPrefs
		if err = bindJSON(c, &n); err == nil {
			var streams []onramp.Stream
			if streams, err = s.Store.Streams(ctx, rep.OrgID); err == nil {
				known := make([]string, len(streams))
				for i, st := range streams {
					known[i] = st.Key
				}
				if err = n.Validate(known, false); err == nil {
					p, err = s.Onboarding.SubmitNotifications(ctx, rep.OrgID, rep.ID, n)
				}
			}
		}
	case onramp.StepBrowser:
		var b onramp.BrowserPermissions
		if err = bindJSON(c, &b); err == nil {
			if err = b.Validate(); err == nil {
				p, err = s.Onboarding.SubmitBrowser(ctx, rep.OrgID, rep.ID, b)
			}
		}
	case onramp.StepAccount:
		err = onramp.Errorf(onramp.EINVALID, "The account step is completed by signing in.")
	case onramp.StepFinish:
		err = onramp.Errorf(onramp.EINVALID, "Confirm the finish step with POST …/onboarding/steps/finish.")
	default:
		err = onramp.Errorf(onramp.EINVALID, "%q is set up through its integration, which is not available yet: use “Set up later” for now.", step.Info().Title)
	}
	if err != nil {
		fail(c, err)
		return
	}
	respondProgress(c, p, step)
}

// respondProgress answers 200 with the progress, or 202 when the step could
// not be saved yet and is now stuck (support will retry it).
func respondProgress(c *gin.Context, p *onramp.Progress, step onramp.StepKey) {
	status := http.StatusOK
	if st := p.Step(step); st != nil && st.Status == onramp.StatusStuck {
		status = http.StatusAccepted
	}
	c.JSON(status, p)
}

// submitProfile reads the multipart form (photo, first_name, last_name,
// title) as a stream, validates everything, and only then stores the photo
// and updates the workflow: bad input stores nothing.
func (s *Server) submitProfile(c *gin.Context, rep *onramp.User) (*onramp.Progress, error) {
	ctx := c.Request.Context()
	mt, params, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, onramp.Errorf(onramp.EUNSUPPORTED, "Send the profile as multipart/form-data.")
	}
	mr, err := c.Request.MultipartReader()
	if err != nil {
		return nil, bodyError(err, "form")
	}
	var prof onramp.Profile
	var img *photo.Result
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		} else if err != nil {
			return nil, bodyError(err, "form")
		}
		switch part.FormName() {
		case "photo":
			if part.FileName() == "" {
				continue
			}
			if img, err = photo.Process(part); err != nil {
				return nil, withField(err, "photo")
			}
		case "first_name", "last_name", "title":
			b, err := io.ReadAll(io.LimitReader(part, 4<<10))
			if err != nil {
				return nil, bodyError(err, "form")
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
	if img != nil {
		prof.PhotoID = "new"
	} else if old, err := s.Store.Profile(ctx, rep.OrgID, rep.ID); err == nil {
		prof.PhotoID = old.PhotoID
	} else if onramp.ErrorCode(err) != onramp.ENOTFOUND {
		return nil, err
	}
	if err := prof.Validate(); err != nil {
		return nil, err
	}
	if img != nil {
		id, err := s.Store.SavePhoto(ctx, &onramp.Photo{OrgID: rep.OrgID, UserID: rep.ID, ContentType: img.ContentType, Width: img.Width, Height: img.Height, Data: img.Data})
		if err != nil {
			return nil, err
		}
		prof.PhotoID = id
	}
	return s.Onboarding.SubmitProfile(ctx, rep.OrgID, rep.ID, prof)
}

// withField attaches a validation error's message to a form field.
func withField(err error, field string) error {
	code := onramp.ErrorCode(err)
	if code == onramp.EINTERNAL {
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
	p, err := s.Onboarding.Skip(c.Request.Context(), rep.OrgID, rep.ID, step)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, p)
}

// finish is POST …/onboarding/steps/finish.
func (s *Server) finish(c *gin.Context) {
	rep := repOf(c)
	p, err := s.Onboarding.Finish(c.Request.Context(), rep.OrgID, rep.ID)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, p)
}

// photo serves a profile photo at its stable URL.
func (s *Server) photo(c *gin.Context) {
	p, err := s.Store.FindPhoto(c.Request.Context(), c.Param("org"), strings.TrimSuffix(c.Param("id"), ".jpg"))
	if err != nil {
		fail(c, err)
		return
	}
	c.Header("Cache-Control", "public, max-age=31536000, immutable")
	c.Data(http.StatusOK, p.ContentType, p.Data)
}
