package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/onramp/onramp"
)

// Streams lists the org's streams: onramp.BuiltinStreams, then the
// admin-defined ones in the order they were created.
func (s *Store) Streams(ctx context.Context, orgID string) ([]onramp.Stream, error) {
	const op = "postgres.Streams"
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	streams := onramp.BuiltinStreams()
	if !validUUID(orgID) {
		return streams, nil
	}
	rows, _ := s.db.pool.Query(ctx, `SELECT key, name FROM streams WHERE org_id = $1 ORDER BY created_at, key`, orgID)
	var st onramp.Stream
	_, err := pgx.ForEachRow(rows, []any{&st.Key, &st.Name}, func() error {
		streams = append(streams, onramp.Stream{Key: st.Key, Name: st.Name})
		return nil
	})
	if err != nil {
		return nil, wrap(op, err, "")
	}
	return streams, nil
}

// CreateStream adds an admin-defined stream. Returns EINVALID for a
// malformed key or name (onramp.Stream.Validate), ECONFLICT if the key
// exists (built-in keys included), ENOTFOUND if the org does not exist.
func (s *Store) CreateStream(ctx context.Context, orgID string, st onramp.Stream) error {
	const op = "postgres.CreateStream"
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	if err := st.Validate(); err != nil {
		return wrap(op, err, "")
	}
	if !validUUID(orgID) {
		return notFoundf(op, "Org not found.")
	}
	_, err := s.db.pool.Exec(ctx, `INSERT INTO streams (org_id, key, name) VALUES ($1, $2, $3)`, orgID, st.Key, st.Name)
	return wrap(op, err, "Org not found.")
}
