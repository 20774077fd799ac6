package workflows

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/onramp/onramp"
)

// DefaultTimeout bounds every call into Temporal made by Client. An Update
// needs a running worker: without one it would wait forever.
const DefaultTimeout = 15 * time.Second

// Users is what Client needs of the user service.
type Users interface {
	CreateUser(ctx context.Context, u onramp.NewUser) (*onramp.User, error)
	FindOrgByID(ctx context.Context, id string) (*onramp.Org, error)
}

// Store is what Client needs of the store: the projection, which serves
// a closed (or not yet started) onboarding, and the settings, which a rep
// edits after onboarding.
type Store interface {
	Progress(ctx context.Context, orgID, repID string) (*onramp.Progress, error)
	SaveSettings(ctx context.Context, orgID, repID string, s onramp.Settings) error
	UnstartedOnboardings(ctx context.Context, olderThan time.Duration, limit int) ([]onramp.RepRef, error)
}

// Client is the typed client of the onboarding workflow, and the one way
// into a rep's onboarding: while it runs, calls go to the workflow; once
// it is closed (or gone after the namespace's retention), progress is read
// from, and settings written to, the Postgres projection. Every call
// carries a deadline, and errors come back as onramp errors: a validator's
// rejection keeps its code and message, a timeout is EUNAVAILABLE.
type Client struct {
	Temporal client.Client
	Users    Users
	Store    Store
	Timeout  time.Duration // DefaultTimeout if zero
}

func (c *Client) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	t := c.Timeout
	if t == 0 {
		t = DefaultTimeout
	}
	return context.WithTimeout(ctx, t)
}

// CreateRep creates a rep in org and starts their onboarding. The rep and
// their onboarding's projection are created in one transaction, so nothing
// is ever half made: if the workflow cannot be started now (Temporal down
// or slow), the rep exists, the pages show their onboarding as not started,
// and StartUnstarted starts it later. It then returns the rep and an
// EUNAVAILABLE error saying so. Returns EINVALID or ECONFLICT (email
// taken) with no rep.
func (c *Client) CreateRep(ctx context.Context, org *onramp.Org, nu onramp.NewUser) (*onramp.User, error) {
	nu.OrgID, nu.Role = org.ID, onramp.RoleRep
	if _, err := Input(org, ""); err != nil {
		return nil, err // the org's settings would keep the rep from ever finishing
	}
	u, err := c.Users.CreateUser(ctx, nu)
	if err != nil {
		return nil, err
	}
	if err := c.Start(ctx, org, u.ID); err != nil {
		return u, &onramp.Error{Code: onramp.EUNAVAILABLE, Message: "The rep was created; their onboarding starts as soon as the workflow service answers.", Op: "create rep", Err: err}
	}
	return u, nil
}

// Input resolves what the onboarding of a rep of org needs to know into
// its input: the steps, the org's required steps and whether Salesforce is
// connected org-wide. Returns EINVALID when the org requires a step that
// cannot be completed.
func Input(org *onramp.Org, repID string) (OnboardingInput, error) {
	if err := onramp.ValidateRequiredSteps(org.RequiredSteps); err != nil {
		return OnboardingInput{}, err
	}
	return OnboardingInput{
		OrgID: org.ID, RepID: repID, Steps: onramp.Steps(), RequiredSteps: org.Required(),
		SalesforceOrgWide: org.SalesforceOrgWide,
	}, nil
}

// Start starts the onboarding of rep repID; starting it again is a no-op.
func (c *Client) Start(ctx context.Context, org *onramp.Org, repID string) error {
	in, err := Input(org, repID)
	if err != nil {
		return err
	}
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	opts := client.StartWorkflowOptions{
		ID:                       OnboardingID(org.ID, repID),
		TaskQueue:                TaskQueue,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			SearchAttrOrg.ValueSet(org.ID), SearchAttrStep.ValueSet(string(onramp.StepAccount)),
			SearchAttrStatus.ValueSet(string(onramp.StatusInProgress))),
	}
	if _, err := c.Temporal.ExecuteWorkflow(ctx, opts, OnboardingWorkflowName, in); err != nil {
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		if errors.As(err, &started) {
			return nil
		}
		return fromTemporal("start onboarding", err)
	}
	return nil
}

// StartUnstarted starts the onboardings of reps created more than
// olderThan ago whose workflow has recorded nothing yet (its start failed
// or timed out), at most limit, and returns how many it started. A rep
// that cannot be started does not hold up the others: their errors come
// back joined. Safe to run from several processes: starting is idempotent.
func (c *Client) StartUnstarted(ctx context.Context, olderThan time.Duration, limit int) (int, error) {
	refs, err := c.Store.UnstartedOnboardings(ctx, olderThan, limit)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, r := range refs {
		if err := c.startRep(ctx, r.OrgID, r.RepID); err != nil {
			errs = append(errs, fmt.Errorf("rep %s of org %s: %w", r.RepID, r.OrgID, err))
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// Progress returns the rep's whole onboarding: the workflow's own state
// while it runs, else (finished, closed, deleted after retention, not
// started yet, or Temporal not answering) the Postgres projection.
// Returns ENOTFOUND if the rep has no onboarding.
func (c *Client) Progress(ctx context.Context, orgID, repID string) (*onramp.Progress, error) {
	stored, err := c.Store.Progress(ctx, orgID, repID)
	if err != nil || stored.Finished {
		return stored, err
	}
	qctx, cancel := c.ctx(ctx)
	defer cancel()
	v, err := c.Temporal.QueryWorkflow(qctx, OnboardingID(orgID, repID), "", QueryProgress)
	if err == nil {
		var p onramp.Progress
		if v.Get(&p) == nil {
			return &p, nil
		}
	}
	// Not started yet, closed, gone, or Temporal not answering: what was
	// recorded last.
	return stored, nil
}

// UpdateID derives an Update's ID from the caller's idempotency key, so a
// request retried with the same key (after a timeout, say) applies once:
// Temporal answers a known Update ID with the first outcome. An empty key
// gives "" (a new ID each time).
func UpdateID(op, key string) string {
	if key == "" {
		return ""
	}
	h := sha256.Sum256([]byte(op + "\x00" + key))
	return op + "-" + hex.EncodeToString(h[:12])
}

func (c *Client) update(ctx context.Context, orgID, repID, name, updateID string, args ...any) (*onramp.Progress, error) {
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	h, err := c.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   OnboardingID(orgID, repID),
		UpdateID:     updateID,
		UpdateName:   name,
		Args:         args,
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		return nil, fromTemporal(name, err)
	}
	var p onramp.Progress
	if err := h.Get(ctx, &p); err != nil {
		return nil, fromTemporal(name, err)
	}
	return &p, nil
}

// SignedIn completes the account step (idempotent). A rep whose workflow
// never started (its start failed when they were created) gets it started
// now.
func (c *Client) SignedIn(ctx context.Context, orgID, repID string) (*onramp.Progress, error) {
	p, err := c.update(ctx, orgID, repID, UpdateSignedIn, "")
	if onramp.ErrorCode(err) != onramp.ENOTFOUND {
		return p, err
	}
	if started, serr := c.startIfNeverStarted(ctx, orgID, repID); serr != nil || !started {
		return nil, errors.Join(err, serr)
	}
	return c.update(ctx, orgID, repID, UpdateSignedIn, "")
}

// startIfNeverStarted starts the onboarding of a rep whose workflow never
// recorded anything (its start failed), and reports whether it did. A rep
// whose workflow is gone after recording (closed and deleted after the
// namespace's retention) is never started again.
func (c *Client) startIfNeverStarted(ctx context.Context, orgID, repID string) (bool, error) {
	stored, err := c.Store.Progress(ctx, orgID, repID)
	if err != nil || stored.WorkflowID != "" {
		return false, err
	}
	return true, c.startRep(ctx, orgID, repID)
}

// SaveSettings saves a step's settings, validated by their own rules,
// whenever the rep saves them: during onboarding through the workflow's
// Update (the step is done, or needs action, as the settings' Outcome
// says); once the onboarding is finished (its workflow closed or gone)
// straight to the store, which booking and routing read. key is the
// request's idempotency key ("" for none). Returns EINVALID with field
// errors, ENOTFOUND, or EUNAVAILABLE.
func (c *Client) SaveSettings(ctx context.Context, orgID, repID string, s onramp.Settings, key string) (*onramp.Progress, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	name := SubmitUpdate(s.Step())
	p, err := c.update(ctx, orgID, repID, name, UpdateID(name, key), s)
	switch onramp.ErrorCode(err) {
	case onramp.ENOTFOUND, onramp.ECONFLICT:
		// Finished (the validator says so, or the workflow is closed or
		// gone), or not started yet: the projection tells which.
	default:
		return p, err
	}
	stored, perr := c.Store.Progress(ctx, orgID, repID)
	if perr != nil {
		return nil, perr
	}
	switch {
	case stored.Finished:
		if err := c.Store.SaveSettings(ctx, orgID, repID, s); err != nil {
			return nil, err
		}
		return c.Store.Progress(ctx, orgID, repID) // the time-zone check of what was saved

	case onramp.ErrorCode(err) == onramp.ENOTFOUND:
		// Created, but the workflow's start failed: start it now and try
		// once more (never a second onboarding for a rep whose workflow
		// recorded something, then closed or went away).
		if started, serr := c.startIfNeverStarted(ctx, orgID, repID); serr != nil || !started {
			return nil, errors.Join(err, serr)
		}
		return c.update(ctx, orgID, repID, name, UpdateID(name, key), s)
	}
	return nil, err
}

// startRep starts the onboarding of a rep of orgID (idempotent).
func (c *Client) startRep(ctx context.Context, orgID, repID string) error {
	org, err := c.Users.FindOrgByID(ctx, orgID)
	if err != nil {
		return err
	}
	return c.Start(ctx, org, repID)
}

// Skip marks an optional step "set up later".
func (c *Client) Skip(ctx context.Context, orgID, repID string, step onramp.StepKey, key string) (*onramp.Progress, error) {
	return c.update(ctx, orgID, repID, UpdateSkip, UpdateID(UpdateSkip+"/"+string(step), key), StepInput{Step: step})
}

// Finish completes the onboarding: the rep becomes ready.
func (c *Client) Finish(ctx context.Context, orgID, repID string, key string) (*onramp.Progress, error) {
	return c.update(ctx, orgID, repID, UpdateFinish, UpdateID(UpdateFinish, key))
}

// Retry re-runs a stuck step (support). ECONFLICT when nothing is stuck.
func (c *Client) Retry(ctx context.Context, orgID, repID string, step onramp.StepKey, key string) (*onramp.Progress, error) {
	return c.update(ctx, orgID, repID, UpdateRetry, UpdateID(UpdateRetry+"/"+string(step), key), StepInput{Step: step})
}

// ResetStep puts a done step back to pending (admin).
func (c *Client) ResetStep(ctx context.Context, orgID, repID string, step onramp.StepKey, key string) (*onramp.Progress, error) {
	return c.update(ctx, orgID, repID, UpdateResetStep, UpdateID(UpdateResetStep+"/"+string(step), key), StepInput{Step: step})
}

// CalendarConnected tells the onboarding a calendar is connected.
func (c *Client) CalendarConnected(ctx context.Context, orgID, repID string, cc CalendarConnected) error {
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	return fromTemporal("calendar connected", c.Temporal.SignalWorkflow(ctx, OnboardingID(orgID, repID), "", SignalCalendarConnected, cc))
}

// fromTemporal turns an error from the Temporal client into an onramp error.
func fromTemporal(op string, err error) error {
	if err == nil {
		return nil
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) && isCode(app.Type()) {
		e := &onramp.Error{Code: app.Type(), Message: app.Message(), Op: op}
		if app.HasDetails() {
			var fields map[string]string
			if app.Details(&fields) == nil && len(fields) > 0 {
				e.Fields = fields
			}
		}
		return e
	}
	var notFound *serviceerror.NotFound
	switch {
	case strings.Contains(err.Error(), "workflow execution already completed"):
		// An Update to a closed workflow (Temporal says NotFound).
		return &onramp.Error{Code: onramp.ECONFLICT, Message: "Onboarding is already finished.", Op: op, Err: err}
	case errors.As(err, &notFound):
		return &onramp.Error{Code: onramp.ENOTFOUND, Message: "No onboarding found for this rep.", Op: op, Err: err}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return &onramp.Error{Code: onramp.EUNAVAILABLE, Message: "The onboarding service did not answer in time. Please try again.", Op: op, Err: err}
	}
	var unavailable *serviceerror.Unavailable
	var deadline *serviceerror.DeadlineExceeded
	if errors.As(err, &unavailable) || errors.As(err, &deadline) {
		return &onramp.Error{Code: onramp.EUNAVAILABLE, Message: "The onboarding service did not answer in time. Please try again.", Op: op, Err: err}
	}
	return &onramp.Error{Code: onramp.EINTERNAL, Message: "Internal error.", Op: op, Err: err}
}

func isCode(s string) bool {
	switch s {
	case onramp.EBADREQUEST, onramp.EINVALID, onramp.ENOTFOUND, onramp.ECONFLICT, onramp.EUNAUTHORIZED,
		onramp.EFORBIDDEN, onramp.ETOOLARGE, onramp.EUNSUPPORTED, onramp.ERATELIMITED, onramp.EUNAVAILABLE:
		return true
	}
	return false
}
