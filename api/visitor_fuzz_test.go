package api

import (
	"testing"

	"github.com/onramp/onramp"
)

// FuzzDecodeVisitorEvents: any body is a clear error or 1 to
// MaxVisitorBatch events, never a panic; and validating what decoded never
// panics either.
func FuzzDecodeVisitorEvents(f *testing.F) {
	f.Add([]byte(`{"id":"e1","type":"vip","visitor_id":"v","owner_rep":"r@x.test"}`))
	f.Add([]byte(`{"events":[{"id":"e1","type":"visit","visitor_id":"v","owner_rep":"r"}]}`))
	f.Add([]byte(`[{"id":"a"},{"id":"b","page":"https://x.test/"}]`))
	f.Add([]byte(`{"events":null}`))
	f.Add([]byte(`  [] `))
	f.Fuzz(func(t *testing.T, body []byte) {
		events, err := decodeVisitorEvents(body)
		if err != nil {
			if c := onramp.ErrorCode(err); c != onramp.EBADREQUEST && c != onramp.EINVALID {
				t.Fatalf("code %s", c)
			}
			return
		}
		if len(events) == 0 || len(events) > onramp.MaxVisitorBatch {
			t.Fatalf("%d events", len(events))
		}
		if err := validateVisitorEvents(events); err != nil && onramp.ErrorCode(err) != onramp.EINVALID {
			t.Fatalf("validate: %v", err)
		}
	})
}
