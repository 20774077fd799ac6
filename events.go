package onramp

import (
	"context"
	"encoding/json"
	"time"
)

// Event types published on an org's channel.
const (
	EventStepChanged        = "onboarding.step"     // Data: StepTransition
	EventOnboardingFinished = "onboarding.finished" // Data: StepTransition of finish
	EventStepStuck          = "onboarding.stuck"    // alert for the org's admins; Data: StepTransition
)

// Event is something that happened in an org, fanned out to every API
// instance (and from there to SSE clients).
type Event struct {
	ID    string          `json:"id"`
	OrgID string          `json:"org_id"`
	Type  string          `json:"type"`
	RepID string          `json:"rep_id,omitempty"`
	At    time.Time       `json:"at"`
	Data  json.RawMessage `json:"data,omitempty"`
}

// EventBus publishes events to every API instance.
type EventBus interface {
	// Publish sends e to the subscribers of e.OrgID. Returns EUNAVAILABLE
	// when the bus cannot be reached.
	Publish(ctx context.Context, e Event) error
	// Subscribe returns a subscription to the events of one org. The
	// subscription's channel is closed when ctx ends or Close is called;
	// a subscriber too slow to keep up is dropped (its channel closed).
	Subscribe(ctx context.Context, orgID string) (Subscription, error)
}

// Subscription is one subscriber's view of an org's events.
type Subscription interface {
	C() <-chan Event
	Close() error
}

// StepRecord is what one onboarding transition writes, in one transaction:
// the settings the step carries (if any), the projection rows and the
// step-event log. Writing the same record twice changes nothing (the
// transitions' Seq makes it idempotent).
type StepRecord struct {
	OrgID         string
	RepID         string
	WorkflowID    string
	Transitions   []StepTransition
	Profile       *Profile
	Availability  *Availability
	Notifications *NotificationPrefs
	Browser       *BrowserPermissions
	// RepStatus, when set, becomes the user's status (onboarding, ready).
	RepStatus UserStatus
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

// OnboardingStore is the Postgres side of onboarding: settings, the
// projection admins read and the step-event log.
type OnboardingStore interface {
	// RecordStep writes r in one transaction (see StepRecord).
	RecordStep(ctx context.Context, r StepRecord) error
	// Progress returns the projected steps of a rep, in order, and the
	// overall position. Returns ENOTFOUND if the rep is not in org orgID
	// or has no onboarding.
	Progress(ctx context.Context, orgID, repID string) (*Progress, error)
	// StepEvents returns the rep's step-event log, oldest first.
	StepEvents(ctx context.Context, orgID, repID string) ([]StepEvent, error)

	// Profile, Availability, NotificationPrefs and BrowserPermissions
	// return the saved settings; ENOTFOUND when none are saved yet.
	Profile(ctx context.Context, orgID, repID string) (*Profile, error)
	Availability(ctx context.Context, orgID, repID string) (*Availability, error)
	NotificationPrefs(ctx context.Context, orgID, repID string) (*NotificationPrefs, error)
	BrowserPermissions(ctx context.Context, orgID, repID string) (*BrowserPermissions, error)

	// SavePhoto stores a processed photo and returns its ID.
	SavePhoto(ctx context.Context, p *Photo) (string, error)
	// FindPhoto returns ENOTFOUND if there is no such photo in the org.
	FindPhoto(ctx context.Context, orgID, id string) (*Photo, error)
	// Streams lists the org's streams: the built-in ones, then admin-defined.
	Streams(ctx context.Context, orgID string) ([]Stream, error)
	// CreateStream adds an admin-defined stream. ECONFLICT if the key exists.
	CreateStream(ctx context.Context, orgID string, s Stream) error
}

// RateLimiter limits attempts per key (login per email and IP, invites,
// public booking) in a fixed window shared by every API instance.
type RateLimiter interface {
	// Allow counts one attempt for key and reports whether it is within
	// limit per window; when not, retryAfter says when to try again.
	Allow(ctx context.Context, key string, limit int, window time.Duration) (ok bool, retryAfter time.Duration, err error)
}
