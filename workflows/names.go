// Package workflows holds Onramp's deterministic workflow code — the
// onboarding workflow (one per rep) — the names of its updates, signals and
// queries, its IDs and search attributes, and typed client helpers.
package workflows

import (
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"

	"github.com/onramp/onramp"
)

// TaskQueue is where onboarding workflows and their activities run.
const TaskQueue = "onramp-onboarding"

// Names of the onboarding workflow's updates, signals and query.
const (
	OnboardingWorkflowName = "Onboarding"

	UpdateSignedIn      = "signed_in"           // account: the rep signed in for the first time
	UpdateProfile       = "submit_profile"      // profile: onramp.Profile
	UpdateAvailability  = "submit_availability" // availability: onramp.Availability
	UpdateNotifications = "submit_notifications"
	UpdateBrowser       = "submit_browser"
	UpdateSkip          = "skip_step"  // StepInput: an optional step, "set up later"
	UpdateFinish        = "finish"     // the rep confirms
	UpdateRetry         = "retry"      // StepInput: support re-runs a stuck step
	UpdateResetStep     = "reset_step" // StepInput: admin puts a done step back to pending

	SignalCalendarConnected = "calendar_connected" // CalendarConnected

	QueryProgress = "progress"
)

// OnboardingID is the workflow ID of a rep's onboarding.
func OnboardingID(orgID, repID string) string { return "onboarding/" + orgID + "/" + repID }

// Search attributes upserted by the onboarding workflow, so the Temporal UI
// and ListWorkflow can filter reps by org, step and status.
var (
	SearchAttrOrg    = temporal.NewSearchAttributeKeyKeyword("OnrampOrg")
	SearchAttrStep   = temporal.NewSearchAttributeKeyKeyword("OnrampStep")
	SearchAttrStatus = temporal.NewSearchAttributeKeyKeyword("OnrampStatus")
)

// SearchAttributes are the custom search attributes to register on the
// Temporal namespace before workers run.
var SearchAttributes = map[string]enums.IndexedValueType{
	SearchAttrOrg.GetName():    enums.INDEXED_VALUE_TYPE_KEYWORD,
	SearchAttrStep.GetName():   enums.INDEXED_VALUE_TYPE_KEYWORD,
	SearchAttrStatus.GetName(): enums.INDEXED_VALUE_TYPE_KEYWORD,
}

// OnboardingInput starts a rep's onboarding.
type OnboardingInput struct {
	OrgID string
	RepID string
	// RequiredSteps must be done before finish; empty means
	// onramp.DefaultRequiredSteps.
	RequiredSteps []onramp.StepKey
	// SalesforceOrgWide skips the crm step: the admin already connected it.
	SalesforceOrgWide bool
}

// StepInput names one step (skip, retry, reset).
type StepInput struct {
	Step onramp.StepKey
}

// CalendarConnected tells the workflow a calendar is connected, with its
// time zone (the availability step's time-zone check is re-run).
type CalendarConnected struct {
	Provider string // google or microsoft
	TimeZone string // IANA
}
