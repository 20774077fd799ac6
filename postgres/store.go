package postgres

import (
	"time"

	"github.com/onramp/onramp"
)

// Store is the onboarding side of the database: the projection of every
// transition and the step-event log (projection.go), each rep's settings
// (settings.go), profile photos (photos.go) and visitor streams
// (streams.go).
type Store struct {
	db *DB
}

var (
	_ onramp.ProjectionStore = (*Store)(nil)
	_ onramp.SettingsStore   = (*Store)(nil)
	_ onramp.PhotoStore      = (*Store)(nil)
	_ onramp.StreamStore     = (*Store)(nil)
)

// NewStore returns a Store on db.
func NewStore(db *DB) *Store { return &Store{db: db} }

// orNow returns t, or the current time when t is zero.
func orNow(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}
