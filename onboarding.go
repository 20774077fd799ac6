package onramp

import (
	"context"
	"encoding/json"
	"time"
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
	// CalendarTimeZone is the zone of the rep's connected calendar after
	// the transition ("" while none is), projected with it.
	CalendarTimeZone string `json:"calendar_time_zone,omitempty"`
}

// ForRep returns what the rep may see of t (no failure detail).
func (t StepTransition) ForRep() StepTransition {
	t.Step.LastError = ""
	return t
}

// EventTypes are the types of the events announcing t: onboarding.step,
// onboarding.stuck when the step became stuck (the admins' alert),
// onboarding.finished when the rep is ready.
func (t *StepTransition) EventTypes() []string {
	types := []string{EventStepChanged}
	if t.Step.Status == StatusStuck && t.From != StatusStuck {
		types = append(types, EventStepStuck)
	}
	if t.Finished && t.Step.Key == StepFinish {
		types = append(types, EventOnboardingFinished)
	}
	return types
}

// StepRecord is what one onboarding transition writes, in one transaction:
// the settings the step carries (if any), the projection rows and the
// step-event log. Writing the same record twice changes nothing (the
// transitions' Seq makes it idempotent).
type StepRecord struct {
	OrgID       string
	RepID       string
	WorkflowID  string
	Transitions []StepTransition
	// Settings, when set, are saved as the rep's settings of their step.
	Settings Settings
	// RepStatus, when set, becomes the user's status (onboarding, ready).
	RepStatus UserStatus
}

type stepRecordJSON struct {
	OrgID       string
	RepID       string
	WorkflowID  string
	Transitions []StepTransition
	Settings    *settingsJSON `json:",omitempty"`
	RepStatus   UserStatus
}

// MarshalJSON encodes the settings with their step, so they decode into
// their own type (records travel through Temporal as JSON).
func (r StepRecord) MarshalJSON() ([]byte, error) {
	s, err := encodeSettings(r.Settings)
	if err != nil {
		return nil, err
	}
	return json.Marshal(stepRecordJSON{r.OrgID, r.RepID, r.WorkflowID, r.Transitions, s, r.RepStatus})
}

// UnmarshalJSON is the inverse of MarshalJSON.
func (r *StepRecord) UnmarshalJSON(b []byte) error {
	var j stepRecordJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	s, err := j.Settings.decode()
	if err != nil {
		return err
	}
	*r = StepRecord{j.OrgID, j.RepID, j.WorkflowID, j.Transitions, s, j.RepStatus}
	return nil
}

// StepEvent is one row of the step-event log.
type StepEvent struct {
	Seq     int        `json:"seq"`
	Step    StepKey    `json:"step"`
	From    StepStatus `json:"from"`
	To      StepStatus `json:"to"`
	Error   string     `json:"error,omitempty"`
	Message string     `json:"message,omitempty"`
	At      time.Time  `json:"at"`
}

// RepSummary is one row of the admin's rep list, read from the projection.
type RepSummary struct {
	User
	CurrentStep StepKey    `json:"current_step"`
	StepStatus  StepStatus `json:"step_status"`
	// Since is when the current step last changed: "for how long".
	Since      time.Time `json:"since"`
	StuckSteps []StepKey `json:"stuck_steps"`
}

// RepRef names one rep.
type RepRef struct {
	OrgID string
	RepID string
}

// ProjectionStore is the onboarding projection: what every transition
// writes, and what admin pages, support and a closed onboarding read.
type ProjectionStore interface {
	// RecordStep writes r in one transaction (see StepRecord). Returns
	// ENOTFOUND if the rep is not in r.OrgID (or a photo is missing),
	// EINVALID for unknown steps, statuses or invalid settings.
	RecordStep(ctx context.Context, r StepRecord) error
	// Progress returns the projected steps of a rep, in order, and the
	// overall position. Returns ENOTFOUND if the rep is not in org orgID.
	Progress(ctx context.Context, orgID, repID string) (*Progress, error)
	// StepEvents returns the rep's step-event log, oldest first.
	StepEvents(ctx context.Context, orgID, repID string) ([]StepEvent, error)
	// ListReps lists the org's reps with their onboarding position.
	ListReps(ctx context.Context, orgID string) ([]RepSummary, error)
	// UnstartedOnboardings lists reps created more than olderThan ago
	// whose onboarding has recorded nothing yet (its workflow may never
	// have started), at most limit.
	UnstartedOnboardings(ctx context.Context, olderThan time.Duration, limit int) ([]RepRef, error)
}

// SettingsStore keeps each rep's settings, one value per step.
type SettingsStore interface {
	// Settings returns the rep's saved settings of step k. Returns
	// ENOTFOUND when none are saved.
	Settings(ctx context.Context, orgID, repID string, k StepKey) (Settings, error)
	// AllSettings returns every saved settings of the rep, by step.
	AllSettings(ctx context.Context, orgID, repID string) (map[StepKey]Settings, error)
	// SaveSettings validates and saves s as the rep's settings of its
	// step (an edit after onboarding). Returns EINVALID, or ENOTFOUND if
	// the rep is not in org orgID or the photo s names does not exist.
	SaveSettings(ctx context.Context, orgID, repID string, s Settings) error
}

// PhotoStore keeps profile photos. An upload is staged, not served, until
// the settings that show it are saved.
type PhotoStore interface {
	// StagePhoto stores an upload and returns its ID. Returns EUNSUPPORTED
	// for a type other than JPEG or PNG, ENOTFOUND if the user is not in
	// p.OrgID.
	StagePhoto(ctx context.Context, p *Photo) (string, error)
	// FindPhoto returns a saved (public) photo; ENOTFOUND if there is no
	// such photo in the org, or it is only staged.
	FindPhoto(ctx context.Context, orgID, id string) (*Photo, error)
}

// StreamStore keeps the org's visitor streams.
type StreamStore interface {
	// Streams lists the org's streams: the built-in ones, then admin-defined.
	Streams(ctx context.Context, orgID string) ([]Stream, error)
	// CreateStream adds an admin-defined stream. EINVALID, or ECONFLICT
	// if the key exists.
	CreateStream(ctx context.Context, orgID string, s Stream) error
}
