package postgres_test

import (
	"context"
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
	store *postgres.OnboardingStore
	org   *onramp.Org
	rep   *onramp.User
}

// MustFixture opens a fresh database with an org "acme" and a rep.
func MustFixture(t testing.TB) *fixture {
	t.Helper()
	db := pgtest.MustOpen(t)
	f := &fixture{db: db, users: postgres.NewUserService(db), store: postgres.NewOnboardingStore(db)}
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
			Availability: &av,
			RepStatus:    onramp.UserOnboarding,
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
		if diff := cmp.Diff(onramp.Steps, keys); diff != "" {
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

	t.Run("ErrNoOnboarding", func(t *testing.T) {
		f := MustFixture(t)
		_, err := f.store.Progress(ctx, f.org.ID, f.rep.ID)
		MustCode(t, err, onramp.ENOTFOUND)
	})

	t.Run("ErrInvalidIsAtomic", func(t *testing.T) {
		f := MustFixture(t)
		av := onramp.DefaultAvailability("Europe/Paris")
		av.BufferMinutes = -5 // the DB's CHECK rejects it: nothing is written
		err := f.store.RecordStep(ctx, onramp.StepRecord{OrgID: f.org.ID, RepID: f.rep.ID, Availability: &av, Transitions: []onramp.StepTransition{
			f.transition(1, onramp.StepAvailability, onramp.StatusPending, onramp.StatusDone, onramp.StepNotifications),
		}})
		MustCode(t, err, onramp.EINVALID)
		_, err = f.store.Progress(ctx, f.org.ID, f.rep.ID)
		MustCode(t, err, onramp.ENOTFOUND)
		_, err = f.store.Availability(ctx, f.org.ID, f.rep.ID)
		MustCode(t, err, onramp.ENOTFOUND)
	})

	t.Run("ErrLastStatementIsAtomic", func(t *testing.T) {
		// The statements go as one batch: a failure in the last one (a
		// CHECK on the second transition's step row) undoes the settings
		// and the first transition written before it.
		f := MustFixture(t)
		av := onramp.DefaultAvailability("Europe/Paris")
		bad := f.transition(2, onramp.StepNotifications, onramp.StatusPending, onramp.StatusDone, onramp.StepBrowser)
		bad.Step.Attempts = -1
		err := f.store.RecordStep(ctx, onramp.StepRecord{OrgID: f.org.ID, RepID: f.rep.ID, Availability: &av, RepStatus: onramp.UserOnboarding,
			Transitions: []onramp.StepTransition{
				f.transition(1, onramp.StepAvailability, onramp.StatusPending, onramp.StatusDone, onramp.StepNotifications),
				bad,
			}})
		MustCode(t, err, onramp.EINVALID)
		_, err = f.store.Progress(ctx, f.org.ID, f.rep.ID)
		MustCode(t, err, onramp.ENOTFOUND)
		_, err = f.store.Availability(ctx, f.org.ID, f.rep.ID)
		MustCode(t, err, onramp.ENOTFOUND)
		if events, _ := f.store.StepEvents(ctx, f.org.ID, f.rep.ID); len(events) != 0 {
			t.Errorf("%d step events written by a failed record", len(events))
		}
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

func TestSettings(t *testing.T) {
	ctx := context.Background()
	f := MustFixture(t)
	photoID, err := f.store.SavePhoto(ctx, &onramp.Photo{OrgID: f.org.ID, UserID: f.rep.ID, ContentType: "image/png", Width: 2, Height: 3, Data: []byte("\x89PNG fake")})
	if err != nil {
		t.Fatal(err)
	}
	prof := onramp.Profile{FirstName: "Ada", LastName: "Lovelace", Title: "Acme Expert", PhotoID: photoID, UpdatedAt: t0}
	av := onramp.DefaultAvailability("America/New_York")
	av.UpdatedAt = t0
	np := onramp.DefaultNotificationPrefs(onramp.BuiltinStreams)
	np.UpdatedAt = t0
	bp := onramp.BrowserPermissions{Notifications: onramp.PermissionGranted, Camera: onramp.PermissionDenied, Microphone: onramp.PermissionPrompt, UserAgent: "Chrome", UpdatedAt: t0}
	MustRecord(t, f, onramp.StepRecord{Profile: &prof, Availability: &av, Notifications: &np, Browser: &bp})

	eqTime := cmp.Comparer(time.Time.Equal)
	t.Run("Profile", func(t *testing.T) {
		got, err := f.store.Profile(ctx, f.org.ID, f.rep.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(&prof, got, eqTime); diff != "" {
			t.Errorf("profile (-want +got):\n%s", diff)
		}
	})
	t.Run("Availability", func(t *testing.T) {
		got, err := f.store.Availability(ctx, f.org.ID, f.rep.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(&av, got, eqTime); diff != "" {
			t.Errorf("availability (-want +got):\n%s", diff)
		}
	})
	t.Run("NotificationPrefs", func(t *testing.T) {
		got, err := f.store.NotificationPrefs(ctx, f.org.ID, f.rep.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(&np, got, eqTime); diff != "" {
			t.Errorf("notification prefs (-want +got):\n%s", diff)
		}
	})
	t.Run("BrowserPermissions", func(t *testing.T) {
		got, err := f.store.BrowserPermissions(ctx, f.org.ID, f.rep.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(&bp, got, eqTime); diff != "" {
			t.Errorf("browser permissions (-want +got):\n%s", diff)
		}
	})
	t.Run("OlderDoesNotOverwrite", func(t *testing.T) {
		stale := prof
		stale.Title, stale.UpdatedAt = "Stale", t0.Add(-time.Hour)
		MustRecord(t, f, onramp.StepRecord{Profile: &stale})
		got, _ := f.store.Profile(ctx, f.org.ID, f.rep.ID)
		if got.Title != prof.Title {
			t.Errorf("title = %q after an older write, want %q", got.Title, prof.Title)
		}
	})
	t.Run("ErrOtherOrg", func(t *testing.T) {
		other := MustCreateOrg(t, f.users, "other")
		_, err := f.store.Profile(ctx, other.ID, f.rep.ID)
		MustCode(t, err, onramp.ENOTFOUND)
		_, err = f.store.Availability(ctx, other.ID, f.rep.ID)
		MustCode(t, err, onramp.ENOTFOUND)
	})
	t.Run("ErrPhotoOfOtherOrg", func(t *testing.T) {
		other := MustCreateOrg(t, f.users, "other2")
		stranger := MustCreateUser(t, f.users, onramp.NewUser{OrgID: other.ID, Email: "s@example.com", Name: "S", Role: onramp.RoleRep})
		theirs, err := f.store.SavePhoto(ctx, &onramp.Photo{OrgID: other.ID, UserID: stranger.ID, ContentType: "image/jpeg", Width: 1, Height: 1, Data: []byte{0xff, 0xd8}})
		if err != nil {
			t.Fatal(err)
		}
		p := prof
		p.PhotoID, p.UpdatedAt = theirs, t0.Add(time.Hour)
		err = f.store.RecordStep(ctx, onramp.StepRecord{OrgID: f.org.ID, RepID: f.rep.ID, Profile: &p})
		MustCode(t, err, onramp.ENOTFOUND)
	})
	t.Run("ErrNotSaved", func(t *testing.T) {
		bob := MustCreateUser(t, f.users, onramp.NewUser{OrgID: f.org.ID, Email: "bob@example.com", Name: "Bob", Role: onramp.RoleRep})
		_, err := f.store.NotificationPrefs(ctx, f.org.ID, bob.ID)
		MustCode(t, err, onramp.ENOTFOUND)
		_, err = f.store.BrowserPermissions(ctx, f.org.ID, bob.ID)
		MustCode(t, err, onramp.ENOTFOUND)
	})
}

func TestCheckConstraints(t *testing.T) {
	ctx := context.Background()
	f := MustFixture(t)
	cases := map[string]string{
		"NegativeBuffer": `INSERT INTO availability (user_id, org_id, time_zone, weekly, min_notice_minutes, buffer_minutes)
			VALUES ($1, $2, 'UTC', '{}', 30, -1)`,
		"NoticeOver30Days": `INSERT INTO availability (user_id, org_id, time_zone, weekly, min_notice_minutes, buffer_minutes)
			VALUES ($1, $2, 'UTC', '{}', 43201, 0)`,
		"UnknownPermission": `INSERT INTO browser_permissions (user_id, org_id, notifications, camera, microphone)
			VALUES ($1, $2, 'maybe', 'granted', 'granted')`,
		"GIFPhoto": `INSERT INTO photos (user_id, org_id, content_type, width, height, data)
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
		_, err := f.db.Pool().Exec(ctx, `INSERT INTO profiles (user_id, org_id, first_name, last_name, title) VALUES ($1, $2, 'a', 'b', 'c')`, f.rep.ID, other.ID)
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

	reps, err := f.users.ListReps(ctx, f.org.ID)
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
		if r.CurrentStep != onramp.StepAccount || r.StepStatus != onramp.StatusPending || !r.Since.Equal(invited.CreatedAt) || len(r.StuckSteps) != 0 {
			t.Errorf("invited rep = %+v, want account pending since invited, nothing stuck", r)
		}
	})
}

func TestPhotos(t *testing.T) {
	ctx := context.Background()
	f := MustFixture(t)
	data := []byte{0xff, 0xd8, 0xff, 0xe0, 0, 1, 2, 3, 0xff, 0xd9}
	p := &onramp.Photo{OrgID: f.org.ID, UserID: f.rep.ID, ContentType: "image/jpeg", Width: 640, Height: 480, Data: data}
	id, err := f.store.SavePhoto(ctx, p)
	if err != nil {
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
	})
	t.Run("ErrOtherOrg", func(t *testing.T) {
		other := MustCreateOrg(t, f.users, "other")
		_, err := f.store.FindPhoto(ctx, other.ID, id)
		MustCode(t, err, onramp.ENOTFOUND)
	})
	t.Run("ErrGIF", func(t *testing.T) {
		_, err := f.store.SavePhoto(ctx, &onramp.Photo{OrgID: f.org.ID, UserID: f.rep.ID, ContentType: "image/gif", Width: 1, Height: 1, Data: []byte("GIF89a")})
		MustCode(t, err, onramp.EUNSUPPORTED)
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
		want := append(append([]onramp.Stream{}, onramp.BuiltinStreams...),
			onramp.Stream{Key: "enterprise", Name: "Enterprise accounts"},
			onramp.Stream{Key: "smb", Name: "Small business"})
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("streams (-want +got):\n%s", diff)
		}
	})
	t.Run("OtherOrgSeesBuiltinOnly", func(t *testing.T) {
		other := MustCreateOrg(t, f.users, "other")
		got, _ := f.store.Streams(ctx, other.ID)
		if diff := cmp.Diff(onramp.BuiltinStreams, got); diff != "" {
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
