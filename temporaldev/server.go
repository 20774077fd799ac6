// Package temporaldev runs a real Temporal server in-process, for `onramp dev`
// and end-to-end tests.
//
// The server keeps its state in SQLite: a file under Options.DataDir, so
// workflows survive a restart, or memory when DataDir is empty. It is the
// server's own code (go.temporal.io/server), configured like the server's
// temporaltest package, with one history shard and every service on a free
// port of 127.0.0.1.
//
// This package pulls in the whole Temporal server (a heavy build): import it
// only from the dev command and end-to-end tests.
package temporaldev

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	enums "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/metrics"
	"go.temporal.io/server/common/persistence/sql"
	"go.temporal.io/server/common/persistence/sql/sqlplugin"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/resolver"
	"go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
)

const (
	// DBFile is the name of the SQLite database in Options.DataDir.
	DBFile = "temporal.db"
	// VisibilityFile is the SQLite database of the visibility store (the
	// search attributes), apart from DBFile so that its writes do not
	// queue behind the history writes on one connection.
	VisibilityFile = "visibility.db"
	lockFile       = "temporal.lock"

	host        = "127.0.0.1"
	clusterName = "active"

	// NamespaceCacheRefresh is the server's
	// system.namespaceCacheRefreshInterval (its default): how long a
	// search attribute added to a running server can take to become
	// usable.
	NamespaceCacheRefresh = 2 * time.Second

	// readyTimeout bounds the wait for the server to answer when ctx has
	// no deadline.
	readyTimeout = time.Minute

	// visibilityStore names the visibility data store in the config.
	visibilityStore = "sqlite-visibility"
)

var errDirInUse = errors.New("data directory is in use by another Temporal server")

// defaultPragmas make the file-backed store about twice as fast as SQLite's
// defaults (rollback journal, synchronous=full). With synchronous=normal in
// WAL mode a power loss may drop the last transactions, never corrupt the
// file: the right trade for a development server.
var defaultPragmas = map[string]string{
	"journal_mode": "wal",
	"synchronous":  "normal",
}

// Options configure Start. The zero value is an in-memory server with
// namespace "default" on a free port.
type Options struct {
	// DataDir is the directory of the SQLite file (created if need be).
	// "" keeps everything in memory (tests).
	DataDir string
	// Namespace is created on start if it does not exist. Default "default".
	Namespace string
	// FrontendPort is the gRPC port of the frontend on 127.0.0.1.
	// 0 picks a free port.
	FrontendPort int
	// Logger receives the server's warnings and errors (its info and debug
	// logs are dropped) and the log of clients from NewClient. nil discards.
	Logger *slog.Logger
	// SearchAttributes are custom search attributes the namespace is
	// created with. A namespace that exists already (a restart) keeps its
	// own: register new ones through the running server
	// (worker.EnsureSearchAttributes), as production does.
	SearchAttributes map[string]enums.IndexedValueType

	// pragmas replaces defaultPragmas for a file-backed server (benchmarks).
	// An empty non-nil map means SQLite's defaults.
	pragmas map[string]string
}

// Server is a running in-process Temporal server.
type Server struct {
	srv       temporal.Server
	hostPort  string
	namespace string
	logger    *slog.Logger
	unlock    func()
	logGate   logGate

	stopOnce sync.Once
	stopErr  error
}

// Start starts a server and returns once its frontend answers and the
// namespace and search attributes are in place. Call Stop when done.
//
// A DataDir that another running server uses, in this process or another,
// is refused with an error that says so.
func Start(ctx context.Context, o Options) (_ *Server, err error) {
	if o.Namespace == "" {
		o.Namespace = "default"
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{namespace: o.Namespace, logger: logger, unlock: func() {}}
	defer func() {
		if err != nil {
			s.logGate.failed()
			s.unlock()
			err = fmt.Errorf("temporaldev: start: %w", err)
		}
	}()

	sqlCfg, visCfg, err := s.openStore(o)
	if err != nil {
		return nil, err
	}
	nsCfg, err := sqlite.NewNamespaceConfig(clusterName, o.Namespace, false, o.SearchAttributes)
	if err != nil {
		return nil, fmt.Errorf("namespace %q: %w", o.Namespace, err)
	}
	// A no-op when the namespace exists (restart).
	if err := sqlite.CreateNamespaces(sqlCfg, nsCfg); err != nil {
		return nil, fmt.Errorf("create namespace %q: %w", o.Namespace, err)
	}

	cfg, err := serverConfig(o.FrontendPort, sqlCfg, visCfg)
	if err != nil {
		return nil, err
	}
	s.hostPort = cfg.PublicClient.HostPort
	srv, err := temporal.NewServer(
		temporal.WithConfig(cfg),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithLogger(serverLogger{l: logger, gate: &s.logGate}),
	)
	if err != nil {
		return nil, fmt.Errorf("new server: %w", err)
	}
	if err := startServer(srv); err != nil {
		return nil, err
	}
	s.srv = srv
	defer func() {
		if err != nil {
			s.logGate.failed()
			_ = srv.Stop()
		}
	}()

	if err := s.awaitReady(ctx); err != nil {
		return nil, err
	}
	s.logGate.running()
	return s, nil
}

// openStore prepares the SQLite stores (history and visibility): fresh
// in-memory databases, or files under o.DataDir, locked for this server and
// given the schema when new.
func (s *Server) openStore(o Options) (main, vis *config.SQL, err error) {
	sqlCfg := &config.SQL{
		PluginName:        sqliteplugin.PluginName,
		ConnectAttributes: map[string]string{},
	}
	if o.DataDir == "" {
		// The plugin creates the schema of an in-memory database itself.
		// Its connection pool is keyed by DSN, so the name must be unique.
		var b [8]byte
		_, _ = rand.Read(b[:])
		sqlCfg.DatabaseName = "temporaldev-" + hex.EncodeToString(b[:])
		sqlCfg.ConnectAttributes["mode"] = "memory"
		sqlCfg.ConnectAttributes["cache"] = "shared"
		vis := *sqlCfg
		vis.DatabaseName += "-visibility"
		return sqlCfg, &vis, nil
	}

	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return nil, nil, err
	}
	unlock, err := lockDir(filepath.Join(o.DataDir, lockFile))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", o.DataDir, err)
	}
	s.unlock = unlock

	pragmas := o.pragmas
	if pragmas == nil {
		pragmas = defaultPragmas
	}
	if main, err = fileStore(filepath.Join(o.DataDir, DBFile), pragmas); err != nil {
		return nil, nil, err
	}
	if vis, err = fileStore(filepath.Join(o.DataDir, VisibilityFile), pragmas); err != nil {
		return nil, nil, err
	}
	if err := leanVisibility(vis); err != nil {
		return nil, nil, err
	}
	if err := forgetMembers(main); err != nil {
		return nil, nil, err
	}
	return main, vis, nil
}

// fileStore is the configuration of the SQLite file at path, which is
// given the schema when it does not exist yet.
func fileStore(path string, pragmas map[string]string) (*config.SQL, error) {
	sqlCfg := &config.SQL{
		PluginName:        sqliteplugin.PluginName,
		DatabaseName:      path,
		ConnectAttributes: map[string]string{"mode": "rwc"},
	}
	// The plugin passes every attribute that is not a URI parameter
	// (mode, cache, ...) to SQLite as a pragma, under its own name.
	for k, v := range pragmas {
		sqlCfg.ConnectAttributes[k] = v
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if err := sqlite.SetupSchema(sqlCfg); err != nil {
			// Leave no half-made database that a later start would
			// take for a good one.
			for _, suffix := range []string{"", "-wal", "-shm"} {
				_ = os.Remove(path + suffix)
			}
			return nil, fmt.Errorf("set up schema in %s: %w", path, err)
		}
	} else if err != nil {
		return nil, err
	}
	return sqlCfg, nil
}

// unusedVisibilityIndexes are the indexes of the server's SQLite visibility
// schema that leanVisibility drops. The schema indexes every column that a
// list query may filter on, each index over a column computed from the
// search-attribute JSON: 58 indexes, all rewritten (deleted and inserted)
// by each visibility write, which made a search-attribute upsert cost about
// 1.7 ms of CPU. Kept are the default ordering and the filters the Temporal
// UI and Onramp use: workflow ID, type, status, task queue, execution time
// and the ten custom Keyword columns (where OnrampOrg, OnrampStep and
// OnrampStatus, and any Keyword attribute an operator adds, are stored).
// A query on a dropped column still works: on a development server's few
// thousand rows it scans the table.
var unusedVisibilityIndexes = []string{
	"by_history_length", "by_history_size_bytes", "by_execution_duration", "by_state_transition_count",
	"by_parent_workflow_id", "by_parent_run_id", "by_root_workflow_id", "by_root_run_id",
	"by_batcher_user", "by_temporal_scheduled_start_time", "by_temporal_scheduled_by_id",
	"by_temporal_schedule_paused", "by_temporal_namespace_division", "by_temporal_pause_info",
	"by_temporal_worker_deployment_version", "by_temporal_workflow_versioning_behavior",
	"by_temporal_worker_deployment",
	"by_bool_01", "by_bool_02", "by_bool_03", "by_datetime_01", "by_datetime_02", "by_datetime_03",
	"by_double_01", "by_double_02", "by_double_03", "by_int_01", "by_int_02", "by_int_03",
	"by_temporal_bool_01", "by_temporal_bool_02", "by_temporal_datetime_01", "by_temporal_datetime_02",
	"by_temporal_double_01", "by_temporal_double_02", "by_temporal_int_01", "by_temporal_int_02",
	"by_temporal_keyword_01", "by_temporal_keyword_02", "by_temporal_keyword_03", "by_temporal_keyword_04",
	"by_temporal_low_cardinality_keyword_01",
}

// leanVisibility drops unusedVisibilityIndexes from the visibility file
// (idempotent: a file made before this existed loses them at its next
// start).
func leanVisibility(sqlCfg *config.SQL) error {
	db, err := sql.NewSQLAdminDB(sqlplugin.DbKindVisibility, sqlCfg, resolver.NewNoopResolver(), log.NewNoopLogger(), metrics.NoopMetricsHandler)
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	for _, ix := range unusedVisibilityIndexes {
		if err := db.Exec("DROP INDEX IF EXISTS " + ix); err != nil {
			return fmt.Errorf("visibility: drop index %s: %w", ix, err)
		}
	}
	return nil
}

// forgetMembers deletes the cluster membership records of earlier runs.
// They are stale (the lock proves no other server uses the file), but they
// look alive for 20s after a run ends, and the new services would spend
// ringpop's whole join timeout (30s) trying to reach them before serving.
func forgetMembers(sqlCfg *config.SQL) error {
	db, err := sql.NewSQLAdminDB(sqlplugin.DbKindUnknown, sqlCfg, resolver.NewNoopResolver(), log.NewNoopLogger(), metrics.NoopMetricsHandler)
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	if err := db.Exec("DELETE FROM cluster_membership"); err != nil {
		return fmt.Errorf("forget cluster members of earlier runs: %w", err)
	}
	return nil
}

// serverConfig is the configuration of a single-node server on 127.0.0.1,
// after temporaltest's: one history shard, no archival, no metrics or pprof
// listeners, no HTTP API.
func serverConfig(frontendPort int, sqlCfg, visCfg *config.SQL) (*config.Config, error) {
	if frontendPort != 0 {
		// The server would only log a fatal error on a busy port.
		l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(frontendPort)))
		if err != nil {
			return nil, fmt.Errorf("frontend port: %w", err)
		}
		_ = l.Close()
	}
	ports, err := freePorts(8)
	if err != nil {
		return nil, err
	}
	if frontendPort == 0 {
		frontendPort = ports[7]
	}
	frontend := net.JoinHostPort(host, strconv.Itoa(frontendPort))
	service := func(grpcPort, membershipPort int) config.Service {
		return config.Service{RPC: config.RPC{
			GRPCPort:       grpcPort,
			MembershipPort: membershipPort,
			BindOnIP:       host,
		}}
	}

	return &config.Config{
		Global: config.Global{
			Membership: config.Membership{
				MaxJoinDuration:  30 * time.Second,
				BroadcastAddress: host,
			},
		},
		Persistence: config.Persistence{
			DefaultStore:     sqliteplugin.PluginName,
			VisibilityStore:  visibilityStore,
			NumHistoryShards: 1,
			DataStores: map[string]config.DataStore{
				sqliteplugin.PluginName: {SQL: sqlCfg},
				visibilityStore:         {SQL: visCfg},
			},
		},
		ClusterMetadata: &cluster.Config{
			EnableGlobalNamespace:    false,
			FailoverVersionIncrement: 10,
			MasterClusterName:        clusterName,
			CurrentClusterName:       clusterName,
			ClusterInformation: map[string]cluster.ClusterInformation{
				clusterName: {
					Enabled:                true,
					InitialFailoverVersion: 1,
					RPCAddress:             frontend,
				},
			},
		},
		DCRedirectionPolicy: config.DCRedirectionPolicy{Policy: "noop"},
		Services: map[string]config.Service{
			"frontend": service(frontendPort, ports[0]),
			"history":  service(ports[1], ports[2]),
			"matching": service(ports[3], ports[4]),
			"worker":   service(ports[5], ports[6]),
		},
		Archival: config.Archival{
			History:    config.HistoryArchival{State: "disabled"},
			Visibility: config.VisibilityArchival{State: "disabled"},
		},
		NamespaceDefaults: config.NamespaceDefaults{
			Archival: config.ArchivalNamespaceDefaults{
				History:    config.HistoryArchivalNamespaceDefaults{State: "disabled"},
				Visibility: config.VisibilityArchivalNamespaceDefaults{State: "disabled"},
			},
		},
		// The server's internal workers dial the frontend through this.
		PublicClient: config.PublicClient{HostPort: frontend},
	}, nil
}

// startServer starts srv, turning a fatal error the server reports while
// starting (it panics through serverLogger.Fatal) into an error.
func startServer(srv temporal.Server) (err error) {
	defer func() {
		if r := recover(); r != nil {
			fe, ok := r.(fatalError)
			if !ok {
				panic(r)
			}
			err = fe
		}
	}()
	return srv.Start()
}

// awaitReady waits until the frontend serves the namespace.
func (s *Server) awaitReady(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, readyTimeout)
		defer cancel()
	}
	var (
		c   client.Client
		err error
	)
	for {
		if c == nil {
			c, err = s.NewClient(ctx)
		}
		if c != nil {
			_, err = c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: s.namespace})
			if err == nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			if c != nil {
				c.Close()
			}
			return fmt.Errorf("server not ready on %s: %w", s.hostPort, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	c.Close()
	return nil
}

// FrontendHostPort is the frontend's gRPC address, 127.0.0.1:port.
func (s *Server) FrontendHostPort() string { return s.hostPort }

// Namespace is the namespace created at start.
func (s *Server) Namespace() string { return s.namespace }

// NewClient dials an SDK client to the server's namespace, logging to
// Options.Logger. The caller closes it.
func (s *Server) NewClient(ctx context.Context) (client.Client, error) {
	return client.DialContext(ctx, client.Options{
		HostPort:  s.hostPort,
		Namespace: s.namespace,
		Logger:    sdklog.NewStructuredLogger(s.logger),
	})
}

// Stop stops the server and releases the data directory. Workers and clients
// should be stopped first. Calling Stop again returns the first result.
//
// The server's SQLite plugin keeps its database connection for the life of
// the process; a later Start on the same DataDir in this process reuses it.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		s.logGate.stopping()
		s.stopErr = s.srv.Stop()
		s.unlock()
	})
	return s.stopErr
}

// freePorts returns n distinct ports free on 127.0.0.1 now.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
