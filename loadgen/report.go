package loadgen

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// Report is the outcome of one `onramp loadgen onboarding` run (the
// -json output).
type Report struct {
	RunID     string `json:"run_id"`
	URL       string `json:"url"`
	Temporal  string `json:"temporal"`
	Namespace string `json:"namespace"`
	N         int    `json:"n"`
	C         int    `json:"c"`

	Setup Setup `json:"setup"`
	// Onramp: the reps through the HTTP API; Workflows are onboardings.
	Onramp Phase `json:"onramp"`
	// ReadyVerified counts the created reps the admin API lists as ready
	// after the run (read from the Postgres projection).
	ReadyVerified int `json:"ready_verified"`
	// Bare: the bare workflow taking the same Updates directly.
	Bare Phase `json:"bare"`
	// BareVerified counts the bare workflows that completed with every
	// Update recorded (checked after the timed phase).
	BareVerified int `json:"bare_verified"`
	// BareUpsert: the bare workflow upserted search attributes too
	// (-bare-upsert); the ratio is then not against the plain baseline.
	BareUpsert bool `json:"bare_upsert,omitempty"`

	// RatioPercent is Onramp's onboardings/s as a percent of the bare
	// workflows/s (the same number of Updates each).
	RatioPercent float64  `json:"ratio_percent"`
	Notes        []string `json:"notes"`
}

// Setup is the untimed part: creating reps, signing them in (the account
// step: one Update each), starting the bare workflows.
type Setup struct {
	CreatedReps          int     `json:"created_reps"`
	CreateWallSeconds    float64 `json:"create_wall_seconds"`
	CreateRep            Latency `json:"create_rep"`
	SignIn               Latency `json:"sign_in"`
	SignInWallSeconds    float64 `json:"sign_in_wall_seconds"`
	SignInErrors         Errors  `json:"sign_in_errors,omitempty"`
	BareStarted          int     `json:"bare_started"`
	BareStartWallSeconds float64 `json:"bare_start_wall_seconds"`
}

// Phase is one timed phase.
type Phase struct {
	Workflows        int       `json:"workflows"` // attempted
	Completed        int       `json:"completed"` // finished every step
	Requests         int       `json:"requests"`  // successful Update-backed requests (or Updates)
	Errors           Errors    `json:"errors"`    // by HTTP status, or by error kind
	ErrorSamples     []string  `json:"error_samples,omitempty"`
	WallSeconds      float64   `json:"wall_seconds"`
	PerSecond        float64   `json:"per_second"`         // completed onboardings (workflows) per second
	UpdatesPerSecond float64   `json:"updates_per_second"` // successful requests (Updates) per second
	Steps            []Latency `json:"steps"`
	All              Latency   `json:"all"`
}

// Errors counts failures by kind ("503", "transport", ...).
type Errors map[string]int

func (e Errors) total() int {
	n := 0
	for _, v := range e {
		n += v
	}
	return n
}

func (e Errors) String() string {
	if len(e) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(e)) {
		parts = append(parts, fmt.Sprintf("%s×%d", k, e[k]))
	}
	return strings.Join(parts, ", ")
}

// Latency is the latency of one kind of request (successful ones).
type Latency struct {
	Key    string  `json:"key"`
	Count  int     `json:"count"`
	Errors int     `json:"errors"`
	P50ms  float64 `json:"p50_ms"`
	P99ms  float64 `json:"p99_ms"`
	MaxMs  float64 `json:"max_ms"`
}

func latencyOf(key string, ds []time.Duration, errs int) Latency {
	l := Latency{Key: key, Count: len(ds), Errors: errs}
	if len(ds) == 0 {
		return l
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	l.P50ms, l.P99ms, l.MaxMs = ms(percentile(s, 50)), ms(percentile(s, 99)), ms(s[len(s)-1])
	return l
}

// percentile is the nearest-rank percentile of sorted s.
func percentile(s []time.Duration, p int) time.Duration {
	rank := (p*len(s) + 99) / 100 // ceil(p/100 * n)
	if rank < 1 {
		rank = 1
	}
	return s[rank-1]
}

// recorder collects latencies and errors per key from many goroutines.
type recorder struct {
	mu   sync.Mutex
	keys []string
	lat  map[string][]time.Duration
	errs map[string]Errors
}

func newRecorder(keys ...string) *recorder {
	return &recorder{keys: keys, lat: map[string][]time.Duration{}, errs: map[string]Errors{}}
}

func (r *recorder) ok(key string, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lat[key] = append(r.lat[key], d)
}

func (r *recorder) fail(key, kind string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.errs[key] == nil {
		r.errs[key] = Errors{}
	}
	r.errs[key][kind]++
}

// fill sets the phase's latencies, request and error counts.
func (r *recorder) fill(p *Phase) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var all []time.Duration
	p.Errors = Errors{}
	for _, k := range r.keys {
		p.Steps = append(p.Steps, latencyOf(k, r.lat[k], r.errs[k].total()))
		all = append(all, r.lat[k]...)
		for kind, n := range r.errs[k] {
			p.Errors[kind] += n
		}
	}
	p.Requests = len(all)
	p.All = latencyOf("all", all, p.Errors.total())
	if p.WallSeconds > 0 {
		p.PerSecond = float64(p.Completed) / p.WallSeconds
		p.UpdatesPerSecond = float64(p.Requests) / p.WallSeconds
	}
}

// finish computes the ratio.
func (r *Report) finish() {
	if r.Bare.PerSecond > 0 {
		r.RatioPercent = 100 * r.Onramp.PerSecond / r.Bare.PerSecond
	}
}

// WriteTable writes the report for people: the setup, then per step the
// Onramp request's latency beside the bare Update's, then each phase's
// rate and the ratio of the rates.
func (r *Report) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "\nonramp loadgen onboarding — run %s, n=%d reps, c=%d\n", r.RunID, r.N, r.C)
	fmt.Fprintf(w, "  Onramp %s · Temporal %s (namespace %s)\n\n", r.URL, r.Temporal, r.Namespace)
	s := r.Setup
	fmt.Fprintf(w, "Setup (not timed): %d reps created in %.1fs (p50 %.0f ms); %d first sign-ins (account step, 1 Update each) in %.1fs, p50 %.0f ms, p99 %.0f ms, errors: %s\n",
		s.CreatedReps, s.CreateWallSeconds, s.CreateRep.P50ms, s.SignIn.Count, s.SignInWallSeconds, s.SignIn.P50ms, s.SignIn.P99ms, s.SignInErrors)
	if s.BareStarted > 0 {
		fmt.Fprintf(w, "                   %d bare workflows started (and queried once) in %.1fs\n", s.BareStarted, s.BareStartWallSeconds)
	}
	fmt.Fprintln(w)
	r.writeSteps(w)

	phase := func(title, rate, urate string, p Phase) {
		fmt.Fprintln(w, title)
		fmt.Fprintf(w, "  wall %.2fs · %d/%d completed · %.2f %s/s · %.1f %s/s · errors: %s\n",
			p.WallSeconds, p.Completed, p.Workflows, p.PerSecond, rate, p.UpdatesPerSecond, urate, p.Errors)
		for _, m := range p.ErrorSamples {
			fmt.Fprintln(w, "  error:", m)
		}
	}
	phase("Onramp through the HTTP API (onboarding worker inside `onramp dev`):", "onboardings", "update-requests", r.Onramp)
	fmt.Fprintf(w, "  admin API: %d/%d created reps are ready\n", r.ReadyVerified, r.N)
	phase("Bare Temporal workflow, same server, same Updates (worker inside loadgen, task queue "+bareTaskQueue+"):", "workflows", "updates", r.Bare)
	fmt.Fprintf(w, "  Temporal: %d/%d bare workflows completed with every Update\n\n", r.BareVerified, r.N)

	fmt.Fprintf(w, "Onramp / bare: %.2f onboardings/s ÷ %.2f workflows/s = %.1f%%\n", r.Onramp.PerSecond, r.Bare.PerSecond, r.RatioPercent)
	for _, n := range r.Notes {
		fmt.Fprintln(w, "  note:", n)
	}
}

// writeSteps writes one row per step, and one for all steps: the Onramp
// step request's latency beside the bare Update's, and the difference of
// their medians. A phase that did not run shows dashes.
func (r *Report) writeSteps(w io.Writer) {
	var keys []string
	for _, l := range slices.Concat(r.Onramp.Steps, r.Bare.Steps) {
		if !slices.Contains(keys, l.Key) {
			keys = append(keys, l.Key)
		}
	}
	if len(keys) == 0 {
		return
	}
	keys = append(keys, "all")
	find := func(p Phase, key string) (Latency, bool) {
		if key == "all" {
			return p.All, p.All.Key != ""
		}
		i := slices.IndexFunc(p.Steps, func(l Latency) bool { return l.Key == key })
		if i < 0 {
			return Latency{}, false
		}
		return p.Steps[i], true
	}
	cells := func(l Latency, ok bool) string {
		if !ok {
			return "-\t-\t-\t-\t-\t"
		}
		return fmt.Sprintf("%d\t%d\t%.1f\t%.1f\t%.1f\t", l.Count, l.Errors, l.P50ms, l.P99ms, l.MaxMs)
	}

	fmt.Fprintln(w, "Per step, ms: the Onramp step request through the HTTP API (what the rep waits for) beside the")
	fmt.Fprintln(w, "bare Update that stands for it, same run and Temporal server; Δ p50 is Onramp's p50 minus bare's.")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "  %-14s\trequests\terrors\tOnramp p50\tp99\tmax\t\tupdates\terrors\tbare p50\tp99\tmax\t\tΔ p50\t\n", "step")
	for _, k := range keys {
		o, ook := find(r.Onramp, k)
		b, bok := find(r.Bare, k)
		delta := "-"
		if ook && bok && o.Count > 0 && b.Count > 0 {
			delta = fmt.Sprintf("%+.1f", o.P50ms-b.P50ms)
		}
		fmt.Fprintf(tw, "  %-14s\t%s\t%s\t%s\t\n", k, cells(o, ook), cells(b, bok), delta)
	}
	tw.Flush()
	fmt.Fprintln(w)
}

// Summary sums up a run of several rounds (-rounds, the -json output
// then). One round on a shared 2-core machine moves by several points from
// the next, so the summary is the median round's ratio.
type Summary struct {
	Rounds             []*Report `json:"rounds"`
	RatiosPercent      []float64 `json:"ratios_percent"` // in round order
	MedianRatioPercent float64   `json:"median_ratio_percent"`
	MinRatioPercent    float64   `json:"min_ratio_percent"`
	MaxRatioPercent    float64   `json:"max_ratio_percent"`
}

func summarize(rounds []*Report) *Summary {
	s := &Summary{Rounds: rounds}
	for _, r := range rounds {
		s.RatiosPercent = append(s.RatiosPercent, r.RatioPercent)
	}
	if len(rounds) == 0 {
		return s
	}
	sorted := slices.Sorted(slices.Values(s.RatiosPercent))
	s.MinRatioPercent, s.MaxRatioPercent = sorted[0], sorted[len(sorted)-1]
	if n := len(sorted); n%2 == 1 {
		s.MedianRatioPercent = sorted[n/2]
	} else {
		s.MedianRatioPercent = (sorted[n/2-1] + sorted[n/2]) / 2
	}
	return s
}

// WriteTable writes each round's rates and ratio, and their median.
func (s *Summary) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "\n%d rounds (each: its own reps and bare workflows, Onramp then bare):\n", len(s.Rounds))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "  round\tonboardings/s\tbare workflows/s\tOnramp / bare\t\n")
	for i, r := range s.Rounds {
		fmt.Fprintf(tw, "  %d\t%.2f\t%.2f\t%.1f%%\t\n", i+1, r.Onramp.PerSecond, r.Bare.PerSecond, r.RatioPercent)
	}
	tw.Flush()
	fmt.Fprintf(w, "Median Onramp / bare: %.1f%% (rounds from %.1f%% to %.1f%%)\n",
		s.MedianRatioPercent, s.MinRatioPercent, s.MaxRatioPercent)
}
