package main

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/apiclient"
	"github.com/onramp/onramp/workflows"
)

// TestProgressOutlivesWorkflow: a rep finishes; their workflow is deleted
// through Temporal's API (as the namespace's retention does a day after
// it closed); then the wizard, the settings page, GET …/onboarding and the
// admin pages still work from the Postgres projection, and the rep's edits
// of their profile, calendar settings and notifications are saved, with
// the same validation as in the wizard.
func TestProgressOutlivesWorkflow(t *testing.T) {
	e := newEnv(t)
	dev := mustStart(t, e, "dev")
	admin := mustLogin(t, dev.Base, adminEmail, demoPassword)
	repUser := mustCreateRep(t, admin, "outlive@example.com")
	rep := mustLogin(t, dev.Base, "outlive@example.com", "correct-horse-battery")
	if p := completeBuiltSteps(t, rep); !p.Finished {
		t.Fatalf("not finished: %s", statuses(p))
	}
	var before struct {
		PhotoURL string `json:"photo_url"`
	}
	rep.mustDo("GET", "/api/v1/reps/me/settings", nil, &before)

	tc := mustTemporalClient(t, dev)
	id := workflows.OnboardingID(repUser.OrgID, repUser.ID)
	if _, err := tc.WorkflowService().DeleteWorkflowExecution(context.Background(), &workflowservice.DeleteWorkflowExecutionRequest{
		Namespace: "default", WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: id},
	}); err != nil {
		t.Fatal(err)
	}
	// The server deletes a closed workflow once its queue's ack level has
	// moved past the close (history.transferProcessorUpdateAckInterval,
	// 30 s by default).
	waitFor(t, "the workflow to be gone", 90*time.Second, func() bool {
		_, err := tc.DescribeWorkflowExecution(context.Background(), id, "")
		var nf *serviceerror.NotFound
		return errors.As(err, &nf)
	})

	t.Run("Progress", func(t *testing.T) {
		p := rep.progress()
		if !p.Finished || p.CurrentStep != onramp.StepFinish || p.Step(onramp.StepProfile).Status != onramp.StatusDone {
			t.Fatalf("progress after the workflow is gone: finished %v %s", p.Finished, statuses(p))
		}
	})
	t.Run("WizardReadOnly", func(t *testing.T) {
		for _, path := range []string{"/wizard", "/wizard/availability", "/wizard/finish"} {
			r := rep.raw("GET", path, nil, "", nil)
			if r.Status != http.StatusOK {
				t.Fatalf("%s: %d", path, r.Status)
			}
		}
		page := string(rep.raw("GET", "/wizard/availability", nil, "", nil).Body)
		if !strings.Contains(page, `id="read-only"`) || strings.Contains(page, `id="availability-submit"`) {
			t.Error("the finished wizard is not read-only")
		}
	})
	t.Run("SettingsPage", func(t *testing.T) {
		r := rep.raw("GET", "/settings", nil, "", nil)
		if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `action="/api/v1/reps/me/settings/availability"`) {
			t.Fatalf("settings page: %d", r.Status)
		}
	})
	t.Run("AdminPages", func(t *testing.T) {
		var got struct {
			Rep      onramp.User
			Progress onramp.Progress
		}
		if st := admin.mustDo("GET", "/api/v1/admin/reps/"+repUser.ID, nil, &got); st != http.StatusOK || !got.Progress.Finished || got.Rep.Status != onramp.UserReady {
			t.Fatalf("admin API: %d %+v", st, got.Progress)
		}
		for _, path := range []string{"/admin", "/admin/reps/" + repUser.ID} {
			if r := admin.raw("GET", path, nil, "", nil); r.Status != http.StatusOK || !strings.Contains(string(r.Body), "Test Rep") {
				t.Errorf("%s: %d", path, r.Status)
			}
		}
	})
	t.Run("EditCalendarSettings", func(t *testing.T) {
		av := onramp.DefaultAvailability("America/Chicago")
		av.BufferMinutes = 15
		var p onramp.Progress
		if st := rep.mustDo("PUT", "/api/v1/reps/me/settings/availability", av, &p); st != http.StatusOK || !p.Finished {
			t.Fatalf("edit: %d", st)
		}
		var s struct{ Availability onramp.Availability }
		rep.mustDo("GET", "/api/v1/reps/me/settings", nil, &s)
		if s.Availability.TimeZone != "America/Chicago" || s.Availability.BufferMinutes != 15 {
			t.Errorf("saved %+v", s.Availability)
		}
	})
	t.Run("ErrEditValidated", func(t *testing.T) {
		av := onramp.DefaultAvailability("Europe/Atlantis")
		r := rep.raw("PUT", "/api/v1/reps/me/settings/availability", av, "", nil)
		if got := r.err(); r.Status != http.StatusUnprocessableEntity || !strings.Contains(got.Message, "Unknown time zone") {
			t.Fatalf("bad zone: %d %s", r.Status, r.Body)
		}
		noWaiting := onramp.DefaultNotificationPrefs(onramp.BuiltinStreams())
		noWaiting.Streams[onramp.StreamWaitingForRep] = onramp.StreamPref{}
		r = rep.raw("PUT", "/api/v1/reps/me/settings/notifications", noWaiting, "", nil)
		if got := r.err(); r.Status != http.StatusUnprocessableEntity || !strings.Contains(got.Message, "cannot be disabled") {
			t.Fatalf("waiting for a rep off: %d %s", r.Status, r.Body)
		}
		var s struct{ Availability onramp.Availability }
		rep.mustDo("GET", "/api/v1/reps/me/settings", nil, &s)
		if s.Availability.TimeZone != "America/Chicago" {
			t.Errorf("a rejected edit changed the settings: %+v", s.Availability)
		}
	})
	t.Run("EditNotifications", func(t *testing.T) {
		n := onramp.DefaultNotificationPrefs(onramp.BuiltinStreams())
		n.Sound, n.ReturnVisitorAlerts = "pop", false
		if st := rep.mustDo("PUT", "/api/v1/reps/me/settings/notifications", n, nil); st != http.StatusOK {
			t.Fatalf("edit: %d", st)
		}
		var s struct{ Notifications onramp.NotificationPrefs }
		rep.mustDo("GET", "/api/v1/reps/me/settings", nil, &s)
		if s.Notifications.Sound != "pop" || s.Notifications.ReturnVisitorAlerts {
			t.Errorf("saved %+v", s.Notifications)
		}
	})
	t.Run("EditProfileReplacesPhoto", func(t *testing.T) {
		body, ct := apiclient.ProfileForm("Ada", "King", "Acme Expert", "new.png", pngBytes(t, 120, 90))
		r := rep.raw("PUT", "/api/v1/reps/me/settings/profile", body, ct, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("edit: %d %s", r.Status, r.Body)
		}
		var s struct {
			Profile  onramp.Profile
			PhotoURL string `json:"photo_url"`
		}
		rep.mustDo("GET", "/api/v1/reps/me/settings", nil, &s)
		if s.Profile.LastName != "King" || s.PhotoURL == before.PhotoURL {
			t.Fatalf("saved %+v photo %s", s.Profile, s.PhotoURL)
		}
		if r := newClient(t, dev.Base).raw("GET", s.PhotoURL, nil, "", nil); r.Status != http.StatusOK {
			t.Errorf("new photo: %d", r.Status)
		}
		if r := newClient(t, dev.Base).raw("GET", before.PhotoURL, nil, "", nil); r.Status != http.StatusNotFound {
			t.Errorf("replaced photo still served: %d", r.Status)
		}
	})
	// The wizard's own routes save the same way once it is finished.
	t.Run("WizardRouteAfterFinish", func(t *testing.T) {
		av := onramp.DefaultAvailability("Europe/Lisbon")
		if st := rep.mustDo("PUT", "/api/v1/reps/me/onboarding/steps/availability", av, nil); st != http.StatusOK {
			t.Fatalf("edit through the wizard's route: %d", st)
		}
	})
}
