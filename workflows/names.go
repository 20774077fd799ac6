// Package workflows holds Onramp's deterministic workflow code — the
// onboarding workflow (one per rep) — the names of its updates, signals and
// queries, its IDs and search attributes, and typed client helpers.
package workflows

import (
	"go.temporal.io/sdk/temporal"

	"github.com/onramp/onramp"
)

// TaskQueue is where onboarding workflows and their activities run.
const TaskQueue = "onramp-onboarding"

// Names of the onboarding workflow's updates, signals and query.
const (
	OnboardingWorkflowName = "Onboarding"

	UpdateSignedIn  = "signed_in"  // account: the rep signed in for the first time
	UpdateSkip      = "skip_step"  // StepInput: an optional step, "set up later"
	UpdateFinish    = "finish"     // the rep confirms
	UpdateRetry     = "retry"      // StepInput: support re-runs a stuck step
	UpdateResetStep = "reset_step" // StepInput: admin puts a done step back to pending

	// The settings of a step arrive as the Update SubmitUpdate(step), with
	// the step's onramp.Settings type as argument. These are those names
	// for today's steps.
	UpdateProfile       = "submit_profile"      // onramp.Profile
	UpdateAvailability  = "submit_availability" // onramp.Availability
	UpdateNotifications = "submit_notifications"
	UpdateBrowser       = "submit_browser"

	SignalCalendarConnected = "calendar_connected" // CalendarConnected

	QueryProgress = "progress"
)

// SubmitUpdate is the name of the Update that saves step k's settings.
func SubmitUpdate(k onramp.StepKey) string { return "submit_" + string(k) }

// OnboardingID is the workflow ID of a rep's onboarding.
func OnboardingID(orgID, repID string) string { return "onboarding/" + orgID + "/" + repID }

// Search attributes upserted by the onboarding workflow, so the Temporal UI
// and ListWorkflow can filter reps by org, step and status. The worker
// registers them (worker.EnsureSearchAttributes).
var (
	SearchAttrOrg    = temporal.NewSearchAttributeKeyKeyword("OnrampOrg")
	SearchAttrStep   = temporal.NewSearchAttributeKeyKeyword("OnrampStep")
	SearchAttrStatus = temporal.NewSearchAttributeKeyKeyword("OnrampStatus")
)

// OnboardingInput starts a rep's onboarding. Everything the workflow needs
// to know of the org and of the step list is resolved into it at start
// (Client.Start), so the workflow reads only its input and history.
type OnboardingInput struct {
	OrgID string
	RepID string
	// Steps are this onboarding's steps in order. Empty in histories from
	// before it existed: legacySteps.
	Steps []onramp.StepKey
	// RequiredSteps must be complete before finish (account and finish
	// always are). Empty means legacyRequiredSteps (histories from before
	// it was resolved at start).
	RequiredSteps []onramp.StepKey
	// SalesforceOrgWide skips the crm step: the admin already connected it.
	SalesforceOrgWide bool
}

// legacySteps and legacyRequiredSteps are the step list and the default
// required steps as they were when OnboardingInput carried neither: the
// histories of that time replay with them, whatever the lists are today.
func legacySteps() []onramp.StepKey {
	return []onramp.StepKey{"account", "calendar", "profile", "meeting", "crm", "availability", "notifications", "browser", "apps", "finish"}
}

func legacyRequiredSteps() []onramp.StepKey {
	return []onramp.StepKey{"account", "profile", "availability", "notifications", "browser", "finish"}
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
