package activities

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/onramp/onramp"
)

// RecordStepInput is one onboarding transition to write and announce.
type RecordStepInput struct {
	Record onramp.StepRecord
}

// RecordStepResult says how many events were published.
type RecordStepResult struct {
	Published int
}

// RecordStep writes the record (settings, projection, step-event log) in one
// Postgres transaction, then publishes one event per transition on the org's
// channel: onboarding.step for each, onboarding.stuck for a step that became
// stuck (the alert for admins), onboarding.finished when the rep is ready.
// Writing is idempotent (by the transitions' Seq). Publishing is best
// effort: the record is already durable, and pages re-read progress.
func (a *Activities) RecordStep(ctx context.Context, in RecordStepInput) (RecordStepResult, error) {
	r := in.Record
	if err := a.Store.RecordStep(ctx, r); err != nil {
		return RecordStepResult{}, fmt.Errorf("record step: %w", err)
	}
	var res RecordStepResult
	if a.Bus == nil {
		return res, nil
	}
	for _, t := range r.Transitions {
		data, err := json.Marshal(t)
		if err != nil {
			return res, err
		}
		types := []string{onramp.EventStepChanged}
		if t.Step.Status == onramp.StatusStuck && t.From != onramp.StatusStuck {
			types = append(types, onramp.EventStepStuck)
		}
		if t.Finished && t.Step.Key == onramp.StepFinish {
			types = append(types, onramp.EventOnboardingFinished)
		}
		for _, typ := range types {
			e := onramp.Event{
				ID:    fmt.Sprintf("%s:%d:%s", t.RepID, t.Seq, typ),
				OrgID: t.OrgID, Type: typ, RepID: t.RepID, At: t.At, Data: data,
			}
			if err := a.Bus.Publish(ctx, e); err != nil {
				a.log().Warn("publish onboarding event", "type", typ, "org", t.OrgID, "rep", t.RepID, "err", err)
				continue
			}
			res.Published++
		}
	}
	return res, nil
}
