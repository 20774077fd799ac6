package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/onramp/onramp"
)

// SSE timings: a comment every heartbeat keeps idle streams open through
// proxies and checks that the session is still valid; a write that takes
// longer than writeTimeout (a stalled client) ends the stream.
var (
	sseHeartbeat    = 15 * time.Second
	sseWriteTimeout = 10 * time.Second
)

// events is GET /api/v1/events: Server-Sent Events of the caller's org,
// fanned out from the event bus. A rep gets only their own events, without
// the detail of failures; admins and support get the org's. The stream
// ends when its session does: signed out (at once, on every instance),
// expired, or the user disabled (at the next heartbeat).
func (s *Server) events(c *gin.Context) {
	sess := sessionOf(c)
	u := &sess.User
	token, _ := c.Cookie(sessionCookie)
	handle := sessionHandle(token)
	ctx := c.Request.Context()
	sub, err := s.Bus.Subscribe(ctx, u.OrgID)
	if err != nil {
		fail(c, err)
		return
	}
	defer sub.Close()
	rc := http.NewResponseController(c.Writer)
	h := c.Writer.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	c.Status(http.StatusOK)
	// write sends one frame within sseWriteTimeout; false ends the stream.
	write := func(frame string) bool {
		if err := rc.SetWriteDeadline(time.Now().Add(sseWriteTimeout)); err != nil {
			return false
		}
		if _, err := fmt.Fprint(c.Writer, frame); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !write("retry: 3000\n: connected\n\n") {
		return
	}
	tick := time.NewTicker(sseHeartbeat)
	defer tick.Stop()
	expires := time.NewTimer(time.Until(sess.ExpiresAt))
	defer expires.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.streams.Done():
			return // shutting down: the client reconnects to another instance
		case <-expires.C:
			return
		case <-tick.C:
			if _, err := s.Users.FindSession(ctx, token); onramp.ErrorCode(err) == onramp.EUNAUTHORIZED {
				return // signed out, expired or disabled meanwhile
			}
			if !write(": ping\n\n") {
				return
			}
		case e, ok := <-sub.C():
			if !ok {
				return // dropped as too slow, or the bus closed: the client reconnects
			}
			if e.Type == onramp.EventSessionEnded {
				var se onramp.SessionEnded
				if json.Unmarshal(e.Data, &se) == nil && se.Session == handle {
					return
				}
				continue
			}
			if strings.HasPrefix(e.Type, "session.") {
				continue // internal to the API instances
			}
			if u.Role == onramp.RoleRep {
				if e.RepID != u.ID {
					continue
				}
				e = forRep(e)
			}
			if !write(fmt.Sprintf("id: %s\nevent: %s\ndata: %s\n\n", e.ID, e.Type, mustJSON(e))) {
				return
			}
		}
	}
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
