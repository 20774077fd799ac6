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
// Postgres transaction, then queues one event per transition for the org's
// channel: onboarding.step for each, onboarding.stuck for a step that became
// stuck (the alert for admins), onboarding.finished when the rep is ready.
// Writing is idempotent (by the transitions' Seq). Publishing happens in
// the background, after the activity returned: the record is already
// durable, pages re-read progress, and a stalled Redis must not hold up or
// fail the step. Errors that retrying cannot fix are non-retryable.
func (a *Activities) RecordStep(ctx context.Context, in RecordStepInput) (RecordStepResult, error) {
	if err := a.Store.RecordStep(ctx, in.Record); err != nil {
		return RecordStepResult{}, retryable("record step", err)
	}
	return RecordStepResult{Published: a.publish(in.Record)}, nil
}

// RecordStuckInput is the transition of a step that became stuck because
// recording it failed.
type RecordStuckInput struct {
	Record onramp.StepRecord
}

// RecordStuck records that a step is stuck. It runs as a regular activity
// that the workflow retries until it succeeds, however long Postgres is
// away, so the stuck state reaches support's list eventually. The alert for
// the org's admins goes out on the first attempt, before the write: it
// must not depend on the database whose failure it reports.
func (a *Activities) RecordStuck(ctx context.Context, in RecordStuckInput) (RecordStepResult, error) {
	var res RecordStepResult
	if activity.GetInfo(ctx).Attempt == 1 {
		res.Published = a.publish(in.Record)
	}
	if err := a.Store.RecordStep(ctx, in.Record); err != nil {
		return res, retryable("record stuck step", err)
	}
	return res, nil
}

// publish queues the events of r and returns how many were queued.
func (a *Activities) publish(r onramp.StepRecord) int {
	if a.Events == nil {
		return 0
	}
	n := 0
	for _, e := range events(r) {
		if a.Events.Enqueue(e) {
			n++
		}
	}
	return n
}

// events are the events announcing r's transitions.
func events(r onramp.StepRecord) []onramp.Event {
	var out []onramp.Event
	for _, t := range r.Transitions {
		data, err := json.Marshal(t)
		if err != nil {
			continue // a transition always marshals
		}
		types := []string{onramp.EventStepChanged}
		if t.Step.Status == onramp.StatusStuck && t.From != onramp.StatusStuck {
			types = append(types, onramp.EventStepStuck)
		}
		if t.Finished && t.Step.Key == onramp.StepFinish {
			types = append(types, onramp.EventOnboardingFinished)
		}
		for _, typ := range types {
			out = append(out, onramp.Event{
				ID:    fmt.Sprintf("%s:%d:%s", t.RepID, t.Seq, typ),
				OrgID: t.OrgID, Type: typ, RepID: t.RepID, At: t.At, Data: data,
			})
		}
	}
	return out
}
