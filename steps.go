package onramp

import (
	"slices"
	"time"
)

// StepKey names one of the ten steps of the Chat User Setup Guide.
type StepKey string

// The ten steps, in the guide's order.
const (
	StepAccount       StepKey = "account"
	StepCalendar      StepKey = "calendar"
	StepProfile       StepKey = "profile"
	StepMeeting       StepKey = "meeting"
	StepCRM           StepKey = "crm"
	StepAvailability  StepKey = "availability"
	StepNotifications StepKey = "notifications"
	StepBrowser       StepKey = "browser"
	StepApps          StepKey = "apps"
	StepFinish        StepKey = "finish"
)

// StepInfo is what the wizard shows about a step, and what it takes.
type StepInfo struct {
	Key   StepKey
	Title string
	// Section is the anchor of the step in the setup guide.
	Section string
	// Completable is true when a rep can complete the step in this
	// release; the others can only be skipped ("set up later") until their
	// integration lands, so no org may require them.
	Completable bool
	// RequiredByDefault: required unless the org says otherwise. The
	// others may be skipped and are enforced where their data is needed
	// (booking needs calendar and meeting details).
	RequiredByDefault bool
}

// stepTable is every step in the guide's order: the one place a step is
// declared. Its settings type, if any, is registered in settings.go.
var stepTable = [...]StepInfo{
	{StepAccount, "Access your account", "create-account", true, true},
	{StepCalendar, "Connect your calendar", "connect-calendar", false, false},
	{StepProfile, "Personalize your profile", "complete-profile", true, true},
	{StepMeeting, "Add your meeting details", "add-meeting-details", false, false},
	{StepCRM, "Connect to Salesforce", "connect-to-salesforce", false, false},
	{StepAvailability, "Configure calendar settings", "meeting-settings", true, true},
	{StepNotifications, "Customize notifications", "notifications", true, true},
	{StepBrowser, "Enable browser notifications, camera and microphone", "browser-settings", true, true},
	{StepApps, "Download the desktop & mobile apps", "desktop-mobile", false, false},
	{StepFinish, "Learn more", "learn-more", true, true},
}

// Steps returns the steps in the guide's order (a new slice each call).
func Steps() []StepKey {
	out := make([]StepKey, len(stepTable))
	for i, s := range stepTable {
		out[i] = s.Key
	}
	return out
}

// DefaultRequiredSteps returns the steps required unless the org says
// otherwise (a new slice each call).
func DefaultRequiredSteps() []StepKey {
	var out []StepKey
	for _, s := range stepTable {
		if s.RequiredByDefault {
			out = append(out, s.Key)
		}
	}
	return out
}

// Info returns the step's title and guide section (zero for unknown keys).
func (k StepKey) Info() StepInfo {
	if i := k.Index(); i >= 0 {
		return stepTable[i]
	}
	return StepInfo{}
}

// Valid reports whether k is one of the steps.
func (k StepKey) Valid() bool { return k.Index() >= 0 }

// Index returns k's position (0-based) in the guide's order, or -1.
func (k StepKey) Index() int {
	for i, s := range stepTable {
		if s.Key == k {
			return i
		}
	}
	return -1
}

// ParseStepKey returns ENOTFOUND for an unknown key.
func ParseStepKey(s string) (StepKey, error) {
	k := StepKey(s)
	if !k.Valid() {
		if len(s) > 40 {
			s = s[:40] + "…"
		}
		return "", Errorf(ENOTFOUND, "Unknown step %q.", s)
	}
	return k, nil
}

// StepStatus is where one step is.
type StepStatus string

const (
	StatusPending     StepStatus = "pending"
	StatusInProgress  StepStatus = "in_progress"
	StatusDone        StepStatus = "done"
	StatusSkipped     StepStatus = "skipped"
	StatusNeedsAction StepStatus = "needs_action" // the rep or an admin must act (message says how)
	StatusStuck       StepStatus = "stuck"        // retries exhausted; support can retry
)

// Valid reports whether s is a known status.
func (s StepStatus) Valid() bool {
	switch s {
	case StatusPending, StatusInProgress, StatusDone, StatusSkipped, StatusNeedsAction, StatusStuck:
		return true
	}
	return false
}

// Complete reports whether the status lets finish go ahead.
func (s StepStatus) Complete() bool { return s == StatusDone || s == StatusSkipped }

// StepState is one step of one rep's onboarding.
type StepState struct {
	Key      StepKey    `json:"key"`
	Title    string     `json:"title"`
	Status   StepStatus `json:"status"`
	Required bool       `json:"required"`
	Attempts int        `json:"attempts"`
	// LastError is the detail of the last failure (the provider's or the
	// database's words): for support and admins only, never shown to reps.
	LastError string `json:"last_error,omitempty"`
	// Message is for the rep: what to do next (needs_action), a warning, or
	// what happened, in plain words.
	Message     string     `json:"message,omitempty"`
	StartedAt   *time.Time `json:"started_at,omitempty"`
	CompletedAt *time.Time `json:"completed_at,omitempty"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

// Progress is the whole state of one rep's onboarding (the progress Query,
// or the projection once the workflow is closed).
type Progress struct {
	OrgID       string      `json:"org_id"`
	RepID       string      `json:"rep_id"`
	WorkflowID  string      `json:"workflow_id"`
	Steps       []StepState `json:"steps"`
	CurrentStep StepKey     `json:"current_step"` // first step not complete; "finish" when all are
	Finished    bool        `json:"finished"`
	// TimeZoneCheck is the availability step's time-zone check:
	// "unverified" (no calendar yet), "match", or "mismatch".
	TimeZoneCheck    string     `json:"time_zone_check,omitempty"`
	CalendarTimeZone string     `json:"calendar_time_zone,omitempty"`
	StartedAt        time.Time  `json:"started_at"`
	FinishedAt       *time.Time `json:"finished_at,omitempty"`
}

// Step returns the state of step k.
func (p *Progress) Step(k StepKey) *StepState {
	for i := range p.Steps {
		if p.Steps[i].Key == k {
			return &p.Steps[i]
		}
	}
	return nil
}

// Clone returns a copy that later changes to p do not touch.
func (p Progress) Clone() Progress {
	p.Steps = slices.Clone(p.Steps)
	return p
}

// ForRep returns what the rep may see of p: the same, without the detail
// of failures (LastError), which is for support and admins.
func (p Progress) ForRep() Progress {
	p = p.Clone()
	for i := range p.Steps {
		p.Steps[i].LastError = ""
	}
	return p
}

// Time-zone check results.
const (
	TZUnverified = "unverified"
	TZMatch      = "match"
	TZMismatch   = "mismatch"
)
