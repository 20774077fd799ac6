package workflows_test

import (
	"path/filepath"
	"strings"
	"testing"

	"go.temporal.io/sdk/worker"

	onrampworker "github.com/onramp/onramp/worker"
)

// TestReplayHistories replays every history in testdata, each recorded on a
// real server by cmd/onramp's end-to-end tests (go test ./cmd/onramp -run
// TestRecordHistories -record-histories writes those that are missing),
// against today's workflow code: a change that breaks determinism for any
// of them fails here. Histories are added, never re-recorded: the oldest
// ones are the first release's, which replay through workflow.GetVersion's
// DefaultVersion branches.
func TestReplayHistories(t *testing.T) {
	files, err := filepath.Glob("testdata/*history*.json")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"onboarding_history.json", // the first release's happy path
		// The first release's other paths, recorded with its code
		// (5859a83) after it had shipped, for its DefaultVersion branches.
		"onboarding_v1_stuck_retry_history.json",
		"onboarding_v1_calendar_history.json",
		"onboarding_v2_happy_history.json",
		"onboarding_v2_calendar_history.json",
		"onboarding_v2_stuck_retry_history.json",
		"onboarding_v2_reset_history.json",
		"onboarding_v2_needs_action_history.json",
	}
	have := map[string]bool{}
	for _, f := range files {
		have[filepath.Base(f)] = true
	}
	for _, w := range want {
		if !have[w] {
			t.Errorf("testdata/%s is missing", w)
		}
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			onrampworker.RegisterWorkflows(r)
			if err := r.ReplayWorkflowHistoryFromJSONFile(nil, f); err != nil {
				t.Fatal(err)
			}
		})
	}
}
