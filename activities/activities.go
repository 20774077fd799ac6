// Package activities holds the Temporal activities of Onramp's workflows:
// methods on Activities, which holds their dependencies. Each takes one
// XxxInput and returns (XxxResult, error), and is idempotent.
package activities

import (
	"context"

	"go.temporal.io/sdk/temporal"

	"github.com/onramp/onramp"
)

// StepRecorder is what the activities need of the store: the projection's
// one write.
type StepRecorder interface {
	// RecordStepEvents writes r and returns the events appended to the
	// feeds for its new transitions, to publish.
	RecordStepEvents(ctx context.Context, r onramp.StepRecord) ([]onramp.Event, error)
}

// Activities holds what the activities need.
type Activities struct {
	Store StepRecorder
	// Events publishes the transitions' events in the background; nil
	// publishes none.
	Events *Publisher
}

// retryable turns a store error into the activity's error: input that
// retrying cannot fix (an unknown rep, invalid settings, a missing photo)
// is non-retryable, so the workflow learns at once instead of retrying for
// a day, with the rep's message as its detail. The message keeps the
// detail (for support); the type is the error code.
func retryable(op string, err error) error {
	switch code := onramp.ErrorCode(err); code {
	case onramp.ENOTFOUND, onramp.EINVALID, onramp.EBADREQUEST:
		return temporal.NewNonRetryableApplicationError(op+": "+err.Error(), code, err, onramp.ErrorMessage(err))
	default:
		return temporal.NewApplicationErrorWithCause(op+": "+err.Error(), code, err)
	}
}
