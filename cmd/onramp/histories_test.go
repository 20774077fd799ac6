package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/workflows"
)

// TestHistories runs, on a real server, the workflow paths that have a
// replay history of their own in workflows/testdata (besides the happy
// path and stuck → retry, kept by the tests above): a calendar connecting
// after the calendar settings were saved, a step that needs the rep's
// action, and an admin's reset. Each history replays against today's code;
// -record-histories adds the missing ones.
func TestHistories(t *testing.T) {
	e := newEnv(t)
	dev := mustStart(t, e, "dev")
	admin := mustLogin(t, dev.Base, adminEmail, demoPassword)
	tc := mustTemporalClient(t, dev)
	wc := &workflows.Client{Temporal: tc}

	t.Run("CalendarConnected", func(t *testing.T) {
		u := mustCreateRep(t, admin, "calendar@example.com")
		rep := mustLogin(t, dev.Base, "calendar@example.com", "correct-horse-battery")
		if st := rep.mustDo("PUT", "/api/v1/reps/me/onboarding/steps/availability", onramp.DefaultAvailability("Europe/Paris"), nil); st != http.StatusOK {
			t.Fatalf("availability: %d", st)
		}
		if err := wc.CalendarConnected(context.Background(), u.OrgID, u.ID, workflows.CalendarConnected{Provider: "google", TimeZone: "America/New_York"}); err != nil {
			t.Fatal(err)
		}
		var p onramp.Progress
		waitFor(t, "the time-zone check", 10*time.Second, func() bool {
			p = rep.progress()
			return p.TimeZoneCheck == onramp.TZMismatch
		})
		if p.Step(onramp.StepCalendar).Status != onramp.StatusDone || !strings.Contains(p.Step(onramp.StepAvailability).Message, "America/New_York") {
			t.Fatalf("after the calendar connected: %s %q", statuses(p), p.Step(onramp.StepAvailability).Message)
		}
		// The projection has it too (it serves the onboarding once closed).
		var got struct{ Progress onramp.Progress }
		admin.mustDo("GET", "/api/v1/admin/reps/"+u.ID, nil, &got)
		if got.Progress.TimeZoneCheck != onramp.TZMismatch || got.Progress.CalendarTimeZone != "America/New_York" {
			t.Errorf("projected check %q calendar %q", got.Progress.TimeZoneCheck, got.Progress.CalendarTimeZone)
		}
		mustKeepHistory(t, tc, workflows.OnboardingID(u.OrgID, u.ID), "onboarding_v2_calendar_history.json")
	})

	t.Run("NeedsAction", func(t *testing.T) {
		u := mustCreateRep(t, admin, "denied@example.com")
		rep := mustLogin(t, dev.Base, "denied@example.com", "correct-horse-battery")
		b := onramp.BrowserPermissions{Notifications: onramp.PermissionDenied, Camera: onramp.PermissionGranted, Microphone: onramp.PermissionDenied}
		var p onramp.Progress
		if st := rep.mustDo("PUT", "/api/v1/reps/me/onboarding/steps/browser", b, &p); st != http.StatusOK {
			t.Fatalf("browser: %d", st)
		}
		if s := p.Step(onramp.StepBrowser); s.Status != onramp.StatusNeedsAction || !strings.Contains(s.Message, "Site settings") {
			t.Fatalf("browser %s %q", s.Status, s.Message)
		}
		b.Notifications = onramp.PermissionGranted
		if st := rep.mustDo("PUT", "/api/v1/reps/me/onboarding/steps/browser", b, &p); st != http.StatusOK || p.Step(onramp.StepBrowser).Status != onramp.StatusDone {
			t.Fatalf("browser allowed: %d %s", st, statuses(p))
		}
		mustKeepHistory(t, tc, workflows.OnboardingID(u.OrgID, u.ID), "onboarding_v2_needs_action_history.json")
	})

	t.Run("ResetStep", func(t *testing.T) {
		u := mustCreateRep(t, admin, "reset@example.com")
		rep := mustLogin(t, dev.Base, "reset@example.com", "correct-horse-battery")
		n := onramp.DefaultNotificationPrefs(onramp.BuiltinStreams())
		if st := rep.mustDo("PUT", "/api/v1/reps/me/onboarding/steps/notifications", n, nil); st != http.StatusOK {
			t.Fatalf("notifications: %d", st)
		}
		var p onramp.Progress
		if st := admin.mustDo("POST", "/api/v1/admin/reps/"+u.ID+"/steps/notifications/reset", nil, &p); st != http.StatusOK || p.Step(onramp.StepNotifications).Status != onramp.StatusPending {
			t.Fatalf("reset: %d %s", st, statuses(p))
		}
		if r := admin.raw("POST", "/api/v1/admin/reps/"+u.ID+"/steps/notifications/reset", nil, "", nil); r.Status != http.StatusConflict {
			t.Errorf("reset of a pending step: %d %s", r.Status, r.Body)
		}
		if st := rep.mustDo("PUT", "/api/v1/reps/me/onboarding/steps/notifications", n, &p); st != http.StatusOK || p.Step(onramp.StepNotifications).Status != onramp.StatusDone {
			t.Fatalf("again: %d %s", st, statuses(p))
		}
		mustKeepHistory(t, tc, workflows.OnboardingID(u.OrgID, u.ID), "onboarding_v2_reset_history.json")
	})
}
