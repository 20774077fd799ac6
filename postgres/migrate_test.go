package postgres_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/onramp/onramp"
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

// TestMigrateSettingsIntoOneTable: a database of the first release, with a
// rep's settings in the four typed tables and a photo no profile shows,
// migrated by 0002: the settings decode into the domain's types, the
// profile's photo is kept and served, the unused one is gone.
func TestMigrateSettingsIntoOneTable(t *testing.T) {
	ctx := context.Background()
	db := MustOpenEmpty(t)
	init, err := os.ReadFile("migrations/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Pool().Exec(ctx, q, args...); err != nil {
			t.Fatalf("%.60s: %v", q, err)
		}
	}
	exec(string(init))
	exec(`CREATE TABLE schema_migrations (version text PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`)
	exec(`INSERT INTO schema_migrations (version, name) VALUES ('0001', 'init')`)
	var org, rep, kept, unused string
	if err := db.Pool().QueryRow(ctx, `INSERT INTO orgs (name, slug, required_steps) VALUES ('Acme', 'acme', '{profile,calendar}') RETURNING id`).Scan(&org); err != nil {
		t.Fatal(err)
	}
	if err := db.Pool().QueryRow(ctx, `INSERT INTO users (org_id, email, name, role) VALUES ($1, 'r@acme.example', 'R', 'rep') RETURNING id`, org).Scan(&rep); err != nil {
		t.Fatal(err)
	}
	for _, id := range []*string{&kept, &unused} {
		if err := db.Pool().QueryRow(ctx, `INSERT INTO photos (org_id, user_id, content_type, width, height, data) VALUES ($1, $2, 'image/png', 2, 2, '\x89504e47') RETURNING id`, org, rep).Scan(id); err != nil {
			t.Fatal(err)
		}
	}
	exec(`INSERT INTO profiles (user_id, org_id, first_name, last_name, title, photo_id) VALUES ($1, $2, 'Ada', 'Lovelace', 'Acme Expert', $3)`, rep, org, kept)
	exec(`INSERT INTO availability (user_id, org_id, time_zone, weekly, min_notice_minutes, buffer_minutes)
		VALUES ($1, $2, 'Europe/Paris', '{"monday":[{"start":"09:00","end":"17:00"}]}', 45, 10)`, rep, org)
	exec(`INSERT INTO notification_prefs (user_id, org_id, return_visitor_alerts, sound, voice_alerts, streams)
		VALUES ($1, $2, false, 'bell', true, '{"waiting_for_rep":{"desktop":true,"mobile":false},"vip":{"desktop":false,"mobile":false}}')`, rep, org)
	exec(`INSERT INTO browser_permissions (user_id, org_id, notifications, camera, microphone, user_agent)
		VALUES ($1, $2, 'granted', 'denied', 'prompt', 'Chrome/156')`, rep, org)

	applied, err := db.Migrate(ctx)
	if err != nil || len(applied) == 0 || applied[0] != "0002_step_settings.sql" {
		t.Fatalf("Migrate = %v, %v", applied, err)
	}
	store := postgres.NewStore(db)
	got, err := store.AllSettings(ctx, org, rep)
	if err != nil {
		t.Fatal(err)
	}
	want := map[onramp.StepKey]onramp.Settings{
		onramp.StepProfile: &onramp.Profile{FirstName: "Ada", LastName: "Lovelace", Title: "Acme Expert", PhotoID: kept},
		onramp.StepAvailability: &onramp.Availability{TimeZone: "Europe/Paris", MinNoticeMinutes: 45, BufferMinutes: 10,
			Weekly: map[string][]onramp.Interval{"monday": {{Start: "09:00", End: "17:00"}}}},
		onramp.StepNotifications: &onramp.NotificationPrefs{Sound: "bell", VoiceAlerts: true,
			Streams: map[string]onramp.StreamPref{onramp.StreamWaitingForRep: {Desktop: true}, onramp.StreamVIP: {}}},
		onramp.StepBrowser: &onramp.BrowserPermissions{Notifications: "granted", Camera: "denied", Microphone: "prompt", UserAgent: "Chrome/156"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("settings after the migration (-want +got):\n%s", diff)
	}
	for _, s := range got {
		if err := s.Validate(); err != nil {
			t.Errorf("%s settings no longer validate: %v", s.Step(), err)
		}
	}
	if _, err := store.FindPhoto(ctx, org, kept); err != nil {
		t.Errorf("the profile's photo: %v", err)
	}
	if _, err := store.FindPhoto(ctx, org, unused); onramp.ErrorCode(err) != onramp.ENOTFOUND {
		t.Errorf("a photo no profile shows is still served: %v", err)
	}
	// It is staged instead: a profile save stuck at the upgrade finds it
	// when support retries it.
	p := want[onramp.StepProfile].(*onramp.Profile)
	p.PhotoID = unused
	if err := store.SaveSettings(ctx, org, rep, p); err != nil {
		t.Fatalf("saving the profile with the photo staged by the migration: %v", err)
	}
	// The org no longer requires a step its reps cannot complete.
	o, err := postgres.NewUserService(db).FindOrgByID(ctx, org)
	if err != nil || fmt.Sprint(o.RequiredSteps) != "[profile]" {
		t.Errorf("required steps after the migration: %v, %v", o.RequiredSteps, err)
	}
}
