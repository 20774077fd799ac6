package activities_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/activities"
	"github.com/onramp/onramp/postgres"
	"github.com/onramp/onramp/postgres/pgtest"
	"github.com/onramp/onramp/redisbus"
)

// TestRecordStep writes a transition to real Postgres and publishes it on
// real Redis: a step that became stuck also raises the admins' alert, and
// recording the same record again changes nothing.
func TestRecordStep(t *testing.T) {
	ctx := context.Background()
	db := pgtest.MustOpen(t)
	users, store := postgres.NewUserService(db), postgres.NewOnboardingStore(db)
	org := &onramp.Org{Name: "Acme", Slug: "acme"}
	if err := users.CreateOrg(ctx, org); err != nil {
		t.Fatal(err)
	}
	rep, err := users.CreateUser(ctx, onramp.NewUser{OrgID: org.ID, Email: "r@acme.example", Name: "R", Role: onramp.RoleRep})
	if err != nil {
		t.Fatal(err)
	}
	rdb, err := redisbus.Open(ctx, "redis://127.0.0.1:6379/0")
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	bus := redisbus.New(rdb, "test"+hex.EncodeToString(b))
	defer bus.Close()
	sub, err := bus.Subscribe(ctx, org.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	a := &activities.Activities{Store: store, Bus: bus}
	now := time.Now().UTC()
	rec := onramp.StepRecord{OrgID: org.ID, RepID: rep.ID, WorkflowID: "onboarding/x", Transitions: []onramp.StepTransition{{
		OrgID: org.ID, RepID: rep.ID, Seq: 1, From: onramp.StatusPending, At: now, Current: onramp.StepProfile,
		Step: onramp.StepState{Key: onramp.StepProfile, Status: onramp.StatusStuck, Attempts: 1, LastError: "connection refused", UpdatedAt: now},
	}}}
	res, err := a.RecordStep(ctx, activities.RecordStepInput{Record: rec})
	if err != nil {
		t.Fatal(err)
	}
	if res.Published != 2 {
		t.Errorf("published %d events, want onboarding.step and onboarding.stuck", res.Published)
	}
	got := map[string]bool{}
	for len(got) < 2 {
		select {
		case ev := <-sub.C():
			got[ev.Type] = ev.RepID == rep.ID
		case <-time.After(5 * time.Second):
			t.Fatalf("events: %v", got)
		}
	}
	if !got[onramp.EventStepChanged] || !got[onramp.EventStepStuck] {
		t.Errorf("events: %v", got)
	}

	if _, err := a.RecordStep(ctx, activities.RecordStepInput{Record: rec}); err != nil {
		t.Fatal(err)
	}
	ev, err := store.StepEvents(ctx, org.ID, rep.ID)
	if err != nil || len(ev) != 1 {
		t.Fatalf("step events after recording twice: %d %v", len(ev), err)
	}
	p, err := store.Progress(ctx, org.ID, rep.ID)
	if err != nil || p.Step(onramp.StepProfile).Status != onramp.StatusStuck || p.Step(onramp.StepProfile).LastError != "connection refused" {
		t.Fatalf("projection: %+v %v", p, err)
	}

	// A failing store fails the activity (so the workflow retries it).
	rec.RepID = "00000000-0000-0000-0000-000000000000"
	if _, err := a.RecordStep(ctx, activities.RecordStepInput{Record: rec}); err == nil {
		t.Error("recording for an unknown rep succeeded")
	}
}
