package pgtest_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/onramp/onramp/postgres"
	"github.com/onramp/onramp/postgres/pgtest"
)

// MustDatabaseExists reports whether the server holds database name.
func MustDatabaseExists(t testing.TB, name string) bool {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgtest.ServerURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestMustURL(t *testing.T) {
	ctx := context.Background()
	var name string
	t.Run("Migrated", func(t *testing.T) {
		url := pgtest.MustURL(t)
		name = url[strings.LastIndex(url, "/")+1:]
		name, _, _ = strings.Cut(name, "?")
		if !strings.HasPrefix(name, "onramp_test_") {
			t.Fatalf("database %q, want onramp_test_<hex>", name)
		}
		db, err := postgres.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		// Left open on purpose: the drop must not wait for it.
		st, err := db.MigrationStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range st {
			if m.AppliedAt == nil {
				t.Errorf("migration %s not applied", m.File())
			}
		}
	})
	if MustDatabaseExists(t, name) {
		t.Errorf("database %s still exists after its test ended", name)
	}
}

func TestMustOpen(t *testing.T) {
	db := pgtest.MustOpen(t)
	var n int
	if err := db.Pool().QueryRow(context.Background(), `SELECT count(*) FROM orgs`).Scan(&n); err != nil || n != 0 {
		t.Errorf("count(orgs) = %d, %v; want an empty migrated database", n, err)
	}
}
