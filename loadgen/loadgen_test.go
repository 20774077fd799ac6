package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestFlags: loadgen refuses what it should not run, before any traffic.
func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"NoScenario", nil, "name a scenario"},
		{"UnknownScenario", []string{"bookings"}, "unknown scenario"},
		{"RemoteURL", []string{"onboarding", "-url", "http://example.com:8080"}, "-url must be a loopback address"},
		{"RemoteTemporal", []string{"onboarding", "-temporal", "10.0.0.1:7233"}, "-temporal must be a loopback address"},
		{"ZeroReps", []string{"onboarding", "-n", "0"}, "-n must be"},
		{"ZeroConcurrency", []string{"onboarding", "-c", "0"}, "-c must be"},
		{"ZeroRounds", []string{"onboarding", "-rounds", "0"}, "-rounds must be"},
		{"TooManyRounds", []string{"onboarding", "-rounds", "21"}, "-rounds must be"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := Main(context.Background(), tc.args, func(string) string { return "" }, &out)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestSummary: several rounds are summed up by the median round, not the
// best or the mean.
func TestSummary(t *testing.T) {
	round := func(onramp, bare float64) *Report {
		r := &Report{Onramp: Phase{PerSecond: onramp}, Bare: Phase{PerSecond: bare}}
		r.finish()
		return r
	}
	for _, tc := range []struct {
		name             string
		rounds           []*Report
		median, min, max float64
	}{
		{"Odd", []*Report{round(30, 40), round(50, 50), round(20, 40)}, 75, 50, 100},
		{"Even", []*Report{round(30, 40), round(35, 50), round(36, 40), round(20, 40)}, 72.5, 50, 90},
		{"One", []*Report{round(40, 50)}, 80, 80, 80},
		{"NoBareRate", []*Report{round(40, 0)}, 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := summarize(tc.rounds)
			if s.MedianRatioPercent != tc.median || s.MinRatioPercent != tc.min || s.MaxRatioPercent != tc.max || len(s.RatiosPercent) != len(tc.rounds) {
				t.Errorf("median %.2f min %.2f max %.2f (of %v), want %.2f %.2f %.2f",
					s.MedianRatioPercent, s.MinRatioPercent, s.MaxRatioPercent, s.RatiosPercent, tc.median, tc.min, tc.max)
			}
			var tbl strings.Builder
			s.WriteTable(&tbl)
			want := fmt.Sprintf("Median Onramp / bare: %.1f%% (rounds from %.1f%% to %.1f%%)\n", tc.median, tc.min, tc.max)
			if !strings.Contains(tbl.String(), want) || strings.Contains(strings.ToLower(tbl.String()), "target") {
				t.Errorf("table lacks %q, or speaks of a target:\n%s", want, tbl.String())
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	ms := func(vs ...int) []time.Duration {
		var ds []time.Duration
		for _, v := range vs {
			ds = append(ds, time.Duration(v)*time.Millisecond)
		}
		return ds
	}
	var hundred []time.Duration
	for i := 1; i <= 100; i++ {
		hundred = append(hundred, time.Duration(i)*time.Millisecond)
	}
	for _, tc := range []struct {
		name   string
		sorted []time.Duration
		p      int
		want   time.Duration
	}{
		{"OneP50", ms(7), 50, 7 * time.Millisecond},
		{"OneP99", ms(7), 99, 7 * time.Millisecond},
		{"ThreeP50", ms(1, 2, 3), 50, 2 * time.Millisecond},
		{"ThreeP99", ms(1, 2, 3), 99, 3 * time.Millisecond},
		{"FourP50", ms(1, 2, 3, 4), 50, 2 * time.Millisecond}, // nearest rank: ceil(0.5×4) = 2
		{"HundredP50", hundred, 50, 50 * time.Millisecond},
		{"HundredP99", hundred, 99, 99 * time.Millisecond},
		{"P0", ms(1, 2, 3), 0, time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := percentile(tc.sorted, tc.p); got != tc.want {
				t.Errorf("percentile(%v, %d) = %v, want %v", tc.sorted, tc.p, got, tc.want)
			}
		})
	}
}

func TestLatencyOf(t *testing.T) {
	ds := []time.Duration{30 * time.Millisecond, 10 * time.Millisecond, 20500 * time.Microsecond}
	l := latencyOf("profile", ds, 2)
	if l != (Latency{Key: "profile", Count: 3, Errors: 2, P50ms: 20.5, P99ms: 30, MaxMs: 30}) {
		t.Errorf("latencyOf = %+v", l)
	}
	if ds[0] != 30*time.Millisecond {
		t.Error("latencyOf sorted its input")
	}
	if l := latencyOf("finish", nil, 4); l != (Latency{Key: "finish", Errors: 4}) {
		t.Errorf("no samples: %+v", l)
	}
}

// TestReportTable: per step, the Onramp request's p50/p99 stands beside the
// bare Update's, on one row.
func TestReportTable(t *testing.T) {
	rec := func(scale time.Duration) *recorder {
		r := newRecorder("profile", "skip calendar", "finish")
		for i := 1; i <= 10; i++ {
			r.ok("profile", time.Duration(i)*3*scale)
			r.ok("skip calendar", time.Duration(i)*2*scale)
			r.ok("finish", time.Duration(i)*scale)
		}
		return r
	}
	r := &Report{RunID: "lgtest", N: 10, C: 1, ReadyVerified: 10, BareVerified: 10, Notes: []string{"a note"}}
	r.Onramp = Phase{Workflows: 10, Completed: 10, WallSeconds: 2}
	rec(4 * time.Millisecond).fill(&r.Onramp)
	r.Bare = Phase{Workflows: 10, Completed: 10, WallSeconds: 1}
	rec(time.Millisecond).fill(&r.Bare)
	r.finish()
	if r.RatioPercent != 50 {
		t.Errorf("ratio %.1f%%, want 50%%", r.RatioPercent)
	}
	var b strings.Builder
	r.WriteTable(&b)
	tbl := b.String()
	t.Log(tbl)
	// profile: Onramp 12..120 ms, bare 3..30 ms; p50 is the 5th, p99 the 10th.
	for _, row := range []*regexp.Regexp{
		regexp.MustCompile(`step\s+requests\s+errors\s+Onramp p50\s+p99\s+max\s+updates\s+errors\s+bare p50\s+p99\s+max\s+Δ p50\n`),
		regexp.MustCompile(`profile\s+10\s+0\s+60\.0\s+120\.0\s+120\.0\s+10\s+0\s+15\.0\s+30\.0\s+30\.0\s+\+45\.0\n`),
		regexp.MustCompile(`skip calendar\s+10\s+0\s+40\.0\s+80\.0\s+80\.0\s+10\s+0\s+10\.0\s+20\.0\s+20\.0\s+\+30\.0\n`),
		regexp.MustCompile(`finish\s+10\s+0\s+20\.0\s+40\.0\s+40\.0\s+10\s+0\s+5\.0\s+10\.0\s+10\.0\s+\+15\.0\n`),
		regexp.MustCompile(`all\s+30\s+0\s+36\.0\s+120\.0\s+120\.0\s+30\s+0\s+9\.0\s+30\.0\s+30\.0\s+\+27\.0\n`),
		regexp.MustCompile(`Onramp / bare: 5\.00 onboardings/s ÷ 10\.00 workflows/s = 50\.0%\n`),
		regexp.MustCompile(`note: a note`),
	} {
		if !row.MatchString(tbl) {
			t.Errorf("table lacks %s", row)
		}
	}
	if strings.Contains(strings.ToLower(tbl), "target") {
		t.Errorf("the table speaks of a target:\n%s", tbl)
	}

	// A bare phase that did not run: dashes, not zeros.
	r.Bare = Phase{}
	b.Reset()
	r.WriteTable(&b)
	if row := regexp.MustCompile(`profile\s+10\s+0\s+60\.0\s+120\.0\s+120\.0\s+-\s+-\s+-\s+-\s+-\s+-\n`); !row.MatchString(b.String()) {
		t.Errorf("without a bare phase, table lacks %s:\n%s", row, b.String())
	}
}
