package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/activities"
	"github.com/onramp/onramp/worker"
	"github.com/onramp/onramp/workflows"
)

// recorder stands in for the store behind the RecordStep and RecordStuck
// activities: it keeps every record the workflow asked to write and can
// fail chosen ones.
type recorder struct {
	mu      sync.Mutex
	records []onramp.StepRecord
	fail    func(onramp.StepRecord) error
	// stuckCalls counts RecordStuck attempts; failStuck fails the first n.
	stuckCalls, failStuck int
}

func (r *recorder) write(rec onramp.StepRecord) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		if err := r.fail(rec); err != nil {
			return err
		}
	}
	r.records = append(r.records, rec)
	return nil
}

func (r *recorder) record(_ context.Context, in activities.RecordStepInput) (activities.RecordStepResult, error) {
	return activities.RecordStepResult{}, r.write(in.Record)
}

func (r *recorder) recordStuck(_ context.Context, in activities.RecordStuckInput) (activities.RecordStepResult, error) {
	r.mu.Lock()
	r.stuckCalls++
	failing := r.stuckCalls <= r.failStuck
	r.mu.Unlock()
	if failing {
		return activities.RecordStepResult{}, errors.New("dial tcp 127.0.0.1:5432: connection refused")
	}
	return activities.RecordStepResult{}, r.write(in.Record)
}

// failSettings makes every record carrying step k's settings fail (as a
// database that went away does) until the returned func is called.
func (r *recorder) failSettings(k onramp.StepKey) (restore func()) {
	var mu sync.Mutex
	down := true
	r.fail = func(rec onramp.StepRecord) error {
		mu.Lock()
		defer mu.Unlock()
		if down && rec.Settings != nil && rec.Settings.Step() == k {
			return errors.New("connection refused")
		}
		return nil
	}
	return func() { mu.Lock(); down = false; mu.Unlock() }
}

// transitions returns every recorded transition of step k.
func (r *recorder) transitions(k onramp.StepKey) []onramp.StepTransition {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []onramp.StepTransition
	for _, rec := range r.records {
		for _, t := range rec.Transitions {
			if t.Step.Key == k {
				out = append(out, t)
			}
		}
	}
	return out
}

type harness struct {
	t   *testing.T
	env *testsuite.TestWorkflowEnvironment
	rec *recorder
	at  time.Duration
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))))
	env := s.NewTestWorkflowEnvironment()
	acts := &activities.Activities{}
	worker.Register(env, acts)
	rec := &recorder{}
	env.OnActivity(acts.RecordStep, mock.Anything, mock.Anything).Return(rec.record)
	env.OnActivity(acts.RecordStuck, mock.Anything, mock.Anything).Return(rec.recordStuck)
	env.SetTestTimeout(30 * time.Second)
	return &harness{t: t, env: env, rec: rec}
}

// result is what happened to one update.
type result struct {
	rejected error
	err      error
	progress onramp.Progress
	done     bool
}

// update sends an update one (virtual) minute after the previous one.
func (h *harness) update(name string, args ...any) *result {
	r := &result{}
	h.at += time.Minute
	h.env.RegisterDelayedCallback(func() {
		h.env.UpdateWorkflow(name, "", &testsuite.TestUpdateCallback{
			OnAccept: func() {},
			OnReject: func(err error) { r.rejected = err; r.done = true },
			OnComplete: func(v any, err error) {
				r.done = true
				r.err = err
				if p, ok := v.(onramp.Progress); ok {
					r.progress = p
				}
			},
		}, args...)
	}, h.at)
	return r
}

func (h *harness) signal(name string, arg any) {
	h.at += time.Minute
	h.env.RegisterDelayedCallback(func() { h.env.SignalWorkflow(name, arg) }, h.at)
}

// updateNow sends an update at the same (virtual) time as the previous one:
// their validators run before either handler takes the lock.
func (h *harness) updateNow(name string, args ...any) *result {
	h.at -= time.Minute
	return h.update(name, args...)
}

// input is the input Client.Start gives a rep of an org with the default
// settings.
func input() workflows.OnboardingInput {
	in, err := workflows.Input(&onramp.Org{ID: "org1"}, "rep1")
	if err != nil {
		panic(err)
	}
	return in
}

func (h *harness) run(in workflows.OnboardingInput) {
	h.t.Helper()
	if in.OrgID == "" {
		in = input()
	}
	h.env.ExecuteWorkflow(workflows.OnboardingWorkflowName, in)
}

func (h *harness) progress() onramp.Progress {
	h.t.Helper()
	v, err := h.env.QueryWorkflow(workflows.QueryProgress)
	if err != nil {
		h.t.Fatalf("query progress: %v", err)
	}
	var p onramp.Progress
	if err := v.Get(&p); err != nil {
		h.t.Fatal(err)
	}
	return p
}

func mustAccepted(t *testing.T, name string, r *result) onramp.Progress {
	t.Helper()
	if !r.done {
		t.Fatalf("%s: update did not run", name)
	}
	if r.rejected != nil || r.err != nil {
		t.Fatalf("%s: rejected=%v err=%v", name, r.rejected, r.err)
	}
	return r.progress
}

func mustRejected(t *testing.T, name string, r *result, code, contains string) {
	t.Helper()
	if !r.done {
		t.Fatalf("%s: update did not run", name)
	}
	var app *temporal.ApplicationError
	if !errors.As(r.rejected, &app) {
		t.Fatalf("%s: want rejection with code %s, got rejected=%v err=%v", name, code, r.rejected, r.err)
	}
	if app.Type() != code || !strings.Contains(app.Message(), contains) {
		t.Fatalf("%s: got %s %q, want %s containing %q", name, app.Type(), app.Message(), code, contains)
	}
}

func validProfile() onramp.Profile {
	return onramp.Profile{FirstName: "Ada", LastName: "Lovelace", Title: "Here to help you find your perfect solution!", PhotoID: "p1"}
}

func validNotifications() onramp.NotificationPrefs {
	return onramp.DefaultNotificationPrefs(onramp.BuiltinStreams())
}

func granted() onramp.BrowserPermissions {
	return onramp.BrowserPermissions{Notifications: onramp.PermissionGranted, Camera: onramp.PermissionGranted, Microphone: onramp.PermissionDenied}
}

func statusOf(p onramp.Progress, k onramp.StepKey) onramp.StepStatus { return p.Step(k).Status }

func TestOnboardingHappyPath(t *testing.T) {
	h := newHarness(t)
	signed := h.update(workflows.UpdateSignedIn)
	prof := h.update(workflows.UpdateProfile, validProfile())
	av := h.update(workflows.UpdateAvailability, onramp.DefaultAvailability("Europe/Paris"))
	notif := h.update(workflows.UpdateNotifications, validNotifications())
	br := h.update(workflows.UpdateBrowser, granted())
	var skips []*result
	for _, k := range []onramp.StepKey{onramp.StepCalendar, onramp.StepMeeting, onramp.StepCRM, onramp.StepApps} {
		skips = append(skips, h.update(workflows.UpdateSkip, workflows.StepInput{Step: k}))
	}
	fin := h.update(workflows.UpdateFinish)
	h.run(workflows.OnboardingInput{})

	if !h.env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	if err := h.env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if p := mustAccepted(t, "signed_in", signed); statusOf(p, onramp.StepAccount) != onramp.StatusDone || p.CurrentStep != onramp.StepCalendar {
		t.Errorf("after sign-in: account %s, current %s", statusOf(p, onramp.StepAccount), p.CurrentStep)
	}
	if p := mustAccepted(t, "profile", prof); statusOf(p, onramp.StepProfile) != onramp.StatusDone {
		t.Errorf("profile %s", statusOf(p, onramp.StepProfile))
	}
	if p := mustAccepted(t, "availability", av); p.TimeZoneCheck != onramp.TZUnverified || !strings.Contains(p.Step(onramp.StepAvailability).Message, "not verified") {
		t.Errorf("availability: check %q message %q", p.TimeZoneCheck, p.Step(onramp.StepAvailability).Message)
	}
	mustAccepted(t, "notifications", notif)
	mustAccepted(t, "browser", br)
	for _, s := range skips {
		mustAccepted(t, "skip", s)
	}
	p := mustAccepted(t, "finish", fin)
	if !p.Finished || statusOf(p, onramp.StepFinish) != onramp.StatusDone {
		t.Errorf("finish: finished=%v status=%s", p.Finished, statusOf(p, onramp.StepFinish))
	}
	var out onramp.Progress
	if err := h.env.GetWorkflowResult(&out); err != nil || !out.Finished {
		t.Fatalf("result: %v finished=%v", err, out.Finished)
	}

	// What was recorded: the initial projection of ten steps, then one
	// transition per update, with strictly increasing sequence numbers, the
	// settings carried, and the rep made ready at the end.
	recs := h.rec.records
	if len(recs[0].Transitions) != 10 {
		t.Fatalf("initial projection has %d transitions", len(recs[0].Transitions))
	}
	seq := 0
	var sawProfile, sawReady bool
	for _, r := range recs {
		for _, tr := range r.Transitions {
			if tr.Seq <= seq {
				t.Fatalf("seq %d after %d", tr.Seq, seq)
			}
			seq = tr.Seq
		}
		if p, ok := r.Settings.(*onramp.Profile); ok && p.FirstName == "Ada" {
			sawProfile = true
		}
		sawReady = sawReady || r.RepStatus == onramp.UserReady
	}
	if !sawProfile || !sawReady {
		t.Errorf("profile recorded %v, ready recorded %v", sawProfile, sawReady)
	}
}

func TestOnboardingValidators(t *testing.T) {
	p := validProfile()
	noFirst, longTitle, noPhoto := p, p, p
	noFirst.FirstName = "  "
	longTitle.Title = strings.Repeat("x", 81)
	noPhoto.PhotoID = ""

	av := onramp.DefaultAvailability("Europe/Paris")
	badTZ := av
	badTZ.TimeZone = "Mars/Olympus_Mons"
	overlap := onramp.DefaultAvailability("UTC")
	overlap.Weekly = map[string][]onramp.Interval{"monday": {{Start: "09:00", End: "12:00"}, {Start: "11:00", End: "13:00"}}}
	backwards := onramp.DefaultAvailability("UTC")
	backwards.Weekly = map[string][]onramp.Interval{"tuesday": {{Start: "17:00", End: "09:00"}}}
	negBuffer := av
	negBuffer.BufferMinutes = -5
	longNotice := av
	longNotice.MinNoticeMinutes = 31 * 24 * 60
	empty := av
	empty.Weekly = map[string][]onramp.Interval{}

	noWaiting := validNotifications()
	noWaiting.Streams[onramp.StreamWaitingForRep] = onramp.StreamPref{Desktop: false}
	badSound := validNotifications()
	badSound.Sound = "airhorn"
	mobile := validNotifications()
	mobile.Streams[onramp.StreamVIP] = onramp.StreamPref{Desktop: true, Mobile: true}

	cases := []struct {
		name     string
		update   string
		arg      any
		code     string
		contains string
	}{
		{"ErrFirstNameRequired", workflows.UpdateProfile, noFirst, onramp.EINVALID, "First name is required"},
		{"ErrTitleTooLong", workflows.UpdateProfile, longTitle, onramp.EINVALID, "at most 80"},
		{"ErrPhotoRequired", workflows.UpdateProfile, noPhoto, onramp.EINVALID, "profile photo"},
		{"ErrUnknownTimeZone", workflows.UpdateAvailability, badTZ, onramp.EINVALID, "Unknown time zone"},
		{"ErrOverlappingHours", workflows.UpdateAvailability, overlap, onramp.EINVALID, "overlap"},
		{"ErrStartAfterEnd", workflows.UpdateAvailability, backwards, onramp.EINVALID, "before end"},
		{"ErrNegativeBuffer", workflows.UpdateAvailability, negBuffer, onramp.EINVALID, "Buffer"},
		{"ErrNoticeTooLong", workflows.UpdateAvailability, longNotice, onramp.EINVALID, "Minimum notice"},
		{"ErrNoHours", workflows.UpdateAvailability, empty, onramp.EINVALID, "at least one"},
		{"ErrDisableWaitingForRep", workflows.UpdateNotifications, noWaiting, onramp.EINVALID, "cannot be disabled"},
		{"ErrUnknownSound", workflows.UpdateNotifications, badSound, onramp.EINVALID, "Unknown sound"},
		{"ErrMobileWithoutApp", workflows.UpdateNotifications, mobile, onramp.EINVALID, "mobile app"},
		{"ErrBadPermission", workflows.UpdateBrowser, onramp.BrowserPermissions{Notifications: "yes", Camera: onramp.PermissionPrompt, Microphone: onramp.PermissionPrompt}, onramp.EINVALID, "granted, denied or prompt"},
		{"ErrSkipRequired", workflows.UpdateSkip, workflows.StepInput{Step: onramp.StepProfile}, onramp.EINVALID, "cannot be skipped"},
		{"ErrSkipUnknownStep", workflows.UpdateSkip, workflows.StepInput{Step: "karaoke"}, onramp.ENOTFOUND, "Unknown step"},
		{"ErrFinishTooEarly", workflows.UpdateFinish, nil, onramp.EINVALID, "Complete these steps first"},
		{"ErrRetryNotStuck", workflows.UpdateRetry, workflows.StepInput{Step: onramp.StepProfile}, onramp.ECONFLICT, "Nothing to retry"},
		{"ErrResetPending", workflows.UpdateResetStep, workflows.StepInput{Step: onramp.StepProfile}, onramp.ECONFLICT, "Only a done"},
		{"ErrResetAccount", workflows.UpdateResetStep, workflows.StepInput{Step: onramp.StepAccount}, onramp.EINVALID, "cannot be reset"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			var r *result
			if tc.arg == nil {
				r = h.update(tc.update)
			} else {
				r = h.update(tc.update, tc.arg)
			}
			var after onramp.Progress
			h.env.RegisterDelayedCallback(func() { after = h.progress() }, h.at+time.Second)
			h.run(workflows.OnboardingInput{})
			mustRejected(t, tc.name, r, tc.code, tc.contains)
			// Rejected input changes nothing: only the initial projection was recorded.
			if n := len(h.rec.records); n != 1 {
				t.Errorf("%d records written, want only the initial one", n)
			}
			for _, s := range after.Steps {
				if s.Key != onramp.StepAccount && s.Status != onramp.StatusPending {
					t.Errorf("step %s is %s after a rejected update", s.Key, s.Status)
				}
			}
		})
	}

	t.Run("FieldErrorsCarried", func(t *testing.T) {
		h := newHarness(t)
		r := h.update(workflows.UpdateProfile, onramp.Profile{})
		h.run(workflows.OnboardingInput{})
		var app *temporal.ApplicationError
		if !errors.As(r.rejected, &app) {
			t.Fatalf("not rejected: %v", r.rejected)
		}
		var fields map[string]string
		if err := app.Details(&fields); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"first_name", "last_name", "title", "photo"} {
			if fields[f] == "" {
				t.Errorf("no field error for %s in %v", f, fields)
			}
		}
	})
}

func TestOnboardingBrowserDenied(t *testing.T) {
	h := newHarness(t)
	r := h.update(workflows.UpdateBrowser, onramp.BrowserPermissions{Notifications: onramp.PermissionDenied, Camera: onramp.PermissionPrompt, Microphone: onramp.PermissionPrompt})
	h.run(workflows.OnboardingInput{})
	p := mustAccepted(t, "browser", r)
	s := p.Step(onramp.StepBrowser)
	if s.Status != onramp.StatusNeedsAction || !strings.Contains(s.Message, "Site settings") {
		t.Fatalf("browser step %s %q, want needs_action with how to re-enable", s.Status, s.Message)
	}
}

func TestOnboardingStuckRetryDone(t *testing.T) {
	h := newHarness(t)
	restore := h.rec.failSettings(onramp.StepProfile)
	sub := h.update(workflows.UpdateProfile, validProfile())
	h.at += 5 * time.Minute
	h.env.RegisterDelayedCallback(restore, h.at)
	retry := h.update(workflows.UpdateRetry, workflows.StepInput{Step: onramp.StepProfile})
	again := h.update(workflows.UpdateRetry, workflows.StepInput{Step: onramp.StepProfile})
	h.run(workflows.OnboardingInput{})

	p := mustAccepted(t, "profile", sub)
	s := p.Step(onramp.StepProfile)
	if s.Status != onramp.StatusStuck || !strings.Contains(s.LastError, "connection refused") || s.Attempts != 1 {
		t.Fatalf("after failing save: %s attempts=%d last error %q", s.Status, s.Attempts, s.LastError)
	}
	p = mustAccepted(t, "retry", retry)
	if s := p.Step(onramp.StepProfile); s.Status != onramp.StatusDone || s.Attempts != 2 || s.LastError != "" {
		t.Fatalf("after retry: %s attempts=%d last error %q", s.Status, s.Attempts, s.LastError)
	}
	mustRejected(t, "second retry", again, onramp.ECONFLICT, "Nothing to retry")
	// The stuck transition was recorded (alerting admins), and then the profile itself.
	var stuck, saved bool
	for _, r := range h.rec.records {
		for _, tr := range r.Transitions {
			stuck = stuck || (tr.Step.Key == onramp.StepProfile && tr.Step.Status == onramp.StatusStuck)
		}
		_, ok := r.Settings.(*onramp.Profile)
		saved = saved || ok
	}
	if !stuck || !saved {
		t.Errorf("stuck recorded %v, profile saved %v", stuck, saved)
	}
}

func TestOnboardingResetStep(t *testing.T) {
	h := newHarness(t)
	h.update(workflows.UpdateSignedIn)
	h.update(workflows.UpdateProfile, validProfile())
	reset := h.update(workflows.UpdateResetStep, workflows.StepInput{Step: onramp.StepProfile})
	h.run(workflows.OnboardingInput{})
	p := mustAccepted(t, "reset", reset)
	if s := p.Step(onramp.StepProfile); s.Status != onramp.StatusPending || s.CompletedAt != nil {
		t.Fatalf("after reset: %s completed %v", s.Status, s.CompletedAt)
	}
	if p.CurrentStep != onramp.StepCalendar {
		t.Errorf("current step %s", p.CurrentStep)
	}
}

func TestOnboardingTimeZoneCheck(t *testing.T) {
	t.Run("MismatchAfterCalendarConnects", func(t *testing.T) {
		h := newHarness(t)
		av := h.update(workflows.UpdateAvailability, onramp.DefaultAvailability("Europe/Paris"))
		h.signal(workflows.SignalCalendarConnected, workflows.CalendarConnected{Provider: "google", TimeZone: "America/New_York"})
		var after onramp.Progress
		h.env.RegisterDelayedCallback(func() { after = h.progress() }, h.at+time.Minute)
		h.run(workflows.OnboardingInput{})
		if p := mustAccepted(t, "availability", av); p.TimeZoneCheck != onramp.TZUnverified {
			t.Fatalf("before calendar: %s", p.TimeZoneCheck)
		}
		if after.TimeZoneCheck != onramp.TZMismatch || !strings.Contains(after.Step(onramp.StepAvailability).Message, "America/New_York") {
			t.Fatalf("after calendar: %s %q", after.TimeZoneCheck, after.Step(onramp.StepAvailability).Message)
		}
		if after.Step(onramp.StepCalendar).Status != onramp.StatusDone {
			t.Errorf("calendar step %s", after.Step(onramp.StepCalendar).Status)
		}
	})
	t.Run("MatchWhenCalendarKnown", func(t *testing.T) {
		h := newHarness(t)
		h.signal(workflows.SignalCalendarConnected, workflows.CalendarConnected{Provider: "microsoft", TimeZone: "Europe/Paris"})
		av := h.update(workflows.UpdateAvailability, onramp.DefaultAvailability("Europe/Paris"))
		h.run(workflows.OnboardingInput{})
		if p := mustAccepted(t, "availability", av); p.TimeZoneCheck != onramp.TZMatch || p.Step(onramp.StepAvailability).Message != "" {
			t.Fatalf("check %s message %q", p.TimeZoneCheck, p.Step(onramp.StepAvailability).Message)
		}
	})
}

func TestOnboardingSalesforceOrgWide(t *testing.T) {
	h := newHarness(t)
	var p onramp.Progress
	h.env.RegisterDelayedCallback(func() { p = h.progress() }, time.Minute)
	in := input()
	in.SalesforceOrgWide = true
	h.run(in)
	if s := p.Step(onramp.StepCRM); s.Status != onramp.StatusSkipped || s.Required {
		t.Fatalf("crm %s required=%v", s.Status, s.Required)
	}
}

func TestOnboardingRequiredByOrg(t *testing.T) {
	h := newHarness(t)
	skip := h.update(workflows.UpdateSkip, workflows.StepInput{Step: onramp.StepBrowser})
	in := input()
	in.RequiredSteps = []onramp.StepKey{onramp.StepAccount, onramp.StepBrowser, onramp.StepFinish}
	h.run(in)
	mustRejected(t, "skip browser", skip, onramp.EINVALID, "cannot be skipped")
}

// allRequiredDone queues the updates that complete every required step
// but finish, one virtual minute apart.
func (h *harness) allRequiredDone() {
	h.update(workflows.UpdateSignedIn)
	h.update(workflows.UpdateProfile, validProfile())
	h.update(workflows.UpdateAvailability, onramp.DefaultAvailability("Europe/Paris"))
	h.update(workflows.UpdateNotifications, validNotifications())
	h.update(workflows.UpdateBrowser, granted())
}

// Handlers check their conditions again once they hold the lock: updates
// validated together, while another held it, apply once.
func TestOnboardingRecheckAfterLock(t *testing.T) {
	t.Run("TwoSkipsApplyOnce", func(t *testing.T) {
		h := newHarness(t)
		first := h.update(workflows.UpdateSkip, workflows.StepInput{Step: onramp.StepCalendar})
		second := h.updateNow(workflows.UpdateSkip, workflows.StepInput{Step: onramp.StepCalendar})
		h.run(workflows.OnboardingInput{})
		mustAccepted(t, "first skip", first)
		if second.err == nil || !strings.Contains(second.err.Error(), "already skipped") {
			t.Fatalf("second skip: rejected=%v err=%v, want it to fail once the first applied", second.rejected, second.err)
		}
		if n := len(h.rec.transitions(onramp.StepCalendar)); n != 2 { // initial + one skip
			t.Errorf("%d calendar transitions recorded, want the initial one and one skip", n)
		}
	})
	t.Run("TwoFinishesApplyOnce", func(t *testing.T) {
		h := newHarness(t)
		h.allRequiredDone()
		first := h.update(workflows.UpdateFinish)
		second := h.updateNow(workflows.UpdateFinish)
		h.run(workflows.OnboardingInput{})
		mustAccepted(t, "first finish", first)
		if second.err == nil || !strings.Contains(second.err.Error(), "already finished") {
			t.Fatalf("second finish: rejected=%v err=%v", second.rejected, second.err)
		}
		var finishes int
		for _, tr := range h.rec.transitions(onramp.StepFinish) {
			if tr.Step.Status == onramp.StatusDone {
				finishes++
			}
		}
		if finishes != 1 {
			t.Errorf("finish recorded %d times", finishes)
		}
	})
	t.Run("SubmitAfterFinishRejected", func(t *testing.T) {
		h := newHarness(t)
		h.allRequiredDone()
		fin := h.update(workflows.UpdateFinish)
		late := h.updateNow(workflows.UpdateNotifications, validNotifications())
		h.run(workflows.OnboardingInput{})
		mustAccepted(t, "finish", fin)
		if late.err == nil || !strings.Contains(late.err.Error(), "already finished") {
			t.Fatalf("notifications after finish: rejected=%v err=%v", late.rejected, late.err)
		}
		if n := len(h.rec.transitions(onramp.StepNotifications)); n != 2 {
			t.Errorf("%d notifications transitions, want the initial one and the first submit", n)
		}
	})
	t.Run("SkipOfStepDoneMeanwhile", func(t *testing.T) {
		// An org that lets reps skip the profile: a skip validated while
		// the profile was being saved must not overwrite it.
		h := newHarness(t)
		prof := h.update(workflows.UpdateProfile, validProfile())
		skip := h.updateNow(workflows.UpdateSkip, workflows.StepInput{Step: onramp.StepProfile})
		in := input()
		in.RequiredSteps = []onramp.StepKey{onramp.StepAccount, onramp.StepFinish}
		h.run(in)
		p := mustAccepted(t, "profile", prof)
		if skip.err == nil || !strings.Contains(skip.err.Error(), "already done") {
			t.Fatalf("skip: rejected=%v err=%v", skip.rejected, skip.err)
		}
		if s := p.Step(onramp.StepProfile); s.Status != onramp.StatusDone {
			t.Errorf("profile %s", s.Status)
		}
	})
}

// A change is the workflow's state only once it is recorded: a validator
// that runs while a step is being saved sees the step as it was.
func TestOnboardingStateChangesAfterRecord(t *testing.T) {
	h := newHarness(t)
	h.rec.failSettings(onramp.StepBrowser)
	h.update(workflows.UpdateSignedIn)
	h.update(workflows.UpdateProfile, validProfile())
	h.update(workflows.UpdateAvailability, onramp.DefaultAvailability("Europe/Paris"))
	h.update(workflows.UpdateNotifications, validNotifications())
	br := h.update(workflows.UpdateBrowser, granted())
	fin := h.updateNow(workflows.UpdateFinish)
	h.run(workflows.OnboardingInput{})
	p := mustAccepted(t, "browser", br)
	if s := p.Step(onramp.StepBrowser); s.Status != onramp.StatusStuck {
		t.Fatalf("browser %s, want stuck", s.Status)
	}
	// Before the fix the browser step was done in memory while its record
	// ran, so finish passed its validator and was refused only later.
	if fin.rejected == nil || !strings.Contains(fin.rejected.Error(), "Complete these steps first") {
		t.Fatalf("finish: rejected=%v err=%v, want its validator to refuse it", fin.rejected, fin.err)
	}
}

// A calendar connecting while the calendar settings are stuck leaves them
// stuck with their stored action: support's retry then saves them, with
// the new zone's check.
func TestOnboardingCalendarWhileAvailabilityStuck(t *testing.T) {
	h := newHarness(t)
	restore := h.rec.failSettings(onramp.StepAvailability)
	av := h.update(workflows.UpdateAvailability, onramp.DefaultAvailability("Europe/Paris"))
	h.signal(workflows.SignalCalendarConnected, workflows.CalendarConnected{Provider: "google", TimeZone: "America/New_York"})
	var afterSignal onramp.Progress
	h.env.RegisterDelayedCallback(func() { afterSignal = h.progress() }, h.at+30*time.Second)
	h.at += time.Minute
	h.env.RegisterDelayedCallback(restore, h.at)
	retry := h.update(workflows.UpdateRetry, workflows.StepInput{Step: onramp.StepAvailability})
	again := h.update(workflows.UpdateRetry, workflows.StepInput{Step: onramp.StepAvailability})
	h.run(workflows.OnboardingInput{})

	if p := mustAccepted(t, "availability", av); p.Step(onramp.StepAvailability).Status != onramp.StatusStuck {
		s := p.Step(onramp.StepAvailability)
		t.Fatalf("availability %s, want stuck", s.Status)
	}
	if s := afterSignal.Step(onramp.StepAvailability); s.Status != onramp.StatusStuck || afterSignal.Step(onramp.StepCalendar).Status != onramp.StatusDone {
		t.Fatalf("after the calendar connected: availability %s calendar %s", s.Status, afterSignal.Step(onramp.StepCalendar).Status)
	}
	p := mustAccepted(t, "retry", retry)
	if s := p.Step(onramp.StepAvailability); s.Status != onramp.StatusDone || !strings.Contains(s.Message, "America/New_York") || p.TimeZoneCheck != onramp.TZMismatch {
		t.Fatalf("after retry: %s %q check %s", s.Status, s.Message, p.TimeZoneCheck)
	}
	mustRejected(t, "second retry", again, onramp.ECONFLICT, "Nothing to retry")
}

// When recording a step fails, the stuck state is recorded durably: the
// activity is retried until Postgres answers, and the workflow does not
// end before it is.
func TestOnboardingStuckRecordedDurably(t *testing.T) {
	h := newHarness(t)
	h.rec.failStuck = 4
	h.rec.failSettings(onramp.StepProfile)
	prof := h.update(workflows.UpdateProfile, validProfile())
	h.run(workflows.OnboardingInput{})
	if p := mustAccepted(t, "profile", prof); p.Step(onramp.StepProfile).Status != onramp.StatusStuck {
		t.Fatalf("profile %s", p.Step(onramp.StepProfile).Status)
	}
	if h.rec.stuckCalls != 5 {
		t.Errorf("RecordStuck ran %d times, want 4 failures then a success", h.rec.stuckCalls)
	}
	var recorded bool
	for _, tr := range h.rec.transitions(onramp.StepProfile) {
		recorded = recorded || tr.Step.Status == onramp.StatusStuck && strings.Contains(tr.Step.LastError, "connection refused")
	}
	if !recorded {
		t.Error("the stuck state never reached the store")
	}
}

// The workflow reads its steps and required steps from its input, not
// from the code's current lists; an input without them (a history from
// before) gets the first release's lists.
func TestOnboardingInput(t *testing.T) {
	t.Run("StepsFromInput", func(t *testing.T) {
		h := newHarness(t)
		var p onramp.Progress
		h.env.RegisterDelayedCallback(func() { p = h.progress() }, time.Minute)
		in := input()
		in.Steps = []onramp.StepKey{onramp.StepAccount, onramp.StepProfile, onramp.StepFinish}
		h.run(in)
		if len(p.Steps) != 3 || p.Step(onramp.StepCalendar) != nil {
			t.Fatalf("steps %v", statuses(p))
		}
	})
	t.Run("Legacy", func(t *testing.T) {
		h := newHarness(t)
		var p onramp.Progress
		h.env.RegisterDelayedCallback(func() { p = h.progress() }, time.Minute)
		h.run(workflows.OnboardingInput{OrgID: "o", RepID: "r"})
		if len(p.Steps) != 10 || !p.Step(onramp.StepBrowser).Required || p.Step(onramp.StepCalendar).Required {
			t.Fatalf("legacy steps %v", statuses(p))
		}
	})
	t.Run("ErrOrgRequiresUncompletableStep", func(t *testing.T) {
		_, err := workflows.Input(&onramp.Org{ID: "o", RequiredSteps: []onramp.StepKey{onramp.StepCalendar}}, "r")
		if onramp.ErrorCode(err) != onramp.EINVALID {
			t.Fatalf("got %v", err)
		}
	})
}

func statuses(p onramp.Progress) string {
	var b strings.Builder
	for _, s := range p.Steps {
		b.WriteString(string(s.Key) + "=" + string(s.Status) + " ")
	}
	return b.String()
}

// A rep that does not exist fails the workflow at once (the error is not
// retryable), instead of retrying its first record for a day.
func TestOnboardingRepGone(t *testing.T) {
	h := newHarness(t)
	calls := 0
	h.rec.fail = func(onramp.StepRecord) error {
		calls++
		return temporal.NewNonRetryableApplicationError("postgres.RecordStep: not_found: Rep not found.", onramp.ENOTFOUND, nil)
	}
	h.run(workflows.OnboardingInput{})
	if !h.env.IsWorkflowCompleted() || h.env.GetWorkflowError() == nil {
		t.Fatal("workflow did not fail")
	}
	if calls != 1 {
		t.Errorf("first record tried %d times", calls)
	}
}

func TestSubmitUpdateNames(t *testing.T) {
	for name, k := range map[string]onramp.StepKey{
		workflows.UpdateProfile: onramp.StepProfile, workflows.UpdateAvailability: onramp.StepAvailability,
		workflows.UpdateNotifications: onramp.StepNotifications, workflows.UpdateBrowser: onramp.StepBrowser,
	} {
		if workflows.SubmitUpdate(k) != name {
			t.Errorf("SubmitUpdate(%s) = %q, want %q", k, workflows.SubmitUpdate(k), name)
		}
	}
}

// A failed write spends its transition's number, as the first release
// did: the stuck transition comes after it, and every recorded number is
// new, so the projection (guarded by number) never drops one.
func TestOnboardingFailedWriteSpendsItsNumber(t *testing.T) {
	h := newHarness(t)
	restore := h.rec.failSettings(onramp.StepProfile)
	h.update(workflows.UpdateSignedIn)
	h.update(workflows.UpdateProfile, validProfile())
	h.at += time.Minute
	h.env.RegisterDelayedCallback(restore, h.at)
	h.update(workflows.UpdateRetry, workflows.StepInput{Step: onramp.StepProfile})
	h.run(workflows.OnboardingInput{})
	seen := map[int]bool{}
	var seqs []int
	for _, r := range h.rec.records {
		for _, tr := range r.Transitions {
			if seen[tr.Seq] {
				t.Fatalf("seq %d recorded twice", tr.Seq)
			}
			seen[tr.Seq] = true
			seqs = append(seqs, tr.Seq)
		}
	}
	// 1–10 initial, 11 account, 12 the profile that failed (not recorded),
	// 13 stuck, 14 done by the retry.
	want := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14}
	if fmt.Sprint(seqs) != fmt.Sprint(want) {
		t.Fatalf("recorded seqs %v, want %v", seqs, want)
	}
}

// Finish is refused while an optional step is stuck (support could not
// retry it once the workflow has completed); skipping it lets the rep
// finish.
func TestOnboardingFinishWhileStuck(t *testing.T) {
	h := newHarness(t)
	h.allRequiredDone()
	h.rec.fail = func(r onramp.StepRecord) error {
		for _, tr := range r.Transitions {
			if tr.Step.Key == onramp.StepCalendar && tr.Step.Status == onramp.StatusSkipped && tr.Step.Attempts == 1 {
				return errors.New("connection refused") // the first skip fails
			}
		}
		return nil
	}
	h.update(workflows.UpdateSkip, workflows.StepInput{Step: onramp.StepCalendar})
	fin := h.update(workflows.UpdateFinish)
	skip := h.update(workflows.UpdateSkip, workflows.StepInput{Step: onramp.StepCalendar})
	for _, k := range []onramp.StepKey{onramp.StepMeeting, onramp.StepCRM, onramp.StepApps} {
		h.update(workflows.UpdateSkip, workflows.StepInput{Step: k})
	}
	again := h.update(workflows.UpdateFinish)
	h.run(workflows.OnboardingInput{})
	mustRejected(t, "finish with calendar stuck", fin, onramp.ECONFLICT, "could not be saved yet")
	mustAccepted(t, "skip the stuck step", skip)
	if p := mustAccepted(t, "finish", again); !p.Finished {
		t.Fatalf("not finished: %s", statuses(p))
	}
}

// A write that fails for good (the staged photo is gone) needs the rep's
// action, with a message saying what to do: support's retry could not fix
// it, so nobody is alerted and nothing waits for a retry.
func TestOnboardingPermanentFailureNeedsAction(t *testing.T) {
	h := newHarness(t)
	h.rec.fail = func(r onramp.StepRecord) error {
		if r.Settings != nil && r.Settings.Step() == onramp.StepProfile {
			return temporal.NewNonRetryableApplicationError("record step: postgres.RecordStep: not_found: Photo not found: upload it again.",
				onramp.ENOTFOUND, nil, "Photo not found: upload it again.")
		}
		return nil
	}
	prof := h.update(workflows.UpdateProfile, validProfile())
	retry := h.update(workflows.UpdateRetry, workflows.StepInput{Step: onramp.StepProfile})
	h.run(workflows.OnboardingInput{})
	pp := mustAccepted(t, "profile", prof)
	s := pp.Step(onramp.StepProfile)
	if s.Status != onramp.StatusNeedsAction || s.Message != "Photo not found: upload it again." {
		t.Fatalf("profile %s %q", s.Status, s.Message)
	}
	if h.rec.stuckCalls != 0 {
		t.Error("support was alerted for what only the rep can fix")
	}
	mustRejected(t, "retry", retry, onramp.ECONFLICT, "Nothing to retry")
}

// The calendar's zone is recorded with the calendar step's transition, and
// a calendar connected again with another zone is recorded too.
func TestOnboardingCalendarZoneRecorded(t *testing.T) {
	h := newHarness(t)
	h.signal(workflows.SignalCalendarConnected, workflows.CalendarConnected{Provider: "google", TimeZone: "Europe/Paris"})
	h.signal(workflows.SignalCalendarConnected, workflows.CalendarConnected{Provider: "microsoft", TimeZone: "Asia/Tokyo"})
	var p onramp.Progress
	h.env.RegisterDelayedCallback(func() { p = h.progress() }, h.at+time.Minute)
	h.run(workflows.OnboardingInput{})
	var zones []string
	for _, tr := range h.rec.transitions(onramp.StepCalendar) {
		if tr.Step.Status == onramp.StatusDone {
			zones = append(zones, tr.CalendarTimeZone)
		}
	}
	if fmt.Sprint(zones) != "[Europe/Paris Asia/Tokyo]" || p.CalendarTimeZone != "Asia/Tokyo" {
		t.Fatalf("recorded zones %v, progress %q", zones, p.CalendarTimeZone)
	}
}
