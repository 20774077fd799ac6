// Package loadgen is `onramp loadgen`: a benchmark of a running Onramp on
// this machine. In the onboarding scenario N reps go through the onboarding
// steps through the HTTP API of `onramp dev`; then, on the same Temporal
// server, a bare workflow (its worker inside loadgen) takes the same Updates.
// It reports the rates and, per step, the latency of the Onramp request
// beside the bare Update's.
//
// It speaks to Onramp over HTTP (package apiclient) and to Temporal through
// the SDK only: it never imports the Temporal server.
package loadgen

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The dev demo's admin (cmd/onramp/seed.go), the default -admin and
// -password.
const (
	demoAdmin    = "admin@demo.onramp.test"
	demoPassword = "onramp-demo"
)

// options are the flags of `onramp loadgen onboarding`.
type options struct {
	URL       string // base URL of a running onramp dev (or serve)
	Temporal  string // Temporal frontend of that system
	Namespace string // Temporal namespace
	N, C      int    // reps, concurrency
	Admin     string // admin email
	Password  string // admin password
	JSON      bool   // print the report as JSON instead of a table
	// BareUpsert makes the bare workflow upsert the onboarding's search
	// attributes on every Update (an experiment: what do they cost?).
	BareUpsert bool
	// Rounds repeats the whole run (fresh reps and bare workflows each
	// time) and sums it up by the median round's ratio.
	Rounds   int
	Timeout  time.Duration // per request / per Update
	Deadline time.Duration // the whole run
}

const usage = `Usage: onramp loadgen onboarding [flags]

N reps go through the built onboarding steps concurrently through the HTTP API
of a running onramp dev; then, in the same run and on the same Temporal server,
a bare workflow (worker inside loadgen) takes the same number of Updates.
Reports onboardings/s against bare workflows/s (Onramp's rate as a percent of
the bare rate) and, per step, the p50/p99 of the Onramp step request beside
the bare Update's: at -c 1, the latency one rep waits for. With -rounds R the
run is repeated R times and summed up by the median round's ratio. Traffic
goes only to the given loopback addresses; the run is bounded by -n, -rounds
and -deadline.

Flags:
`

// Main runs `onramp loadgen args...`: args[0] names the scenario
// (onboarding, or sse: SSEMain), the rest are its flags. Progress and the
// report go to stdout; getenv supplies TEMPORAL_ADDRESS and
// TEMPORAL_NAMESPACE.
func Main(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) > 0 && args[0] == "sse" {
		return SSEMain(ctx, args[1:], stdout)
	}
	if len(args) == 0 || args[0] != "onboarding" {
		fmt.Fprint(stdout, usage)
		if len(args) == 0 {
			return errors.New("loadgen: name a scenario (onboarding or sse)")
		}
		return fmt.Errorf("loadgen: unknown scenario %q (try onboarding or sse)", args[0])
	}
	o, err := parseFlags(args[1:], getenv, stdout)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.Deadline)
	defer cancel()
	progress := stdout
	if o.JSON {
		progress = io.Discard
	}
	var reports []*Report
	for i := range o.Rounds {
		if o.Rounds > 1 {
			fmt.Fprintf(progress, "\n=== round %d of %d\n", i+1, o.Rounds)
		}
		var rep *Report
		rep, err = onboarding(ctx, o, progress)
		if rep != nil {
			reports = append(reports, rep)
			if !o.JSON {
				rep.WriteTable(stdout)
			}
		}
		if err != nil {
			break
		}
	}
	var out any
	switch {
	case len(reports) == 0:
		return err
	case o.Rounds == 1:
		out = reports[0]
	default:
		sum := summarize(reports)
		out = sum
		if !o.JSON {
			sum.WriteTable(stdout)
		}
	}
	if o.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if jerr := enc.Encode(out); jerr != nil && err == nil {
			err = jerr
		}
	}
	return err
}

func parseFlags(args []string, getenv func(string) string, stdout io.Writer) (options, error) {
	temporalDefault := getenv("TEMPORAL_ADDRESS")
	if temporalDefault == "" {
		temporalDefault = "127.0.0.1:7233"
	}
	nsDefault := getenv("TEMPORAL_NAMESPACE")
	if nsDefault == "" {
		nsDefault = "default"
	}
	var o options
	fs := flag.NewFlagSet("onramp loadgen onboarding", flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() { fmt.Fprint(stdout, usage); fs.PrintDefaults() }
	fs.StringVar(&o.URL, "url", "http://localhost:8080", "base URL of the running onramp dev")
	fs.StringVar(&o.Temporal, "temporal", temporalDefault, "Temporal frontend host:port of that system, as onramp dev prints it (TEMPORAL_ADDRESS, else 127.0.0.1:7233)")
	fs.StringVar(&o.Namespace, "namespace", nsDefault, "Temporal namespace (TEMPORAL_NAMESPACE, else default)")
	fs.IntVar(&o.N, "n", 200, "number of reps (and of bare workflows)")
	fs.IntVar(&o.C, "c", 20, "concurrency: reps (bare workflows) in flight at once")
	fs.StringVar(&o.Admin, "admin", demoAdmin, "admin email")
	fs.StringVar(&o.Password, "password", demoPassword, "admin password")
	fs.BoolVar(&o.JSON, "json", false, "print a machine-readable JSON summary instead of the table")
	fs.BoolVar(&o.BareUpsert, "bare-upsert", false, "experiment: the bare workflow also upserts the onboarding's 3 search attributes on every Update, as the onboarding does")
	fs.IntVar(&o.Rounds, "rounds", 1, "repeat the whole run this many times (new reps each time) and report the median round's ratio")
	fs.DurationVar(&o.Timeout, "timeout", 30*time.Second, "deadline of each request and each Update")
	fs.DurationVar(&o.Deadline, "deadline", 20*time.Minute, "deadline of the whole run")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("loadgen: unexpected arguments %q", fs.Args())
	}
	switch {
	case o.N < 1 || o.N > 100000:
		return o, fmt.Errorf("loadgen: -n must be between 1 and 100000, got %d", o.N)
	case o.C < 1 || o.C > 1000:
		return o, fmt.Errorf("loadgen: -c must be between 1 and 1000, got %d", o.C)
	case o.Rounds < 1 || o.Rounds > 20:
		return o, fmt.Errorf("loadgen: -rounds must be between 1 and 20, got %d", o.Rounds)
	case o.Timeout <= 0 || o.Deadline <= 0:
		return o, errors.New("loadgen: -timeout and -deadline must be positive")
	}
	o.URL = strings.TrimRight(o.URL, "/")
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return o, fmt.Errorf("loadgen: -url: want http(s)://host:port, got %q", o.URL)
	}
	if err := mustBeLoopback("-url", u.Hostname()); err != nil {
		return o, err
	}
	host, _, err := net.SplitHostPort(o.Temporal)
	if err != nil {
		return o, fmt.Errorf("loadgen: -temporal: want host:port, got %q", o.Temporal)
	}
	if err := mustBeLoopback("-temporal", host); err != nil {
		return o, err
	}
	return o, nil
}

// mustBeLoopback refuses targets off this machine: loadgen is a benchmark
// of a local system, never a load tool against someone else's.
func mustBeLoopback(flagName, host string) error {
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("loadgen: %s must be a loopback address (localhost, 127.0.0.1, ::1), got %q", flagName, host)
	}
	return nil
}

// onboarding runs the three phases and returns the report. On an
// error after some phase ran, the report so far comes back with it.
func onboarding(ctx context.Context, o options, progress io.Writer) (*Report, error) {
	r := &Report{
		RunID: newRunID(), URL: o.URL, Temporal: o.Temporal, Namespace: o.Namespace,
		N: o.N, C: o.C,
		Notes: []string{
			"Onramp phase: the onboarding worker runs inside the `onramp dev` process, next to its API and Temporal server.",
			"Bare phase: the bare workflow's worker runs inside this loadgen process (task queue " + bareTaskQueue + "), against the same Temporal server.",
			"Not timed: creating the reps, their first sign-in (the account step, one Update each), starting the bare workflows and one Query each (so their first workflow task has run, as the onboardings' has).",
		},
	}
	if o.C == 1 {
		r.Notes = append(r.Notes, "-c 1: one rep at a time, so each step's Onramp p50/p99 is the latency a rep waits for.")
	} else {
		r.Notes = append(r.Notes, fmt.Sprintf("-c %d: the per-step latencies include waiting behind the other reps in flight; -c 1 gives the latency one rep waits for.", o.C))
	}
	if o.BareUpsert {
		r.BareUpsert = true
		r.Notes = append(r.Notes, "-bare-upsert: the bare workflow upserts 3 search attributes on every Update (as the onboarding does): not the plain baseline.")
	}
	fmt.Fprintf(progress, "loadgen %s: %d reps, concurrency %d, Onramp at %s, Temporal at %s\n", r.RunID, o.N, o.C, o.URL, o.Temporal)

	h := newHTTPSide(o)
	defer h.close()
	fmt.Fprintf(progress, "setup: signing in as %s, creating %d reps and signing each in...\n", o.Admin, o.N)
	reps, err := h.setup(ctx, r)
	if err != nil {
		return r, fmt.Errorf("loadgen setup: %w", err)
	}
	fmt.Fprintf(progress, "onramp: %d reps x %d step requests...\n", len(reps), len(timedSteps()))
	if err := h.onboard(ctx, reps, r); err != nil {
		return r, fmt.Errorf("loadgen onramp phase: %w", err)
	}
	fmt.Fprintf(progress, "bare: %d workflows x %d Updates...\n", o.N, len(timedSteps()))
	if err := runBare(ctx, o, r); err != nil {
		return r, fmt.Errorf("loadgen bare phase: %w", err)
	}
	r.finish()
	return r, nil
}

func newRunID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "lg" + time.Now().UTC().Format("0102150405") + hex.EncodeToString(b)
}

// parallel calls f(i) for i in [0, n) on c goroutines, until ctx ends.
func parallel(ctx context.Context, n, c int, f func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(n, c) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				f(i)
			}
		}()
	}
	wg.Wait()
}
