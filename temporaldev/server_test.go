package temporaldev

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	enums "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	_ "modernc.org/sqlite" // the driver of the server's SQLite store, to read its files

	onrampworker "github.com/onramp/onramp/worker"
)

const taskQueue = "temporaldev-test"

var stepKey = temporal.NewSearchAttributeKeyKeyword("OnrampStep")

// greet sets the OnrampStep search attribute and greets name.
func greet(ctx workflow.Context, name string) (string, error) {
	if err := workflow.UpsertTypedSearchAttributes(ctx, stepKey.ValueSet("calendar")); err != nil {
		return "", err
	}
	return "hello " + name, nil
}

// awaitGo waits for the "go" signal and returns its value.
func awaitGo(ctx workflow.Context) (string, error) {
	var v string
	workflow.GetSignalChannel(ctx, "go").Receive(ctx, &v)
	return "got " + v, nil
}

func noop(workflow.Context) error { return nil }

// testLogger logs the server's warnings to t until the test ends.
func testLogger(t testing.TB) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(w.close)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testWriter) close() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}

// MustStart starts a server and stops it when the test ends.
func MustStart(tb testing.TB, o Options) *Server {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Start(ctx, o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Stop(); err != nil {
			tb.Errorf("stop: %v", err)
		}
	})
	return s
}

// MustClient dials a client and starts a worker with the test workflows
// registered; both end with the test.
func MustClient(tb testing.TB, s *Server) client.Client {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := s.NewClient(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	w := worker.New(c, taskQueue, worker.Options{})
	w.RegisterWorkflow(greet)
	w.RegisterWorkflow(awaitGo)
	w.RegisterWorkflow(noop)
	if err := w.Start(); err != nil {
		c.Close()
		tb.Fatal(err)
	}
	// Cleanups run last-in first-out: worker and client go before the
	// server registered by MustStart.
	tb.Cleanup(func() {
		w.Stop()
		c.Close()
	})
	return c
}

func TestInMemory(t *testing.T) {
	start := time.Now()
	s := MustStart(t, Options{
		Logger:           testLogger(t),
		SearchAttributes: map[string]enums.IndexedValueType{"OnrampStep": enums.INDEXED_VALUE_TYPE_KEYWORD},
	})
	t.Logf("in-memory server up in %v on %s", time.Since(start), s.FrontendHostPort())
	if s.Namespace() != "default" {
		t.Errorf("Namespace() = %q, want default", s.Namespace())
	}
	c := MustClient(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	t.Run("Workflow", func(t *testing.T) {
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "greet/1", TaskQueue: taskQueue}, greet, "rep")
		if err != nil {
			t.Fatal(err)
		}
		var got string
		if err := run.Get(ctx, &got); err != nil {
			t.Fatal(err)
		}
		if got != "hello rep" {
			t.Errorf("result = %q, want %q", got, "hello rep")
		}
	})

	t.Run("ListBySearchAttribute", func(t *testing.T) {
		mustList(t, c, `OnrampStep = 'calendar'`, "greet/1")
	})

	t.Run("EnsureSearchAttributes", func(t *testing.T) {
		want := map[string]enums.IndexedValueType{
			"OnrampStep":  enums.INDEXED_VALUE_TYPE_KEYWORD, // present: skipped
			"OnrampSince": enums.INDEXED_VALUE_TYPE_DATETIME,
		}
		for range 2 { // the second call finds everything in place
			if err := onrampworker.EnsureSearchAttributes(ctx, c, s.Namespace(), want, NamespaceCacheRefresh); err != nil {
				t.Fatal(err)
			}
		}
		resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: s.Namespace()})
		if err != nil {
			t.Fatal(err)
		}
		for name, typ := range want {
			if got := resp.GetCustomAttributes()[name]; got != typ {
				t.Errorf("search attribute %s has type %s, want %s", name, got, typ)
			}
		}
	})

	t.Run("ErrFrontendPortBusy", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		port := l.Addr().(*net.TCPAddr).Port
		s2, err := Start(ctx, Options{FrontendPort: port})
		if err == nil {
			_ = s2.Stop()
			t.Fatalf("Start on busy port %d succeeded", port)
		}
		if !strings.Contains(err.Error(), "frontend port") {
			t.Errorf("err = %v, want one about the frontend port", err)
		}
	})

	t.Run("ErrSearchAttributeType", func(t *testing.T) {
		err := onrampworker.EnsureSearchAttributes(ctx, c, s.Namespace(), map[string]enums.IndexedValueType{
			"OnrampStep": enums.INDEXED_VALUE_TYPE_INT,
		}, 0)
		if err == nil || !strings.Contains(err.Error(), "has type Keyword, want Int") {
			t.Errorf("err = %v, want a type mismatch", err)
		}
	})
}

// mustList checks that the visibility query lists exactly the workflow
// with ID want. Visibility is written asynchronously: it polls, slower than
// the default 10 List calls/s per namespace.
func mustList(tb testing.TB, c client.Client, query, want string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var ids []string
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query})
		if err != nil {
			tb.Fatalf("ListWorkflow(%q): %v", query, err)
		}
		ids = ids[:0]
		for _, e := range resp.GetExecutions() {
			ids = append(ids, e.GetExecution().GetWorkflowId())
		}
		if len(ids) > 0 || ctx.Err() != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(ids) != 1 || ids[0] != want {
		tb.Errorf("ListWorkflow(%q) = %v, want [%s]", query, ids, want)
	}
}

// TestFileLeanVisibility: a file-backed server's visibility store lacks the
// indexes of columns nobody filters on, keeps those of the default order,
// the usual filters and the custom Keyword attributes, and still answers
// queries on both kinds of column.
func TestFileLeanVisibility(t *testing.T) {
	dir := t.TempDir()
	s := MustStart(t, Options{
		DataDir:          dir,
		Logger:           testLogger(t),
		SearchAttributes: map[string]enums.IndexedValueType{"OnrampStep": enums.INDEXED_VALUE_TYPE_KEYWORD},
	})
	c := MustClient(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "greet/lean", TaskQueue: taskQueue}, greet, "rep")
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Get(ctx, nil); err != nil {
		t.Fatal(err)
	}
	mustList(t, c, `OnrampStep = 'calendar'`, "greet/lean")                      // kept index
	mustList(t, c, `HistoryLength > 0 AND WorkflowType = 'greet'`, "greet/lean") // dropped index: a scan

	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, VisibilityFile)+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'executions_visibility'`)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		have[name] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, ix := range unusedVisibilityIndexes {
		if have[ix] {
			t.Errorf("visibility index %s was not dropped", ix)
		}
	}
	for _, ix := range []string{"default_idx", "by_workflow_id", "by_workflow_type", "by_status", "by_task_queue", "by_keyword_01", "by_keyword_10"} {
		if !have[ix] {
			t.Errorf("visibility index %s is missing; have %v", ix, have)
		}
	}
}

// The first half of TestFileRestart runs in a child process (this test
// binary, running only this test), so that nothing but the SQLite file
// carries the workflow over to the second half.
const phase1DirEnv = "TEMPORALDEV_PHASE1_DIR"

func TestFileRestartPhase1(t *testing.T) {
	dir := os.Getenv(phase1DirEnv)
	if dir == "" {
		t.Skip("child process of TestFileRestart")
	}
	start := time.Now()
	s := MustStart(t, Options{DataDir: dir, Logger: testLogger(t)})
	fmt.Printf("START %v\n", time.Since(start))
	c := MustClient(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "await/1", TaskQueue: taskQueue}, awaitGo)
	if err != nil {
		t.Fatal(err)
	}
	// Wait until the worker has run the first workflow task, so the next
	// server must hand its history to a new worker to replay.
	for {
		desc, err := c.DescribeWorkflowExecution(ctx, run.GetID(), run.GetRunID())
		if err != nil {
			t.Fatal(err)
		}
		if desc.GetWorkflowExecutionInfo().GetHistoryLength() >= 4 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestFileRestart(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFileRestartPhase1$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), phase1DirEnv+"="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("phase 1: %v\n%s", err, out)
	}
	for line := range strings.Lines(string(out)) {
		if d, ok := strings.CutPrefix(line, "START "); ok {
			t.Logf("file-backed server up in %s (cold: new file, new process)", strings.TrimSpace(d))
		}
	}

	start := time.Now()
	s := MustStart(t, Options{DataDir: dir, Logger: testLogger(t)})
	t.Logf("file-backed server up in %v (warm: existing file, new connection)", time.Since(start))
	if _, err := os.Stat(filepath.Join(dir, VisibilityFile+"-wal")); err != nil {
		t.Errorf("visibility does not have its own SQLite file in WAL mode: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, DBFile+"-wal")); err != nil {
		t.Errorf("no write-ahead log, journal_mode=wal not applied: %v", err)
	}
	c := MustClient(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	t.Run("WorkflowSurvives", func(t *testing.T) {
		if err := c.SignalWorkflow(ctx, "await/1", "", "go", "now"); err != nil {
			t.Fatal(err)
		}
		var got string
		if err := c.GetWorkflow(ctx, "await/1", "").Get(ctx, &got); err != nil {
			t.Fatal(err)
		}
		if got != "got now" {
			t.Errorf("result = %q, want %q", got, "got now")
		}
	})

	t.Run("ErrDataDirInUse", func(t *testing.T) {
		s2, err := Start(ctx, Options{DataDir: dir})
		if err == nil {
			_ = s2.Stop()
			t.Fatal("second Start on a data dir in use succeeded")
		}
		if !errors.Is(err, errDirInUse) || !strings.Contains(err.Error(), dir) {
			t.Errorf("err = %v, want one naming %s and saying it is in use", err, dir)
		}
	})
}

// BenchmarkStart starts and stops a server: in memory, on a new file, and on
// an existing file. In-process restarts reuse the SQLite connection the
// server's plugin keeps for the life of the process.
func BenchmarkStart(b *testing.B) {
	ctx := context.Background()
	startStop := func(b *testing.B, o Options) {
		s, err := Start(ctx, o)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		defer b.StartTimer()
		if err := s.Stop(); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("memory", func(b *testing.B) {
		for range b.N {
			startStop(b, Options{})
		}
	})
	b.Run("file-new", func(b *testing.B) {
		for range b.N {
			startStop(b, Options{DataDir: b.TempDir()})
		}
	})
	b.Run("file-existing", func(b *testing.B) {
		dir := b.TempDir()
		startStop(b, Options{DataDir: dir})
		b.ResetTimer()
		b.StartTimer()
		for range b.N {
			startStop(b, Options{DataDir: dir})
		}
	})
}

// BenchmarkNoopWorkflows starts N no-op workflows at once on a file-backed
// server and waits for all of them, with the default pragmas (WAL,
// synchronous=normal) and with SQLite's own defaults.
func BenchmarkNoopWorkflows(b *testing.B) {
	const n = 200
	for _, bc := range []struct {
		name    string
		pragmas map[string]string
	}{
		{"wal-normal", nil},
		{"sqlite-defaults", map[string]string{}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := MustStart(b, Options{DataDir: b.TempDir(), Logger: testLogger(b), pragmas: bc.pragmas})
			c := MustClient(b, s)
			ctx := context.Background()
			var elapsed time.Duration
			b.ResetTimer()
			for i := range b.N {
				start := time.Now()
				errs := make(chan error, n)
				for j := range n {
					go func() {
						opts := client.StartWorkflowOptions{ID: fmt.Sprintf("noop/%d/%d", i, j), TaskQueue: taskQueue}
						run, err := c.ExecuteWorkflow(ctx, opts, noop)
						if err == nil {
							err = run.Get(ctx, nil)
						}
						errs <- err
					}()
				}
				for range n {
					if err := <-errs; err != nil {
						b.Fatal(err)
					}
				}
				elapsed += time.Since(start)
			}
			b.ReportMetric(float64(n*b.N)/elapsed.Seconds(), "workflows/s")
		})
	}
}
