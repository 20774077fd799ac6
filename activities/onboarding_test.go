package activities_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/activities"
	"github.com/onramp/onramp/internal/netstall"
	"github.com/onramp/onramp/postgres"
	"github.com/onramp/onramp/postgres/pgtest"
	"github.com/onramp/onramp/redisbus"
)

const redisAddr = "127.0.0.1:6379"

// fixture is a rep in a fresh database, and a bus on real Redis (through
// a proxy that can stall it), with a subscriber to the rep's org.
type fixture struct {
	db    *postgres.DB
	store *postgres.Store
	rep   *onramp.User
	redis *netstall.Proxy
	bus   *redisbus.Bus
	sub   onramp.Subscription
}

func mustFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{db: pgtest.MustOpen(t)}
	users := postgres.NewUserService(f.db)
	f.store = postgres.NewStore(f.db)
	org := &onramp.Org{Name: "Acme", Slug: "acme"}
	if err := users.CreateOrg(ctx, org); err != nil {
		t.Fatal(err)
	}
	var err error
	if f.rep, err = users.CreateUser(ctx, onramp.NewUser{OrgID: org.ID, Email: "r@acme.example", Name: "R", Role: onramp.RoleRep}); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := "test" + hex.EncodeToString(b)
	f.redis = netstall.Start(t, redisAddr)
	// The publisher's Redis goes through the proxy; the subscriber's does
	// not, so it sees what gets through.
	pubRDB, err := redisbus.Open(ctx, "redis://"+f.redis.Addr()+"/0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pubRDB.Close() })
	f.bus = redisbus.New(pubRDB, prefix)
	t.Cleanup(func() { f.bus.Close() })
	subRDB, err := redisbus.Open(ctx, "redis://"+redisAddr+"/0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { subRDB.Close() })
	sbus := redisbus.New(subRDB, prefix)
	t.Cleanup(func() { sbus.Close() })
	if f.sub, err = sbus.Subscribe(ctx, org.ID); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) record(seq int, st onramp.StepStatus, lastErr string) onramp.StepRecord {
	now := time.Now().UTC()
	return onramp.StepRecord{OrgID: f.rep.OrgID, RepID: f.rep.ID, WorkflowID: "onboarding/x", Transitions: []onramp.StepTransition{{
		OrgID: f.rep.OrgID, RepID: f.rep.ID, Seq: seq, From: onramp.StatusPending, At: now, Current: onramp.StepProfile,
		Step: onramp.StepState{Key: onramp.StepProfile, Status: st, Attempts: 1, LastError: lastErr, UpdatedAt: now},
	}}}
}

// events waits for n events of the rep and returns their types.
func (f *fixture) events(t *testing.T, n int) map[string]bool {
	t.Helper()
	got := map[string]bool{}
	for len(got) < n {
		select {
		case ev := <-f.sub.C():
			if ev.RepID == f.rep.ID {
				got[ev.Type] = true
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("events: %v", got)
		}
	}
	return got
}

// TestRecordStep writes a transition to real Postgres and publishes it on
// real Redis: a step that became stuck also raises the admins' alert, and
// recording the same record again changes nothing.
func TestRecordStep(t *testing.T) {
	ctx := context.Background()
	f := mustFixture(t)
	pub := activities.NewPublisher(f.bus, nil)
	defer pub.Close()
	a := &activities.Activities{Store: f.store, Events: pub}
	rec := f.record(1, onramp.StatusStuck, "connection refused")
	res, err := a.RecordStep(ctx, activities.RecordStepInput{Record: rec})
	if err != nil {
		t.Fatal(err)
	}
	if res.Published != 4 {
		t.Errorf("queued %d events, want onboarding.step and onboarding.stuck, each on the rep's and the org's feed", res.Published)
	}
	if got := f.events(t, 2); !got[onramp.EventStepChanged] || !got[onramp.EventStepStuck] {
		t.Errorf("events: %v", got)
	}
	// Each is in its feed, to be read again by a client that missed it.
	for _, feed := range []string{onramp.UserFeed(f.rep.ID), onramp.OrgFeed(f.rep.OrgID)} {
		entries, gone, err := f.store.FeedSince(ctx, f.rep.OrgID, feed, 0, 10)
		if err != nil || gone || len(entries) != 2 || entries[0].Type != onramp.EventStepChanged || entries[1].Type != onramp.EventStepStuck || entries[1].Seq != 2 {
			t.Fatalf("feed %s: %+v gone=%v %v", feed, entries, gone, err)
		}
	}

	// Recorded again (a retried activity): nothing new to append or publish.
	if res, err := a.RecordStep(ctx, activities.RecordStepInput{Record: rec}); err != nil || res.Published != 0 {
		t.Fatalf("recording again: published %d, %v", res.Published, err)
	}
	ev, err := f.store.StepEvents(ctx, f.rep.OrgID, f.rep.ID)
	if err != nil || len(ev) != 1 {
		t.Fatalf("step events after recording twice: %d %v", len(ev), err)
	}
	p, err := f.store.Progress(ctx, f.rep.OrgID, f.rep.ID)
	if err != nil || p.Step(onramp.StepProfile).Status != onramp.StatusStuck || p.Step(onramp.StepProfile).LastError != "connection refused" {
		t.Fatalf("projection: %+v %v", p, err)
	}

	// An unknown rep: retrying cannot help, so the error says so.
	rec.RepID = "00000000-0000-0000-0000-000000000000"
	rec.Transitions[0].RepID = rec.RepID
	_, err = a.RecordStep(ctx, activities.RecordStepInput{Record: rec})
	var app *temporal.ApplicationError
	if !asApp(err, &app) || !app.NonRetryable() || app.Type() != onramp.ENOTFOUND {
		t.Errorf("recording for an unknown rep: %v, want a non-retryable not_found", err)
	}
}

func asApp(err error, app **temporal.ApplicationError) bool {
	e, ok := err.(*temporal.ApplicationError)
	*app = e
	return ok
}

// With Redis stalled, recording a step still answers (within the local
// activity's few seconds) and saves it: events are best effort and go out
// in the background. Before, the publish ran inside the activity and held
// it until its deadline, so the rep got a 503 for a saved step.
func TestRecordStepRedisStalled(t *testing.T) {
	f := mustFixture(t)
	pub := activities.NewPublisher(f.bus, nil)
	a := &activities.Activities{Store: f.store, Events: pub}
	f.redis.Stall()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second) // the record's StartToClose
	defer cancel()
	if _, err := a.RecordStep(ctx, activities.RecordStepInput{Record: f.record(1, onramp.StatusDone, "")}); err != nil {
		t.Fatalf("with Redis stalled: %v", err)
	}
	if p, err := f.store.Progress(context.Background(), f.rep.OrgID, f.rep.ID); err != nil || p.Step(onramp.StepProfile).Status != onramp.StatusDone {
		t.Fatalf("not saved: %+v %v", p, err)
	}
	f.redis.Resume()
	if _, err := a.RecordStep(context.Background(), activities.RecordStepInput{Record: f.record(2, onramp.StatusDone, "")}); err != nil {
		t.Fatal(err)
	}
	f.events(t, 1) // events flow again
	pub.Close()
}

// RecordStuck sends the admins' alert before it writes, so the alert goes
// out while Postgres is away; the write fails (and the workflow retries
// it) until Postgres is back.
func TestRecordStuckAlertWithoutPostgres(t *testing.T) {
	f := mustFixture(t)
	// A store whose Postgres goes through a proxy that is down.
	pg := netstall.Start(t, "127.0.0.1:5432")
	u, err := url.Parse(pgtest.ServerURL())
	if err != nil {
		t.Fatal(err)
	}
	var dbName string
	if err := f.db.Pool().QueryRow(context.Background(), "SELECT current_database()").Scan(&dbName); err != nil {
		t.Fatal(err)
	}
	u.Host, u.Path = pg.Addr(), "/"+dbName
	db, err := postgres.Open(context.Background(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetTimeout(time.Second)
	pub := activities.NewPublisher(f.bus, nil)
	defer pub.Close()
	a := &activities.Activities{Store: postgres.NewStore(db), Events: pub}
	pg.Down()

	var env testsuite.WorkflowTestSuite
	te := env.NewTestActivityEnvironment()
	te.RegisterActivity(a)
	rec := f.record(1, onramp.StatusStuck, "dial tcp: connection refused")
	if _, err := te.ExecuteActivity(a.RecordStuck, activities.RecordStuckInput{Record: rec}); err == nil || !strings.Contains(err.Error(), "record stuck step") {
		t.Fatalf("with Postgres down: %v, want the write's error (retried by the workflow)", err)
	}
	if got := f.events(t, 2); !got[onramp.EventStepStuck] {
		t.Fatalf("no stuck alert while Postgres is down: %v", got)
	}
	pg.Resume()
	if _, err := te.ExecuteActivity(a.RecordStuck, activities.RecordStuckInput{Record: rec}); err != nil {
		t.Fatalf("once Postgres is back: %v", err)
	}
	if p, err := f.store.Progress(context.Background(), f.rep.OrgID, f.rep.ID); err != nil || p.Step(onramp.StepProfile).Status != onramp.StatusStuck {
		t.Fatalf("stuck not recorded: %+v %v", p, err)
	}
}
