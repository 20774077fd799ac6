package api

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

// healthz: the process is alive.
func (s *Server) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// readyz: Postgres, Redis and Temporal answer; names the ones that do not
// ("down"), without their error text (it is unauthenticated); the errors go
// to the log.
func (s *Server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 3*time.Second)
	defer cancel()
	res := make(map[string]string, len(s.Checks))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, ch := range s.Checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := "ok"
			if err := ch.Ping(ctx); err != nil {
				v = "down"
				s.log.Warn("readiness check failed", "check", ch.Name, "err", err)
			}
			mu.Lock()
			res[ch.Name] = v
			mu.Unlock()
		}()
	}
	wg.Wait()
	status, body := http.StatusOK, gin.H{"status": "ready", "checks": res}
	var down []string
	for name, v := range res {
		if v != "ok" {
			down = append(down, name)
		}
	}
	if len(down) > 0 {
		status = http.StatusServiceUnavailable
		body["status"] = "not ready"
		body["down"] = down
	}
	c.JSON(status, body)
}
