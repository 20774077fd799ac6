package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/postgres"
	"github.com/onramp/onramp/postgres/pgtest"
)

// fixture is an org with one rep, and the stores on a fresh database.
type fixture struct {
	db    *postgres.DB
	users *postgres.UserService
	store *postgres.Store
	org   *onramp.Org
	rep   *onramp.User
}

// MustFixture opens a fresh database with an org "acme" and a rep.
func MustFixture(t testing.TB) *fixture {
	t.Helper()
	db := pgtest.MustOpen(t)
	f := &fixture{db: db, users: postgres.NewUserService(db), store: postgres.NewStore(db)}
	f.org = MustCreateOrg(t, f.users, "acme")
	f.rep = MustCreateUser(t, f.users, onramp.NewUser{OrgID: f.org.ID, Email: "rep@example.com", Name: "Rep", Role: onramp.RoleRep})
	return f
}

var t0 = time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC)

// transition returns the transition number seq of step k to status st.
func (f *fixture) transition(seq int, k onramp.StepKey, from, st onramp.StepStatus, current onramp.StepKey) onramp.StepTransition {
	at := t0.Add(time.Duration(seq) * time.Minute)
	return onramp.StepTransition{
		OrgID: f.org.ID, RepID: f.rep.ID, Seq: seq, From: from, At: at, Current: current,
		Step: onramp.StepState{Key: k, Status: st, Required: true, Attempts: 1, UpdatedAt: at},
	}
}

// MustRecord records transitions for the fixture's rep.
func MustRecord(t testing.TB, f *fixture, r onramp.StepRecord) {
	t.Helper()
	r.OrgID, r.RepID = f.org.ID, f.rep.ID
	if r.WorkflowID == "" {
		r.WorkflowID = "onboarding/" + f.org.ID + "/" + f.rep.ID
	}
	if err := f.store.RecordStep(context.Background(), r); err != nil {
		t.Fatalf("RecordStep: %v", err)
	}
}

func TestRecordStep(t *testing.T) {
	ctx := context.Background()

	t.Run("Idempotent", func(t *testing.T) {
		f := MustFixture(t)
		av := onramp.DefaultAvailability("Europe/Paris")
		r := onramp.StepRecord{
			Transitions: []onramp.StepTransition{
				f.transition(1, onramp.StepAccount, onramp.StatusPending, onramp.StatusDone, onramp.StepCalendar),
			},
			Settings:  &av,
			RepStatus: onramp.UserOnboarding,
		}
		MustRecord(t, f, r)
		MustRecord(t, f, r)
		events, err := f.store.StepEvents(ctx, f.org.ID, f.rep.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := []onramp.StepEvent{{Seq: 1, Step: onramp.StepAccount, From: onramp.StatusPending, To: onramp.StatusDone, At: t0.Add(time.Minute)}}
		if diff := cmp.Diff(want, events, cmp.Comparer(time.Time.Equal)); diff != "" {
			t.Errorf("step events after recording twice (-want +got):\n%s", diff)
		}
		u, _ := f.users.FindUser(ctx, f.org.ID, f.rep.ID)
		if u.Status != onramp.UserOnboarding {
			t.Errorf("rep status = %q, want onboarding", u.Status)
		}
	})

	t.Run("OlderSeqDoesNotOverwrite", func(t *testing.T) {
		f := MustFixture(t)
		newer := f.transition(5, onramp.StepCalendar, onramp.StatusInProgress, onramp.StatusStuck, onramp.StepCalendar)
		newer.Step.Attempts, newer.Step.LastError = 3, "google: 503 backend error"
		older := f.transition(4, onramp.StepCalendar, onramp.StatusPending, onramp.StatusInProgress, onramp.StepAccount)
		MustRecord(t, f, onramp.StepRecord{Transitions: []onramp.StepTransition{newer}})
		MustRecord(t, f, onramp.StepRecord{Transitions: []onramp.StepTransition{older}})

		p, err := f.store.Progress(ctx, f.org.ID, f.rep.ID)
		if err != nil {
			t.Fatal(err)
		}
		cal := p.Step(onramp.StepCalendar)
		if cal.Status != onramp.StatusStuck || cal.Attempts != 3 || cal.LastError != "google: 503 backend error" {
			t.Errorf("calendar = %+v, want the newer (seq 5) state: stuck after 3 attempts", cal)
		}
		if p.CurrentStep != onramp.StepCalendar {
			t.Errorf("current step = %q, want calendar (from seq 5)", p.CurrentStep)
		}
		// Both transitions are in the log, in seq order.
		events, _ := f.store.StepEvents(ctx, f.org.ID, f.rep.ID)
		if len(events) != 2 || events[0].Seq != 4 || events[1].Seq != 5 {
			t.Errorf("events = %+v, want seq 4 then 5", events)
		}
		// The onboarding started at the older transition.
		if !p.StartedAt.Equal(older.At) {
			t.Errorf("started at %v, want %v", p.StartedAt, older.At)
		}
	})

	t.Run("Progress", func(t *testing.T) {
		f := MustFixture(t)
		MustRecord(t, f, onramp.StepRecord{Transitions: []onramp.StepTransition{
			f.transition(1, onramp.StepAccount, onramp.StatusPending, onramp.StatusDone, onramp.StepCalendar),
			f.transition(2, onramp.StepCalendar, onramp.StatusPending, onramp.StatusSkipped, onramp.StepProfile),
			f.transition(3, onramp.StepProfile, onramp.StatusPending, onramp.StatusInProgress, onramp.StepProfile),
		}})
		p, err := f.store.Progress(ctx, f.org.ID, f.rep.ID)
		if err != nil {
			t.Fatal(err)
		}
		var keys []onramp.StepKey
		var statuses []onramp.StepStatus
		for _, s := range p.Steps {
			keys = append(keys, s.Key)
			statuses = append(statuses, s.Status)
		}
		if diff := cmp.Diff(onramp.Steps(), keys); diff != "" {
			t.Errorf("steps not in order (-want +got):\n%s", diff)
		}
		wantStatuses := []onramp.StepStatus{"done", "skipped", "in_progress", "pending", "pending", "pending", "pending", "pending", "pending", "pending"}
		if diff := cmp.Diff(wantStatuses, statuses); diff != "" {
			t.Errorf("statuses (-want +got):\n%s", diff)
		}
		if p.CurrentStep != onramp.StepProfile || p.Finished || p.WorkflowID == "" || p.Steps[0].Title != "Access your account" {
			t.Errorf("progress = %+v", p)
		}
		if crm := p.Step(onramp.StepCRM); crm.Required {
			t.Error("crm is required by default, want optional")
		}
		if av := p.Step(onramp.StepAvailability); !av.Required {
			t.Error("availability is optional, want required by default")
		}
	})

	t.Run("Finished", func(t *testing.T) {
		f := MustFixture(t)
		fin := f.transition(9, onramp.StepFinish, onramp.StatusInProgress, onramp.StatusDone, onramp.StepFinish)
		fin.Finished = true
		MustRecord(t, f, onramp.StepRecord{Transitions: []onramp.StepTransition{fin}, RepStatus: onramp.UserReady})
		p, err := f.store.Progress(ctx, f.org.ID, f.rep.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !p.Finished || p.FinishedAt == nil || !p.FinishedAt.Equal(fin.At) {
			t.Errorf("finished = %v at %v, want true at %v", p.Finished, p.FinishedAt, fin.At)
		}
		u, _ := f.users.FindUser(ctx, f.org.ID, f.rep.ID)
		if u.Status != onramp.UserReady {
			t.Errorf("rep status = %q, want ready", u.Status)
		}
	})

	t.Run("ErrOtherOrg", func(t *testing.T) {
		f := MustFixture(t)
		MustRecord(t, f, onramp.StepRecord{Transitions: []onramp.StepTransition{
			f.transition(1, onramp.StepAccount, onramp.StatusPending, onramp.StatusDone, onramp.StepCalendar),
		}})
		other := MustCreateOrg(t, f.users, "other")
		_, err := f.store.Progress(ctx, other.ID, f.rep.ID)
		MustCode(t, err, onramp.ENOTFOUND)
		err = f.store.RecordStep(ctx, onramp.StepRecord{OrgID: other.ID, RepID: f.rep.ID, Transitions: []onramp.StepTransition{
			{Seq: 2, Current: onramp.StepProfile, At: t0, Step: onramp.StepState{Key: onramp.StepCalendar, Status: onramp.StatusDone}},
		}})
		MustCode(t, err, onramp.ENOTFOUND)
		events, _ := f.store.StepEvents(ctx, other.ID, f.rep.ID)
		if len(events) != 0 {
			t.Errorf("another org sees %d events of the rep", len(events))
		}
	})

	t.Run("CreatedNotStarted", func(t *testing.T) {
		// A rep exists with their onboarding's row from the start: the
		// wizard and admin pages work before the workflow records
		// anything, and the reconciler finds the rep.
		f := MustFixture(t)
		p, err := f.store.Progress(ctx, f.org.ID, f.rep.ID)
		if err != nil {
			t.Fatal(err)
		}
		if p.CurrentStep != onramp.StepAccount || p.Step(onramp.StepAccount).Status != onramp.StatusInProgress ||
			p.Step(onramp.StepProfile).Status != onramp.StatusPending || p.Finished {
			t.Errorf("progress of a new rep: current %s, %+v", p.CurrentStep, p.Steps)
		}
		refs, err := f.store.UnstartedOnboardings(ctx, 0, 10)
		if err != nil || len(refs) != 1 || refs[0] != (onramp.RepRef{OrgID: f.org.ID, RepID: f.rep.ID}) {
			t.Fatalf("unstarted = %v, %v; want the new rep", refs, err)
		}
		if refs, _ := f.store.UnstartedOnboardings(ctx, time.Hour, 10); len(refs) != 0 {
			t.Errorf("a rep created just now is listed as unstarted for an hour: %v", refs)
		}
		MustRecord(t, f, onramp.StepRecord{Transitions: []onramp.StepTransition{
			f.transition(1, onramp.StepAccount, onramp.StatusPending, onramp.StatusInProgress, onramp.StepAccount),
		}})
		if refs, _ := f.store.UnstartedOnboardings(ctx, 0, 10); len(refs) != 0 {
			t.Errorf("a recorded onboarding is listed as unstarted: %v", refs)
		}
		admin := MustCreateUser(t, f.users, onramp.NewUser{OrgID: f.org.ID, Email: "adm@example.com", Name: "Adm", Role: onramp.RoleAdmin})
		_, err = f.store.Progress(ctx, f.org.ID, admin.ID)
		MustCode(t, err, onramp.ENOTFOUND)
	})

	t.Run("TimeZoneCheck", func(t *testing.T) {
		// The calendar's zone is projected; the check is made on read,
		// against the saved calendar settings, so an edit made after the
		// onboarding closed counts.
		f := MustFixture(t)
		if p, _ := f.store.Progress(ctx, f.org.ID, f.rep.ID); p.TimeZoneCheck != onramp.TZUnverified {
			t.Fatalf("check %q before anything is saved", p.TimeZoneCheck)
		}
		av := onramp.DefaultAvailability("Europe/Paris")
		tr := f.transition(1, onramp.StepAvailability, onramp.StatusPending, onramp.StatusDone, onramp.StepNotifications)
		tr.CalendarTimeZone = "America/New_York"
		MustRecord(t, f, onramp.StepRecord{Settings: &av, Transitions: []onramp.StepTransition{tr}})
		p, err := f.store.Progress(ctx, f.org.ID, f.rep.ID)
		if err != nil || p.TimeZoneCheck != onramp.TZMismatch || p.CalendarTimeZone != "America/New_York" {
			t.Fatalf("progress %+v, %v", p, err)
		}
		av.TimeZone = "America/New_York"
		if err := f.store.SaveSettings(ctx, f.org.ID, f.rep.ID, &av); err != nil {
			t.Fatal(err)
		}
		if p, _ := f.store.Progress(ctx, f.org.ID, f.rep.ID); p.TimeZoneCheck != onramp.TZMatch {
			t.Fatalf("check %q after the rep fixed their zone", p.TimeZoneCheck)
		}
	})

	t.Run("ErrInvalidIsAtomic", func(t *testing.T) {
		f := MustFixture(t)
		av := onramp.DefaultAvailability("Europe/Paris")
		av.BufferMinutes = -5 // the settings' own rules reject it: nothing is written
		err := f.store.RecordStep(ctx, onramp.StepRecord{OrgID: f.org.ID, RepID: f.rep.ID, Settings: &av, Transitions: []onramp.StepTransition{
			f.transition(1, onramp.StepAvailability, onramp.StatusPending, onramp.StatusDone, onramp.StepNotifications),
		}})
		MustCode(t, err, onramp.EINVALID)
		mustNothingRecorded(t, f)
	})

	t.Run("ErrLastStatementIsAtomic", func(t *testing.T) {
		// The statements go as one batch: a failure in the last one (a
		// CHECK on the second transition's step row) undoes the settings
		// and the first transition written before it.
		f := MustFixture(t)
		av := onramp.DefaultAvailability("Europe/Paris")
		bad := f.transition(2, onramp.StepNotifications, onramp.StatusPending, onramp.StatusDone, onramp.StepBrowser)
		bad.Step.Attempts = -1
		err := f.store.RecordStep(ctx, onramp.StepRecord{OrgID: f.org.ID, RepID: f.rep.ID, Settings: &av, RepStatus: onramp.UserOnboarding,
			Transitions: []onramp.StepTransition{
				f.transition(1, onramp.StepAvailability, onramp.StatusPending, onramp.StatusDone, onramp.StepNotifications),
				bad,
			}})
		MustCode(t, err, onramp.EINVALID)
		mustNothingRecorded(t, f)
		if u, err := f.users.FindUser(ctx, f.org.ID, f.rep.ID); err != nil || u.Status == onramp.UserOnboarding {
			t.Errorf("rep status = %v (err %v), want unchanged by a failed record", u.Status, err)
		}
	})

	t.Run("ErrRepStatusOfUnknownRep", func(t *testing.T) {
		f := MustFixture(t)
		other := MustCreateOrg(t, f.users, "other")
		err := f.store.RecordStep(ctx, onramp.StepRecord{OrgID: other.ID, RepID: f.rep.ID, RepStatus: onramp.UserReady})
		MustCode(t, err, onramp.ENOTFOUND)
		if u, _ := f.users.FindUser(ctx, f.org.ID, f.rep.ID); u.Status == onramp.UserReady {
			t.Error("another org's record changed the rep's status")
		}
	})
}

// mustNothingRecorded checks that the fixture's rep has no settings, no
// step events and an untouched projection.
func mustNothingRecorded(t *testing.T, f *fixture) {
	t.Helper()
	ctx := context.Background()
	if all, err := f.store.AllSettings(ctx, f.org.ID, f.rep.ID); err != nil || len(all) != 0 {
		t.Errorf("settings %v (%v), want none", all, err)
	}
	if events, _ := f.store.StepEvents(ctx, f.org.ID, f.rep.ID); len(events) != 0 {
		t.Errorf("%d step events written by a failed record", len(events))
	}
	if p, err := f.store.Progress(ctx, f.org.ID, f.rep.ID); err != nil || p.CurrentStep != onramp.StepAccount || p.Step(onramp.StepAvailability).Status != onramp.StatusPending {
		t.Errorf("projection changed by a failed record: %+v (%v)", p, err)
	}
}

func TestSettings(t *testing.T) {
	ctx := context.Background()
	f := MustFixture(t)
	photoID := MustStagePhoto(t, f, f.rep)
	prof := onramp.Profile{FirstName: "Ada", LastName: "Lovelace", Title: "Acme Expert", PhotoID: photoID}
	av := onramp.DefaultAvailability("America/New_York")
	np := onramp.DefaultNotificationPrefs(onramp.BuiltinStreams())
	bp := onramp.BrowserPermissions{Notifications: onramp.PermissionGranted, Camera: onramp.PermissionDenied, Microphone: onramp.PermissionPrompt, UserAgent: "Chrome"}
	for i, s := range []onramp.Settings{&prof, &av, &np, &bp} {
		MustRecord(t, f, onramp.StepRecord{Settings: s, Transitions: []onramp.StepTransition{
			f.transition(i+1, s.Step(), onramp.StatusPending, onramp.StatusDone, onramp.StepCalendar),
		}})
	}

	t.Run("RoundTrip", func(t *testing.T) {
		for _, want := range []onramp.Settings{&prof, &av, &np, &bp} {
			got, err := f.store.Settings(ctx, f.org.ID, f.rep.ID, want.Step())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s (-want +got):\n%s", want.Step(), diff)
			}
		}
		all, err := f.store.AllSettings(ctx, f.org.ID, f.rep.ID)
		if err != nil || len(all) != 4 {
			t.Fatalf("AllSettings = %v, %v", all, err)
		}
	})
	t.Run("PhotoServedOnceSaved", func(t *testing.T) {
		if _, err := f.store.FindPhoto(ctx, f.org.ID, photoID); err != nil {
			t.Fatalf("the saved profile's photo is not served: %v", err)
		}
	})
	t.Run("OlderDoesNotOverwrite", func(t *testing.T) {
		stale := prof
		stale.Title = "Stale"
		old := f.transition(0, onramp.StepProfile, onramp.StatusPending, onramp.StatusDone, onramp.StepCalendar)
		old.At = t0.Add(-time.Hour)
		MustRecord(t, f, onramp.StepRecord{Settings: &stale, Transitions: []onramp.StepTransition{old}})
		got, _ := f.store.Settings(ctx, f.org.ID, f.rep.ID, onramp.StepProfile)
		if got.(*onramp.Profile).Title != prof.Title {
			t.Errorf("title = %q after an older write, want %q", got.(*onramp.Profile).Title, prof.Title)
		}
		if _, err := f.store.FindPhoto(ctx, f.org.ID, photoID); err != nil {
			t.Fatalf("an older write removed the current photo: %v", err)
		}
	})
	t.Run("EditReplacesPhoto", func(t *testing.T) {
		// A later edit (Settings → Me) with a new photo: the new one is
		// served, the replaced one is gone.
		newer := MustStagePhoto(t, f, f.rep)
		if _, err := f.store.FindPhoto(ctx, f.org.ID, newer); onramp.ErrorCode(err) != onramp.ENOTFOUND {
			t.Fatalf("a staged photo is served before its profile is saved: %v", err)
		}
		p := prof
		p.PhotoID, p.Title = newer, "Here to help!"
		if err := f.store.SaveSettings(ctx, f.org.ID, f.rep.ID, &p); err != nil {
			t.Fatal(err)
		}
		if _, err := f.store.FindPhoto(ctx, f.org.ID, newer); err != nil {
			t.Errorf("new photo not served: %v", err)
		}
		if _, err := f.store.FindPhoto(ctx, f.org.ID, photoID); onramp.ErrorCode(err) != onramp.ENOTFOUND {
			t.Errorf("replaced photo still served: %v", err)
		}
		// Saving again with the same photo keeps it.
		p.Title = "Acme Expert"
		if err := f.store.SaveSettings(ctx, f.org.ID, f.rep.ID, &p); err != nil {
			t.Fatal(err)
		}
		if _, err := f.store.FindPhoto(ctx, f.org.ID, newer); err != nil {
			t.Errorf("photo lost by saving the same profile: %v", err)
		}
		if n := countRows(t, f, "photos"); n != 1 {
			t.Errorf("%d photos kept for one rep, want 1", n)
		}
	})
	t.Run("EditWinsOverAClockAhead", func(t *testing.T) {
		// The workflow's clock (the transition's time) ahead of the
		// database's: a later edit still wins.
		g := MustFixture(t)
		ahead := g.transition(1, onramp.StepAvailability, onramp.StatusPending, onramp.StatusDone, onramp.StepNotifications)
		ahead.At = time.Now().Add(time.Hour)
		old := onramp.DefaultAvailability("Europe/Paris")
		MustRecord(t, g, onramp.StepRecord{Settings: &old, Transitions: []onramp.StepTransition{ahead}})
		edit := onramp.DefaultAvailability("Asia/Tokyo")
		if err := g.store.SaveSettings(ctx, g.org.ID, g.rep.ID, &edit); err != nil {
			t.Fatal(err)
		}
		got, _ := g.store.Settings(ctx, g.org.ID, g.rep.ID, onramp.StepAvailability)
		if got.(*onramp.Availability).TimeZone != "Asia/Tokyo" {
			t.Errorf("the edit was dropped: %+v", got)
		}
	})
	t.Run("ErrSaveInvalid", func(t *testing.T) {
		bad := av
		bad.BufferMinutes = 999
		MustCode(t, f.store.SaveSettings(ctx, f.org.ID, f.rep.ID, &bad), onramp.EINVALID)
		got, _ := f.store.Settings(ctx, f.org.ID, f.rep.ID, onramp.StepAvailability)
		if got.(*onramp.Availability).BufferMinutes != av.BufferMinutes {
			t.Error("invalid settings were saved")
		}
	})
	t.Run("ErrOtherOrg", func(t *testing.T) {
		other := MustCreateOrg(t, f.users, "other")
		_, err := f.store.Settings(ctx, other.ID, f.rep.ID, onramp.StepProfile)
		MustCode(t, err, onramp.ENOTFOUND)
		MustCode(t, f.store.SaveSettings(ctx, other.ID, f.rep.ID, &av), onramp.ENOTFOUND)
		if all, _ := f.store.AllSettings(ctx, other.ID, f.rep.ID); len(all) != 0 {
			t.Errorf("another org sees %d settings of the rep", len(all))
		}
	})
	t.Run("ErrPhotoOfOtherRep", func(t *testing.T) {
		other := MustCreateOrg(t, f.users, "other2")
		stranger := MustCreateUser(t, f.users, onramp.NewUser{OrgID: other.ID, Email: "s@example.com", Name: "S", Role: onramp.RoleRep})
		colleague := MustCreateUser(t, f.users, onramp.NewUser{OrgID: f.org.ID, Email: "c@example.com", Name: "C", Role: onramp.RoleRep})
		for _, owner := range []*onramp.User{stranger, colleague} {
			theirs := MustStagePhoto(t, f, owner)
			p := prof
			p.PhotoID = theirs
			MustCode(t, f.store.SaveSettings(ctx, f.org.ID, f.rep.ID, &p), onramp.ENOTFOUND)
		}
	})
	t.Run("ErrMissingPhotoIsAtomic", func(t *testing.T) {
		g := MustFixture(t)
		p := prof
		p.PhotoID = "00000000-0000-4000-8000-000000000000"
		err := g.store.RecordStep(ctx, onramp.StepRecord{OrgID: g.org.ID, RepID: g.rep.ID, Settings: &p, Transitions: []onramp.StepTransition{
			g.transition(1, onramp.StepProfile, onramp.StatusPending, onramp.StatusDone, onramp.StepCalendar),
		}})
		if onramp.ErrorCode(err) != onramp.ENOTFOUND || !strings.Contains(onramp.ErrorMessage(err), "Photo") {
			t.Fatalf("got %v", err)
		}
		mustNothingRecorded(t, g)
	})
	t.Run("ErrNotSaved", func(t *testing.T) {
		bob := MustCreateUser(t, f.users, onramp.NewUser{OrgID: f.org.ID, Email: "bob@example.com", Name: "Bob", Role: onramp.RoleRep})
		_, err := f.store.Settings(ctx, f.org.ID, bob.ID, onramp.StepNotifications)
		MustCode(t, err, onramp.ENOTFOUND)
		_, err = f.store.Settings(ctx, f.org.ID, f.rep.ID, onramp.StepFinish)
		MustCode(t, err, onramp.ENOTFOUND)
	})
}

// MustStagePhoto stages a small photo of u and returns its ID.
func MustStagePhoto(t testing.TB, f *fixture, u *onramp.User) string {
	t.Helper()
	id, err := f.store.StagePhoto(context.Background(), &onramp.Photo{OrgID: u.OrgID, UserID: u.ID, ContentType: "image/png", Width: 2, Height: 3, Data: []byte("\x89PNG fake")})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func countRows(t testing.TB, f *fixture, table string) int {
	t.Helper()
	var n int
	if err := f.db.Pool().QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCheckConstraints(t *testing.T) {
	ctx := context.Background()
	f := MustFixture(t)
	cases := map[string]string{
		"SettingsNotAnObject": `INSERT INTO rep_settings (user_id, org_id, step, data, updated_at) VALUES ($1, $2, 'profile', '[]', now())`,
		"BadStepKey":          `INSERT INTO rep_settings (user_id, org_id, step, data, updated_at) VALUES ($1, $2, 'Robert''); DROP', '{}', now())`,
		"GIFPhoto": `INSERT INTO photos (user_id, org_id, content_type, width, height, data)
			VALUES ($1, $2, 'image/gif', 1, 1, '\x00')`,
		"GIFUpload": `INSERT INTO photo_uploads (user_id, org_id, content_type, width, height, data)
			VALUES ($1, $2, 'image/gif', 1, 1, '\x00')`,
		"UnknownStepStatus": `INSERT INTO onboarding_steps (rep_id, org_id, step, position, status, required, updated_at, seq)
			VALUES ($1, $2, 'account', 0, 'lost', true, now(), 1)`,
	}
	for name, q := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := f.db.Pool().Exec(ctx, q, f.rep.ID, f.org.ID)
			pgErr, ok := err.(*pgconn.PgError)
			if !ok || pgErr.Code != "23514" {
				t.Errorf("insert: %v, want a CHECK violation (23514)", err)
			}
		})
	}
	t.Run("UserOfOtherOrg", func(t *testing.T) {
		other := MustCreateOrg(t, f.users, "other")
		_, err := f.db.Pool().Exec(ctx, `INSERT INTO rep_settings (user_id, org_id, step, data, updated_at) VALUES ($1, $2, 'profile', '{}', now())`, f.rep.ID, other.ID)
		pgErr, ok := err.(*pgconn.PgError)
		if !ok || pgErr.Code != "23503" {
			t.Errorf("insert: %v, want a foreign-key violation (23503)", err)
		}
	})
}

func TestListReps(t *testing.T) {
	ctx := context.Background()
	f := MustFixture(t)
	invited := MustCreateUser(t, f.users, onramp.NewUser{OrgID: f.org.ID, Email: "new@example.com", Name: "New", Role: onramp.RoleRep})
	MustCreateUser(t, f.users, onramp.NewUser{OrgID: f.org.ID, Email: "admin@example.com", Name: "Admin", Role: onramp.RoleAdmin})
	other := MustCreateOrg(t, f.users, "other")
	MustCreateUser(t, f.users, onramp.NewUser{OrgID: other.ID, Email: "else@example.com", Name: "Else", Role: onramp.RoleRep})

	cal := f.transition(3, onramp.StepCalendar, onramp.StatusInProgress, onramp.StatusStuck, onramp.StepMeeting)
	cal.Step.LastError = "graph: 503"
	meeting := f.transition(4, onramp.StepMeeting, onramp.StatusPending, onramp.StatusNeedsAction, onramp.StepMeeting)
	MustRecord(t, f, onramp.StepRecord{Transitions: []onramp.StepTransition{
		f.transition(1, onramp.StepAccount, onramp.StatusPending, onramp.StatusDone, onramp.StepCalendar),
		f.transition(2, onramp.StepCalendar, onramp.StatusPending, onramp.StatusInProgress, onramp.StepCalendar),
		cal,
		meeting,
	}})

	reps, err := f.store.ListReps(ctx, f.org.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(reps) != 2 || reps[0].ID != f.rep.ID || reps[1].ID != invited.ID {
		t.Fatalf("ListReps = %+v, want the org's two reps, oldest first", reps)
	}
	t.Run("CurrentAndStuck", func(t *testing.T) {
		r := reps[0]
		if r.CurrentStep != onramp.StepMeeting || r.StepStatus != onramp.StatusNeedsAction || !r.Since.Equal(meeting.At) {
			t.Errorf("rep at %s (%s) since %v, want meeting (needs_action) since %v", r.CurrentStep, r.StepStatus, r.Since, meeting.At)
		}
		if diff := cmp.Diff([]onramp.StepKey{onramp.StepCalendar}, r.StuckSteps); diff != "" {
			t.Errorf("stuck steps (-want +got):\n%s", diff)
		}
	})
	t.Run("NotStarted", func(t *testing.T) {
		r := reps[1]
		if r.CurrentStep != onramp.StepAccount || r.StepStatus != onramp.StatusInProgress || !r.Since.Equal(invited.CreatedAt) || len(r.StuckSteps) != 0 {
			t.Errorf("invited rep = %+v, want account in progress since invited, nothing stuck", r)
		}
	})
}

func TestPhotos(t *testing.T) {
	ctx := context.Background()
	f := MustFixture(t)
	data := []byte{0xff, 0xd8, 0xff, 0xe0, 0, 1, 2, 3, 0xff, 0xd9}
	p := &onramp.Photo{OrgID: f.org.ID, UserID: f.rep.ID, ContentType: "image/jpeg", Width: 640, Height: 480, Data: data}
	id, err := f.store.StagePhoto(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("ErrStagedNotServed", func(t *testing.T) {
		_, err := f.store.FindPhoto(ctx, f.org.ID, id)
		MustCode(t, err, onramp.ENOTFOUND)
	})
	prof := onramp.Profile{FirstName: "Ada", LastName: "L", Title: "T", PhotoID: id}
	if err := f.store.SaveSettings(ctx, f.org.ID, f.rep.ID, &prof); err != nil {
		t.Fatal(err)
	}
	t.Run("RoundTrip", func(t *testing.T) {
		got, err := f.store.FindPhoto(ctx, f.org.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(p, got, cmp.Comparer(time.Time.Equal)); diff != "" {
			t.Errorf("photo (-want +got):\n%s", diff)
		}
		if n := countRows(t, f, "photo_uploads"); n != 0 {
			t.Errorf("%d uploads still staged after their profile was saved", n)
		}
	})
	t.Run("ErrOtherOrg", func(t *testing.T) {
		other := MustCreateOrg(t, f.users, "other")
		_, err := f.store.FindPhoto(ctx, other.ID, id)
		MustCode(t, err, onramp.ENOTFOUND)
	})
	t.Run("ErrGIF", func(t *testing.T) {
		_, err := f.store.StagePhoto(ctx, &onramp.Photo{OrgID: f.org.ID, UserID: f.rep.ID, ContentType: "image/gif", Width: 1, Height: 1, Data: []byte("GIF89a")})
		MustCode(t, err, onramp.EUNSUPPORTED)
	})
	t.Run("StagedAreBounded", func(t *testing.T) {
		for range postgres.MaxStagedPhotos + 3 {
			MustStagePhoto(t, f, f.rep)
		}
		if n := countRows(t, f, "photo_uploads"); n != postgres.MaxStagedPhotos {
			t.Errorf("%d uploads staged, want at most %d", n, postgres.MaxStagedPhotos)
		}
	})
	t.Run("StaleUploadsDeleted", func(t *testing.T) {
		if n, err := f.store.DeleteStaleUploads(ctx, time.Hour); err != nil || n != 0 {
			t.Fatalf("fresh uploads deleted: %d, %v", n, err)
		}
		if n, err := f.store.DeleteStaleUploads(ctx, 0); err != nil || n != postgres.MaxStagedPhotos {
			t.Fatalf("deleted %d stale uploads (%v), want %d", n, err, postgres.MaxStagedPhotos)
		}
		if _, err := f.store.FindPhoto(ctx, f.org.ID, id); err != nil {
			t.Errorf("the saved photo went with the stale uploads: %v", err)
		}
	})
}

func TestStreams(t *testing.T) {
	ctx := context.Background()
	f := MustFixture(t)
	if err := f.store.CreateStream(ctx, f.org.ID, onramp.Stream{Key: "enterprise", Name: " Enterprise accounts "}); err != nil {
		t.Fatal(err)
	}
	if err := f.store.CreateStream(ctx, f.org.ID, onramp.Stream{Key: "smb", Name: "Small business"}); err != nil {
		t.Fatal(err)
	}
	t.Run("List", func(t *testing.T) {
		got, err := f.store.Streams(ctx, f.org.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := append(onramp.BuiltinStreams(),
			onramp.Stream{Key: "enterprise", Name: "Enterprise accounts"},
			onramp.Stream{Key: "smb", Name: "Small business"})
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("streams (-want +got):\n%s", diff)
		}
	})
	t.Run("OtherOrgSeesBuiltinOnly", func(t *testing.T) {
		other := MustCreateOrg(t, f.users, "other")
		got, _ := f.store.Streams(ctx, other.ID)
		if diff := cmp.Diff(onramp.BuiltinStreams(), got); diff != "" {
			t.Errorf("streams (-want +got):\n%s", diff)
		}
	})
	t.Run("ErrKeyTaken", func(t *testing.T) {
		MustCode(t, f.store.CreateStream(ctx, f.org.ID, onramp.Stream{Key: "smb", Name: "Again"}), onramp.ECONFLICT)
		MustCode(t, f.store.CreateStream(ctx, f.org.ID, onramp.Stream{Key: onramp.StreamVIP, Name: "VIP"}), onramp.ECONFLICT)
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		MustCode(t, f.store.CreateStream(ctx, f.org.ID, onramp.Stream{Key: "Bad Key", Name: ""}), onramp.EINVALID)
	})
}
