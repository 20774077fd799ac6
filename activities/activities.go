// Package activities holds the Temporal activities of Onramp's workflows:
// methods on Activities, which holds their dependencies. Each takes one
// XxxInput and returns (XxxResult, error), and is idempotent.
package activities

import (
	"log/slog"

	"github.com/onramp/onramp"
)

// Activities holds what the activities need.
type Activities struct {
	Store onramp.OnboardingStore
	Bus   onramp.EventBus
	Log   *slog.Logger
}

func (a *Activities) log() *slog.Logger {
	if a.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return a.Log
}
