package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/realtime"
)

// Feeds reads the feeds SSE streams catch up from (docs/REALTIME.md).
type Feeds interface {
	FeedHeads(ctx context.Context, orgID string, feeds []string) ([]int64, error)
	FeedSince(ctx context.Context, orgID, feed string, after int64, limit int) ([]onramp.Event, bool, error)
	FeedRecent(ctx context.Context, orgID, feed string, limit int) ([]onramp.Event, error)
}

// Realtime is what the API needs of the real-time service
// (realtime.Service).
type Realtime interface {
	Ingest(ctx context.Context, orgID string, events []onramp.VisitorEvent) (*onramp.IngestResult, error)
	StartChat(ctx context.Context, orgSlug string, nc onramp.NewConversation) (*realtime.Chat, error)
	Accept(ctx context.Context, orgID, id, repID string) (*onramp.Conversation, error)
	Send(ctx context.Context, orgID, id, sender, repID, text string) (*onramp.ChatMessage, error)
	End(ctx context.Context, orgID, id, sender, repID string) (*onramp.Conversation, error)
	Typing(ctx context.Context, c *onramp.Conversation, sender string) error
}

var _ Realtime = (*realtime.Service)(nil)

// Chats reads conversations.
type Chats interface {
	Conversation(ctx context.Context, orgID, id string) (*onramp.Conversation, error)
	ConversationByToken(ctx context.Context, id, token string) (*onramp.Conversation, error)
	Messages(ctx context.Context, orgID, id string) ([]onramp.ChatMessage, error)
	Conversations(ctx context.Context, orgID, repID string) ([]onramp.Conversation, error)
}

// APIKeys are the orgs' keys for the visitor-events API.
type APIKeys interface {
	CreateAPIKey(ctx context.Context, orgID, actorID, name string) (*onramp.APIKey, string, error)
	APIKeys(ctx context.Context, orgID string) ([]onramp.APIKey, error)
	RevokeAPIKey(ctx context.Context, orgID, actorID, id string) error
	FindAPIKey(ctx context.Context, secret string) (*onramp.APIKey, error)
}

// ingestPerMinute is how many visitor-event requests one API key may make
// a minute (a variable for the tests).
var ingestPerMinute = 1200

// Limits of the real-time routes.
const (
	visitorEventsLimit = 256 << 10 // one POST /api/v1/visitor-events
	chatStartPerMinute = 20        // conversations started per client address
	chatPerMinute      = 120       // visitor messages per conversation
	typingPerMinute    = 60        // visitor typing signals per conversation
	streamsPerMinute   = 30        // visitor streams opened per conversation
	recentEntries      = 50        // GET /api/v1/notifications
)

// bearer is the request's bearer token, "" without one.
func bearer(c *gin.Context) string {
	h := c.GetHeader("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "Bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// apiKey authenticates a request by the org's API key (Authorization:
// Bearer onr_…) and rate-limits it per key.
func (s *Server) apiKey(c *gin.Context) {
	k, err := s.Keys.FindAPIKey(c.Request.Context(), bearer(c))
	if err != nil {
		if onramp.ErrorCode(err) == onramp.EUNAUTHORIZED {
			err = onramp.Errorf(onramp.EUNAUTHORIZED, "Send a valid API key: Authorization: Bearer <key> (admins create keys on the admin page).")
		}
		fail(c, err)
		return
	}
	if err := s.limit(c, "ingest:"+k.ID, ingestPerMinute, time.Minute); err != nil {
		fail(c, err)
		return
	}
	c.Set("apikey", k)
	c.Next()
}

// limit counts one attempt for key; ERATELIMITED when over.
func (s *Server) limit(c *gin.Context, key string, n int, window time.Duration) error {
	ok, retry, err := s.Limiter.Allow(c.Request.Context(), key, n, window)
	if err != nil {
		return err
	}
	if !ok {
		return rateLimited("Too many requests.", retry)
	}
	return nil
}

// visitorEventsRequest is a batch; a single event is accepted too.
type visitorEventsRequest struct {
	Events []onramp.VisitorEvent `json:"events"`
}

// decodeVisitorEvents parses a body of one event, {"events":[…]} or […]:
// EBADREQUEST for what is not such JSON, EINVALID for no events or more
// than MaxVisitorBatch. The body's size is bounded by the route.
func decodeVisitorEvents(body []byte) ([]onramp.VisitorEvent, error) {
	body = bytes.TrimSpace(body)
	bad := func(err error) error {
		return &onramp.Error{Code: onramp.EBADREQUEST, Message: "Send JSON: one event, {\"events\": [...]} or [...].", Err: err}
	}
	var events []onramp.VisitorEvent
	switch {
	case len(body) > 0 && body[0] == '[':
		if err := json.Unmarshal(body, &events); err != nil {
			return nil, bad(err)
		}
	case len(body) > 0 && body[0] == '{':
		var probe map[string]json.RawMessage
		if err := json.Unmarshal(body, &probe); err != nil {
			return nil, bad(err)
		}
		if _, ok := probe["events"]; ok {
			var req visitorEventsRequest
			if err := json.Unmarshal(body, &req); err != nil {
				return nil, bad(err)
			}
			events = req.Events
		} else {
			var e onramp.VisitorEvent
			if err := json.Unmarshal(body, &e); err != nil {
				return nil, bad(err)
			}
			events = []onramp.VisitorEvent{e}
		}
	default:
		return nil, bad(nil)
	}
	switch {
	case len(events) == 0:
		return nil, &onramp.Error{Code: onramp.EINVALID, Message: "No events.", Fields: map[string]string{"events": "Send at least one event."}}
	case len(events) > onramp.MaxVisitorBatch:
		msg := fmt.Sprintf("At most %d events per request.", onramp.MaxVisitorBatch)
		return nil, &onramp.Error{Code: onramp.EINVALID, Message: msg, Fields: map[string]string{"events": msg}}
	}
	return events, nil
}

// validateVisitorEvents checks every event; the fields of the errors are
// named events[i].field. Nothing is recorded unless all are valid.
func validateVisitorEvents(events []onramp.VisitorEvent) error {
	f := map[string]string{}
	for i := range events {
		for k, v := range onramp.ErrorFields(events[i].Validate()) {
			f[fmt.Sprintf("events[%d].%s", i, k)] = v
		}
	}
	return onramp.FieldErrors(f)
}

// visitorEvents is POST /api/v1/visitor-events: the website reports what
// visitors do; their notifications go out. 202 with what was accepted.
func (s *Server) visitorEvents(c *gin.Context) {
	if ct := c.ContentType(); ct != "application/json" {
		fail(c, onramp.Errorf(onramp.EUNSUPPORTED, "Send JSON (Content-Type: application/json)."))
		return
	}
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		fail(c, bodyError(err, "JSON body"))
		return
	}
	events, err := decodeVisitorEvents(body)
	if err != nil {
		fail(c, err)
		return
	}
	if err := validateVisitorEvents(events); err != nil {
		fail(c, err)
		return
	}
	k := c.MustGet("apikey").(*onramp.APIKey)
	res, err := s.Realtime.Ingest(c.Request.Context(), k.OrgID, events)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, res)
}

// API keys (admins).

func (s *Server) createAPIKey(c *gin.Context) {
	var req struct {
		Name string `json:"name"`
	}
	if err := bindJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	u := userOf(c)
	k, secret, err := s.Keys.CreateAPIKey(c.Request.Context(), u.OrgID, u.ID, req.Name)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"id": k.ID, "name": k.Name, "hint": k.Hint, "created_at": k.CreatedAt, "key": secret})
}

func (s *Server) listAPIKeys(c *gin.Context) {
	keys, err := s.Keys.APIKeys(c.Request.Context(), userOf(c).OrgID)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"keys": keys})
}

func (s *Server) revokeAPIKey(c *gin.Context) {
	u := userOf(c)
	if err := s.Keys.RevokeAPIKey(c.Request.Context(), u.OrgID, u.ID, c.Param("id")); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// notifications is GET /api/v1/notifications: the newest entries of the
// caller's own feed, and the cursor to open /api/v1/events from, so that a
// console shows its recent state and then misses nothing.
func (s *Server) notifications(c *gin.Context) {
	u := userOf(c)
	ctx := c.Request.Context()
	feeds := []string{onramp.UserFeed(u.ID)}
	if u.Role != onramp.RoleRep {
		feeds = append(feeds, onramp.OrgFeed(u.OrgID))
	}
	heads, err := s.Feeds.FeedHeads(ctx, u.OrgID, feeds)
	if err != nil {
		fail(c, err)
		return
	}
	// Read after the heads: an entry newer than the cursor is dropped
	// here, and comes through the stream.
	entries, err := s.Feeds.FeedRecent(ctx, u.OrgID, feeds[0], recentEntries)
	if err != nil {
		fail(c, err)
		return
	}
	out := []onramp.Event{}
	for _, e := range entries {
		if e.Seq <= heads[0] {
			if u.Role == onramp.RoleRep && strings.HasPrefix(e.Type, "onboarding.") {
				e = forRep(e)
			}
			out = append(out, e)
		}
	}
	st := &stream{cur: heads}
	c.JSON(http.StatusOK, gin.H{"entries": out, "cursor": st.cursor()})
}

// Chat, the rep's side.

// conversationResponse is a conversation with its messages.
type conversationResponse struct {
	Conversation *onramp.Conversation `json:"conversation"`
	Messages     []onramp.ChatMessage `json:"messages"`
}

func (s *Server) listConversations(c *gin.Context) {
	u := userOf(c)
	list, err := s.Chats.Conversations(c.Request.Context(), u.OrgID, u.ID)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"conversations": list})
}

func (s *Server) getConversation(c *gin.Context) {
	u := userOf(c)
	conv, err := s.Chats.Conversation(c.Request.Context(), u.OrgID, c.Param("id"))
	if err != nil {
		fail(c, err)
		return
	}
	s.respondConversation(c, conv)
}

func (s *Server) respondConversation(c *gin.Context, conv *onramp.Conversation) {
	msgs, err := s.Chats.Messages(c.Request.Context(), conv.OrgID, conv.ID)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, conversationResponse{Conversation: conv, Messages: msgs})
}

func (s *Server) acceptConversation(c *gin.Context) {
	u := userOf(c)
	conv, err := s.Realtime.Accept(c.Request.Context(), u.OrgID, c.Param("id"), u.ID)
	if err != nil {
		fail(c, err)
		return
	}
	s.respondConversation(c, conv)
}

type messageRequest struct {
	Text string `json:"text"`
}

func (s *Server) repMessage(c *gin.Context) {
	var req messageRequest
	if err := bindJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	u := userOf(c)
	m, err := s.Realtime.Send(c.Request.Context(), u.OrgID, c.Param("id"), onramp.SenderRep, u.ID, req.Text)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, m)
}

func (s *Server) repTyping(c *gin.Context) {
	u := userOf(c)
	conv, err := s.Chats.Conversation(c.Request.Context(), u.OrgID, c.Param("id"))
	if err != nil {
		fail(c, err)
		return
	}
	if conv.RepID != u.ID || conv.State != onramp.ChatActive {
		fail(c, onramp.Errorf(onramp.EFORBIDDEN, "This chat is not yours."))
		return
	}
	if err := s.Realtime.Typing(c.Request.Context(), conv, onramp.SenderRep); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *Server) repEnd(c *gin.Context) {
	u := userOf(c)
	conv, err := s.Realtime.End(c.Request.Context(), u.OrgID, c.Param("id"), onramp.SenderRep, u.ID)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, conv)
}

// Chat, the visitor's side: public, authenticated by the conversation's
// token (Authorization: Bearer, or ?token= for EventSource, which cannot
// send headers). Cross-origin, since the widget runs on the org's site.

// publicCORS lets the website's widget call the visitor chat API. No
// cookies are involved: the token is the credential.
func publicCORS(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-CSRF-Token")
	h.Set("Access-Control-Allow-Methods", "GET, POST")
	h.Set("Access-Control-Max-Age", "600")
	if c.Request.Method == http.MethodOptions {
		c.AbortWithStatus(http.StatusNoContent)
		return
	}
	c.Next()
}

// visitorConversation authenticates the visitor of conversation :id.
func (s *Server) visitorConversation(c *gin.Context) {
	token := bearer(c)
	if token == "" && c.Request.Method == http.MethodGet {
		token = c.Query("token")
	}
	if token == "" {
		fail(c, onramp.Errorf(onramp.EUNAUTHORIZED, "Send the conversation's token: Authorization: Bearer <token>."))
		return
	}
	conv, err := s.Chats.ConversationByToken(c.Request.Context(), c.Param("id"), token)
	if err != nil {
		fail(c, err)
		return
	}
	c.Set("conversation", conv)
	c.Next()
}

func conversationOf(c *gin.Context) *onramp.Conversation {
	return c.MustGet("conversation").(*onramp.Conversation)
}

func (s *Server) startChat(c *gin.Context) {
	if err := s.limit(c, "chat-start:"+c.ClientIP(), chatStartPerMinute, time.Minute); err != nil {
		fail(c, err)
		return
	}
	var nc onramp.NewConversation
	if err := bindJSON(c, &nc); err != nil {
		fail(c, err)
		return
	}
	if err := nc.Validate(); err != nil {
		fail(c, err)
		return
	}
	chat, err := s.Realtime.StartChat(c.Request.Context(), c.Param("org"), nc)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, chat)
}

// visitorGet is the conversation, its messages, and the cursor of its
// feed read before them: the visitor's stream opened from it misses
// nothing that happened after (a widget reloading on every page).
func (s *Server) visitorGet(c *gin.Context) {
	conv := conversationOf(c)
	ctx := c.Request.Context()
	heads, err := s.Feeds.FeedHeads(ctx, conv.OrgID, []string{onramp.ConversationFeed(conv.ID)})
	if err != nil {
		fail(c, err)
		return
	}
	if conv, err = s.Chats.Conversation(ctx, conv.OrgID, conv.ID); err != nil {
		fail(c, err)
		return
	}
	msgs, err := s.Chats.Messages(ctx, conv.OrgID, conv.ID)
	if err != nil {
		fail(c, err)
		return
	}
	st := &stream{cur: heads}
	c.JSON(http.StatusOK, gin.H{"conversation": conv, "messages": msgs, "cursor": st.cursor()})
}

func (s *Server) visitorMessage(c *gin.Context) {
	conv := conversationOf(c)
	if err := s.limit(c, "chat:"+conv.ID, chatPerMinute, time.Minute); err != nil {
		fail(c, err)
		return
	}
	var req messageRequest
	if err := bindJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	m, err := s.Realtime.Send(c.Request.Context(), conv.OrgID, conv.ID, onramp.SenderVisitor, "", req.Text)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, m)
}

func (s *Server) visitorTyping(c *gin.Context) {
	conv := conversationOf(c)
	if err := s.limit(c, "chat-typing:"+conv.ID, typingPerMinute, time.Minute); err != nil {
		fail(c, err)
		return
	}
	if conv.State != onramp.ChatActive {
		c.Status(http.StatusNoContent) // nobody to tell yet
		return
	}
	if err := s.Realtime.Typing(c.Request.Context(), conv, onramp.SenderVisitor); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *Server) visitorEnd(c *gin.Context) {
	conv := conversationOf(c)
	conv, err := s.Realtime.End(c.Request.Context(), conv.OrgID, conv.ID, onramp.SenderVisitor, "")
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, conv)
}

// visitorEvents is GET /api/v1/chat/conversations/:id/events: the
// conversation's messages and state as SSE, with the same cursor rules as
// /api/v1/events, and the rep's typing.
func (s *Server) visitorStream(c *gin.Context) {
	conv := conversationOf(c)
	if err := s.limit(c, "chat-stream:"+conv.ID, streamsPerMinute, time.Minute); err != nil {
		fail(c, err)
		return
	}
	st := &stream{s: s, c: c, rc: http.NewResponseController(c.Writer), orgID: conv.OrgID, feeds: []string{onramp.ConversationFeed(conv.ID)}}
	from, err := parseCursor(c, 1)
	if err != nil {
		fail(c, err)
		return
	}
	st.redact = func(e onramp.Event) onramp.Event { return e }
	st.visible = func(e onramp.Event) *onramp.Event {
		if e.Type != onramp.EventChatTyping {
			return nil
		}
		var t onramp.ChatTyping
		if json.Unmarshal(e.Data, &t) == nil && t.ConversationID == conv.ID && t.Sender == onramp.SenderRep {
			e.RepID = ""
			return &e
		}
		return nil
	}
	st.serve(c.Request.Context(), from, func() bool { return true }, nil)
}
