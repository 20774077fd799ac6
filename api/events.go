package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/onramp/onramp"
)

// SSE timings: a comment every heartbeat keeps idle streams open through
// proxies, checks that the session is still valid and keeps a console's
// rep online; a write that takes longer than writeTimeout (a stalled
// client) ends the stream.
var (
	sseHeartbeat    = 15 * time.Second
	sseWriteTimeout = 10 * time.Second
	presenceTTL     = 45 * time.Second
)

// maxCatchUp bounds how many entries one stream reads back before it tells
// the client to refetch instead.
const maxCatchUp = 5000

// catchUpPage is how many entries one catch-up read asks for.
const catchUpPage = 500

// An event that arrives ahead of its feed's next seq is usually not a loss:
// two writers committed in seq order but published in the other. The
// stream holds it for up to reorderWait (at most maxEarly of them) for the
// missing ones to arrive, and only then reads the gap from Postgres —
// otherwise every open stream would query the database for each reordered
// pair.
//
// A catch-up read that fails (the database slow or away) does not end a
// live stream: it is tried again after retryWait, and only a stream that
// fell maxEarly*4 entries behind meanwhile ends (the client resumes later).
var (
	reorderWait = time.Second
	retryWait   = 2 * time.Second
	maxEarly    = 64
)

// stream is one SSE response reading feeds from positions cur
// (docs/REALTIME.md). Its "id:" is the cursor: every feed's position,
// joined with ".".
type stream struct {
	s     *Server
	c     *gin.Context
	rc    *http.ResponseController
	orgID string
	feeds []string
	cur   []int64
	// visible says whether a live event without a feed is for this
	// client, and what to send of it (nil: nothing).
	visible func(e onramp.Event) *onramp.Event
	// redact strips what this client may not see of a feed entry.
	redact func(e onramp.Event) onramp.Event
	// ended is set (by visible) when the stream must end.
	ended bool
	// early holds, per feed, entries that arrived before their turn;
	// gapC fires when they have waited long enough.
	early []map[int64]onramp.Event
	gapC  <-chan time.Time
	// live is set once the stream has caught up and relays live events.
	live bool
}

// cursor is the stream's position as its SSE id.
func (st *stream) cursor() string {
	parts := make([]string, len(st.cur))
	for i, n := range st.cur {
		parts[i] = strconv.FormatInt(n, 10)
	}
	return strings.Join(parts, ".")
}

// parseCursor reads a client's position: Last-Event-ID (EventSource sends
// it on its reconnects), else ?last_event_id= (a page that reloads).
// Returns nil when there is none; EBADREQUEST when it is not numbers
// joined by "."; a position of another shape (of a stream with other
// feeds: the user's role changed) is returned as all -1, which the stream
// answers with a reset.
func parseCursor(c *gin.Context, n int) ([]int64, error) {
	raw := c.GetHeader("Last-Event-ID")
	if raw == "" {
		raw = c.Query("last_event_id")
	}
	if raw == "" {
		return nil, nil
	}
	bad := onramp.Errorf(onramp.EBADREQUEST, "Last-Event-ID must be the id of an event of this stream.")
	parts := strings.Split(raw, ".")
	if len(raw) > 200 {
		return nil, bad
	}
	cur := make([]int64, len(parts))
	for i, p := range parts {
		v, err := strconv.ParseInt(p, 10, 64)
		if err != nil || v < 0 {
			return nil, bad
		}
		cur[i] = v
	}
	if len(cur) != n {
		cur = make([]int64, n)
		for i := range cur {
			cur[i] = -1
		}
	}
	return cur, nil
}

// write sends one frame within sseWriteTimeout; false ends the stream.
func (st *stream) write(frame string) bool {
	if err := st.rc.SetWriteDeadline(time.Now().Add(sseWriteTimeout)); err != nil {
		return false
	}
	if _, err := fmt.Fprint(st.c.Writer, frame); err != nil {
		return false
	}
	return st.rc.Flush() == nil
}

// send writes one event; a feed entry carries the cursor after it.
func (st *stream) send(e onramp.Event) bool {
	id := ""
	if e.Feed != "" {
		id = "id: " + st.cursor() + "\n"
	}
	return st.write(fmt.Sprintf("%sevent: %s\ndata: %s\n\n", id, e.Type, mustJSON(e)))
}

// reset tells the client it cannot catch up (its position is older than
// what is kept, or not of these feeds): it refetches its state and
// carries on from the current position.
func (st *stream) reset(ctx context.Context) bool {
	heads, err := st.s.Feeds.FeedHeads(ctx, st.orgID, st.feeds)
	if err != nil {
		return false
	}
	st.cur = heads
	return st.write(fmt.Sprintf("id: %s\nevent: reset\ndata: {}\n\n", st.cursor()))
}

// feedPage is one catch-up read.
type feedPage struct {
	entries []onramp.Event
	gone    bool
}

// readFeed reads feed after seq after. The streams of one process that
// need the same page at the same time (many streams of one user, all
// behind the same reordered publish) share one read; the entries are
// read-only.
func (st *stream) readFeed(ctx context.Context, feed string, after int64) ([]onramp.Event, bool, error) {
	key := st.orgID + "|" + feed + "|" + strconv.FormatInt(after, 10)
	v, err, _ := st.s.catchUps.Do(key, func() (any, error) {
		// Shared: not cut short by the one client that asked first.
		entries, gone, err := st.s.Feeds.FeedSince(context.WithoutCancel(ctx), st.orgID, feed, after, catchUpPage)
		return feedPage{entries, gone}, err
	})
	if err != nil {
		return nil, false, err
	}
	p := v.(feedPage)
	return p.entries, p.gone, nil
}

// catchUp sends feed i's entries after the stream's position in it, from
// Postgres. false ends the stream. A read that fails ends a stream that
// is starting (its client tries again), not one that is live: that one
// tries again in a moment.
func (st *stream) catchUp(ctx context.Context, i int) bool {
	sent := 0
	for {
		entries, gone, err := st.readFeed(ctx, st.feeds[i], st.cur[i])
		if err != nil {
			st.s.log.Warn("sse catch-up", "feed", st.feeds[i], "err", err)
			if !st.live || len(st.early[i]) > 4*maxEarly {
				return false
			}
			st.gapC = time.After(retryWait)
			return true
		}
		if gone || sent > maxCatchUp {
			return st.reset(ctx)
		}
		if len(entries) == 0 {
			return true
		}
		for _, e := range entries {
			st.cur[i] = e.Seq
			if !st.send(st.redact(e)) {
				return false
			}
		}
		sent += len(entries)
		st.dropEarly(i)
		if len(entries) < catchUpPage {
			return true // that was the rest
		}
	}
}

// dropEarly forgets the early entries of feed i that were sent since.
func (st *stream) dropEarly(i int) {
	for seq := range st.early[i] {
		if seq <= st.cur[i] {
			delete(st.early[i], seq)
		}
	}
}

// serve runs the stream: subscribe first (so that nothing published after
// the reads below is missed), catch up from the client's position or
// start at the current one, then relay live events in seq order, reading
// any gap back from Postgres. It returns when the client goes, the
// server shuts down, the bus drops the subscription (the client
// reconnects with its cursor), or stop says so.
func (st *stream) serve(ctx context.Context, from []int64, tick func() bool, stop <-chan time.Time) {
	sub, err := st.s.Bus.Subscribe(ctx, st.orgID)
	if err != nil {
		fail(st.c, err)
		return
	}
	defer sub.Close()
	h := st.c.Writer.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	st.c.Status(http.StatusOK)
	st.early = make([]map[int64]onramp.Event, len(st.feeds))
	for i := range st.early {
		st.early[i] = map[int64]onramp.Event{}
	}
	if !st.write("retry: 3000\n: connected\n\n") {
		return
	}
	if from == nil {
		// A new client: it read its state just before, and starts now.
		heads, err := st.s.Feeds.FeedHeads(ctx, st.orgID, st.feeds)
		if err != nil {
			st.s.log.Warn("sse heads", "err", err)
			return
		}
		st.cur = heads
	} else if from[0] < 0 {
		if !st.reset(ctx) { // a position of another stream
			return
		}
	} else {
		st.cur = from
		for i := range st.feeds {
			if !st.catchUp(ctx, i) {
				return
			}
		}
	}
	if !st.write(fmt.Sprintf("id: %s\nevent: ready\ndata: {}\n\n", st.cursor())) {
		return
	}
	st.live = true
	t := time.NewTicker(sseHeartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-st.s.streams.Done():
			return // shutting down: the client reconnects to another instance
		case <-stop:
			return
		case <-t.C:
			if !tick() || !st.write(": ping\n\n") {
				return
			}
		case <-st.gapC:
			// The missing entries did not come: read them.
			st.gapC = nil
			for i := range st.feeds {
				if len(st.early[i]) > 0 && !st.catchUp(ctx, i) {
					return
				}
			}
		case e, ok := <-sub.C():
			if !ok {
				return // dropped as too slow, or the bus reconnected: the client resumes from its cursor
			}
			if !st.relay(ctx, *e) || st.ended {
				return
			}
		}
	}
}

// relay sends one live event if it is this stream's and new.
func (st *stream) relay(ctx context.Context, e onramp.Event) bool {
	if e.Feed == "" {
		if v := st.visible(e); v != nil {
			return st.send(*v)
		}
		return true
	}
	i := -1
	for j, f := range st.feeds {
		if f == e.Feed {
			i = j
		}
	}
	switch {
	case i < 0, e.Seq <= st.cur[i]:
		return true // not ours, or sent already
	case e.Seq > st.cur[i]+1:
		// Ahead of its turn: wait a little for what comes before it.
		st.early[i][e.Seq] = e
		switch {
		case len(st.early[i]) > 4*maxEarly:
			return false // far behind and the database not answering: the client resumes later
		case len(st.early[i]) > maxEarly && st.gapC == nil:
			return st.catchUp(ctx, i)
		}
		if st.gapC == nil {
			st.gapC = time.After(reorderWait)
		}
		return true
	}
	st.cur[i] = e.Seq
	if !st.send(st.redact(e)) {
		return false
	}
	// Then whatever was waiting for it.
	for {
		next, ok := st.early[i][st.cur[i]+1]
		if !ok {
			return true
		}
		delete(st.early[i], next.Seq)
		st.cur[i] = next.Seq
		if !st.send(st.redact(next)) {
			return false
		}
	}
}

// events is GET /api/v1/events: the caller's live events, as Server-Sent
// Events. A rep reads their own feed (notifications, their chats, their
// onboarding, without failures' detail); admins and support also the
// org's (every rep's onboarding). With ?console=1 a rep is online (for
// Waiting for a Rep) while the stream is open. The stream ends when its
// session does: signed out (at once, on every instance), expired, or the
// user disabled (at the next heartbeat).
func (s *Server) events(c *gin.Context) {
	sess := sessionOf(c)
	u := &sess.User
	token, _ := c.Cookie(sessionCookie)
	handle := sessionHandle(token)
	ctx := c.Request.Context()
	st := &stream{s: s, c: c, rc: http.NewResponseController(c.Writer), orgID: u.OrgID, feeds: []string{onramp.UserFeed(u.ID)}}
	if u.Role != onramp.RoleRep {
		st.feeds = append(st.feeds, onramp.OrgFeed(u.OrgID))
	}
	from, err := parseCursor(c, len(st.feeds))
	if err != nil {
		fail(c, err)
		return
	}
	st.redact = func(e onramp.Event) onramp.Event {
		if u.Role == onramp.RoleRep && strings.HasPrefix(e.Type, "onboarding.") {
			return forRep(e)
		}
		return e
	}
	st.visible = func(e onramp.Event) *onramp.Event {
		switch {
		case e.Type == onramp.EventSessionEnded:
			var se onramp.SessionEnded
			if json.Unmarshal(e.Data, &se) == nil && se.Session == handle {
				st.ended = true
			}
			return nil
		case strings.HasPrefix(e.Type, "session."):
			return nil // internal to the API instances
		case e.Type == onramp.EventChatTaken:
			return &e // every rep drops it from their waiting list
		case e.Type == onramp.EventChatTyping:
			var t onramp.ChatTyping
			if e.RepID == u.ID && json.Unmarshal(e.Data, &t) == nil && t.Sender == onramp.SenderVisitor {
				return &e
			}
			return nil
		case strings.HasPrefix(e.Type, "onboarding."): // a stuck alert sent before it could be written
			if u.Role != onramp.RoleRep {
				return &e
			}
			if e.RepID == u.ID {
				r := forRep(e)
				return &r
			}
		}
		return nil
	}
	console := u.Role == onramp.RoleRep && c.Query("console") == "1"
	conn := newID()
	beat := func() bool {
		if !console {
			return true
		}
		if err := s.Presence.Beat(ctx, u.OrgID, u.ID, conn, presenceTTL); err != nil {
			s.log.Warn("presence", "err", err)
		}
		return true
	}
	if console {
		beat()
		defer func() {
			lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			defer cancel()
			_ = s.Presence.Leave(lctx, u.OrgID, u.ID, conn)
		}()
	}
	expires := time.NewTimer(time.Until(sess.ExpiresAt))
	defer expires.Stop()
	tick := func() bool {
		if _, err := s.Users.FindSession(ctx, token); onramp.ErrorCode(err) == onramp.EUNAUTHORIZED {
			return false // signed out, expired or disabled meanwhile
		}
		return beat()
	}
	st.serve(ctx, from, tick, expires.C)
}

// forRep strips what a rep may not see from an onboarding event: the
// detail of a failure.
func forRep(e onramp.Event) onramp.Event {
	var t onramp.StepTransition
	if err := json.Unmarshal(e.Data, &t); err != nil {
		e.Data = nil
		return e
	}
	e.Data = mustJSON(t.ForRep())
	return e
}
