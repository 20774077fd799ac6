package activities

import (
	"context"
	"encoding/json"
	"fmt"

	"go.temporal.io/sdk/activity"

	"github.com/onramp/onramp"
)

// RecordStepInput is one onboarding transition to write and announce.
type RecordStepInput struct {
	Record onramp.StepRecord
}

// RecordStepResult says how many events were queued for publishing.
type RecordStepResult struct {
	Published int
}

// RecordStep writes the record (settings, projection, step-event log) in one
// Postgres transaction, which also appends each new transition's events to
// the rep's and the org's feeds: onboarding.step for each,
// onboarding.stuck for a step that became stuck (the alert for admins),
// onboarding.finished when the rep is ready. Then it queues them for the
// org's channel. Writing is idempotent (by the transitions' Seq): a
// transition written before appends and publishes nothing. Publishing
// happens in the background, after the activity returned: the record is
// already durable, a client that missed an event reads it from its feed,
// and a stalled Redis must not hold up or fail the step. Errors that
// retrying cannot fix are non-retryable.
func (a *Activities) RecordStep(ctx context.Context, in RecordStepInput) (RecordStepResult, error) {
	events, err := a.Store.RecordStepEvents(ctx, in.Record)
	if err != nil {
		return RecordStepResult{}, retryable("record step", err)
	}
	return RecordStepResult{Published: a.publish(events)}, nil
}

// RecordStuckInput is the transition of a step that became stuck because
// recording it failed.
type RecordStuckInput struct {
	Record onramp.StepRecord
}

// RecordStuck records that a step is stuck. It runs as a regular activity
// that the workflow retries until it succeeds, however long Postgres is
// away, so the stuck state reaches support's list eventually. The alert for
// the org's admins goes out on the first attempt, before the write, live
// only (without a feed position): it must not depend on the database whose
// failure it reports. The write then appends the events to the feeds, and
// they are published again with their positions.
func (a *Activities) RecordStuck(ctx context.Context, in RecordStuckInput) (RecordStepResult, error) {
	var res RecordStepResult
	if activity.GetInfo(ctx).Attempt == 1 {
		res.Published = a.publish(liveEvents(in.Record))
	}
	events, err := a.Store.RecordStepEvents(ctx, in.Record)
	if err != nil {
		return res, retryable("record stuck step", err)
	}
	res.Published += a.publish(events)
	return res, nil
}

// publish queues events and returns how many were queued.
func (a *Activities) publish(events []onramp.Event) int {
	if a.Events == nil {
		return 0
	}
	n := 0
	for _, e := range events {
		if a.Events.Enqueue(e) {
			n++
		}
	}
	return n
}

// liveEvents are the events announcing r's transitions without a feed
// position (live only).
func liveEvents(r onramp.StepRecord) []onramp.Event {
	var out []onramp.Event
	for _, t := range r.Transitions {
		data, err := json.Marshal(t)
		if err != nil {
			continue // a transition always marshals
		}
		for _, typ := range t.EventTypes() {
			out = append(out, onramp.Event{
				ID:    fmt.Sprintf("%s:%d:%s", t.RepID, t.Seq, typ),
				OrgID: t.OrgID, Type: typ, RepID: t.RepID, At: t.At, Data: data,
			})
		}
	}
	return out
}
