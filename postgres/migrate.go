package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migrateLockKey is the advisory lock that serialises migrations across
// processes ("onramp" in ASCII).
const migrateLockKey = 0x6f6e72616d70

// Migration is one embedded schema migration and when it was applied
// (nil when it has not been).
type Migration struct {
	Version   string     // "0001"
	Name      string     // "init"
	AppliedAt *time.Time // nil when pending
}

// File returns the migration's file name, e.g. "0001_init.sql".
func (m Migration) File() string { return m.Version + "_" + m.Name + ".sql" }

var migrationFileRE = regexp.MustCompile(`^([0-9]{4})_([a-z0-9_]+)\.sql$`)

type migrationFile struct {
	Migration
	sql string
}

// migrations returns the embedded migrations in version order.
func migrations() ([]migrationFile, error) {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var ms []migrationFile
	seen := map[string]bool{}
	for _, p := range names {
		base := strings.TrimPrefix(p, "migrations/")
		m := migrationFileRE.FindStringSubmatch(base)
		if m == nil {
			return nil, fmt.Errorf("postgres: migration %s: name must be NNNN_name.sql", base)
		}
		if seen[m[1]] {
			return nil, fmt.Errorf("postgres: migration %s: version %s used twice", base, m[1])
		}
		seen[m[1]] = true
		b, err := migrationFS.ReadFile(p)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migrationFile{Migration{Version: m[1], Name: m[2]}, string(b)})
	}
	return ms, nil
}

const createMigrationsTable = `
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    text PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)`

// Migrate applies the embedded migrations that have not been applied yet,
// in version order, each in its own transaction, and returns the file
// names of those it applied (e.g. "0001_init.sql"). Running it again
// applies nothing. Each transaction holds a transaction-level advisory
// lock, so processes migrating at the same time apply each migration once;
// a failed migration is rolled back and stops the run.
func (db *DB) Migrate(ctx context.Context) (applied []string, err error) {
	ms, err := migrations()
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		var did bool
		err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrateLockKey)); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, createMigrationsTable); err != nil {
				return err
			}
			var exists bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, m.Version).Scan(&exists); err != nil {
				return err
			}
			if exists {
				return nil
			}
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
				return err
			}
			did = true
			return nil
		})
		if err != nil {
			return applied, fmt.Errorf("postgres: migration %s: %w", m.File(), err)
		}
		if did {
			applied = append(applied, m.File())
		}
	}
	return applied, nil
}

// MigrationStatus lists every embedded migration in version order with
// when it was applied (nil when pending).
func (db *DB) MigrationStatus(ctx context.Context) ([]Migration, error) {
	ms, err := migrations()
	if err != nil {
		return nil, err
	}
	appliedAt := map[string]time.Time{}
	var table *string
	if err := db.pool.QueryRow(ctx, `SELECT to_regclass('schema_migrations')::text`).Scan(&table); err != nil {
		return nil, fmt.Errorf("postgres: migration status: %w", err)
	}
	if table != nil {
		rows, _ := db.pool.Query(ctx, `SELECT version, applied_at FROM schema_migrations`)
		var v string
		var at time.Time
		if _, err := pgx.ForEachRow(rows, []any{&v, &at}, func() error {
			appliedAt[v] = at
			return nil
		}); err != nil {
			return nil, fmt.Errorf("postgres: migration status: %w", err)
		}
	}
	out := make([]Migration, len(ms))
	for i, m := range ms {
		out[i] = m.Migration
		if at, ok := appliedAt[m.Version]; ok {
			out[i].AppliedAt = &at
		}
	}
	return out, nil
}
