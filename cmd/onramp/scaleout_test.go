package main

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/temporaldev"
	"github.com/onramp/onramp/worker"
)

// TestScaleOut runs production's shape: one Temporal server, two `onramp
// serve` and one `onramp worker` sharing Postgres and Redis. A step
// submitted through one API instance reaches an SSE client of the other.
// Then the worker is stopped in the middle of the onboarding: the API
// answers 503 in time instead of hanging, and once a new worker runs the
// rep resumes where they were.
func TestScaleOut(t *testing.T) {
	ts, err := temporaldev.Start(context.Background(), temporaldev.Options{SearchAttributes: worker.SearchAttributes()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ts.Stop() })
	e := newEnv(t).with("TEMPORAL_ADDRESS", ts.FrontendHostPort(), "ONRAMP_TEMPORAL_TIMEOUT", "3s")

	// Migrations are a deliberate step; the test DB is migrated already.
	var out syncBuffer
	if err := run(context.Background(), []string{"migrate", "up"}, e.getenv, &out); err != nil || !strings.Contains(out.String(), "up to date") {
		t.Fatalf("migrate up: %v %s", err, out.String())
	}
	out = syncBuffer{}
	if err := run(context.Background(), []string{"migrate", "status"}, e.getenv, &out); err != nil || !strings.Contains(out.String(), "applied") {
		t.Fatalf("migrate status: %v %s", err, out.String())
	}

	d := mustDeps(t, e)
	ctx := context.Background()
	org := &onramp.Org{Name: "Scale Co", Slug: "scale"}
	if err := d.users.CreateOrg(ctx, org); err != nil {
		t.Fatal(err)
	}
	if _, err := d.users.CreateUser(ctx, onramp.NewUser{OrgID: org.ID, Email: "admin@scale.example", Name: "Admin", Role: onramp.RoleAdmin, Password: "correct-horse-battery"}); err != nil {
		t.Fatal(err)
	}

	wk := mustStart(t, e, "worker")
	apiA := mustStart(t, e, "serve")
	apiB := mustStart(t, e, "serve")

	admin := mustLogin(t, apiA.Base, "admin@scale.example", "correct-horse-battery")
	mustCreateRep(t, admin, "scale-rep@example.com")
	rep := mustLogin(t, apiA.Base, "scale-rep@example.com", "correct-horse-battery")

	// The rep's live stream on instance B.
	repB := *rep
	repB.Base = apiB.Base
	req, _ := http.NewRequest("GET", apiB.Base+"/api/v1/events", nil)
	resp, err := repB.HTTP.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("SSE on B: %v %v", err, resp)
	}
	defer resp.Body.Close()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()

	if r := rep.submitProfile("Linus", "Pauling", "Expert", "me.png", pngBytes(t, 32, 32)); r.Status != http.StatusOK {
		t.Fatalf("profile via A: %d %s", r.Status, r.Body)
	}
	waitFor(t, "profile event on instance B", 10*time.Second, func() bool {
		for {
			select {
			case l := <-lines:
				if strings.HasPrefix(l, "data: ") && strings.Contains(l, `"profile`) && strings.Contains(l, onramp.EventStepChanged) {
					return true
				}
			default:
				return false
			}
		}
	})

	// Worker down: the Update cannot run. The API says so within its deadline.
	wk.stop(t)
	start := time.Now()
	r := rep.raw("PUT", "/api/v1/reps/me/onboarding/steps/availability", onramp.DefaultAvailability("Asia/Tokyo"), "", nil)
	if got := r.err(); r.Status != http.StatusServiceUnavailable || got.Code != onramp.EUNAVAILABLE || !strings.Contains(got.Message, "try again") {
		t.Fatalf("with no worker: %d %s", r.Status, r.Body)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("503 took %v", el)
	}

	// A new worker: the rep resumes where they were (the Update the API
	// gave up on may still have run; either way the step is done once).
	// Right after the restart the API can still answer 503 "try again" (the
	// workflow task of the Update it gave up on may still wait on the
	// stopped worker's sticky queue, up to its 5 s schedule-to-start
	// timeout), and the rep tries again.
	mustStart(t, e, "worker")
	start = time.Now()
	waitFor(t, "availability via B after worker restart", 30*time.Second, func() bool {
		r := repB.raw("PUT", "/api/v1/reps/me/onboarding/steps/availability", onramp.DefaultAvailability("Asia/Tokyo"), "", nil)
		if r.Status != http.StatusOK && r.Status != http.StatusServiceUnavailable {
			t.Fatalf("availability via B after worker restart: %d %s", r.Status, r.Body)
		}
		return r.Status == http.StatusOK
	})
	t.Logf("availability saved %v after the new worker started", time.Since(start).Round(time.Millisecond))
	p := repB.progress()
	if p.Step(onramp.StepProfile).Status != onramp.StatusDone || p.Step(onramp.StepAvailability).Status != onramp.StatusDone || p.Step(onramp.StepAccount).Status != onramp.StatusDone {
		t.Fatalf("after worker restart: %s", statuses(p))
	}
}
