package workflows

import (
	"context"
	"errors"
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

// Client is the typed client of the onboarding workflow. Every call carries
// a deadline, and errors come back as onramp errors: a validator's rejection
// keeps its code and message, a timeout is EUNAVAILABLE.
type Client struct {
	Temporal client.Client
	Users    onramp.UserService
	Timeout  time.Duration // DefaultTimeout if zero
}

func (c *Client) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	t := c.Timeout
	if t == 0 {
		t = DefaultTimeout
	}
	return context.WithTimeout(ctx, t)
}

// CreateRep creates a rep in org and starts their onboarding. If the
// workflow cannot start the rep is removed again, so nothing is half made.
// Returns EINVALID, ECONFLICT (email taken) or EUNAVAILABLE.
func (c *Client) CreateRep(ctx context.Context, org *onramp.Org, nu onramp.NewUser) (*onramp.User, error) {
	nu.OrgID, nu.Role = org.ID, onramp.RoleRep
	u, err := c.Users.CreateUser(ctx, nu)
	if err != nil {
		return nil, err
	}
	if err := c.Start(ctx, org, u.ID); err != nil {
		if derr := c.Users.DeleteUser(context.WithoutCancel(ctx), org.ID, u.ID); derr != nil {
			return nil, errors.Join(err, derr)
		}
		return nil, err
	}
	return u, nil
}

// Start starts the onboarding of rep repID; starting it again is a no-op.
func (c *Client) Start(ctx context.Context, org *onramp.Org, repID string) error {
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
	in := OnboardingInput{OrgID: org.ID, RepID: repID, RequiredSteps: org.RequiredSteps, SalesforceOrgWide: org.SalesforceOrgWide}
	if _, err := c.Temporal.ExecuteWorkflow(ctx, opts, OnboardingWorkflowName, in); err != nil {
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		if errors.As(err, &started) {
			return nil
		}
		return fromTemporal("start onboarding", err)
	}
	return nil
}

// Progress asks the workflow for the rep's whole onboarding state.
func (c *Client) Progress(ctx context.Context, orgID, repID string) (*onramp.Progress, error) {
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	v, err := c.Temporal.QueryWorkflow(ctx, OnboardingID(orgID, repID), "", QueryProgress)
	if err != nil {
		return nil, fromTemporal("progress", err)
	}
	var p onramp.Progress
	if err := v.Get(&p); err != nil {
		return nil, fromTemporal("progress", err)
	}
	return &p, nil
}

func (c *Client) update(ctx context.Context, orgID, repID, name string, args ...any) (*onramp.Progress, error) {
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	h, err := c.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   OnboardingID(orgID, repID),
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

// SignedIn completes the account step (idempotent).
func (c *Client) SignedIn(ctx context.Context, orgID, repID string) (*onramp.Progress, error) {
	return c.update(ctx, orgID, repID, UpdateSignedIn)
}

// SubmitProfile saves the profile step. Returns EINVALID with field errors.
func (c *Client) SubmitProfile(ctx context.Context, orgID, repID string, p onramp.Profile) (*onramp.Progress, error) {
	return c.update(ctx, orgID, repID, UpdateProfile, p)
}

// SubmitAvailability saves the calendar settings step.
func (c *Client) SubmitAvailability(ctx context.Context, orgID, repID string, av onramp.Availability) (*onramp.Progress, error) {
	return c.update(ctx, orgID, repID, UpdateAvailability, av)
}

// SubmitNotifications saves the notifications step.
func (c *Client) SubmitNotifications(ctx context.Context, orgID, repID string, n onramp.NotificationPrefs) (*onramp.Progress, error) {
	return c.update(ctx, orgID, repID, UpdateNotifications, n)
}

// SubmitBrowser records what the browser granted.
func (c *Client) SubmitBrowser(ctx context.Context, orgID, repID string, b onramp.BrowserPermissions) (*onramp.Progress, error) {
	return c.update(ctx, orgID, repID, UpdateBrowser, b)
}

// Skip marks an optional step "set up later".
func (c *Client) Skip(ctx context.Context, orgID, repID string, step onramp.StepKey) (*onramp.Progress, error) {
	return c.update(ctx, orgID, repID, UpdateSkip, StepInput{Step: step})
}

// Finish completes the onboarding: the rep becomes ready.
func (c *Client) Finish(ctx context.Context, orgID, repID string) (*onramp.Progress, error) {
	return c.update(ctx, orgID, repID, UpdateFinish)
}

// Retry re-runs a stuck step (support). ECONFLICT when it is not stuck.
func (c *Client) Retry(ctx context.Context, orgID, repID string, step onramp.StepKey) (*onramp.Progress, error) {
	return c.update(ctx, orgID, repID, UpdateRetry, StepInput{Step: step})
}

// ResetStep puts a done step back to pending (admin).
func (c *Client) ResetStep(ctx context.Context, orgID, repID string, step onramp.StepKey) (*onramp.Progress, error) {
	return c.update(ctx, orgID, repID, UpdateResetStep, StepInput{Step: step})
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
	case errors.As(err, &notFound):
		return &onramp.Error{Code: onramp.ENOTFOUND, Message: "No onboarding found for this rep.", Op: op, Err: err}
	case strings.Contains(err.Error(), "workflow execution already completed"):
		return &onramp.Error{Code: onramp.ECONFLICT, Message: "Onboarding is already finished.", Op: op, Err: err}
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
