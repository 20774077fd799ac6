package onramp

import "time"

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

// Steps lists the steps in order.
var Steps = []StepKey{
	StepAccount, StepCalendar, StepProfile, StepMeeting, StepCRM,
	StepAvailability, StepNotifications, StepBrowser, StepApps, StepFinish,
}

// DefaultRequiredSteps are required unless the org says otherwise. The
// others (calendar, meeting, crm, apps) may be skipped ("set up later") and
// are enforced where their data is needed (booking needs calendar and
// meeting details).
var DefaultRequiredSteps = []StepKey{StepAccount, StepProfile, StepAvailability, StepNotifications, StepBrowser, StepFinish}

// StepInfo is what the wizard shows about a step.
type StepInfo struct {
	Key   StepKey
	Title string
	// Section is the anchor of the step in the setup guide.
	Section string
}

var stepInfo = map[StepKey]StepInfo{
	StepAccount:       {StepAccount, "Access your account", "create-account"},
	StepCalendar:      {StepCalendar, "Connect your calendar", "connect-calendar"},
	StepProfile:       {StepProfile, "Personalize your profile", "complete-profile"},
	StepMeeting:       {StepMeeting, "Add your meeting details", "add-meeting-details"},
	StepCRM:           {StepCRM, "Connect to Salesforce", "connect-to-salesforce"},
	StepAvailability:  {StepAvailability, "Configure calendar settings", "meeting-settings"},
	StepNotifications: {StepNotifications, "Customize notifications", "notifications"},
	StepBrowser:       {StepBrowser, "Enable browser notifications, camera and microphone", "browser-settings"},
	StepApps:          {StepApps, "Download the desktop & mobile apps", "desktop-mobile"},
	StepFinish:        {StepFinish, "Learn more", "learn-more"},
}

// Info returns the step's title and guide section.
func (k StepKey) Info() StepInfo { return stepInfo[k] }

// Valid reports whether k is one of the ten steps.
func (k StepKey) Valid() bool { _, ok := stepInfo[k]; return ok }

// Index returns k's position (0-based) in Steps, or -1.
func (k StepKey) Index() int {
	for i, s := range Steps {
		if s == k {
			return i
		}
	}
	return -1
}

// ParseStepKey returns ENOTFOUND for an unknown key.
func ParseStepKey(s string) (StepKey, error) {
	k := StepKey(s)
	if !k.Valid() {
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

// Complete reports whether the status lets finish go ahead.
func (s StepStatus) Complete() bool { return s == StatusDone || s == StatusSkipped }

// StepState is one step of one rep's onboarding.
type StepState struct {
	Key         StepKey    `json:"key"`
	Title       string     `json:"title"`
	Status      StepStatus `json:"status"`
	Required    bool       `json:"required"`
	Attempts    int        `json:"attempts"`
	LastError   string     `json:"last_error,omitempty"`
	Message     string     `json:"message,omitempty"` // what to do next (needs_action), or a warning
	StartedAt   *time.Time `json:"started_at,omitempty"`
	CompletedAt *time.Time `json:"completed_at,omitempty"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

// Progress is the whole state of one rep's onboarding (the progress Query).
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

// Time-zone check results.
const (
	TZUnverified = "unverified"
	TZMatch      = "match"
	TZMismatch   = "mismatch"
)

// StepTransition is one change of one step, as projected to Postgres,
// logged in the step-event log and published on the org's event channel.
type StepTransition struct {
	OrgID    string     `json:"org_id"`
	RepID    string     `json:"rep_id"`
	Seq      int        `json:"seq"` // per rep, strictly increasing: makes projection idempotent
	Step     StepState  `json:"step"`
	From     StepStatus `json:"from"`
	At       time.Time  `json:"at"`
	Current  StepKey    `json:"current_step"`
	Finished bool       `json:"finished"`
}
