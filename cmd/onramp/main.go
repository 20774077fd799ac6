// Command onramp runs Onramp: dev (everything in one process), serve (API
// and pages), worker (Temporal worker), migrate and loadgen.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // IANA zones even where the OS has none (containers)

	"github.com/redis/go-redis/v9"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/onramp/onramp/activities"
	"github.com/onramp/onramp/api"
	"github.com/onramp/onramp/loadgen"
	"github.com/onramp/onramp/postgres"
	"github.com/onramp/onramp/realtime"
	"github.com/onramp/onramp/redisbus"
	"github.com/onramp/onramp/temporaldev"
	"github.com/onramp/onramp/worker"
	"github.com/onramp/onramp/workflows"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "onramp:", err)
		os.Exit(1)
	}
}

const usage = `Onramp: workflow-orchestrated onboarding for chat and meeting reps.

Usage:
  onramp dev               everything in one process on ONRAMP_ADDR: in-process Temporal
                           (SQLite under ONRAMP_DATA_DIR), migrations, demo org, API, pages, worker
  onramp serve             API and pages (production; Temporal at TEMPORAL_ADDRESS)
  onramp worker            Temporal worker (production; registers search attributes)
  onramp migrate up|status apply or list the database migrations
  onramp loadgen onboarding [flags]
                           N reps onboarding concurrently through the HTTP API of a running
                           onramp dev, against a bare Temporal workflow on the same server
  onramp loadgen sse -target onramp|centrifugo [flags]
                           N SSE clients held by one server: memory per connection, and the
                           fan-out's publish -> received latency and notifications/s

`

// run is main without the process: tests call it too.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		printSettings(stdout)
		return nil
	}
	cmd, rest := args[0], args[1:]
	if len(rest) > 0 && (rest[0] == "-h" || rest[0] == "--help") {
		fmt.Fprint(stdout, usage)
		printSettings(stdout)
		return nil
	}
	switch cmd {
	case "dev", "serve", "worker", "migrate":
	case "loadgen":
		return loadgen.Main(ctx, rest, getenv, stdout)
	default:
		return fmt.Errorf("unknown command %q (try onramp --help)", cmd)
	}
	cfg, err := loadConfig(getenv, cmd == "dev" || cmd == "migrate")
	if err != nil {
		return err
	}
	log := newLogger(cfg, stdout)
	switch cmd {
	case "dev":
		return runDev(ctx, cfg, log, stdout)
	case "serve":
		return runServe(ctx, cfg, log)
	case "worker":
		return runWorker(ctx, cfg, log)
	default:
		return runMigrate(ctx, cfg, rest, stdout)
	}
}

func newLogger(cfg *config, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func runMigrate(ctx context.Context, cfg *config, args []string, stdout io.Writer) error {
	if len(args) != 1 || (args[0] != "up" && args[0] != "status") {
		return errors.New("usage: onramp migrate up|status")
	}
	db, err := postgres.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return fmt.Errorf("postgres %s: %w", redact(cfg.DatabaseURL), err)
	}
	defer db.Close()
	if args[0] == "up" {
		applied, err := db.Migrate(ctx)
		if err != nil {
			return err
		}
		if len(applied) == 0 {
			fmt.Fprintln(stdout, "migrations: up to date")
		}
		for _, m := range applied {
			fmt.Fprintln(stdout, "applied", m)
		}
		return nil
	}
	ms, err := db.MigrationStatus(ctx)
	if err != nil {
		return err
	}
	for _, m := range ms {
		at := "pending"
		if m.AppliedAt != nil {
			at = "applied " + m.AppliedAt.Format(time.RFC3339)
		}
		fmt.Fprintf(stdout, "%s\t%s\t%s\n", m.Version, m.Name, at)
	}
	return nil
}

// deps are the adapters every process needs.
type deps struct {
	db     *postgres.DB
	users  *postgres.UserService
	store  *postgres.Store
	rdb    *redis.Client
	bus    *redisbus.Bus
	limit  *redisbus.Limiter
	rt     *realtime.Service
	pushes *realtime.PushLog
	tc     client.Client
	closer []func()
}

func (d *deps) Close() {
	for i := len(d.closer) - 1; i >= 0; i-- {
		d.closer[i]()
	}
}

// openDeps connects to Postgres, Redis and Temporal at hostPort.
func openDeps(ctx context.Context, cfg *config, log *slog.Logger, hostPort string) (_ *deps, err error) {
	d := &deps{}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	if d.db, err = postgres.Open(ctx, cfg.DatabaseURL); err != nil {
		return nil, fmt.Errorf("postgres %s: %w", redact(cfg.DatabaseURL), err)
	}
	d.closer = append(d.closer, d.db.Close)
	d.db.SetTimeout(cfg.DBTimeout)
	d.users, d.store = postgres.NewUserService(d.db), postgres.NewStore(d.db)
	if d.rdb, err = redisbus.Open(ctx, cfg.RedisURL); err != nil {
		return nil, fmt.Errorf("redis %s: %w", redact(cfg.RedisURL), err)
	}
	d.closer = append(d.closer, func() { d.rdb.Close() })
	d.bus, d.limit = redisbus.New(d.rdb, cfg.RedisPrefix), redisbus.NewLimiter(d.rdb, cfg.RedisPrefix)
	d.closer = append(d.closer, func() { d.bus.Close() })
	d.pushes = realtime.NewPushLog(1000)
	d.rt = &realtime.Service{Store: d.store, Orgs: d.users, Bus: d.bus, Presence: redisbus.NewPresence(d.rdb, cfg.RedisPrefix),
		Push: d.pushes, Log: log.With("component", "realtime")}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	d.tc, err = client.DialContext(dctx, client.Options{
		HostPort: hostPort, Namespace: cfg.TemporalNS,
		Logger: sdklog.NewStructuredLogger(log.With("component", "temporal-client")),
	})
	if err != nil {
		return nil, fmt.Errorf("temporal %s: %w", hostPort, err)
	}
	d.closer = append(d.closer, d.tc.Close)
	return d, nil
}

// activities returns the worker's activities, with a background event
// publisher that d closes.
func (d *deps) activities(log *slog.Logger) *activities.Activities {
	pub := activities.NewPublisher(d.bus, log)
	d.closer = append(d.closer, pub.Close)
	return &activities.Activities{Store: d.store, Events: pub}
}

func (d *deps) onboarding(cfg *config) *workflows.Client {
	return &workflows.Client{Temporal: d.tc, Users: d.users, Store: d.store, Timeout: cfg.TemporalTimeout}
}

func (d *deps) api(cfg *config, log *slog.Logger, dev bool) (*api.Server, error) {
	return api.New(api.Config{
		Users: d.users, Projection: d.store, Settings: d.store, Photos: d.store, Streams: d.store,
		Onboarding: d.onboarding(cfg), Bus: d.bus, Limiter: d.limit, Log: log,
		Feeds: d.store, Realtime: d.rt, Chats: d.store, Keys: d.store, Presence: d.rt.Presence,
		SecretKey: cfg.SecretKey, Dev: dev, TrustedProxies: cfg.TrustedProxies,
		Checks: []api.Check{
			{Name: "postgres", Ping: d.db.Ping},
			{Name: "redis", Ping: d.bus.Ping},
			{Name: "temporal", Ping: func(ctx context.Context) error { _, err := d.tc.CheckHealth(ctx, nil); return err }},
		},
	})
}

// every runs f now and then every period, until ctx ends.
func every(ctx context.Context, period time.Duration, f func(ctx context.Context)) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		f(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Housekeeping of the API processes: expired sessions, and photo uploads
// whose profile was never saved.
const (
	housekeepingPeriod = time.Hour
	staleUploadAge     = 7 * 24 * time.Hour
)

func housekeeping(ctx context.Context, d *deps, log *slog.Logger) {
	every(ctx, housekeepingPeriod, func(ctx context.Context) {
		if n, err := d.users.DeleteExpiredSessions(ctx); err != nil && ctx.Err() == nil {
			log.Warn("delete expired sessions", "err", err)
		} else if n > 0 {
			log.Info("deleted expired sessions", "count", n)
		}
		if n, err := d.store.DeleteStaleUploads(ctx, staleUploadAge); err != nil && ctx.Err() == nil {
			log.Warn("delete stale photo uploads", "err", err)
		} else if n > 0 {
			log.Info("deleted stale photo uploads", "count", n)
		}
	})
}

// realtimeHousekeeping escalates the chats nobody accepted (often: the
// wait is minutes) and prunes old feed entries (hourly). Safe in every API
// process at once.
func realtimeHousekeeping(ctx context.Context, d *deps, cfg *config, log *slog.Logger) {
	go every(ctx, 10*time.Second, func(ctx context.Context) {
		if err := d.rt.Escalate(ctx, cfg.WaitEscalate); err != nil && ctx.Err() == nil {
			log.Warn("escalate waiting chats", "err", err)
		}
	})
	every(ctx, housekeepingPeriod, func(ctx context.Context) {
		if n, err := d.rt.Prune(ctx, cfg.FeedRetention); err != nil && ctx.Err() == nil {
			log.Warn("prune feeds", "err", err)
		} else if n > 0 {
			log.Info("pruned feed entries", "count", n)
		}
	})
}

// The worker's reconciler starts the onboardings whose start failed (the
// rep exists, the workflow does not): reps created more than
// unstartedAfter ago whose onboarding recorded nothing.
const (
	reconcilePeriod = 30 * time.Second
	unstartedAfter  = time.Minute
)

func reconcile(ctx context.Context, wc *workflows.Client, log *slog.Logger) {
	every(ctx, reconcilePeriod, func(ctx context.Context) {
		if n, err := wc.StartUnstarted(ctx, unstartedAfter, 100); err != nil && ctx.Err() == nil {
			log.Warn("start unstarted onboardings", "err", err)
		} else if n > 0 {
			log.Info("started onboardings whose start had failed", "count", n)
		}
	})
}

// serveHTTP serves h on ln until ctx ends, then shuts down gracefully.
func serveHTTP(ctx context.Context, srv *http.Server, ln net.Listener, log *slog.Logger) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	return nil
}

func listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if strings.Contains(err.Error(), "address already in use") {
			return nil, fmt.Errorf("%s is already in use: is another onramp running? Stop it or set ONRAMP_ADDR", addr)
		}
		return nil, err
	}
	return ln, nil
}

// namespaceRefresh is how long a production worker waits after adding
// search attributes: the server's default namespace cache refresh.
const namespaceRefresh = 10 * time.Second

func runServe(ctx context.Context, cfg *config, log *slog.Logger) error {
	ln, err := listen(cfg.Addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	d, err := openDeps(ctx, cfg, log, cfg.TemporalAddress)
	if err != nil {
		return err
	}
	defer d.Close()
	s, err := d.api(cfg, log, false)
	if err != nil {
		return err
	}
	go housekeeping(ctx, d, log)
	go realtimeHousekeeping(ctx, d, cfg, log)
	log.Info("serving", "addr", ln.Addr().String(), "temporal", cfg.TemporalAddress, "postgres", redact(cfg.DatabaseURL))
	return serveHTTP(ctx, s.HTTPServer(cfg.Addr), ln, log)
}

func runWorker(ctx context.Context, cfg *config, log *slog.Logger) error {
	d, err := openDeps(ctx, cfg, log, cfg.TemporalAddress)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := worker.EnsureSearchAttributes(ctx, d.tc, cfg.TemporalNS, worker.SearchAttributes(), namespaceRefresh); err != nil {
		return fmt.Errorf("register search attributes: %w", err)
	}
	go reconcile(ctx, d.onboarding(cfg), log)
	log.Info("worker running", "task_queue", workflows.TaskQueue, "temporal", cfg.TemporalAddress)
	return worker.Run(ctx, d.tc, d.activities(log), worker.Options{})
}

func runDev(ctx context.Context, cfg *config, log *slog.Logger, stdout io.Writer) error {
	ln, err := listen(cfg.Addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	ts, err := temporaldev.Start(ctx, temporaldev.Options{
		DataDir: filepath.Join(cfg.DataDir, "temporal"), Namespace: cfg.TemporalNS,
		FrontendPort: cfg.TemporalPort, Logger: log.With("component", "temporal-server"),
		SearchAttributes: worker.SearchAttributes(),
	})
	if err != nil {
		return fmt.Errorf("start Temporal: %w (is another `onramp dev` running on ONRAMP_DATA_DIR=%s?)", err, cfg.DataDir)
	}
	defer ts.Stop()
	d, err := openDeps(ctx, cfg, log, ts.FrontendHostPort())
	if err != nil {
		return err
	}
	defer d.Close()
	if _, err := d.db.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	// A data directory from an older version may lack some attributes.
	if err := worker.EnsureSearchAttributes(ctx, d.tc, cfg.TemporalNS, worker.SearchAttributes(), temporaldev.NamespaceCacheRefresh+500*time.Millisecond); err != nil {
		return fmt.Errorf("register search attributes: %w", err)
	}
	w := worker.New(d.tc, d.activities(log), worker.Options{})
	if err := w.Start(); err != nil {
		return err
	}
	defer w.Stop()
	demo, err := seedDemo(ctx, d)
	if err != nil {
		return fmt.Errorf("seed demo org: %w", err)
	}
	key, err := demoAPIKey(ctx, d, cfg.DataDir)
	if err != nil {
		return fmt.Errorf("demo API key: %w", err)
	}
	s, err := d.api(cfg, log, true)
	if err != nil {
		return err
	}
	go housekeeping(ctx, d, log)
	go realtimeHousekeeping(ctx, d, cfg, log)
	go reconcile(ctx, d.onboarding(cfg), log)
	base := "http://" + displayAddr(ln.Addr())
	fmt.Fprintf(stdout, "\nOnramp dev is running on %s\n", base)
	fmt.Fprintf(stdout, "  sign in:   %s/login\n  Temporal:  %s (namespace %s; data in %s)\n", base, ts.FrontendHostPort(), cfg.TemporalNS, cfg.DataDir)
	fmt.Fprintf(stdout, "  demo logins (password %q):\n", demoPassword)
	for _, l := range demo {
		fmt.Fprintf(stdout, "    %-8s %s\n", l.role, l.email)
	}
	fmt.Fprintf(stdout, "  rep console: %s/console   visitor chat: %s/chat/demo\n", base, base)
	fmt.Fprintf(stdout, "  a visitor event for the demo rep (API key of the demo org):\n")
	fmt.Fprintf(stdout, "    curl -X POST %s/api/v1/visitor-events -H 'Authorization: Bearer %s' \\\n", base, key)
	fmt.Fprintf(stdout, "      -H 'Content-Type: application/json' -d '{\"id\":\"evt-'$RANDOM'\",\"type\":\"vip\",\"visitor_id\":\"v-1\",\"account\":\"Acme\",\"owner_rep\":\"%s\"}'\n", demoUsers[2].email)
	fmt.Fprintln(stdout, "Press Ctrl-C to stop.")
	return serveHTTP(ctx, s.HTTPServer(cfg.Addr), ln, log)
}

func displayAddr(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || tcp.IP.IsUnspecified() {
		if ok {
			return fmt.Sprintf("localhost:%d", tcp.Port)
		}
	}
	return a.String()
}
