package workflows_test

import (
	"testing"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/onramp/onramp/workflows"
)

// TestReplayOnboarding replays a history recorded on a real server (by
// cmd/onramp's end-to-end test with -update-history) against today's
// workflow code: a change that breaks determinism fails here.
func TestReplayOnboarding(t *testing.T) {
	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflowWithOptions(workflows.Onboarding, workflow.RegisterOptions{Name: workflows.OnboardingWorkflowName})
	if err := r.ReplayWorkflowHistoryFromJSONFile(nil, "testdata/onboarding_history.json"); err != nil {
		t.Fatal(err)
	}
}
