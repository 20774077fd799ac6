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
	store  *postgres.OnboardingStore
	rdb    *redis.Client
	bus    *redisbus.Bus
	limit  *redisbus.Limiter
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
	d.users, d.store = postgres.NewUserService(d.db), postgres.NewOnboardingStore(d.db)
	if d.rdb, err = redisbus.Open(ctx, cfg.RedisURL); err != nil {
		return nil, fmt.Errorf("redis %s: %w", redact(cfg.RedisURL), err)
	}
	d.closer = append(d.closer, func() { d.rdb.Close() })
	d.bus, d.limit = redisbus.New(d.rdb, cfg.RedisPrefix), redisbus.NewLimiter(d.rdb, cfg.RedisPrefix)
	d.closer = append(d.closer, func() { d.bus.Close() })
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

func (d *deps) activities(log *slog.Logger) *activities.Activities {
	return &activities.Activities{Store: d.store, Bus: d.bus, Log: log}
}

func (d *deps) api(cfg *config, log *slog.Logger, dev bool) (*api.Server, error) {
	return api.New(api.Config{
		Users: d.users, Store: d.store, Bus: d.bus, Limiter: d.limit, Log: log, Dev: dev, TrustedProxies: cfg.TrustedProxies,
		Onboarding: &workflows.Client{Temporal: d.tc, Users: d.users, Timeout: cfg.TemporalTimeout},
		Checks: []api.Check{
			{Name: "postgres", Ping: d.db.Ping},
			{Name: "redis", Ping: d.bus.Ping},
			{Name: "temporal", Ping: func(ctx context.Context) error { _, err := d.tc.CheckHealth(ctx, nil); return err }},
		},
	})
}

// cleanSessions deletes expired sessions now and then, until ctx ends.
func cleanSessions(ctx context.Context, d *deps, log *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := d.users.DeleteExpiredSessions(ctx); err != nil && ctx.Err() == nil {
			log.Warn("delete expired sessions", "err", err)
		} else if n > 0 {
			log.Info("deleted expired sessions", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
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
	go cleanSessions(ctx, d, log)
	log.Info("serving", "addr", ln.Addr().String(), "temporal", cfg.TemporalAddress, "postgres", redact(cfg.DatabaseURL))
	return serveHTTP(ctx, s.HTTPServer(cfg.Addr), ln, log)
}

func runWorker(ctx context.Context, cfg *config, log *slog.Logger) error {
	d, err := openDeps(ctx, cfg, log, cfg.TemporalAddress)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := temporaldev.EnsureSearchAttributes(ctx, d.tc, cfg.TemporalNS, workflows.SearchAttributes); err != nil {
		return fmt.Errorf("register search attributes: %w", err)
	}
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
		SearchAttributes: workflows.SearchAttributes,
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
	w := worker.New(d.tc, d.activities(log), worker.Options{})
	if err := w.Start(); err != nil {
		return err
	}
	defer w.Stop()
	demo, err := seedDemo(ctx, d)
	if err != nil {
		return fmt.Errorf("seed demo org: %w", err)
	}
	s, err := d.api(cfg, log, true)
	if err != nil {
		return err
	}
	go cleanSessions(ctx, d, log)
	base := "http://" + displayAddr(ln.Addr())
	fmt.Fprintf(stdout, "\nOnramp dev is running on %s\n", base)
	fmt.Fprintf(stdout, "  sign in:   %s/login\n  Temporal:  %s (namespace %s; data in %s)\n", base, ts.FrontendHostPort(), cfg.TemporalNS, cfg.DataDir)
	fmt.Fprintf(stdout, "  demo logins (password %q):\n", demoPassword)
	for _, l := range demo {
		fmt.Fprintf(stdout, "    %-8s %s\n", l.role, l.email)
	}
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
