package onramp

import "time"

// ConversationState is where a chat is.
type ConversationState string

const (
	ChatWaiting ConversationState = "waiting" // the visitor waits for a rep
	ChatActive  ConversationState = "active"  // a rep accepted it
	ChatEnded   ConversationState = "ended"
)

// Conversation is a chat between a website visitor and the rep who
// accepted it. The visitor holds a token for it (never stored in clear).
type Conversation struct {
	ID          string            `json:"id"`
	OrgID       string            `json:"org_id"`
	VisitorID   string            `json:"visitor_id"`
	VisitorName string            `json:"visitor_name"`
	State       ConversationState `json:"state"`
	RepID       string            `json:"rep_id,omitempty"`
	RepName     string            `json:"rep_name,omitempty"`
	CreatedAt   time.Time         `json:"created_at"`
	AcceptedAt  *time.Time        `json:"accepted_at,omitempty"`
	EndedAt     *time.Time        `json:"ended_at,omitempty"`
}

// Chat senders.
const (
	SenderVisitor = "visitor"
	SenderRep     = "rep"
)

// ChatMessage is one message of a conversation.
type ChatMessage struct {
	ID             int64     `json:"id"`
	ConversationID string    `json:"conversation_id"`
	Sender         string    `json:"sender"` // SenderVisitor or SenderRep
	RepID          string    `json:"rep_id,omitempty"`
	Text           string    `json:"text"`
	At             time.Time `json:"at"`
}

// ChatTyping says who is typing in a conversation (live only).
type ChatTyping struct {
	ConversationID string `json:"conversation_id"`
	Sender         string `json:"sender"`
}

// NewConversation is what a visitor starts a chat with.
type NewConversation struct {
	VisitorID string `json:"visitor_id"`
	Name      string `json:"name"`
	Message   string `json:"message"`
}

// Validate cleans and checks a new conversation.
func (n *NewConversation) Validate() error {
	f := map[string]string{}
	var msg string
	if n.VisitorID, msg = CleanText("Visitor ID", n.VisitorID, MaxVisitorIDLen, false); msg != "" {
		f["visitor_id"] = msg
	}
	if n.Name, msg = CleanText("Name", n.Name, MaxNameLen, false); msg != "" {
		f["name"] = msg
	}
	if n.Message, msg = CleanMessage(n.Message, false); msg != "" {
		f["message"] = msg
	}
	return FieldErrors(f)
}

// APIKey is an org's key for the visitor-events API. The key itself is
// shown once, when created.
type APIKey struct {
	ID         string     `json:"id"`
	OrgID      string     `json:"org_id"`
	Name       string     `json:"name"`
	Hint       string     `json:"hint"` // the key's last characters
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

// MaxAPIKeyNameLen bounds an API key's name.
const MaxAPIKeyNameLen = 80

// Push is a mobile push notification for one registered device.
type Push struct {
	DeviceID string       `json:"device_id"`
	Platform string       `json:"platform"`
	Token    string       `json:"-"`
	Note     Notification `json:"notification"`
}

// Delivery is what a write has to deliver once committed.
type Delivery struct {
	Events []Event // feed entries written, to publish
	Pushes []Push  // mobile pushes to send
}

// IngestResult is what recording a batch of visitor events did.
type IngestResult struct {
	Accepted   int `json:"accepted"`   // new events recorded
	Duplicates int `json:"duplicates"` // events whose ID was already recorded
	Notified   int `json:"notified"`   // notifications written
	// Events are the feed entries written, to publish.
	Events []Event `json:"-"`
	// Pushes are the mobile pushes to send.
	Pushes []Push `json:"-"`
}
