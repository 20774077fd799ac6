package api

import (
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/onramp/onramp"
)

// sseHeartbeat keeps idle streams open through proxies.
const sseHeartbeat = 15 * time.Second

// events is GET /api/v1/events: Server-Sent Events of the caller's org,
// fanned out from the event bus. A rep gets only their own events; admins
// and support get the org's.
func (s *Server) events(c *gin.Context) {
	u := userOf(c)
	ctx := c.Request.Context()
	sub, err := s.Bus.Subscribe(ctx, u.OrgID)
	if err != nil {
		fail(c, err)
		return
	}
	defer sub.Close()
	flusher, ok := c.Writer.(http.Flusher)
	if !ok {
		fail(c, onramp.Errorf(onramp.EINTERNAL, "streaming unsupported"))
		return
	}
	h := c.Writer.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	c.Status(http.StatusOK)
	fmt.Fprint(c.Writer, "retry: 3000\n: connected\n\n")
	flusher.Flush()
	tick := time.NewTicker(sseHeartbeat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.streams.Done():
			return // shutting down: the client reconnects to another instance
		case <-tick.C:
			if _, err := fmt.Fprint(c.Writer, ": ping\n\n"); err != nil {
				return
			}
			flusher.Flush()
		case e, ok := <-sub.C():
			if !ok {
				return // dropped as too slow, or the bus closed: the client reconnects
			}
			if u.Role == onramp.RoleRep && e.RepID != u.ID {
				continue
			}
			if _, err := fmt.Fprintf(c.Writer, "id: %s\nevent: %s\ndata: %s\n\n", e.ID, e.Type, mustJSON(e)); err != nil {
				return
			}
			flusher.Flush()
		}
	}
}
