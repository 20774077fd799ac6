package postgres

import (
	"context"
	"encoding/json"

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
	streams, err := streamsOf(ctx, s.db.pool, orgID)
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
	rules, err := json.Marshal(st.Rules)
	if err != nil {
		return wrap(op, err, "")
	}
	if st.Rules == nil {
		rules = []byte("[]")
	}
	_, err = s.db.pool.Exec(ctx, `INSERT INTO streams (org_id, key, name, rules) VALUES ($1, $2, $3, $4)`, orgID, st.Key, st.Name, rules)
	return wrap(op, err, "Org not found.")
}
