// Package postgres stores Onramp's system of record in PostgreSQL with
// pgxpool: orgs, users, sessions, step settings, photos, streams, the
// onboarding projection and the audit log. UserService implements
// onramp.UserService; Store implements onramp.ProjectionStore,
// SettingsStore, PhotoStore and StreamStore. The schema is in embedded SQL
// migrations, applied by Migrate (a deliberate step, not run on Open).
package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/onramp/onramp"
)

// DefaultTimeout bounds the database work of one store call: during an
// outage (a stalled server or network) callers get EUNAVAILABLE within
// seconds instead of waiting on a socket with no end.
const DefaultTimeout = 5 * time.Second

// DB is a pool of connections to Onramp's database.
type DB struct {
	pool    *pgxpool.Pool
	timeout time.Duration
}

// Open connects to the database at url (a postgres:// URL or a keyword/value
// DSN) and checks that it answers. It does not migrate. Every store call
// on it is bounded by DefaultTimeout (see SetTimeout), including the wait
// for a connection.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The parse error may quote the URL, password included.
		return nil, fmt.Errorf("postgres: invalid database URL")
	}
	const timeout = DefaultTimeout
	if cfg.ConnConfig.ConnectTimeout == 0 || cfg.ConnConfig.ConnectTimeout > timeout {
		cfg.ConnConfig.ConnectTimeout = timeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	db := &DB{pool: pool, timeout: timeout}
	if err := db.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

// Close closes every connection of the pool.
func (db *DB) Close() { db.pool.Close() }

// SetTimeout sets the bound of each store call (DefaultTimeout by
// default). Call it before the DB is shared.
func (db *DB) SetTimeout(d time.Duration) {
	if d > 0 {
		db.timeout = d
	}
}

// bound returns ctx limited to the store's timeout: every store method
// starts with it, so no caller waits on the database without end.
func (db *DB) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, db.timeout)
}

// Ping checks that the database answers. Returns EUNAVAILABLE when it does not.
func (db *DB) Ping(ctx context.Context) error {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	if err := db.pool.Ping(ctx); err != nil {
		return &onramp.Error{Code: onramp.EUNAVAILABLE, Message: "The database is not available.", Op: "postgres.Ping", Err: err}
	}
	return nil
}

// Pool returns the underlying pool, for adapters that share it.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// conflictMessages are the user-facing messages of unique and exclusion
// violations, by constraint name.
var conflictMessages = map[string]string{
	"users_email_key":               "A user with this email already exists.",
	"orgs_slug_key":                 "An org with this slug already exists.",
	"streams_pkey":                  "A stream with this key already exists.",
	"onboarding_events_rep_seq_key": "This step event was already recorded.",
}

// notFoundMessages are the messages of foreign-key violations that name
// something more precise than the operation's subject.
var notFoundMessages = map[string]string{
	"users_org_fkey":          "Org not found.",
	"onramp_rep_in_org":       "Rep not found.",
	"rep_settings_photo_fkey": "Photo not found: upload it again.",
	"streams_org_fkey":        "Org not found.",
	"audit_log_org_fkey":      "Org not found.",
}

// wrap maps a pgx error to an application error: no rows, a foreign-key
// violation and an invalid UUID are ENOTFOUND (with notFound as the message
// unless the constraint has its own), unique and exclusion violations are
// ECONFLICT, CHECK violations EINVALID, timeouts and connection failures
// EUNAVAILABLE, anything else EINTERNAL. Application errors pass through.
func wrap(op string, err error, notFound string) error {
	if err == nil {
		return nil
	}
	var ae *onramp.Error
	if errors.As(err, &ae) {
		if ae.Op == "" {
			ae.Op = op
		}
		return ae
	}
	e := &onramp.Error{Code: onramp.EINTERNAL, Message: "Internal error.", Op: op, Err: err}
	var pgErr *pgconn.PgError
	var connErr *pgconn.ConnectError
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		e.Code, e.Message = onramp.ENOTFOUND, notFound
	case errors.As(err, &pgErr):
		switch pgErr.Code {
		case "23505", "23P01": // unique_violation, exclusion_violation
			e.Code, e.Message = onramp.ECONFLICT, "This conflicts with something that already exists."
			if m, ok := conflictMessages[pgErr.ConstraintName]; ok {
				e.Message = m
			}
		case "23503": // foreign_key_violation
			e.Code, e.Message = onramp.ENOTFOUND, notFound
			if m, ok := notFoundMessages[pgErr.ConstraintName]; ok {
				e.Message = m
			}
		case "22P02": // invalid_text_representation (a malformed UUID)
			e.Code, e.Message = onramp.ENOTFOUND, notFound
		case "23514": // check_violation
			e.Code, e.Message = onramp.EINVALID, "Some values are out of range."
		case "57014": // query_canceled (statement_timeout)
			e.Code, e.Message = onramp.EUNAVAILABLE, "The database did not answer in time."
		}
	case errors.Is(err, context.DeadlineExceeded), pgconn.Timeout(err), errors.As(err, &connErr):
		e.Code, e.Message = onramp.EUNAVAILABLE, "The database did not answer in time."
	}
	return e
}

// validUUID reports whether s is a UUID in canonical form. IDs that are not
// are never found, and are not sent to the database.
func validUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// notFoundf returns an ENOTFOUND error for operation op.
func notFoundf(op, msg string) error {
	return &onramp.Error{Code: onramp.ENOTFOUND, Message: msg, Op: op}
}
