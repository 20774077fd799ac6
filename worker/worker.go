// Package worker runs Onramp's Temporal worker: it registers the workflows
// and activities on their task queues, registers the search attributes the
// workflows upsert, and stops gracefully.
package worker

import (
	"context"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/onramp/onramp/activities"
	"github.com/onramp/onramp/workflows"
)

// Options tunes the worker; zero values take the SDK's defaults.
type Options struct {
	MaxConcurrentWorkflowTasks int
	MaxConcurrentActivities    int
}

// New returns a worker with every workflow and activity registered on
// workflows.TaskQueue. Start it with Start or Run.
func New(c client.Client, acts *activities.Activities, o Options) sdkworker.Worker {
	w := sdkworker.New(c, workflows.TaskQueue, sdkworker.Options{
		MaxConcurrentWorkflowTaskExecutionSize:  o.MaxConcurrentWorkflowTasks,
		MaxConcurrentActivityExecutionSize:      o.MaxConcurrentActivities,
		MaxConcurrentLocalActivityExecutionSize: o.MaxConcurrentActivities,
	})
	Register(w, acts)
	return w
}

// Registry is what Register needs of a worker (a worker, a test env, a
// replayer).
type Registry interface {
	RegisterWorkflowWithOptions(w any, options workflow.RegisterOptions)
	RegisterActivityWithOptions(a any, options activity.RegisterOptions)
}

// Register registers the workflows and activities under their stable names.
func Register(r Registry, acts *activities.Activities) {
	RegisterWorkflows(r)
	r.RegisterActivityWithOptions(acts, activity.RegisterOptions{})
}

// WorkflowRegistry is what RegisterWorkflows needs (a worker, a replayer).
type WorkflowRegistry interface {
	RegisterWorkflowWithOptions(w any, options workflow.RegisterOptions)
}

// RegisterWorkflows registers the workflows under their stable names.
func RegisterWorkflows(r WorkflowRegistry) {
	r.RegisterWorkflowWithOptions(workflows.Onboarding, workflow.RegisterOptions{Name: workflows.OnboardingWorkflowName})
}

// Run runs a worker until ctx is done, then stops it gracefully (in-flight
// tasks finish). It returns the worker's start error, if any.
func Run(ctx context.Context, c client.Client, acts *activities.Activities, o Options) error {
	w := New(c, acts, o)
	if err := w.Start(); err != nil {
		return err
	}
	<-ctx.Done()
	w.Stop()
	return nil
}
