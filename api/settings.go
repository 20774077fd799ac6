package api

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"

	"github.com/gin-gonic/gin"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/web"
)

// SettingsResponse is what the forms are filled with (the pages' own
// web.Settings): each step's saved settings, or its defaults (filled by the
// domain, the one place defaults are made), under the step's key, and what
// the forms offer.
type SettingsResponse struct {
	web.Settings
	// Saved lists the steps whose settings were saved (the others are
	// defaults).
	Saved []onramp.StepKey
}

// MarshalJSON puts each step's settings at the top level, under its key:
// {"profile": {…}, "availability": {…}, …, "saved": […], "photo_url": …}.
func (r *SettingsResponse) MarshalJSON() ([]byte, error) {
	m := map[string]any{
		"saved": r.Saved, "photo_url": r.PhotoURL, "title_suggestions": r.TitleSuggestions,
		"streams": r.Streams, "sounds": r.Sounds,
	}
	for k, v := range r.Steps {
		m[string(k)] = v
	}
	return json.Marshal(m)
}

// loadSettings reads the rep's saved settings, or the defaults.
func (s *Server) loadSettings(ctx context.Context, rep *onramp.User) (*SettingsResponse, error) {
	org, err := s.Users.FindOrgByID(ctx, rep.OrgID)
	if err != nil {
		return nil, err
	}
	streams, err := s.Streams.Streams(ctx, rep.OrgID)
	if err != nil {
		return nil, err
	}
	saved, err := s.Settings.AllSettings(ctx, rep.OrgID, rep.ID)
	if err != nil {
		return nil, err
	}
	out := &SettingsResponse{
		Settings: web.Settings{
			Steps:            onramp.SavedOrDefault(saved, onramp.SettingsDefaults{Streams: streams}),
			TitleSuggestions: onramp.TitleSuggestions(org.Name),
			Streams:          streams,
			Sounds:           onramp.Sounds(),
		},
		Saved: []onramp.StepKey{},
	}
	for k := range saved {
		out.Saved = append(out.Saved, k)
	}
	sort.Slice(out.Saved, func(i, j int) bool { return out.Saved[i].Index() < out.Saved[j].Index() })
	if p, ok := saved[onramp.StepProfile].(*onramp.Profile); ok && p.PhotoID != "" {
		out.PhotoURL = photoURL(rep.OrgID, p.PhotoID)
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
