package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/internal/netstall"
	"github.com/onramp/onramp/temporaldev"
	"github.com/onramp/onramp/worker"
	"github.com/onramp/onramp/workflows"
)

// viaProxy returns rawURL (a database or Redis URL) pointed at a proxy to
// its host, and the proxy.
func viaProxy(t *testing.T, rawURL string) (string, *netstall.Proxy) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	p := netstall.Start(t, u.Host)
	u.Host = p.Addr()
	return u.String(), p
}

// TestDatabaseStalled: with PostgreSQL stalled (it accepts, and answers
// nothing), every request's database work meets its deadline: a step
// submit answers 503 with a clear message within seconds instead of never,
// /readyz names the database, and once it answers again the same request
// works and nothing was left stuck.
func TestDatabaseStalled(t *testing.T) {
	e := newEnv(t)
	dbURL, pg := viaProxy(t, e["DATABASE_URL"])
	dev := mustStart(t, e.with("DATABASE_URL", dbURL, "ONRAMP_DB_TIMEOUT", "2s"), "dev")
	admin := mustLogin(t, dev.Base, adminEmail, demoPassword)
	mustCreateRep(t, admin, "stall@example.com")
	rep := mustLogin(t, dev.Base, "stall@example.com", "correct-horse-battery")
	av := onramp.DefaultAvailability("Europe/Paris")

	pg.Stall()
	r := rep.raw("PUT", "/api/v1/reps/me/onboarding/steps/availability", av, "", nil) // the client gives up after 30 s
	if got := r.err(); r.Status != http.StatusServiceUnavailable || got.Code != onramp.EUNAVAILABLE || !strings.Contains(got.Message, "database") {
		t.Fatalf("with the database stalled: %d %s", r.Status, r.Body)
	}
	ready := rep.raw("GET", "/readyz", nil, "", nil)
	var body struct{ Down []string }
	_ = json.Unmarshal(ready.Body, &body)
	if ready.Status != http.StatusServiceUnavailable || len(body.Down) != 1 || body.Down[0] != "postgres" {
		t.Errorf("readyz: %d %s", ready.Status, ready.Body)
	}

	pg.Resume()
	var p onramp.Progress
	waitFor(t, "the step to save once the database answers", 20*time.Second, func() bool {
		return rep.mustDo("PUT", "/api/v1/reps/me/onboarding/steps/availability", av, &p) == http.StatusOK
	})
	if p.Step(onramp.StepAvailability).Status != onramp.StatusDone {
		t.Fatalf("after the outage: %s", statuses(p))
	}
	var stuck []onramp.RepSummary
	admin.mustDo("GET", "/api/v1/support/stuck", nil, &stuck)
	if len(stuck) != 0 {
		t.Errorf("stuck after the outage: %+v", stuck)
	}
}

// TestRedisStalled: Redis only fans events out, so with Redis stalled a
// step still saves and the rep is told so. Before, the publish ran in the
// recording activity and the rep got a 503 for a step that was saved.
func TestRedisStalled(t *testing.T) {
	e := newEnv(t)
	redisURL, rd := viaProxy(t, "redis://127.0.0.1:6379/0")
	dev := mustStart(t, e.with("REDIS_URL", redisURL, "ONRAMP_TEMPORAL_TIMEOUT", "8s"), "dev")
	admin := mustLogin(t, dev.Base, adminEmail, demoPassword)
	mustCreateRep(t, admin, "quiet@example.com")
	rep := mustLogin(t, dev.Base, "quiet@example.com", "correct-horse-battery")

	rd.Stall()
	var p onramp.Progress
	for _, step := range []string{"availability", "notifications"} {
		body := any(onramp.DefaultAvailability("Europe/Paris"))
		if step == "notifications" {
			body = onramp.DefaultNotificationPrefs(onramp.BuiltinStreams())
		}
		if st := rep.mustDo("PUT", "/api/v1/reps/me/onboarding/steps/"+step, body, &p); st != http.StatusOK {
			t.Fatalf("%s with Redis stalled: %d", step, st)
		}
	}
	if p.Step(onramp.StepAvailability).Status != onramp.StatusDone || p.Step(onramp.StepNotifications).Status != onramp.StatusDone {
		t.Fatalf("with Redis stalled: %s", statuses(p))
	}
	rd.Resume()
}

// TestStuckWhenPostgresDown: production's shape (serve and worker apart),
// with the worker's PostgreSQL unreachable for a while. The step the rep
// saves cannot be recorded: it is stuck, the rep is told support was
// alerted, and the admins' alert goes out while the database is still
// away. The stuck state reaches Postgres once it is back (the workflow
// keeps trying, durably), support sees it and retries it.
func TestStuckWhenPostgresDown(t *testing.T) {
	ts, err := temporaldev.Start(context.Background(), temporaldev.Options{SearchAttributes: worker.SearchAttributes()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ts.Stop() })
	e := newEnv(t).with("TEMPORAL_ADDRESS", ts.FrontendHostPort())
	workerDB, pg := viaProxy(t, e["DATABASE_URL"])
	d := mustDeps(t, e)
	ctx := context.Background()
	org := &onramp.Org{Name: "Down Co", Slug: "down"}
	if err := d.users.CreateOrg(ctx, org); err != nil {
		t.Fatal(err)
	}
	if _, err := d.users.CreateUser(ctx, onramp.NewUser{OrgID: org.ID, Email: "admin@down.example", Name: "Admin", Role: onramp.RoleAdmin, Password: "correct-horse-battery"}); err != nil {
		t.Fatal(err)
	}
	mustStart(t, e.with("DATABASE_URL", workerDB, "ONRAMP_DB_TIMEOUT", "1s"), "worker")
	srv := mustStart(t, e, "serve")
	admin := mustLogin(t, srv.Base, "admin@down.example", "correct-horse-battery")
	repUser := mustCreateRep(t, admin, "down-rep@example.com")
	rep := mustLogin(t, srv.Base, "down-rep@example.com", "correct-horse-battery")
	sub := mustSubscribe(t, e, org.ID)

	pg.Down()
	r := rep.submitProfile("Rosalind", "Franklin", "Expert", "me.png", pngBytes(t, 32, 32))
	var p onramp.Progress
	_ = json.Unmarshal(r.Body, &p)
	if r.Status != http.StatusAccepted || p.Step(onramp.StepProfile).Status != onramp.StatusStuck || !strings.Contains(p.Step(onramp.StepProfile).Message, "Support has been alerted") {
		t.Fatalf("profile with the worker's database down: %d %s", r.Status, r.Body)
	}
	waitFor(t, "the admins' alert while Postgres is down", 15*time.Second, func() bool {
		select {
		case ev := <-sub.C():
			return ev.Type == onramp.EventStepStuck && ev.RepID == repUser.ID
		default:
			return false
		}
	})

	pg.Resume()
	var stuck []onramp.RepSummary
	waitFor(t, "the stuck step in support's list once Postgres is back", 90*time.Second, func() bool {
		admin.mustDo("GET", "/api/v1/support/stuck", nil, &stuck)
		return len(stuck) == 1 && stuck[0].ID == repUser.ID
	})
	if st := admin.mustDo("POST", "/api/v1/support/reps/"+repUser.ID+"/steps/profile/retry", nil, &p); st != http.StatusOK || p.Step(onramp.StepProfile).Status != onramp.StatusDone {
		t.Fatalf("support retry: %d %s", st, statuses(p))
	}
	var s struct {
		Profile  onramp.Profile
		PhotoURL string `json:"photo_url"`
	}
	rep.mustDo("GET", "/api/v1/reps/me/settings", nil, &s)
	if s.Profile.FirstName != "Rosalind" || s.PhotoURL == "" {
		t.Errorf("saved by the retry: %+v %q", s.Profile, s.PhotoURL)
	}
}

// TestCreateRepWithoutTemporal: a rep created while Temporal cannot be
// reached exists all the same, whole: the admin sees them, nothing is
// half made, and their onboarding starts as soon as Temporal answers (at
// their first sign-in, or by the worker's reconciler).
func TestCreateRepWithoutTemporal(t *testing.T) {
	ts, err := temporaldev.Start(context.Background(), temporaldev.Options{SearchAttributes: worker.SearchAttributes()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ts.Stop() })
	tp := netstall.Start(t, ts.FrontendHostPort())
	e := newEnv(t).with("TEMPORAL_ADDRESS", ts.FrontendHostPort())
	d := mustDeps(t, e)
	ctx := context.Background()
	org := &onramp.Org{Name: "Far Co", Slug: "far"}
	if err := d.users.CreateOrg(ctx, org); err != nil {
		t.Fatal(err)
	}
	if _, err := d.users.CreateUser(ctx, onramp.NewUser{OrgID: org.ID, Email: "admin@far.example", Name: "Admin", Role: onramp.RoleAdmin, Password: "correct-horse-battery"}); err != nil {
		t.Fatal(err)
	}
	mustStart(t, e, "worker")
	srv := mustStart(t, e.with("TEMPORAL_ADDRESS", tp.Addr(), "ONRAMP_TEMPORAL_TIMEOUT", "2s"), "serve")
	admin := mustLogin(t, srv.Base, "admin@far.example", "correct-horse-battery")

	tp.Down()
	var reps []onramp.User
	for _, email := range []string{"far1@example.com", "far2@example.com"} {
		var u onramp.User
		if st := admin.mustDo("POST", "/api/v1/admin/reps", map[string]string{"email": email, "name": "Far Rep", "password": "correct-horse-battery"}, &u); st != http.StatusCreated {
			t.Fatalf("create rep with Temporal away: %d", st)
		}
		reps = append(reps, u)
	}
	var list []onramp.RepSummary
	admin.mustDo("GET", "/api/v1/admin/reps", nil, &list)
	if len(list) != 2 || list[0].CurrentStep != onramp.StepAccount || list[0].StepStatus != onramp.StatusInProgress {
		t.Fatalf("admin sees %+v", list)
	}
	if r := admin.raw("POST", "/api/v1/admin/reps", map[string]string{"email": "far1@example.com", "name": "Again"}, "", nil); r.Status != http.StatusConflict {
		t.Errorf("the email of a rep whose start failed: %d", r.Status)
	}

	tp.Resume()
	// The first rep signs in: their onboarding starts then.
	rep := mustLogin(t, srv.Base, "far1@example.com", "correct-horse-battery")
	waitFor(t, "the first rep's account step", 30*time.Second, func() bool {
		r := rep.raw("GET", "/wizard", nil, "", nil)
		if r.Status != http.StatusOK {
			return false
		}
		p := rep.progress()
		return p.Step(onramp.StepAccount).Status == onramp.StatusDone
	})
	// The second is started by the reconciler the worker runs.
	wc := &workflows.Client{Temporal: mustDial(t, ts.FrontendHostPort()), Users: d.users, Store: d.store}
	n, err := wc.StartUnstarted(ctx, 0, 10)
	if err != nil || n != 1 {
		t.Fatalf("reconciler started %d (%v), want the second rep", n, err)
	}
	waitFor(t, "the second rep's onboarding to record", 30*time.Second, func() bool {
		refs, err := d.store.UnstartedOnboardings(ctx, 0, 10)
		return err == nil && len(refs) == 0
	})
	if _, err := wc.Temporal.DescribeWorkflowExecution(ctx, workflows.OnboardingID(org.ID, reps[1].ID), ""); err != nil {
		t.Fatalf("second rep's workflow: %v", err)
	}
}
