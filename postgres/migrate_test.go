package postgres_test

import (
	"context"
	"sort"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/onramp/onramp/postgres"
	"github.com/onramp/onramp/postgres/pgtest"
)

// MustOpenEmpty opens a pool on a fresh database that is not migrated.
func MustOpenEmpty(t testing.TB) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), pgtest.MustCreateDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

func TestMigrate(t *testing.T) {
	ctx := context.Background()
	t.Run("Idempotent", func(t *testing.T) {
		db := MustOpenEmpty(t)
		st, err := db.MigrationStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(st) == 0 || st[0].Version != "0001" || st[0].Name != "init" || st[0].AppliedAt != nil {
			t.Fatalf("status before migrating = %+v, want 0001 init pending", st)
		}
		applied, err := db.Migrate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(applied) != len(st) || applied[0] != "0001_init.sql" {
			t.Errorf("first Migrate applied %v, want all %d migrations from 0001_init.sql", applied, len(st))
		}
		again, err := db.Migrate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(again) != 0 {
			t.Errorf("second Migrate applied %v, want nothing", again)
		}
		st, err = db.MigrationStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range st {
			if m.AppliedAt == nil {
				t.Errorf("migration %s not applied after Migrate", m.File())
			}
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		url := pgtest.MustCreateDatabase(t)
		const n = 4
		var wg sync.WaitGroup
		results := make([][]string, n)
		errs := make([]error, n)
		for i := range n {
			// Separate pools, as separate processes would have.
			db, err := postgres.Open(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(db.Close)
			wg.Go(func() { results[i], errs[i] = db.Migrate(ctx) })
		}
		wg.Wait()
		var all []string
		for i := range n {
			if errs[i] != nil {
				t.Errorf("Migrate %d: %v", i, errs[i])
			}
			all = append(all, results[i]...)
		}
		sort.Strings(all)
		db, err := postgres.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		st, err := db.MigrationStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, m := range st {
			want = append(want, m.File())
		}
		if diff := cmp.Diff(want, all); diff != "" {
			t.Errorf("migrations applied across concurrent runs (-want +got): each must be applied exactly once\n%s", diff)
		}
	})
}
