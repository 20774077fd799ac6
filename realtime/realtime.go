// Package realtime turns visitor events into notifications and carries
// chats: each operation writes through the store (which appends what it
// shows to the readers' feeds in the same transaction), then publishes
// what was written on the event bus, then sends mobile pushes. The design,
// and why a client that was away gets exactly what it missed, is in
// docs/REALTIME.md.
package realtime

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/onramp/onramp"
)

// Store is what the service needs of the database (postgres.Store).
type Store interface {
	IngestVisitorEvents(ctx context.Context, orgID string, events []onramp.VisitorEvent, online []string) (*onramp.IngestResult, error)
	StartConversation(ctx context.Context, orgID string, nc onramp.NewConversation, online []string) (*onramp.Conversation, string, *onramp.Delivery, error)
	AcceptConversation(ctx context.Context, orgID, id, repID string) (*onramp.Conversation, []onramp.Event, error)
	PostMessage(ctx context.Context, orgID, id, sender, repID, text string) (*onramp.ChatMessage, []onramp.Event, error)
	EndConversation(ctx context.Context, orgID, id, sender, repID string) (*onramp.Conversation, []onramp.Event, error)
	EscalateWaiting(ctx context.Context, olderThan time.Time) ([]onramp.Event, error)
	PruneFeeds(ctx context.Context, before time.Time) (int64, error)
}

// Orgs finds an org by the slug in a public URL (postgres.UserService).
type Orgs interface {
	FindOrgBySlug(ctx context.Context, slug string) (*onramp.Org, error)
}

// publishTimeout bounds each publish. A publish that fails is logged, not
// returned: the entry is in its feed, and the next event of that feed (or
// the client's reconnect) brings it.
const publishTimeout = 2 * time.Second

// Service is the real-time side of Onramp.
type Service struct {
	Store    Store
	Orgs     Orgs
	Bus      onramp.EventBus
	Presence onramp.Presence
	Push     onramp.PushSender // nil: no mobile pushes
	Log      *slog.Logger
}

func (s *Service) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

// publish sends events written to feeds, in order.
func (s *Service) publish(events []onramp.Event) {
	for _, e := range events {
		ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
		if err := s.Bus.Publish(ctx, e); err != nil {
			s.log().Warn("publish", "type", e.Type, "feed", e.Feed, "seq", e.Seq, "err", err)
		}
		cancel()
	}
}

// online lists the org's reps with a console open. Without presence
// (Redis down), routing to "whoever is online" cannot be done right, so
// the caller fails (EUNAVAILABLE) and the sender retries.
func (s *Service) online(ctx context.Context, orgID string) ([]string, error) {
	return s.Presence.Online(ctx, orgID)
}

// Ingest records a batch of visitor events (validated by the caller) and
// delivers their notifications.
func (s *Service) Ingest(ctx context.Context, orgID string, events []onramp.VisitorEvent) (*onramp.IngestResult, error) {
	var online []string
	if slices.ContainsFunc(events, func(e onramp.VisitorEvent) bool { return e.Type == onramp.VisitWaitingForRep }) {
		var err error
		if online, err = s.online(ctx, orgID); err != nil {
			return nil, err
		}
	}
	res, err := s.Store.IngestVisitorEvents(ctx, orgID, events, online)
	if err != nil {
		return nil, err
	}
	s.publish(res.Events)
	s.push(res.Pushes)
	return res, nil
}

// push sends mobile pushes; a failure is logged (the desktop
// notification is in the rep's feed either way).
func (s *Service) push(pushes []onramp.Push) {
	if s.Push == nil {
		return
	}
	for _, p := range pushes {
		ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
		if err := s.Push.Send(ctx, p); err != nil {
			s.log().Warn("push", "device", p.DeviceID, "err", err)
		}
		cancel()
	}
}

// Chat is a conversation just started: the visitor's token (shown once)
// and the position of its feed the visitor's stream starts from.
type Chat struct {
	Conversation *onramp.Conversation `json:"conversation"`
	Token        string               `json:"token"`
	Cursor       string               `json:"cursor"`
}

// StartChat opens a conversation for a visitor of the org whose slug is
// orgSlug and tells the online ready reps (and pushes to their phones).
func (s *Service) StartChat(ctx context.Context, orgSlug string, nc onramp.NewConversation) (*Chat, error) {
	org, err := s.Orgs.FindOrgBySlug(ctx, orgSlug)
	if err != nil {
		return nil, err
	}
	online, err := s.online(ctx, org.ID)
	if err != nil {
		return nil, err
	}
	c, token, d, err := s.Store.StartConversation(ctx, org.ID, nc, online)
	if err != nil {
		return nil, err
	}
	s.publish(d.Events)
	s.push(d.Pushes)
	// The visitor's position: what this start wrote to the conversation's
	// feed, so that nothing after it (a rep accepting at once) is missed.
	var seq int64
	for _, e := range d.Events {
		if e.Feed == onramp.ConversationFeed(c.ID) {
			seq = max(seq, e.Seq)
		}
	}
	return &Chat{Conversation: c, Token: token, Cursor: strconv.FormatInt(seq, 10)}, nil
}

// Accept gives a waiting conversation to a rep; the first wins (ECONFLICT
// for the others). The org's other reps are told it is taken.
func (s *Service) Accept(ctx context.Context, orgID, id, repID string) (*onramp.Conversation, error) {
	c, events, err := s.Store.AcceptConversation(ctx, orgID, id, repID)
	if err != nil {
		return nil, err
	}
	s.publish(events)
	s.publish([]onramp.Event{live(orgID, onramp.EventChatTaken, "", c)})
	return c, nil
}

// The waiting list a rep's console shows is state, not a feed: the console
// reads it again (GET /api/v1/conversations) each time its stream is
// (re)established, and live chat.taken events keep it current meanwhile.

// Send posts a message from the visitor (repID "") or the rep.
func (s *Service) Send(ctx context.Context, orgID, id, sender, repID, text string) (*onramp.ChatMessage, error) {
	m, events, err := s.Store.PostMessage(ctx, orgID, id, sender, repID, text)
	if err != nil {
		return nil, err
	}
	s.publish(events)
	return m, nil
}

// End ends a conversation.
func (s *Service) End(ctx context.Context, orgID, id, sender, repID string) (*onramp.Conversation, error) {
	c, events, err := s.Store.EndConversation(ctx, orgID, id, sender, repID)
	if err != nil {
		return nil, err
	}
	s.publish(events)
	// No longer waiting, if it was: reps drop it from their lists.
	s.publish([]onramp.Event{live(orgID, onramp.EventChatTaken, "", c)})
	return c, nil
}

// Typing says, live only, that sender is typing in conversation c: to the
// visitor and to c's rep.
func (s *Service) Typing(ctx context.Context, c *onramp.Conversation, sender string) error {
	e := live(c.OrgID, onramp.EventChatTyping, c.RepID, onramp.ChatTyping{ConversationID: c.ID, Sender: sender})
	return s.Bus.Publish(ctx, e)
}

// live is an event that is not in any feed.
func live(orgID, typ, repID string, data any) onramp.Event {
	raw, _ := json.Marshal(data)
	return onramp.Event{OrgID: orgID, Type: typ, RepID: repID, At: time.Now(), Data: raw}
}

// Escalate tells the admins about conversations nobody accepted within
// wait (each once). Safe to run in every process at once.
func (s *Service) Escalate(ctx context.Context, wait time.Duration) error {
	events, err := s.Store.EscalateWaiting(ctx, time.Now().Add(-wait))
	if err != nil {
		return err
	}
	s.publish(events)
	return nil
}

// Prune deletes feed entries older than retention.
func (s *Service) Prune(ctx context.Context, retention time.Duration) (int64, error) {
	return s.Store.PruneFeeds(ctx, time.Now().Add(-retention))
}

// PushLog is the PushSender of this release: no push provider (APNs, FCM)
// can be reached from here, so it records what it would send, the newest
// max pushes, for tests and the dev pages to read.
type PushLog struct {
	mu   sync.Mutex
	max  int
	sent []onramp.Push
}

// NewPushLog keeps the newest max pushes.
func NewPushLog(max int) *PushLog { return &PushLog{max: max} }

// Send records p.
func (l *PushLog) Send(_ context.Context, p onramp.Push) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sent = append(l.sent, p)
	if len(l.sent) > l.max {
		l.sent = slices.Delete(l.sent, 0, len(l.sent)-l.max)
	}
	return nil
}

// Sent returns what was recorded, oldest first.
func (l *PushLog) Sent() []onramp.Push {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.sent)
}
