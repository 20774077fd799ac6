package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/activities"
)

// a reaches the activities by method value; never their dependencies.
var a *activities.Activities

// recordOptions: writing a step is a local activity (one Postgres
// transaction plus a publish, in the worker, no extra round trip to the
// server). Retries are capped: when they run out the step becomes stuck and
// waits for a support retry.
var recordOptions = workflow.LocalActivityOptions{
	ScheduleToCloseTimeout: 30 * time.Second,
	StartToCloseTimeout:    5 * time.Second,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:    200 * time.Millisecond,
		BackoffCoefficient: 2,
		MaximumInterval:    2 * time.Second,
		MaximumAttempts:    5,
	},
}

// stuckOptions: recording that a step is stuck, best effort.
var stuckOptions = workflow.LocalActivityOptions{
	ScheduleToCloseTimeout: 20 * time.Second,
	StartToCloseTimeout:    5 * time.Second,
	RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 3},
}

// Onboarding takes one rep through the ten steps of the setup guide. Input
// arrives as Updates (validated before they enter history); progress is a
// Query; every transition is recorded in Postgres and published on Redis by
// a local activity. It returns when the rep confirms the finish step.
func Onboarding(ctx workflow.Context, in OnboardingInput) (onramp.Progress, error) {
	w := newOnboarding(ctx, in)
	if err := w.register(ctx); err != nil {
		return w.snapshot(), err
	}

	if err := w.recordInitial(ctx); err != nil {
		return w.snapshot(), err
	}

	signals := workflow.GetSignalChannel(ctx, SignalCalendarConnected)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var cc CalendarConnected
			signals.Receive(ctx, &cc)
			w.mu.Lock(ctx)
			w.calendarConnected(ctx, cc)
			w.mu.Unlock()
		}
	})

	if err := workflow.Await(ctx, func() bool { return w.p.Finished && workflow.AllHandlersFinished(ctx) }); err != nil {
		return w.snapshot(), err
	}
	return w.snapshot(), nil
}

type onboarding struct {
	in       OnboardingInput
	p        onramp.Progress
	seq      int
	mu       workflow.Mutex
	required map[onramp.StepKey]bool
	// stuck holds, per stuck step, the action whose recording failed; a
	// retry runs it again.
	stuck map[onramp.StepKey]action
	// availability is the saved calendar settings (for the time-zone check).
	availability *onramp.Availability
}

// action is one change to apply: a step reaching status, with the settings
// it carries.
type action struct {
	step    onramp.StepKey
	status  onramp.StepStatus
	message string
	// payload
	profile       *onramp.Profile
	availability  *onramp.Availability
	notifications *onramp.NotificationPrefs
	browser       *onramp.BrowserPermissions
	repStatus     onramp.UserStatus
	finish        bool
}

func newOnboarding(ctx workflow.Context, in OnboardingInput) *onboarding {
	now := workflow.Now(ctx)
	req := in.RequiredSteps
	if len(req) == 0 {
		req = onramp.DefaultRequiredSteps
	}
	w := &onboarding{
		in:       in,
		mu:       workflow.NewMutex(ctx),
		required: map[onramp.StepKey]bool{onramp.StepAccount: true, onramp.StepFinish: true},
		stuck:    map[onramp.StepKey]action{},
		p: onramp.Progress{
			OrgID: in.OrgID, RepID: in.RepID, WorkflowID: workflow.GetInfo(ctx).WorkflowExecution.ID,
			StartedAt: now, TimeZoneCheck: onramp.TZUnverified,
		},
	}
	for _, k := range req {
		w.required[k] = true
	}
	for _, k := range onramp.Steps {
		s := onramp.StepState{Key: k, Title: k.Info().Title, Status: onramp.StatusPending, Required: w.required[k], UpdatedAt: now}
		switch {
		case k == onramp.StepAccount:
			// Invited (or provisioned): done at the first sign-in.
			s.Status = onramp.StatusInProgress
			s.StartedAt = &now
		case k == onramp.StepCRM && in.SalesforceOrgWide:
			s.Status = onramp.StatusSkipped
			s.Required = false
			s.Message = "Your admin already connected Salesforce for the whole org."
			s.CompletedAt = &now
		}
		w.p.Steps = append(w.p.Steps, s)
	}
	w.p.CurrentStep = w.current()
	return w
}

// snapshot is a copy of the progress that later changes do not touch.
func (w *onboarding) snapshot() onramp.Progress {
	p := w.p
	p.Steps = append([]onramp.StepState(nil), w.p.Steps...)
	return p
}

// current is the first step that is not complete (finish when all are).
func (w *onboarding) current() onramp.StepKey {
	for _, s := range w.p.Steps {
		if s.Key != onramp.StepFinish && !s.Status.Complete() {
			return s.Key
		}
	}
	return onramp.StepFinish
}

func (w *onboarding) register(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryProgress, func() (onramp.Progress, error) { return w.snapshot(), nil }); err != nil {
		return err
	}
	type upd struct {
		name     string
		handler  any
		validate any
	}
	for _, u := range []upd{
		{UpdateSignedIn, w.signedIn, w.validateOpen},
		{UpdateProfile, w.submitProfile, w.validateProfile},
		{UpdateAvailability, w.submitAvailability, w.validateAvailability},
		{UpdateNotifications, w.submitNotifications, w.validateNotifications},
		{UpdateBrowser, w.submitBrowser, w.validateBrowser},
		{UpdateSkip, w.skip, w.validateSkip},
		{UpdateFinish, w.finish, w.validateFinish},
		{UpdateRetry, w.retry, w.validateRetry},
		{UpdateResetStep, w.reset, w.validateReset},
	} {
		if err := workflow.SetUpdateHandlerWithOptions(ctx, u.name, u.handler, workflow.UpdateHandlerOptions{Validator: u.validate}); err != nil {
			return err
		}
	}
	return nil
}

// invalid is a validator's rejection: the API shows Message (and Fields)
// with the status of Code.
func invalid(err error) error {
	if err == nil {
		return nil
	}
	var e *onramp.Error
	if errors.As(err, &e) {
		return temporal.NewApplicationErrorWithOptions(e.Message, e.Code, temporal.ApplicationErrorOptions{NonRetryable: true, Details: []any{e.Fields}})
	}
	return temporal.NewApplicationErrorWithOptions(err.Error(), onramp.EINVALID, temporal.ApplicationErrorOptions{NonRetryable: true})
}

func (w *onboarding) checkOpen() error {
	if w.p.Finished {
		return onramp.Errorf(onramp.ECONFLICT, "Onboarding is already finished.")
	}
	return nil
}

func (w *onboarding) validateOpen() error { return invalid(w.checkOpen()) }

func (w *onboarding) validateProfile(p onramp.Profile) error {
	if err := w.checkOpen(); err != nil {
		return invalid(err)
	}
	return invalid(p.Validate())
}

func (w *onboarding) validateAvailability(av onramp.Availability) error {
	if err := w.checkOpen(); err != nil {
		return invalid(err)
	}
	return invalid(av.Validate())
}

func (w *onboarding) validateNotifications(n onramp.NotificationPrefs) error {
	if err := w.checkOpen(); err != nil {
		return invalid(err)
	}
	// Stream keys are checked against the org's streams by the API; here
	// the rules that hold for every org.
	return invalid(n.Validate(nil, false))
}

func (w *onboarding) validateBrowser(b onramp.BrowserPermissions) error {
	if err := w.checkOpen(); err != nil {
		return invalid(err)
	}
	return invalid(b.Validate())
}

func (w *onboarding) stepOf(k onramp.StepKey) (*onramp.StepState, error) {
	if s := w.p.Step(k); s != nil {
		return s, nil
	}
	return nil, onramp.Errorf(onramp.ENOTFOUND, "Unknown step %q.", k)
}

func (w *onboarding) validateSkip(in StepInput) error {
	if err := w.checkOpen(); err != nil {
		return invalid(err)
	}
	s, err := w.stepOf(in.Step)
	if err != nil {
		return invalid(err)
	}
	switch {
	case s.Required:
		return invalid(onramp.Errorf(onramp.EINVALID, "%q is required and cannot be skipped.", s.Title))
	case s.Status.Complete():
		return invalid(onramp.Errorf(onramp.ECONFLICT, "%q is already %s.", s.Title, s.Status))
	}
	return nil
}

// missing lists the required steps (other than finish) that are not complete.
func (w *onboarding) missing() []string {
	var m []string
	for _, s := range w.p.Steps {
		if s.Key != onramp.StepFinish && s.Required && !s.Status.Complete() {
			m = append(m, s.Title)
		}
	}
	return m
}

func (w *onboarding) validateFinish() error {
	if err := w.checkOpen(); err != nil {
		return invalid(err)
	}
	if m := w.missing(); len(m) > 0 {
		return invalid(onramp.Errorf(onramp.EINVALID, "Complete these steps first: %s.", strings.Join(m, ", ")))
	}
	return nil
}

func (w *onboarding) validateRetry(in StepInput) error {
	if err := w.checkOpen(); err != nil {
		return invalid(err)
	}
	s, err := w.stepOf(in.Step)
	if err != nil {
		return invalid(err)
	}
	if s.Status != onramp.StatusStuck {
		return invalid(onramp.Errorf(onramp.ECONFLICT, "Nothing to retry: %q is %s, not stuck.", s.Title, s.Status))
	}
	return nil
}

func (w *onboarding) validateReset(in StepInput) error {
	if err := w.checkOpen(); err != nil {
		return invalid(err)
	}
	s, err := w.stepOf(in.Step)
	if err != nil {
		return invalid(err)
	}
	switch {
	case s.Key == onramp.StepAccount || s.Key == onramp.StepFinish:
		return invalid(onramp.Errorf(onramp.EINVALID, "%q cannot be reset.", s.Title))
	case s.Status != onramp.StatusDone && s.Status != onramp.StatusSkipped:
		return invalid(onramp.Errorf(onramp.ECONFLICT, "Only a done or skipped step can be reset; %q is %s.", s.Title, s.Status))
	}
	return nil
}

// Handlers. Each holds the mutex so that updates apply one at a time.

func (w *onboarding) signedIn(ctx workflow.Context) (onramp.Progress, error) {
	w.mu.Lock(ctx)
	defer w.mu.Unlock()
	if s := w.p.Step(onramp.StepAccount); s.Status != onramp.StatusDone {
		w.apply(ctx, action{step: onramp.StepAccount, status: onramp.StatusDone, repStatus: onramp.UserOnboarding})
	}
	return w.snapshot(), nil
}

func (w *onboarding) submitProfile(ctx workflow.Context, p onramp.Profile) (onramp.Progress, error) {
	w.mu.Lock(ctx)
	defer w.mu.Unlock()
	p.UpdatedAt = workflow.Now(ctx)
	w.apply(ctx, action{step: onramp.StepProfile, status: onramp.StatusDone, profile: &p})
	return w.snapshot(), nil
}

func (w *onboarding) submitAvailability(ctx workflow.Context, av onramp.Availability) (onramp.Progress, error) {
	w.mu.Lock(ctx)
	defer w.mu.Unlock()
	av.UpdatedAt = workflow.Now(ctx)
	check, msg := w.timeZoneCheck(av.TimeZone)
	act := action{step: onramp.StepAvailability, status: onramp.StatusDone, message: msg, availability: &av}
	if w.apply(ctx, act) {
		w.availability = &av
		w.p.TimeZoneCheck = check
	}
	return w.snapshot(), nil
}

// timeZoneCheck compares the rep's zone with the connected calendar's.
func (w *onboarding) timeZoneCheck(tz string) (check, message string) {
	switch {
	case w.p.CalendarTimeZone == "":
		return onramp.TZUnverified, "Time zone not verified yet: it will be checked against your calendar's once it is connected."
	case w.p.CalendarTimeZone == tz:
		return onramp.TZMatch, ""
	default:
		return onramp.TZMismatch, fmt.Sprintf("Your time zone %s differs from your calendar's (%s): meeting times may be off. Make them match.", tz, w.p.CalendarTimeZone)
	}
}

func (w *onboarding) calendarConnected(ctx workflow.Context, cc CalendarConnected) {
	if w.p.Finished {
		return
	}
	w.p.CalendarTimeZone = cc.TimeZone
	if s := w.p.Step(onramp.StepCalendar); s.Status != onramp.StatusDone {
		w.apply(ctx, action{step: onramp.StepCalendar, status: onramp.StatusDone, message: "Connected to " + cc.Provider + "."})
	}
	if w.availability != nil {
		check, msg := w.timeZoneCheck(w.availability.TimeZone)
		s := w.p.Step(onramp.StepAvailability)
		if w.apply(ctx, action{step: onramp.StepAvailability, status: s.Status, message: msg}) {
			w.p.TimeZoneCheck = check
		}
	}
}

func (w *onboarding) submitNotifications(ctx workflow.Context, n onramp.NotificationPrefs) (onramp.Progress, error) {
	w.mu.Lock(ctx)
	defer w.mu.Unlock()
	n.UpdatedAt = workflow.Now(ctx)
	w.apply(ctx, action{step: onramp.StepNotifications, status: onramp.StatusDone, notifications: &n})
	return w.snapshot(), nil
}

func (w *onboarding) submitBrowser(ctx workflow.Context, b onramp.BrowserPermissions) (onramp.Progress, error) {
	w.mu.Lock(ctx)
	defer w.mu.Unlock()
	b.UpdatedAt = workflow.Now(ctx)
	act := action{step: onramp.StepBrowser, status: onramp.StatusDone, browser: &b, message: b.ReenableHelp()}
	if b.Notifications != onramp.PermissionGranted {
		act.status = onramp.StatusNeedsAction
	}
	w.apply(ctx, act)
	return w.snapshot(), nil
}

func (w *onboarding) skip(ctx workflow.Context, in StepInput) (onramp.Progress, error) {
	w.mu.Lock(ctx)
	defer w.mu.Unlock()
	delete(w.stuck, in.Step)
	w.apply(ctx, action{step: in.Step, status: onramp.StatusSkipped, message: "Skipped: set up later."})
	return w.snapshot(), nil
}

func (w *onboarding) finish(ctx workflow.Context) (onramp.Progress, error) {
	w.mu.Lock(ctx)
	defer w.mu.Unlock()
	if m := w.missing(); len(m) > 0 { // a step may have changed while waiting for the lock
		return w.snapshot(), invalid(onramp.Errorf(onramp.EINVALID, "Complete these steps first: %s.", strings.Join(m, ", ")))
	}
	w.apply(ctx, action{step: onramp.StepFinish, status: onramp.StatusDone, repStatus: onramp.UserReady, finish: true})
	return w.snapshot(), nil
}

func (w *onboarding) retry(ctx workflow.Context, in StepInput) (onramp.Progress, error) {
	w.mu.Lock(ctx)
	defer w.mu.Unlock()
	act, ok := w.stuck[in.Step]
	if !ok || w.p.Step(in.Step).Status != onramp.StatusStuck {
		return w.snapshot(), nil // retried already while waiting for the lock
	}
	if w.apply(ctx, act) && act.availability != nil {
		w.availability = act.availability
		w.p.TimeZoneCheck, _ = w.timeZoneCheck(act.availability.TimeZone)
	}
	return w.snapshot(), nil
}

func (w *onboarding) reset(ctx workflow.Context, in StepInput) (onramp.Progress, error) {
	w.mu.Lock(ctx)
	defer w.mu.Unlock()
	s := w.p.Step(in.Step)
	if s.Status != onramp.StatusDone && s.Status != onramp.StatusSkipped {
		return w.snapshot(), nil
	}
	w.apply(ctx, action{step: in.Step, status: onramp.StatusPending, message: "Reset by an admin: please do this step again."})
	return w.snapshot(), nil
}

// initialOptions: the start-up projection. Without it the admin pages do
// not know the rep, so it retries until Postgres answers.
var initialOptions = workflow.LocalActivityOptions{
	ScheduleToCloseTimeout: 24 * time.Hour,
	StartToCloseTimeout:    5 * time.Second,
	RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute},
}

// recordInitial projects every step as it starts.
func (w *onboarding) recordInitial(ctx workflow.Context) error {
	rec := onramp.StepRecord{OrgID: w.in.OrgID, RepID: w.in.RepID, WorkflowID: w.p.WorkflowID}
	for _, s := range w.p.Steps {
		w.seq++
		rec.Transitions = append(rec.Transitions, onramp.StepTransition{
			OrgID: w.in.OrgID, RepID: w.in.RepID, Seq: w.seq, Step: s, From: onramp.StatusPending,
			At: w.p.StartedAt, Current: w.p.CurrentStep,
		})
	}
	lctx := workflow.WithLocalActivityOptions(ctx, initialOptions)
	if err := workflow.ExecuteLocalActivity(lctx, a.RecordStep, activities.RecordStepInput{Record: rec}).Get(ctx, nil); err != nil {
		return err
	}
	w.upsertSearchAttributes(ctx)
	return nil
}

// transitionTo changes step k in memory and returns the transition to record.
func (w *onboarding) transitionTo(ctx workflow.Context, k onramp.StepKey, to onramp.StepStatus, message, lastErr string) onramp.StepTransition {
	now := workflow.Now(ctx)
	s := w.p.Step(k)
	from := s.Status
	s.Status, s.Message, s.LastError, s.UpdatedAt = to, message, lastErr, now
	switch to {
	case onramp.StatusPending:
		s.StartedAt, s.CompletedAt = nil, nil
	case onramp.StatusDone, onramp.StatusSkipped:
		if s.StartedAt == nil {
			s.StartedAt = &now
		}
		s.CompletedAt = &now
	default:
		if s.StartedAt == nil {
			s.StartedAt = &now
		}
		s.CompletedAt = nil
	}
	w.p.CurrentStep = w.current()
	w.seq++
	return onramp.StepTransition{
		OrgID: w.in.OrgID, RepID: w.in.RepID, Seq: w.seq, Step: *s, From: from, At: now,
		Current: w.p.CurrentStep, Finished: w.p.Finished,
	}
}

// apply makes act's change, records it (settings, projection, event log,
// events), and reports whether it was recorded. When recording fails after
// its retries, the step becomes stuck, the org's admins are alerted, and the
// action waits in w.stuck for a support retry.
func (w *onboarding) apply(ctx workflow.Context, act action) bool {
	before := *w.p.Step(act.step)
	beforeProgress := w.p
	rec := onramp.StepRecord{
		OrgID: w.in.OrgID, RepID: w.in.RepID, WorkflowID: w.p.WorkflowID,
		Profile: act.profile, Availability: act.availability, Notifications: act.notifications,
		Browser: act.browser, RepStatus: act.repStatus,
	}
	w.p.Step(act.step).Attempts++
	if act.finish {
		w.p.Finished = true
		now := workflow.Now(ctx)
		w.p.FinishedAt = &now
	}
	rec.Transitions = []onramp.StepTransition{w.transitionTo(ctx, act.step, act.status, act.message, "")}
	lctx := workflow.WithLocalActivityOptions(ctx, recordOptions)
	err := workflow.ExecuteLocalActivity(lctx, a.RecordStep, activities.RecordStepInput{Record: rec}).Get(ctx, nil)
	if err == nil {
		delete(w.stuck, act.step)
		w.upsertSearchAttributes(ctx)
		return true
	}
	workflow.GetLogger(ctx).Error("recording onboarding step failed; step is stuck", "step", act.step, "error", err)

	// Back to how it was, then stuck.
	attempts := w.p.Step(act.step).Attempts
	w.p.Finished, w.p.FinishedAt = beforeProgress.Finished, beforeProgress.FinishedAt
	*w.p.Step(act.step) = before
	w.p.Step(act.step).Attempts = attempts
	w.stuck[act.step] = act
	t := w.transitionTo(ctx, act.step, onramp.StatusStuck, "We could not save this step. Support has been alerted and will retry it.", rootMessage(err))
	sctx := workflow.WithLocalActivityOptions(ctx, stuckOptions)
	if err := workflow.ExecuteLocalActivity(sctx, a.RecordStep, activities.RecordStepInput{Record: onramp.StepRecord{
		OrgID: w.in.OrgID, RepID: w.in.RepID, WorkflowID: w.p.WorkflowID, Transitions: []onramp.StepTransition{t},
	}}).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Error("recording stuck step failed", "step", act.step, "error", err)
	}
	w.upsertSearchAttributes(ctx)
	return false
}

// rootMessage is the innermost error message (the provider's or database's).
func rootMessage(err error) string {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err.Error()
		}
		err = u
	}
}

// upsertSearchAttributes sets the org, current step and its status as
// search attributes, writing only those that changed: each upsert is a
// visibility write on the server. The values the workflow started with (set
// by Client.Start) count as written.
func (w *onboarding) upsertSearchAttributes(ctx workflow.Context) {
	status := string(w.p.Step(w.p.CurrentStep).Status)
	if w.p.Finished {
		status = "finished"
	}
	have := workflow.GetTypedSearchAttributes(ctx)
	var upd []temporal.SearchAttributeUpdate
	for _, kv := range []struct {
		key temporal.SearchAttributeKeyKeyword
		val string
	}{{SearchAttrOrg, w.in.OrgID}, {SearchAttrStep, string(w.p.CurrentStep)}, {SearchAttrStatus, status}} {
		if v, ok := have.GetKeyword(kv.key); !ok || v != kv.val {
			upd = append(upd, kv.key.ValueSet(kv.val))
		}
	}
	if len(upd) == 0 {
		return
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, upd...); err != nil {
		workflow.GetLogger(ctx).Warn("upsert search attributes", "error", err)
	}
}
