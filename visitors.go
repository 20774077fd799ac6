package onramp

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// VisitorEventType is what a website visitor did.
type VisitorEventType string

// The visitor event types the website sends.
const (
	VisitVisit         VisitorEventType = "visit"
	VisitReturn        VisitorEventType = "return"          // an owned visitor back after at least one prior visit
	VisitIdentified    VisitorEventType = "identified"      // the visitor is now known (name, account)
	VisitHighIntent    VisitorEventType = "high_intent"     // e.g. on the pricing page
	VisitVIP           VisitorEventType = "vip"             // from a VIP account
	VisitWaitingForRep VisitorEventType = "waiting_for_rep" // the visitor asked for a person
	VisitChatMessage   VisitorEventType = "chat_message"    // the visitor wrote to their rep
)

var visitorEventTypes = []VisitorEventType{VisitVisit, VisitReturn, VisitIdentified, VisitHighIntent, VisitVIP, VisitWaitingForRep, VisitChatMessage}

// VisitorEventTypes returns every visitor event type (a new slice).
func VisitorEventTypes() []VisitorEventType {
	return append([]VisitorEventType(nil), visitorEventTypes...)
}

// Valid reports whether t is a known type.
func (t VisitorEventType) Valid() bool { return contains(visitorEventTypes, t) }

// Limits of visitor events.
const (
	MaxVisitorEventIDLen = 100
	MaxVisitorIDLen      = 100
	MaxAccountLen        = 200
	MaxPageLen           = 2000
	MaxMessageLen        = 4000
	MaxVisitorBatch      = 100 // events in one POST /api/v1/visitor-events
)

var eventIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:@-]*$`)

// VisitorEvent is one thing a visitor did, as the website reports it. ID is
// the sender's, unique per org: sending it again changes nothing.
type VisitorEvent struct {
	ID        string           `json:"id"`
	Type      VisitorEventType `json:"type"`
	VisitorID string           `json:"visitor_id"`
	Account   string           `json:"account,omitempty"`
	// OwnerRep is the rep who owns the visitor: their email or user ID.
	OwnerRep string `json:"owner_rep,omitempty"`
	Page     string `json:"page,omitempty"`
	Name     string `json:"name,omitempty"`    // the visitor's name, when known
	Message  string `json:"message,omitempty"` // chat_message: what they wrote
	// At is when it happened (the sender's clock); zero means received.
	At time.Time `json:"at,omitzero"`
}

// Validate cleans and checks the event. Field names in the messages are the
// JSON ones; the caller prefixes them (events[3].page).
func (e *VisitorEvent) Validate() error {
	f := map[string]string{}
	switch {
	case e.ID == "":
		f["id"] = "Event ID is required (it makes sending twice harmless)."
	case len(e.ID) > MaxVisitorEventIDLen || !eventIDRE.MatchString(e.ID):
		f["id"] = fmt.Sprintf("Event ID must be 1 to %d letters, digits or . _ : @ -.", MaxVisitorEventIDLen)
	}
	if !e.Type.Valid() {
		f["type"] = fmt.Sprintf("Unknown event type %q: one of %v.", quoteShort(string(e.Type)), visitorEventTypes)
	}
	var msg string
	if e.VisitorID, msg = CleanText("Visitor ID", e.VisitorID, MaxVisitorIDLen, true); msg != "" {
		f["visitor_id"] = msg
	}
	if e.Account, msg = CleanText("Account", e.Account, MaxAccountLen, false); msg != "" {
		f["account"] = msg
	}
	if e.Name, msg = CleanText("Name", e.Name, MaxNameLen, false); msg != "" {
		f["name"] = msg
	}
	if e.OwnerRep, msg = CleanText("Owner rep", e.OwnerRep, MaxEmailLen, false); msg != "" {
		f["owner_rep"] = msg
	} else if e.OwnerRep == "" && e.Type != VisitWaitingForRep && e.Type.Valid() {
		f["owner_rep"] = "Owner rep is required (their email or ID) for this event type."
	}
	if e.Page != "" {
		if msg := checkPage(e.Page); msg != "" {
			f["page"] = msg
		}
	}
	if e.Message, msg = CleanMessage(e.Message, e.Type == VisitChatMessage); msg != "" {
		f["message"] = msg
	}
	return FieldErrors(f)
}

// checkPage: an absolute http(s) URL of bounded length.
func checkPage(p string) string {
	if len(p) > MaxPageLen {
		return fmt.Sprintf("Page must be at most %d characters.", MaxPageLen)
	}
	u, err := url.Parse(p)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.IndexFunc(p, forbiddenRune) >= 0 {
		return "Page must be an http or https URL."
	}
	return ""
}

// CleanMessage is the rule for chat text: valid UTF-8, trimmed, line breaks
// allowed but no other control or bidirectional formatting characters, at
// most MaxMessageLen characters. Returns the cleaned text and "" or the
// field's message.
func CleanMessage(s string, required bool) (string, string) {
	if !utf8.ValidString(s) {
		return s, "Message is not valid text (UTF-8)."
	}
	s = strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n"))
	switch {
	case s == "" && required:
		return s, "Message is required."
	case utf8.RuneCountInString(s) > MaxMessageLen:
		return s, fmt.Sprintf("Message must be at most %d characters.", MaxMessageLen)
	case strings.IndexFunc(s, func(r rune) bool { return r != '\n' && forbiddenRune(r) }) >= 0:
		return s, "Message cannot contain control characters."
	}
	return s, ""
}

// StreamRule is one condition of an admin-defined stream on a visitor
// event's field.
type StreamRule struct {
	Field string `json:"field"` // account, page, visitor_id or type
	Op    string `json:"op"`    // equals, contains or prefix (case-insensitive)
	Value string `json:"value"`
}

// Stream rule limits.
const (
	MaxStreamRules     = 10
	MaxStreamRuleValue = 200
)

var (
	ruleFields = []string{"account", "page", "visitor_id", "type"}
	ruleOps    = []string{"equals", "contains", "prefix"}
)

// validateRules checks an admin stream's rules into f.
func validateRules(rules []StreamRule, f map[string]string) {
	if len(rules) > MaxStreamRules {
		f["rules"] = fmt.Sprintf("At most %d rules.", MaxStreamRules)
		return
	}
	for i := range rules {
		r := &rules[i]
		k := fmt.Sprintf("rules[%d]", i)
		if !contains(ruleFields, r.Field) {
			f[k+".field"] = fmt.Sprintf("Field must be one of %v.", ruleFields)
		}
		if !contains(ruleOps, r.Op) {
			f[k+".op"] = fmt.Sprintf("Operator must be one of %v.", ruleOps)
		}
		var msg string
		if r.Value, msg = CleanText("Value", r.Value, MaxStreamRuleValue, true); msg != "" {
			f[k+".value"] = msg
		}
	}
}

// Matches reports whether e meets every rule of s. A stream without rules
// matches nothing by rule (built-in streams match by type instead).
func (s *Stream) Matches(e *VisitorEvent) bool {
	if len(s.Rules) == 0 {
		return false
	}
	for _, r := range s.Rules {
		var v string
		switch r.Field {
		case "account":
			v = e.Account
		case "page":
			v = e.Page
		case "visitor_id":
			v = e.VisitorID
		case "type":
			v = string(e.Type)
		default:
			return false
		}
		v, want := strings.ToLower(v), strings.ToLower(r.Value)
		var ok bool
		switch r.Op {
		case "equals":
			ok = v == want
		case "contains":
			ok = strings.Contains(v, want)
		case "prefix":
			ok = strings.HasPrefix(v, want)
		}
		if !ok {
			return false
		}
	}
	return true
}

// builtinStreamOf is the built-in stream an event type goes to, if any.
func builtinStreamOf(t VisitorEventType) string {
	switch t {
	case VisitVIP:
		return StreamVIP
	case VisitHighIntent:
		return StreamHighIntent
	case VisitReturn:
		return StreamReturnVisitors
	case VisitWaitingForRep:
		return StreamWaitingForRep
	}
	return ""
}

// Recipient is a rep who may be notified, with what routing needs of them.
type Recipient struct {
	RepID string
	Prefs NotificationPrefs
	// MobileDevices is how many mobile devices the rep registered for push.
	MobileDevices int
}

// Notification is what one rep is told about one visitor event.
type Notification struct {
	RepID   string   `json:"rep_id"`
	EventID string   `json:"event_id"`
	Kind    string   `json:"kind"`    // the visitor event's type
	Streams []string `json:"streams"` // the streams it belongs to, built-in first
	Desktop bool     `json:"desktop"` // shown in the console (and by the browser)
	Mobile  bool     `json:"mobile"`  // pushed to the rep's mobile devices
	Sound   string   `json:"sound"`   // the rep's sound
	Voice   bool     `json:"voice"`   // spoken too
	// What the rep sees of the visitor.
	VisitorID      string `json:"visitor_id"`
	Account        string `json:"account,omitempty"`
	Name           string `json:"name,omitempty"`
	Page           string `json:"page,omitempty"`
	Message        string `json:"message,omitempty"`
	ConversationID string `json:"conversation_id,omitempty"`
	// At is when the visitor did it, as the website said (zero: not said).
	At time.Time `json:"at,omitzero"`
}

// Route decides who is told about e and where: the contract of
// notifications (docs/REALTIME.md).
//
//   - e's streams: its type's built-in stream (vip, high_intent, return,
//     waiting_for_rep), then every admin-defined stream of streams whose
//     rules all match e.
//   - recipients: owner (nil: none) for every type but waiting_for_rep,
//     which goes to each of online (the reps online and ready).
//   - devices, per recipient: desktop if any of e's streams has desktop on
//     in their preferences (a stream they never set: on), mobile likewise
//     and only with a registered device. "Return visitors" counts only
//     while the rep's return-visitor switch is on. "Waiting for a Rep"
//     always goes to desktop. A chat_message always reaches its owner on
//     desktop. Neither device: no notification.
func Route(e *VisitorEvent, streams []Stream, owner *Recipient, online []Recipient) []Notification {
	var matched []string
	if b := builtinStreamOf(e.Type); b != "" {
		matched = append(matched, b)
	}
	for i := range streams {
		if !streams[i].Builtin && streams[i].Matches(e) && !contains(matched, streams[i].Key) {
			matched = append(matched, streams[i].Key)
		}
	}
	var recipients []Recipient
	if e.Type == VisitWaitingForRep {
		recipients = online
	} else if owner != nil {
		recipients = []Recipient{*owner}
	}
	var out []Notification
	seen := map[string]bool{}
	for _, r := range recipients {
		if seen[r.RepID] {
			continue
		}
		seen[r.RepID] = true
		n := Notification{
			RepID: r.RepID, EventID: e.ID, Kind: string(e.Type), Sound: r.Prefs.Sound, Voice: r.Prefs.VoiceAlerts,
			VisitorID: e.VisitorID, Account: e.Account, Name: e.Name, Page: e.Page, Message: e.Message, At: e.At,
		}
		for _, k := range matched {
			if k == StreamReturnVisitors && !r.Prefs.ReturnVisitorAlerts {
				continue
			}
			p, ok := r.Prefs.Streams[k]
			if !ok {
				p = StreamPref{Desktop: true}
			}
			if k == StreamWaitingForRep {
				p.Desktop = true
			}
			if !p.Desktop && !p.Mobile {
				continue
			}
			n.Streams = append(n.Streams, k)
			n.Desktop = n.Desktop || p.Desktop
			n.Mobile = n.Mobile || p.Mobile
		}
		if e.Type == VisitChatMessage {
			n.Desktop = true
		}
		n.Mobile = n.Mobile && r.MobileDevices > 0
		if !n.Desktop && !n.Mobile {
			continue
		}
		if n.Streams == nil {
			n.Streams = []string{}
		}
		out = append(out, n)
	}
	return out
}
