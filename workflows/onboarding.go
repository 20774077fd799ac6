package workflows

import (
	"encoding/json"
	"errors"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/activities"
)

// a reaches the activities by method value; never their dependencies.
var a *activities.Activities

// versionChange gates what this code does differently from the first
// release, whose histories must still replay: version 1 re-checks every
// Update after taking the lock, records a stuck step durably (a regular
// activity retried until Postgres answers, the admins' alert sent before
// the write), and re-checks the time zone only of saved calendar settings
// that are done. DefaultVersion is the first release's behaviour.
const versionChange = "onramp-v2"

// recordOptions: writing a step is a local activity (one Postgres
// transaction, in the worker, no extra round trip to the server). Retries
// are capped, well inside the API's deadline, so that the rep hears "stuck,
// support is alerted" rather than a timeout: when they run out the step
// becomes stuck and waits for a support retry.
var recordOptions = workflow.LocalActivityOptions{
	ScheduleToCloseTimeout: 10 * time.Second,
	StartToCloseTimeout:    3 * time.Second,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:    200 * time.Millisecond,
		BackoffCoefficient: 2,
		MaximumInterval:    2 * time.Second,
		MaximumAttempts:    5,
	},
}

// legacyStuckOptions: how the first release recorded a stuck step, best
// effort (histories from before versionChange).
var legacyStuckOptions = workflow.LocalActivityOptions{
	ScheduleToCloseTimeout: 20 * time.Second,
	StartToCloseTimeout:    5 * time.Second,
	RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 3},
}

// stuckOptions: recording that a step is stuck is a regular activity,
// retried by the server until it succeeds (it survives worker restarts),
// so the stuck state reaches support's list however long Postgres is away.
var stuckOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 10 * time.Second,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:    time.Second,
		BackoffCoefficient: 2,
		MaximumInterval:    time.Minute,
		// MaximumAttempts 0: until it succeeds, or fails for good (the rep
		// is gone: non-retryable).
	},
}

// initialOptions: the start-up projection. Without it the admin pages do
// not know where the rep is, so it retries until Postgres answers; an error
// retrying cannot fix (the rep does not exist) fails the workflow at once.
var initialOptions = workflow.LocalActivityOptions{
	ScheduleToCloseTimeout: 24 * time.Hour,
	StartToCloseTimeout:    5 * time.Second,
	RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute},
}

// Messages of the workflow's own transitions.
const (
	msgStuck   = "We could not save this step. Support has been alerted and will retry it."
	msgSkipped = "Skipped: set up later."
	msgReset   = "Reset by an admin: please do this step again."
)

// Onboarding takes one rep through the steps of the setup guide. Input
// arrives as Updates (validated before they enter history, and again after
// each handler takes the lock); progress is a Query; every transition is
// recorded in Postgres by a local activity before the workflow's state
// changes. It returns when the rep confirms the finish step.
func Onboarding(ctx workflow.Context, in OnboardingInput) (onramp.Progress, error) {
	w := newOnboarding(ctx, in)
	w.v = workflow.GetVersion(ctx, versionChange, workflow.DefaultVersion, 1)
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
			if err := w.mu.Lock(ctx); err != nil {
				return // cancelled: never run unlocked
			}
			w.calendarConnected(ctx, cc)
			w.mu.Unlock()
		}
	})

	err := workflow.Await(ctx, func() bool {
		return w.p.Finished && workflow.AllHandlersFinished(ctx) && w.pending == 0
	})
	return w.snapshot(), err
}

type onboarding struct {
	in   OnboardingInput
	root workflow.Context
	v    workflow.Version
	p    onramp.Progress
	seq  int
	mu   workflow.Mutex
	// stuck holds, per stuck step, the action whose recording failed; a
	// retry runs it again.
	stuck map[onramp.StepKey]action
	// saved holds the settings recorded for each step.
	saved map[onramp.StepKey]onramp.Settings
	// pending counts stuck records still being written durably.
	pending int
}

// action is one change to apply: a step reaching status, with the settings
// it carries.
type action struct {
	step      onramp.StepKey
	status    onramp.StepStatus
	message   string
	settings  onramp.Settings
	repStatus onramp.UserStatus
	finish    bool
	// calendarTZ, when set, is the connected calendar's zone: recorded
	// with the transition, the workflow's once it is.
	calendarTZ string
}

func newOnboarding(ctx workflow.Context, in OnboardingInput) *onboarding {
	now := workflow.Now(ctx)
	steps, req := in.Steps, in.RequiredSteps
	if len(steps) == 0 {
		steps = legacySteps()
	}
	if len(req) == 0 {
		req = legacyRequiredSteps()
	}
	required := map[onramp.StepKey]bool{onramp.StepAccount: true, onramp.StepFinish: true}
	for _, k := range req {
		required[k] = true
	}
	w := &onboarding{
		in:    in,
		root:  ctx,
		mu:    workflow.NewMutex(ctx),
		stuck: map[onramp.StepKey]action{},
		saved: map[onramp.StepKey]onramp.Settings{},
		p: onramp.Progress{
			OrgID: in.OrgID, RepID: in.RepID, WorkflowID: workflow.GetInfo(ctx).WorkflowExecution.ID,
			StartedAt: now, TimeZoneCheck: onramp.TZUnverified,
		},
	}
	for _, k := range steps {
		s := onramp.StepState{Key: k, Title: k.Info().Title, Status: onramp.StatusPending, Required: required[k], UpdatedAt: now}
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
	w.p.CurrentStep = current(w.p)
	return w
}

// snapshot is a copy of the progress that later changes do not touch.
func (w *onboarding) snapshot() onramp.Progress { return w.p.Clone() }

// current is the first step that is not complete (finish when all are).
func current(p onramp.Progress) onramp.StepKey {
	for _, s := range p.Steps {
		if s.Key != onramp.StepFinish && !s.Status.Complete() {
			return s.Key
		}
	}
	return onramp.StepFinish
}

// update is one Update: its handler and validator (same arguments, the
// handler's first being the workflow context).
type update struct {
	name     string
	handler  any
	validate any
}

// updates is the one table of the workflow's Updates: the fixed ones, then
// one per step that carries settings, all with the same two functions.
func (w *onboarding) updates() []update {
	u := []update{
		{UpdateSignedIn, w.signedIn, w.validateSignedIn},
		{UpdateSkip, w.skip, w.validateSkip},
		{UpdateFinish, w.finish, w.validateFinish},
		{UpdateRetry, w.retry, w.validateRetry},
		{UpdateResetStep, w.reset, w.validateReset},
	}
	for _, s := range w.p.Steps {
		if k := s.Key; onramp.HasSettings(k) {
			u = append(u, update{SubmitUpdate(k), w.submitHandler(k), w.submitValidator(k)})
		}
	}
	return u
}

func (w *onboarding) register(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryProgress, func() (onramp.Progress, error) { return w.snapshot(), nil }); err != nil {
		return err
	}
	for _, u := range w.updates() {
		if err := workflow.SetUpdateHandlerWithOptions(ctx, u.name, u.handler, workflow.UpdateHandlerOptions{Validator: u.validate}); err != nil {
			return err
		}
	}
	return nil
}

// invalid is a rejection: the API shows Message (and Fields) with the
// status of Code.
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

// lock takes the mutex; a handler whose context is cancelled while it
// waits gets the error and must not go on unlocked.
func (w *onboarding) lock(ctx workflow.Context) error { return w.mu.Lock(ctx) }

// legacy reports whether this run is from before versionChange: its
// handlers checked less after taking the lock, and replay as they ran.
func (w *onboarding) legacy() bool { return w.v == workflow.DefaultVersion }

// Conditions, checked by the validators (before the Update enters history)
// and again by the handlers (after they take the lock).

func (w *onboarding) checkOpen() error {
	if w.p.Finished {
		return onramp.Errorf(onramp.ECONFLICT, "Onboarding is already finished.")
	}
	return nil
}

func (w *onboarding) stepOf(k onramp.StepKey) (*onramp.StepState, error) {
	if s := w.p.Step(k); s != nil {
		return s, nil
	}
	return nil, onramp.Errorf(onramp.ENOTFOUND, "Unknown step %q.", k)
}

func (w *onboarding) checkSubmit(k onramp.StepKey) error {
	if err := w.checkOpen(); err != nil {
		return err
	}
	_, err := w.stepOf(k)
	return err
}

func (w *onboarding) checkSkip(k onramp.StepKey) error {
	if err := w.checkOpen(); err != nil {
		return err
	}
	s, err := w.stepOf(k)
	switch {
	case err != nil:
		return err
	case s.Required:
		return onramp.Errorf(onramp.EINVALID, "%q is required and cannot be skipped.", s.Title)
	case s.Status.Complete():
		return onramp.Errorf(onramp.ECONFLICT, "%q is already %s.", s.Title, s.Status)
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

func (w *onboarding) checkMissing() error {
	if m := w.missing(); len(m) > 0 {
		return onramp.Errorf(onramp.EINVALID, "Complete these steps first: %s.", strings.Join(m, ", "))
	}
	return nil
}

// checkNotStuck refuses to finish while an (optional) step is stuck: once
// the workflow completes, support could no longer retry it. The rep may
// skip it ("set up later") or wait for support.
func (w *onboarding) checkNotStuck() error {
	for _, s := range w.p.Steps {
		if s.Status == onramp.StatusStuck {
			return onramp.Errorf(onramp.ECONFLICT, "%q could not be saved yet: set it up later (skip it), or wait until support has retried it, then finish.", s.Title)
		}
	}
	return nil
}

// checkFinish is finish's condition in this version.
func (w *onboarding) checkFinish() error {
	if err := w.checkOpen(); err != nil {
		return err
	}
	if err := w.checkMissing(); err != nil {
		return err
	}
	if w.legacy() {
		return nil
	}
	return w.checkNotStuck()
}

func (w *onboarding) checkRetry(k onramp.StepKey) error {
	if err := w.checkOpen(); err != nil {
		return err
	}
	s, err := w.stepOf(k)
	if err != nil {
		return err
	}
	if _, ok := w.stuck[k]; !ok || s.Status != onramp.StatusStuck {
		return onramp.Errorf(onramp.ECONFLICT, "Nothing to retry: %q is %s, not stuck.", s.Title, s.Status)
	}
	return nil
}

func (w *onboarding) checkReset(k onramp.StepKey) error {
	if err := w.checkOpen(); err != nil {
		return err
	}
	s, err := w.stepOf(k)
	switch {
	case err != nil:
		return err
	case s.Key == onramp.StepAccount || s.Key == onramp.StepFinish:
		return onramp.Errorf(onramp.EINVALID, "%q cannot be reset.", s.Title)
	case s.Status != onramp.StatusDone && s.Status != onramp.StatusSkipped:
		return onramp.Errorf(onramp.ECONFLICT, "Only a done or skipped step can be reset; %q is %s.", s.Title, s.Status)
	}
	return nil
}

// Validators.

func (w *onboarding) validateSignedIn() error          { return invalid(w.checkOpen()) }
func (w *onboarding) validateSkip(in StepInput) error  { return invalid(w.checkSkip(in.Step)) }
func (w *onboarding) validateRetry(in StepInput) error { return invalid(w.checkRetry(in.Step)) }
func (w *onboarding) validateReset(in StepInput) error { return invalid(w.checkReset(in.Step)) }
func (w *onboarding) validateFinish() error            { return invalid(w.checkFinish()) }

// decodeSettings decodes and validates step k's settings from an Update's
// argument.
func decodeSettings(k onramp.StepKey, raw json.RawMessage) (onramp.Settings, error) {
	// encoding/json is deterministic (workflowcheck flags its use of reflect).
	s, err := onramp.DecodeSettings(k, raw) //workflowcheck:ignore
	if err != nil {
		return nil, err
	}
	return s, s.Validate()
}

// submitValidator rejects step k's settings that fail their rules, and
// any submit once the onboarding is finished. The argument is the JSON of
// the step's settings type, decoded by the step's key.
func (w *onboarding) submitValidator(k onramp.StepKey) func(json.RawMessage) error {
	return func(raw json.RawMessage) error {
		if _, err := decodeSettings(k, raw); err != nil {
			return invalid(err)
		}
		return invalid(w.checkSubmit(k))
	}
}

// submitHandler saves step k's settings: the step gets the status and
// message the settings' Outcome gives.
func (w *onboarding) submitHandler(k onramp.StepKey) func(workflow.Context, json.RawMessage) (onramp.Progress, error) {
	return func(ctx workflow.Context, raw json.RawMessage) (onramp.Progress, error) {
		if err := w.lock(ctx); err != nil {
			return w.snapshot(), err
		}
		defer w.mu.Unlock()
		s, err := onramp.DecodeSettings(k, raw) //workflowcheck:ignore (encoding/json is deterministic)
		if err != nil {
			return w.snapshot(), invalid(err) // cannot happen: the validator decoded the same bytes
		}
		// Validate normalises (trims, sorts); its verdict is the
		// validator's, which never runs on replay: what the handler does
		// must not depend on the worker's time-zone database.
		_ = s.Validate()
		if err := w.checkSubmit(k); err != nil && !w.legacy() {
			return w.snapshot(), invalid(err)
		}
		out := s.Outcome(w.facts())
		w.apply(ctx, action{step: k, status: out.Status, message: out.Message, settings: s})
		return w.snapshot(), nil
	}
}

// facts are what settings' outcomes may depend on.
func (w *onboarding) facts() onramp.StepFacts {
	return onramp.StepFacts{CalendarTimeZone: w.p.CalendarTimeZone}
}

// Handlers. Each holds the mutex so that updates apply one at a time, and
// checks its conditions again once it holds it.

func (w *onboarding) signedIn(ctx workflow.Context) (onramp.Progress, error) {
	if err := w.lock(ctx); err != nil {
		return w.snapshot(), err
	}
	defer w.mu.Unlock()
	if err := w.checkOpen(); err != nil && !w.legacy() {
		return w.snapshot(), invalid(err)
	}
	if s := w.p.Step(onramp.StepAccount); s.Status != onramp.StatusDone {
		w.apply(ctx, action{step: onramp.StepAccount, status: onramp.StatusDone, repStatus: onramp.UserOnboarding})
	}
	return w.snapshot(), nil
}

func (w *onboarding) skip(ctx workflow.Context, in StepInput) (onramp.Progress, error) {
	if err := w.lock(ctx); err != nil {
		return w.snapshot(), err
	}
	defer w.mu.Unlock()
	if err := w.checkSkip(in.Step); err != nil && !w.legacy() {
		return w.snapshot(), invalid(err)
	}
	w.apply(ctx, action{step: in.Step, status: onramp.StatusSkipped, message: msgSkipped})
	return w.snapshot(), nil
}

func (w *onboarding) finish(ctx workflow.Context) (onramp.Progress, error) {
	if err := w.lock(ctx); err != nil {
		return w.snapshot(), err
	}
	defer w.mu.Unlock()
	if w.legacy() {
		if err := w.checkMissing(); err != nil { // all the first release checked
			return w.snapshot(), invalid(err)
		}
	} else if err := w.checkFinish(); err != nil {
		return w.snapshot(), invalid(err)
	}
	w.apply(ctx, action{step: onramp.StepFinish, status: onramp.StatusDone, repStatus: onramp.UserReady, finish: true})
	return w.snapshot(), nil
}

func (w *onboarding) retry(ctx workflow.Context, in StepInput) (onramp.Progress, error) {
	if err := w.lock(ctx); err != nil {
		return w.snapshot(), err
	}
	defer w.mu.Unlock()
	if err := w.checkRetry(in.Step); err != nil {
		// Retried already while this one waited for the lock.
		if w.legacy() {
			return w.snapshot(), nil
		}
		return w.snapshot(), invalid(err)
	}
	act := w.stuck[in.Step]
	if act.settings != nil {
		// What the settings make of the step now (the calendar's zone may
		// have changed since they were submitted).
		out := act.settings.Outcome(w.facts())
		act.status, act.message = out.Status, out.Message
	}
	w.apply(ctx, act)
	return w.snapshot(), nil
}

func (w *onboarding) reset(ctx workflow.Context, in StepInput) (onramp.Progress, error) {
	if err := w.lock(ctx); err != nil {
		return w.snapshot(), err
	}
	defer w.mu.Unlock()
	if w.legacy() {
		if s := w.p.Step(in.Step); s.Status != onramp.StatusDone && s.Status != onramp.StatusSkipped {
			return w.snapshot(), nil
		}
	} else if err := w.checkReset(in.Step); err != nil {
		return w.snapshot(), invalid(err)
	}
	w.apply(ctx, action{step: in.Step, status: onramp.StatusPending, message: msgReset})
	return w.snapshot(), nil
}

// calendarConnected completes the calendar step, recording the calendar's
// zone with it, and re-runs the time-zone check of saved calendar settings
// that are done (a stuck step keeps its stored action, which its retry runs
// with the new zone). The caller holds the mutex.
func (w *onboarding) calendarConnected(ctx workflow.Context, cc CalendarConnected) {
	if w.p.Finished {
		return
	}
	if w.legacy() {
		w.legacyCalendarConnected(ctx, cc)
		return
	}
	if !w.apply(ctx, action{step: onramp.StepCalendar, status: onramp.StatusDone, message: "Connected to " + cc.Provider + ".", calendarTZ: cc.TimeZone}) {
		return
	}
	av, ok := w.saved[onramp.StepAvailability]
	if s := w.p.Step(onramp.StepAvailability); ok && s != nil && s.Status == onramp.StatusDone {
		out := av.Outcome(w.facts())
		w.apply(ctx, action{step: onramp.StepAvailability, status: onramp.StatusDone, message: out.Message})
	}
}

// legacyCalendarConnected is calendarConnected as the first release ran it.
func (w *onboarding) legacyCalendarConnected(ctx workflow.Context, cc CalendarConnected) {
	w.p.CalendarTimeZone = cc.TimeZone
	if s := w.p.Step(onramp.StepCalendar); s != nil && s.Status != onramp.StatusDone {
		w.apply(ctx, action{step: onramp.StepCalendar, status: onramp.StatusDone, message: "Connected to " + cc.Provider + "."})
	}
	av, ok := w.saved[onramp.StepAvailability]
	if s := w.p.Step(onramp.StepAvailability); ok && s != nil {
		out := av.Outcome(w.facts())
		w.apply(ctx, action{step: onramp.StepAvailability, status: s.Status, message: out.Message})
	}
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

// next returns the progress after act, and the transition that records
// it, without changing w.
func (w *onboarding) next(ctx workflow.Context, act action, lastErr string) (onramp.Progress, onramp.StepTransition) {
	now := workflow.Now(ctx)
	p := w.p.Clone()
	if act.finish {
		p.Finished, p.FinishedAt = true, &now
	}
	if act.calendarTZ != "" {
		p.CalendarTimeZone = act.calendarTZ
	}
	s := p.Step(act.step)
	s.Attempts++ // each change is one attempt, whatever comes of it
	from := s.Status
	s.Status, s.Message, s.LastError, s.UpdatedAt = act.status, act.message, lastErr, now
	switch act.status {
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
	p.CurrentStep = current(p)
	p.TimeZoneCheck = w.timeZoneCheck(act.settings, p.CalendarTimeZone)
	t := onramp.StepTransition{
		OrgID: w.in.OrgID, RepID: w.in.RepID, Seq: w.seq + 1, Step: *s, From: from, At: now,
		Current: p.CurrentStep, Finished: p.Finished, CalendarTimeZone: p.CalendarTimeZone,
	}
	return p, t
}

// timeZoneCheck is the onboarding's time-zone check once pending (settings
// about to be saved, or nil) are saved, against the calendar's zone
// calendarTZ: unverified until calendar settings are saved and a calendar
// is connected.
func (w *onboarding) timeZoneCheck(pending onramp.Settings, calendarTZ string) string {
	av, _ := w.saved[onramp.StepAvailability].(*onramp.Availability)
	if p, ok := pending.(*onramp.Availability); ok {
		av = p
	}
	if av == nil {
		return onramp.TZUnverified
	}
	check, _ := onramp.CheckTimeZone(av.TimeZone, calendarTZ)
	return check
}

// apply records act (settings, projection, event log, events) and only
// then makes it the workflow's state, so that queries and validators never
// see a change that may not be saved. It reports whether it was recorded.
// When recording fails after its retries, the step is stuck (stuckOn).
func (w *onboarding) apply(ctx workflow.Context, act action) bool {
	p, t := w.next(ctx, act, "")
	rec := onramp.StepRecord{
		OrgID: w.in.OrgID, RepID: w.in.RepID, WorkflowID: w.p.WorkflowID,
		Transitions: []onramp.StepTransition{t}, Settings: act.settings, RepStatus: act.repStatus,
	}
	lctx := workflow.WithLocalActivityOptions(ctx, recordOptions)
	err := workflow.ExecuteLocalActivity(lctx, a.RecordStep, activities.RecordStepInput{Record: rec}).Get(ctx, nil)
	if err != nil {
		// The transition's number is spent (as the first release spent
		// it), even if a write that timed out did commit: the next one
		// gets a higher number, so the projection never drops it.
		w.seq = t.Seq
		if msg, ok := permanent(err); ok && !w.legacy() {
			w.needsActionOn(ctx, act, msg, err)
		} else {
			w.stuckOn(ctx, act, err)
		}
		return false
	}
	w.p, w.seq = p, t.Seq
	delete(w.stuck, act.step)
	if act.settings != nil {
		w.saved[act.step] = act.settings
	}
	w.upsertSearchAttributes(ctx)
	return true
}

// permanent reports whether a recording failed for good (bad input, a
// photo that is gone: retrying cannot help), with the rep's message.
func permanent(err error) (string, bool) {
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || !app.NonRetryable() {
		return "", false
	}
	switch app.Type() {
	case onramp.ENOTFOUND, onramp.EINVALID, onramp.EBADREQUEST:
	default:
		return "", false
	}
	var msg string
	if app.HasDetails() && app.Details(&msg) == nil && msg != "" {
		return msg, true
	}
	return "This could not be saved. Please do this step again.", true
}

// needsActionOn makes act's step need the rep's action after its recording
// failed for good: only the rep can fix it (support's retry could not),
// so the step says what to do and nobody is alerted. If even that cannot
// be recorded, the step is stuck.
func (w *onboarding) needsActionOn(ctx workflow.Context, act action, msg string, cause error) {
	workflow.GetLogger(ctx).Warn("recording onboarding step failed for good; the rep must act", "step", act.step, "error", cause)
	next := action{step: act.step, status: onramp.StatusNeedsAction, message: msg}
	p, t := w.next(ctx, next, rootMessage(cause))
	rec := onramp.StepRecord{OrgID: w.in.OrgID, RepID: w.in.RepID, WorkflowID: w.p.WorkflowID, Transitions: []onramp.StepTransition{t}}
	lctx := workflow.WithLocalActivityOptions(ctx, recordOptions)
	if err := workflow.ExecuteLocalActivity(lctx, a.RecordStep, activities.RecordStepInput{Record: rec}).Get(ctx, nil); err != nil {
		w.seq = t.Seq
		w.stuckOn(ctx, next, err)
		return
	}
	w.p, w.seq = p, t.Seq
	delete(w.stuck, act.step)
	w.upsertSearchAttributes(ctx)
}

// stuckOn makes act's step stuck after its recording failed: the step
// waits for a support retry of act, the transition is recorded, and the
// org's admins are alerted. The stuck state is the workflow's own truth
// (the failed local activity is in its history), so it applies at once;
// recording it keeps trying in the background until Postgres answers.
func (w *onboarding) stuckOn(ctx workflow.Context, act action, cause error) {
	workflow.GetLogger(ctx).Error("recording onboarding step failed; step is stuck", "step", act.step, "error", cause)
	w.stuck[act.step] = act
	p, t := w.next(ctx, action{step: act.step, status: onramp.StatusStuck, message: msgStuck}, rootMessage(cause))
	w.p, w.seq = p, t.Seq
	rec := onramp.StepRecord{OrgID: w.in.OrgID, RepID: w.in.RepID, WorkflowID: w.p.WorkflowID, Transitions: []onramp.StepTransition{t}}
	if w.v == workflow.DefaultVersion {
		sctx := workflow.WithLocalActivityOptions(ctx, legacyStuckOptions)
		if err := workflow.ExecuteLocalActivity(sctx, a.RecordStep, activities.RecordStepInput{Record: rec}).Get(ctx, nil); err != nil {
			workflow.GetLogger(ctx).Error("recording stuck step failed", "step", act.step, "error", err)
		}
	} else {
		w.pending++
		workflow.Go(w.root, func(ctx workflow.Context) {
			defer func() { w.pending-- }()
			actx := workflow.WithActivityOptions(ctx, stuckOptions)
			if err := workflow.ExecuteActivity(actx, a.RecordStuck, activities.RecordStuckInput{Record: rec}).Get(ctx, nil); err != nil {
				workflow.GetLogger(ctx).Error("recording stuck step failed for good", "step", rec.Transitions[0].Step.Key, "error", err)
			}
		})
	}
	w.upsertSearchAttributes(ctx)
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
