package main

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/loadgen"
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
	const n, c, steps = 5, 3, 9
	var out syncBuffer
	args := []string{"loadgen", "onboarding", "-url", dev.Base, "-temporal", m[1], "-n", "5", "-c", "3", "-json"}
	if err := run(context.Background(), args, env{}.getenv, &out); err != nil {
		t.Fatalf("loadgen: %v\n%s", err, out.String())
	}
	var r loadgen.Report
	if err := json.Unmarshal([]byte(out.String()), &r); err != nil {
		t.Fatalf("-json output: %v\n%s", err, out.String())
	}

	if r.Setup.CreatedReps != n || r.Setup.SignIn.Count != n {
		t.Errorf("setup: %d reps created, %d signed in, want %d", r.Setup.CreatedReps, r.Setup.SignIn.Count, n)
	}
	for _, p := range []struct {
		name string
		p    loadgen.Phase
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
	if want := 100 * r.Onramp.PerSecond / r.Bare.PerSecond; r.RatioPercent <= 0 || r.RatioPercent-want > 0.01 || want-r.RatioPercent > 0.01 {
		t.Errorf("ratio %.2f%%, want %.2f%%", r.RatioPercent, want)
	}
	if strings.Contains(out.String(), "target") {
		t.Errorf("-json output still speaks of a target:\n%s", out.String())
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

	// The readable table says what was measured, each step's Onramp
	// request beside its bare Update.
	var tbl strings.Builder
	r.WriteTable(&tbl)
	t.Log(tbl.String())
	for _, want := range []string{"Onramp p50", "bare p50", "Δ p50", "onboardings/s", "workflows/s", "Onramp / bare", "worker inside loadgen", "task queue onramp-loadgen-bare"} {
		if !strings.Contains(tbl.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, tbl.String())
		}
	}
	for _, step := range append(r.Onramp.Steps, r.Onramp.All) {
		row := regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(step.Key) + `\s+5\s+0\s+(\S+\s+){3}5\s+0\s+(\S+\s+){3}[+-]\d`)
		if step.Key == "all" {
			row = regexp.MustCompile(`(?m)^\s+all\s+45\s+0\s+(\S+\s+){3}45\s+0\s+(\S+\s+){3}[+-]\d`)
		}
		if !row.MatchString(tbl.String()) {
			t.Errorf("table has no row %s:\n%s", row, tbl.String())
		}
	}
}

// TestLoadgenCommand: `onramp loadgen` is the loadgen package's, flags and
// all (which that package tests).
func TestLoadgenCommand(t *testing.T) {
	var out syncBuffer
	err := run(context.Background(), []string{"loadgen", "onboarding", "-n", "0"}, env{}.getenv, &out)
	if err == nil || !strings.Contains(err.Error(), "-n must be") {
		t.Errorf("onramp loadgen onboarding -n 0: err %v", err)
	}
	var help syncBuffer
	if err := run(context.Background(), []string{"loadgen", "onboarding", "-h"}, env{}.getenv, &help); err != nil ||
		!strings.Contains(help.String(), "Usage: onramp loadgen onboarding") || !strings.Contains(help.String(), "-rounds") {
		t.Errorf("onramp loadgen onboarding -h: %v\n%s", err, help.String())
	}
}
