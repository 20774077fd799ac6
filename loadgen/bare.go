package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/onramp/onramp/workflows"
)

// The bare workflow: Temporal alone, the yardstick of Onramp's overhead.
const (
	bareTaskQueue    = "onramp-loadgen-bare"
	bareWorkflowName = "OnrampLoadgenBare"
	bareQueryCount   = "count"
)

// bareInput starts a bare workflow.
type bareInput struct {
	Updates int // how many Updates it takes before it completes
	// UpsertSearchAttributes: each Update also upserts the onboarding's
	// three search attributes, as the onboarding does on every transition
	// (-bare-upsert, to measure what that costs).
	UpsertSearchAttributes bool
}

// bareWorkflow takes in.Updates Updates under the onboarding's update names;
// each handler records its input and returns the count. The last Update
// completes the workflow.
func bareWorkflow(ctx workflow.Context, in bareInput) (int, error) {
	var got []json.RawMessage
	withArg := func(ctx workflow.Context, arg json.RawMessage) (int, error) {
		got = append(got, arg)
		if in.UpsertSearchAttributes {
			if err := workflow.UpsertTypedSearchAttributes(ctx,
				workflows.SearchAttrOrg.ValueSet("loadgen-bare"),
				workflows.SearchAttrStep.ValueSet(strconv.Itoa(len(got))),
				workflows.SearchAttrStatus.ValueSet("bare"),
			); err != nil {
				return 0, err
			}
		}
		return len(got), nil
	}
	noArg := func(ctx workflow.Context) (int, error) { return withArg(ctx, nil) }
	if err := workflow.SetQueryHandler(ctx, bareQueryCount, func() (int, error) { return len(got), nil }); err != nil {
		return 0, err
	}
	set := map[string]bool{}
	for _, s := range timedSteps() {
		if set[s.update] { // skip_step takes four of the Updates
			continue
		}
		set[s.update] = true
		var h any = withArg
		if s.arg == nil {
			h = noArg
		}
		if err := workflow.SetUpdateHandler(ctx, s.update, h); err != nil {
			return 0, err
		}
	}
	if err := workflow.Await(ctx, func() bool { return len(got) >= in.Updates && workflow.AllHandlersFinished(ctx) }); err != nil {
		return len(got), err
	}
	return len(got), nil
}

// runBare is the bare phase: a worker in this process on its own task
// queue, o.N workflows started (not timed), then the same Updates as the
// Onramp phase driven directly through the Temporal client, o.C workflows
// at a time (timed).
func runBare(ctx context.Context, o options, r *Report) error {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	tc, err := client.DialContext(dctx, client.Options{
		HostPort: o.Temporal, Namespace: o.Namespace,
		Logger: sdklog.NewStructuredLogger(log.With("component", "loadgen-bare")),
	})
	cancel()
	if err != nil {
		return fmt.Errorf("temporal %s: %w", o.Temporal, err)
	}
	defer tc.Close()
	w := sdkworker.New(tc, bareTaskQueue, sdkworker.Options{})
	w.RegisterWorkflowWithOptions(bareWorkflow, workflow.RegisterOptions{Name: bareWorkflowName})
	if err := w.Start(); err != nil {
		return fmt.Errorf("bare worker: %w", err)
	}
	defer w.Stop()

	steps := timedSteps()
	runs := make([]client.WorkflowRun, o.N)
	samples := &errSamples{}
	start := time.Now()
	parallel(ctx, o.N, o.C, func(i int) {
		sctx, cancel := context.WithTimeout(ctx, o.Timeout)
		defer cancel()
		run, err := tc.ExecuteWorkflow(sctx, client.StartWorkflowOptions{
			ID:        fmt.Sprintf("loadgen-bare/%s/%d", r.RunID, i),
			TaskQueue: bareTaskQueue,
			// Bounded: nothing outlives a broken run for long.
			WorkflowExecutionTimeout: o.Deadline,
		}, bareWorkflowName, bareInput{Updates: len(steps), UpsertSearchAttributes: o.BareUpsert})
		if err != nil {
			samples.add(err)
			return
		}
		// Like the onboardings, whose first workflow task ran long before
		// the timed phase: wait until the worker holds the workflow.
		if _, err := tc.QueryWorkflow(sctx, run.GetID(), run.GetRunID(), bareQueryCount); err != nil {
			samples.add(err)
			return
		}
		runs[i] = run
	})
	r.Setup.BareStartWallSeconds = time.Since(start).Seconds()
	for _, run := range runs {
		if run != nil {
			r.Setup.BareStarted++
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if r.Setup.BareStarted != o.N {
		return fmt.Errorf("started %d of %d bare workflows: %v", r.Setup.BareStarted, o.N, samples.list())
	}

	rec := newRecorder(stepKeys()...)
	var completed atomic.Int64
	start = time.Now()
	parallel(ctx, o.N, o.C, func(i int) {
		id := runs[i].GetID()
		for _, st := range steps {
			var args []any
			if st.arg != nil {
				args = []any{st.arg}
			}
			t0 := time.Now()
			uctx, cancel := context.WithTimeout(ctx, o.Timeout)
			h, err := tc.UpdateWorkflow(uctx, client.UpdateWorkflowOptions{
				WorkflowID: id, UpdateName: st.update, Args: args,
				WaitForStage: client.WorkflowUpdateStageCompleted,
			})
			var n int
			if err == nil {
				err = h.Get(uctx, &n)
			}
			cancel()
			d := time.Since(t0)
			if err != nil {
				kind := "error"
				if uctx.Err() != nil {
					kind = "timeout"
				}
				rec.fail(st.key, kind)
				samples.add(err)
				return
			}
			rec.ok(st.key, d)
		}
		completed.Add(1)
	})
	p := &r.Bare
	p.WallSeconds = time.Since(start).Seconds()
	p.Workflows, p.Completed = o.N, int(completed.Load())
	rec.fill(p)
	p.ErrorSamples = samples.list()
	if err := ctx.Err(); err != nil {
		return err
	}

	// Not timed: every bare workflow must have completed with all Updates.
	var closed atomic.Int64
	parallel(ctx, o.N, o.C, func(i int) {
		gctx, cancel := context.WithTimeout(ctx, o.Timeout)
		defer cancel()
		var n int
		if err := runs[i].Get(gctx, &n); err == nil && n == len(steps) {
			closed.Add(1)
		} else if err != nil {
			samples.add(err)
		}
	})
	r.BareVerified = int(closed.Load())
	return ctx.Err()
}
