package worker

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	enums "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/onramp/onramp/workflows"
)

// SearchAttributes are the custom search attributes the workflows upsert,
// to register on the namespace before workers run.
func SearchAttributes() map[string]enums.IndexedValueType {
	return map[string]enums.IndexedValueType{
		workflows.SearchAttrOrg.GetName():    enums.INDEXED_VALUE_TYPE_KEYWORD,
		workflows.SearchAttrStep.GetName():   enums.INDEXED_VALUE_TYPE_KEYWORD,
		workflows.SearchAttrStatus.GetName(): enums.INDEXED_VALUE_TYPE_KEYWORD,
	}
}

// EnsureSearchAttributes registers the custom search attributes attrs in
// namespace, skipping those already registered. It works against any
// Temporal server (the in-process one and a production cluster) through the
// OperatorService, and is safe to call from several workers at once.
//
// It fails when an attribute exists with another type, or when the server
// has no room left (SQLite visibility allows at most 10 Keyword and 3 of each
// other type per namespace).
//
// A newly added attribute becomes usable at the server's next namespace
// cache refresh: when it added any, EnsureSearchAttributes waits settle
// (the refresh interval: 2s in onramp dev, 10s by default) before it
// returns, so workflows started after it may upsert them.
func EnsureSearchAttributes(ctx context.Context, c client.Client, namespace string, attrs map[string]enums.IndexedValueType, settle time.Duration) error {
	added, err := ensureSearchAttributes(ctx, c, namespace, attrs)
	if err != nil || added == 0 {
		return err
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(settle):
		return nil
	}
}

// ensureSearchAttributes is EnsureSearchAttributes that also reports how many
// attributes it added.
func ensureSearchAttributes(ctx context.Context, c client.Client, namespace string, attrs map[string]enums.IndexedValueType) (int, error) {
	if len(attrs) == 0 {
		return 0, nil
	}
	missing, err := missingSearchAttributes(ctx, c, namespace, attrs)
	if err != nil || len(missing) == 0 {
		return 0, err
	}
	_, addErr := c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace:        namespace,
		SearchAttributes: missing,
	})
	if addErr == nil {
		return len(missing), nil
	}
	// Another worker may have added them concurrently: what counts is
	// whether they are all there now.
	if still, err := missingSearchAttributes(ctx, c, namespace, attrs); err == nil && len(still) == 0 {
		return len(missing), nil
	}
	return 0, fmt.Errorf("add search attributes %s to namespace %q: %w",
		strings.Join(slices.Sorted(maps.Keys(missing)), ", "), namespace, addErr)
}

// missingSearchAttributes returns the attributes of attrs that namespace
// lacks, and an error if one exists with another type.
func missingSearchAttributes(ctx context.Context, c client.Client, namespace string, attrs map[string]enums.IndexedValueType) (map[string]enums.IndexedValueType, error) {
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{
		Namespace: namespace,
	})
	if err != nil {
		return nil, fmt.Errorf("list search attributes of namespace %q: %w", namespace, err)
	}
	missing := make(map[string]enums.IndexedValueType)
	for _, name := range slices.Sorted(maps.Keys(attrs)) {
		want := attrs[name]
		have, ok := resp.GetCustomAttributes()[name]
		if !ok {
			have, ok = resp.GetSystemAttributes()[name]
		}
		switch {
		case !ok:
			missing[name] = want
		case have != want:
			return nil, fmt.Errorf("search attribute %q of namespace %q has type %s, want %s", name, namespace, have, want)
		}
	}
	return missing, nil
}
