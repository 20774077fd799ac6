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
	// EventSessionEnded is internal to the API instances (never sent to a
	// client): a session was signed out, and its live streams end.
	// Data: SessionEnded.
	EventSessionEnded = "session.ended"
)

// SessionEnded names a session that ended, by a handle derived from its
// token (never the token).
type SessionEnded struct {
	Session string `json:"session"`
}

// Event is something that happened in an org, fanned out to every API
// instance (and from there to SSE clients). An event with a Feed was first
// appended to that feed in Postgres, as its Seq-th entry: a client that
// missed it reads it back from there (docs/REALTIME.md). An event without
// one is live only (typing, internal signals).
type Event struct {
	ID    string          `json:"id"`
	OrgID string          `json:"org_id"`
	Type  string          `json:"type"`
	RepID string          `json:"rep_id,omitempty"`
	At    time.Time       `json:"at"`
	Data  json.RawMessage `json:"data,omitempty"`
	Feed  string          `json:"feed,omitempty"`
	Seq   int64           `json:"seq,omitempty"`
}

// Feeds: who reads what (docs/REALTIME.md).

// UserFeed is a user's own feed: their notifications, their chats'
// messages, their onboarding events.
func UserFeed(userID string) string { return "user:" + userID }

// OrgFeed is the feed of an org's admins and support: every rep's
// onboarding events.
func OrgFeed(orgID string) string { return "org:" + orgID }

// ConversationFeed is what the visitor of a conversation reads.
func ConversationFeed(convID string) string { return "conv:" + convID }

// More event types.
const (
	// EventNotification tells a rep about a visitor. Data: Notification.
	EventNotification = "notification"
	// EventChatMessage is a chat message. Data: ChatMessage.
	EventChatMessage = "chat.message"
	// EventChatState is a conversation's new state (accepted, ended).
	// Data: Conversation.
	EventChatState = "chat.state"
	// EventChatTyping is live only: someone is typing. Data: ChatTyping.
	EventChatTyping = "chat.typing"
	// EventChatTaken is live only, for the org's reps: a conversation is
	// no longer waiting (accepted, or ended by its visitor), and reps drop
	// it from their waiting lists. Data: Conversation.
	EventChatTaken = "chat.taken"
)

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
	// C delivers the events. They are shared by every subscriber of the
	// process: never modify one (copy it first).
	C() <-chan *Event
	Close() error
}

// RateLimiter limits attempts per key (sign-ins, invites, public booking)
// in a fixed window shared by every API instance.
type RateLimiter interface {
	// Allow counts one attempt for key and reports whether it is within
	// limit per window; when not, retryAfter says when to try again.
	Allow(ctx context.Context, key string, limit int, window time.Duration) (ok bool, retryAfter time.Duration, err error)
	// Refund takes back one attempt that Allow counted in the current
	// window (to count failures only: count first, refund on success).
	Refund(ctx context.Context, key string, window time.Duration) error
}

// Presence says which reps have their console open, across every API
// instance.
type Presence interface {
	// Beat marks one console connection of a rep online for ttl.
	Beat(ctx context.Context, orgID, repID, conn string, ttl time.Duration) error
	// Leave marks it offline.
	Leave(ctx context.Context, orgID, repID, conn string) error
	// Online lists the reps of an org with a console open.
	Online(ctx context.Context, orgID string) ([]string, error)
}

// PushSender sends mobile push notifications.
type PushSender interface {
	Send(ctx context.Context, p Push) error
}
