package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/onramp/onramp"
)

// TestLoadgenOnboarding runs `onramp loadgen onboarding` against a running
// `onramp dev`: every rep it creates ends up ready, and the report counts
// nine Update-backed requests per rep, and as many bare Updates.
func TestLoadgenOnboarding(t *testing.T) {
	dev := mustStart(t, newEnv(t), "dev")
	m := regexp.MustCompile(`Temporal:\s+(\S+)`).FindStringSubmatch(dev.Out.String())
	if m == nil {
		t.Fatalf("dev banner has no Temporal address:\n%s", dev.Out)
	}
	const n, c = 5, 3
	var out syncBuffer
	args := []string{"loadgen", "onboarding", "-url", dev.Base, "-temporal", m[1], "-n", "5", "-c", "3", "-json"}
	if err := run(context.Background(), args, env{}.getenv, &out); err != nil {
		t.Fatalf("loadgen: %v\n%s", err, out.String())
	}
	var r loadgenReport
	if err := json.Unmarshal([]byte(out.String()), &r); err != nil {
		t.Fatalf("-json output: %v\n%s", err, out.String())
	}

	steps := len(lgSteps())
	if steps != 9 {
		t.Errorf("%d timed steps per rep, want 9", steps)
	}
	if r.Setup.CreatedReps != n || r.Setup.SignIn.Count != n {
		t.Errorf("setup: %d reps created, %d signed in, want %d", r.Setup.CreatedReps, r.Setup.SignIn.Count, n)
	}
	for _, p := range []struct {
		name string
		p    lgPhase
	}{{"onramp", r.Onramp}, {"bare", r.Bare}} {
		if p.p.Workflows != n || p.p.Completed != n || p.p.Requests != n*steps || len(p.p.Errors) != 0 {
			t.Errorf("%s: %d/%d completed, %d requests (want %d), errors %v %v",
				p.name, p.p.Completed, p.p.Workflows, p.p.Requests, n*steps, p.p.Errors, p.p.ErrorSamples)
		}
		if len(p.p.Steps) != steps {
			t.Errorf("%s: %d step rows, want %d", p.name, len(p.p.Steps), steps)
		}
		for _, s := range p.p.Steps {
			if s.Count != n || s.P50ms <= 0 || s.P50ms > s.P99ms || s.P99ms > s.MaxMs {
				t.Errorf("%s %s: count %d p50 %.1f p99 %.1f max %.1f", p.name, s.Key, s.Count, s.P50ms, s.P99ms, s.MaxMs)
			}
		}
		if p.p.All.Count != n*steps || p.p.WallSeconds <= 0 || p.p.PerSecond <= 0 ||
			p.p.UpdatesPerSecond < float64(steps)*p.p.PerSecond*0.999 {
			t.Errorf("%s: all %d, wall %.3fs, %.2f/s, %.2f updates/s", p.name, p.p.All.Count, p.p.WallSeconds, p.p.PerSecond, p.p.UpdatesPerSecond)
		}
	}
	if r.ReadyVerified != n || r.BareVerified != n {
		t.Errorf("verified: %d reps ready, %d bare workflows completed, want %d", r.ReadyVerified, r.BareVerified, n)
	}
	if want := 100 * r.Onramp.PerSecond / r.Bare.PerSecond; r.RatioPercent <= 0 || r.RatioPercent-want > 0.01 || want-r.RatioPercent > 0.01 ||
		r.MeetsTarget != (r.RatioPercent >= 80) {
		t.Errorf("ratio %.2f%% (want %.2f%%), meets target %v", r.RatioPercent, want, r.MeetsTarget)
	}

	// As the admin sees it: every rep loadgen created is ready.
	admin := mustLogin(t, dev.Base, adminEmail, demoPassword)
	var reps []onramp.RepSummary
	if st := admin.mustDo("GET", "/api/v1/admin/reps", nil, &reps); st != http.StatusOK {
		t.Fatalf("list reps: %d", st)
	}
	mine := 0
	for _, rep := range reps {
		if strings.HasPrefix(rep.Email, r.RunID+"-") {
			mine++
			if rep.Status != onramp.UserReady || len(rep.StuckSteps) > 0 {
				t.Errorf("rep %s: status %s, stuck %v", rep.Email, rep.Status, rep.StuckSteps)
			}
		}
	}
	if mine != n {
		t.Errorf("admin API lists %d loadgen reps, want %d", mine, n)
	}

	// The readable table says what was measured.
	var tbl strings.Builder
	r.writeTable(&tbl)
	t.Log(tbl.String())
	for _, want := range []string{"skip calendar", "finish", "onboardings/s", "workflows/s", "Onramp / bare", "worker inside loadgen", bareTaskQueue} {
		if !strings.Contains(tbl.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, tbl.String())
		}
	}
}

func TestLoadgenFlags(t *testing.T) {
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
			var out syncBuffer
			err := run(context.Background(), append([]string{"loadgen"}, tc.args...), env{}.getenv, &out)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestLoadgenSummary: several rounds are judged by the median round, not
// the best or the mean.
func TestLoadgenSummary(t *testing.T) {
	round := func(onramp, bare float64) *loadgenReport {
		r := &loadgenReport{TargetPercent: 80, Onramp: lgPhase{PerSecond: onramp}, Bare: lgPhase{PerSecond: bare}}
		r.finish()
		return r
	}
	for _, tc := range []struct {
		name             string
		rounds           []*loadgenReport
		median, min, max float64
		meets            bool
	}{
		{"OddBelow", []*loadgenReport{round(30, 40), round(50, 50), round(20, 40)}, 75, 50, 100, false},
		{"OddMeets", []*loadgenReport{round(32, 40), round(45, 50), round(20, 40)}, 80, 50, 90, true},
		{"Even", []*loadgenReport{round(30, 40), round(35, 50), round(36, 40), round(20, 40)}, 72.5, 50, 90, false},
		{"One", []*loadgenReport{round(40, 50)}, 80, 80, 80, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := summarize(tc.rounds)
			if s.MedianRatioPercent != tc.median || s.MinRatioPercent != tc.min || s.MaxRatioPercent != tc.max || s.MeetsTarget != tc.meets {
				t.Errorf("median %.2f min %.2f max %.2f meets %v, want %.2f %.2f %.2f %v",
					s.MedianRatioPercent, s.MinRatioPercent, s.MaxRatioPercent, s.MeetsTarget, tc.median, tc.min, tc.max, tc.meets)
			}
			var tbl strings.Builder
			s.writeTable(&tbl)
			if want := fmt.Sprintf("Median Onramp / bare: %.1f%%", tc.median); !strings.Contains(tbl.String(), want) {
				t.Errorf("table lacks %q:\n%s", want, tbl.String())
			}
		})
	}
}
