// Package api is Onramp's HTTP surface: the JSON API under /api/v1, the
// server-rendered pages, SSE streams and health checks, on Gin. Handlers are
// thin: bind, validate, one service or workflow-client call, respond. Each
// dependency is a small interface declared here, of what the API uses.
package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/sync/singleflight"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/web"
	"github.com/onramp/onramp/workflows"
)

// Onboarding is what the API needs of a rep's onboarding (workflows.Client
// implements it): the workflow while it runs, the projection once it is
// closed. key is the request's idempotency key.
type Onboarding interface {
	CreateRep(ctx context.Context, org *onramp.Org, nu onramp.NewUser) (*onramp.User, error)
	Progress(ctx context.Context, orgID, repID string) (*onramp.Progress, error)
	SignedIn(ctx context.Context, orgID, repID string) (*onramp.Progress, error)
	SaveSettings(ctx context.Context, orgID, repID string, s onramp.Settings, key string) (*onramp.Progress, error)
	Skip(ctx context.Context, orgID, repID string, step onramp.StepKey, key string) (*onramp.Progress, error)
	Finish(ctx context.Context, orgID, repID string, key string) (*onramp.Progress, error)
	Retry(ctx context.Context, orgID, repID string, step onramp.StepKey, key string) (*onramp.Progress, error)
	ResetStep(ctx context.Context, orgID, repID string, step onramp.StepKey, key string) (*onramp.Progress, error)
}

var _ Onboarding = (*workflows.Client)(nil)

// Users is what the API needs of the user service.
type Users interface {
	FindOrgByID(ctx context.Context, id string) (*onramp.Org, error)
	FindOrgBySlug(ctx context.Context, slug string) (*onramp.Org, error)
	FindUser(ctx context.Context, orgID, userID string) (*onramp.User, error)
	Authenticate(ctx context.Context, email, password string) (*onramp.User, error)
	CreateSession(ctx context.Context, u *onramp.User, ttl time.Duration) (string, *onramp.Session, error)
	FindSession(ctx context.Context, token string) (*onramp.Session, error)
	DeleteSession(ctx context.Context, token string) error
	Audit(ctx context.Context, e onramp.AuditEntry) error
}

// Projection is what admin and support pages read.
type Projection interface {
	Progress(ctx context.Context, orgID, repID string) (*onramp.Progress, error)
	StepEvents(ctx context.Context, orgID, repID string) ([]onramp.StepEvent, error)
	ListReps(ctx context.Context, orgID string) ([]onramp.RepSummary, error)
}

// SavedSettings reads a rep's saved settings (forms are filled with them).
type SavedSettings interface {
	AllSettings(ctx context.Context, orgID, repID string) (map[onramp.StepKey]onramp.Settings, error)
}

// Photos stages uploads and serves saved photos.
type Photos interface {
	StagePhoto(ctx context.Context, p *onramp.Photo) (string, error)
	FindPhoto(ctx context.Context, orgID, id string) (*onramp.Photo, error)
}

// Streams are the org's visitor streams.
type Streams interface {
	Streams(ctx context.Context, orgID string) ([]onramp.Stream, error)
	CreateStream(ctx context.Context, orgID string, s onramp.Stream) error
}

// Check is one readiness check (Postgres, Redis, Temporal).
type Check struct {
	Name string
	Ping func(ctx context.Context) error
}

// Config is the API's construction. Every field but Log and the flags is
// required.
type Config struct {
	Users      Users
	Projection Projection
	Settings   SavedSettings
	Photos     Photos
	Streams    Streams
	Onboarding Onboarding
	Feeds      Feeds
	Realtime   Realtime
	Chats      Chats
	Keys       APIKeys
	Presence   onramp.Presence
	Bus        onramp.EventBus
	Limiter    onramp.RateLimiter
	Checks     []Check
	Log        *slog.Logger
	// SecretKey signs the device cookies that exempt a browser a rep
	// signed in from before from their account's sign-in lockout.
	SecretKey []byte
	// Dev relaxes cookies to work on plain http://localhost.
	Dev bool
	// SessionTTL is how long a session lasts (default 12h).
	SessionTTL time.Duration
	// TrustedProxies are the addresses (IPs or CIDRs) of proxies whose
	// X-Forwarded-For is believed. None by default: the client address is
	// the connection's, so rate limits cannot be dodged with a header.
	TrustedProxies []string
}

// Server is the HTTP API and pages.
type Server struct {
	Config
	log    *slog.Logger
	pages  *web.Renderer
	router *gin.Engine
	// streams ends every SSE stream when the HTTP server shuts down: they
	// never go idle, so Shutdown would otherwise wait for its deadline.
	streams     context.Context
	stopStreams context.CancelFunc
	// deviceSecret signs device cookies (derived from SecretKey).
	deviceSecret []byte
	// catchUps lets SSE streams that need the same feed page share a read.
	catchUps singleflight.Group
}

// New builds the server and its routes.
func New(cfg Config) (*Server, error) {
	pages, err := web.New()
	if err != nil {
		return nil, err
	}
	if len(cfg.SecretKey) < 32 {
		return nil, fmt.Errorf("api: the secret key must have at least 32 bytes")
	}
	s := &Server{Config: cfg, log: cfg.Log, pages: pages, deviceSecret: deviceKey(cfg.SecretKey)}
	s.streams, s.stopStreams = context.WithCancel(context.Background())
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.SessionTTL == 0 {
		s.SessionTTL = 12 * time.Hour
	}
	gin.SetMode(gin.ReleaseMode)
	s.router = gin.New()
	if err := s.router.SetTrustedProxies(cfg.TrustedProxies); err != nil {
		return nil, fmt.Errorf("trusted proxies: %w", err)
	}
	s.router.HandleMethodNotAllowed = true
	s.routes()
	return s, nil
}

// ServeHTTP serves the API and pages.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.router.ServeHTTP(w, r) }

// HTTPServer wraps the handler in an http.Server with timeouts. There is no
// ReadTimeout or WriteTimeout: they would cut SSE streams; bodies are capped
// by size per route instead, and each SSE write has its own deadline.
func (s *Server) HTTPServer(addr string) *http.Server {
	hs := &http.Server{
		Addr:              addr,
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	hs.RegisterOnShutdown(s.stopStreams)
	return hs
}
