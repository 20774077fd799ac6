package postgres

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/onramp/onramp"
)

// OnboardingStore stores step settings, the onboarding projection that
// admin pages read, the step-event log, photos and streams.
type OnboardingStore struct {
	db *DB
}

var _ onramp.OnboardingStore = (*OnboardingStore)(nil)

// NewOnboardingStore returns an OnboardingStore on db.
func NewOnboardingStore(db *DB) *OnboardingStore { return &OnboardingStore{db: db} }

func validStepStatus(s onramp.StepStatus) bool {
	switch s {
	case onramp.StatusPending, onramp.StatusInProgress, onramp.StatusDone,
		onramp.StatusSkipped, onramp.StatusNeedsAction, onramp.StatusStuck:
		return true
	}
	return false
}

// checkRecord checks that every transition is about r's rep.
func checkRecord(r *onramp.StepRecord) error {
	if !validUUID(r.OrgID) || !validUUID(r.RepID) {
		return onramp.Errorf(onramp.ENOTFOUND, "Rep not found.")
	}
	if r.RepStatus != "" && !validUserStatus(r.RepStatus) {
		return onramp.Errorf(onramp.EINVALID, "Unknown user status %q.", r.RepStatus)
	}
	for _, t := range r.Transitions {
		switch {
		case t.OrgID != "" && t.OrgID != r.OrgID, t.RepID != "" && t.RepID != r.RepID:
			return onramp.Errorf(onramp.EINVALID, "Step transition %d is not about this rep.", t.Seq)
		case !t.Step.Key.Valid():
			return onramp.Errorf(onramp.EINVALID, "Unknown step %q.", t.Step.Key)
		case !t.Current.Valid():
			return onramp.Errorf(onramp.EINVALID, "Unknown current step %q.", t.Current)
		case !validStepStatus(t.Step.Status), t.From != "" && !validStepStatus(t.From):
			return onramp.Errorf(onramp.EINVALID, "Unknown step status in transition %d.", t.Seq)
		case t.Seq < 0:
			return onramp.Errorf(onramp.EINVALID, "Step transition sequence must not be negative.")
		}
	}
	return nil
}

// orNow returns t, or the current time when t is zero.
func orNow(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}

// RecordStep writes r in one transaction: the settings it carries, then
// for each transition the step row (only if the transition is newer than
// the row), the step-event log row (once per seq) and the onboarding row
// (current step and finished from the newest transition), then the rep's
// status. Writing the same record twice changes nothing; a transition
// older than what is projected does not overwrite it. Settings are
// overwritten only by settings at least as recent (UpdatedAt, which
// defaults to the newest transition's At, else now). Returns ENOTFOUND if
// the rep is not a user of r.OrgID (or the profile's photo is not of that
// org), EINVALID for unknown steps or statuses or out-of-range settings.
func (s *OnboardingStore) RecordStep(ctx context.Context, r onramp.StepRecord) error {
	const op = "postgres.RecordStep"
	if err := checkRecord(&r); err != nil {
		return wrap(op, err, "")
	}
	settingsAt := time.Time{}
	for _, t := range r.Transitions {
		if t.At.After(settingsAt) {
			settingsAt = t.At
		}
	}
	settingsAt = orNow(settingsAt)
	at := func(t time.Time) time.Time {
		if t.IsZero() {
			return settingsAt
		}
		return t
	}
	// One round trip: the statements go as one batch, which PostgreSQL runs
	// as one implicit transaction (all or nothing).
	b := &pgx.Batch{}
	if p := r.Profile; p != nil {
		if err := queueProfile(b, r.OrgID, r.RepID, p, at(p.UpdatedAt)); err != nil {
			return wrap(op, err, "")
		}
	}
	if a := r.Availability; a != nil {
		if err := queueAvailability(b, r.OrgID, r.RepID, a, at(a.UpdatedAt)); err != nil {
			return wrap(op, err, "")
		}
	}
	if n := r.Notifications; n != nil {
		if err := queueNotificationPrefs(b, r.OrgID, r.RepID, n, at(n.UpdatedAt)); err != nil {
			return wrap(op, err, "")
		}
	}
	if bp := r.Browser; bp != nil {
		queueBrowserPermissions(b, r.OrgID, r.RepID, bp, at(bp.UpdatedAt))
	}
	for _, t := range r.Transitions {
		queueTransition(b, r.OrgID, r.RepID, r.WorkflowID, t)
	}
	if r.RepStatus != "" {
		// Every other statement of the batch is about the same rep and
		// fails on its foreign key when the rep is not in the org, so an
		// update of no row here means the batch wrote nothing else either.
		b.Queue(qSetUserStatus, r.RepID, r.OrgID, r.RepStatus).Exec(func(ct pgconn.CommandTag) error {
			if ct.RowsAffected() == 0 {
				return onramp.Errorf(onramp.ENOTFOUND, "Rep not found.")
			}
			return nil
		})
	}
	err := s.db.pool.SendBatch(ctx, b).Close()
	return wrap(op, err, "Rep not found.")
}

func queueProfile(b *pgx.Batch, orgID, repID string, p *onramp.Profile, at time.Time) error {
	var photo *string
	if p.PhotoID != "" {
		if !validUUID(p.PhotoID) {
			return onramp.Errorf(onramp.ENOTFOUND, "Photo not found.")
		}
		photo = &p.PhotoID
	}
	const q = `
		INSERT INTO profiles (user_id, org_id, first_name, last_name, title, photo_id, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (user_id) DO UPDATE SET
			first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name, title = EXCLUDED.title,
			photo_id = EXCLUDED.photo_id, updated_at = EXCLUDED.updated_at
		WHERE profiles.org_id = EXCLUDED.org_id AND profiles.updated_at <= EXCLUDED.updated_at`
	b.Queue(q, repID, orgID, p.FirstName, p.LastName, p.Title, photo, at)
	return nil
}

func queueAvailability(b *pgx.Batch, orgID, repID string, a *onramp.Availability, at time.Time) error {
	weekly := a.Weekly
	if weekly == nil {
		weekly = map[string][]onramp.Interval{}
	}
	w, err := json.Marshal(weekly)
	if err != nil {
		return err
	}
	const q = `
		INSERT INTO availability (user_id, org_id, time_zone, weekly, min_notice_minutes, buffer_minutes, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (user_id) DO UPDATE SET
			time_zone = EXCLUDED.time_zone, weekly = EXCLUDED.weekly,
			min_notice_minutes = EXCLUDED.min_notice_minutes, buffer_minutes = EXCLUDED.buffer_minutes,
			updated_at = EXCLUDED.updated_at
		WHERE availability.org_id = EXCLUDED.org_id AND availability.updated_at <= EXCLUDED.updated_at`
	b.Queue(q, repID, orgID, a.TimeZone, w, a.MinNoticeMinutes, a.BufferMinutes, at)
	return nil
}

func queueNotificationPrefs(b *pgx.Batch, orgID, repID string, n *onramp.NotificationPrefs, at time.Time) error {
	streams := n.Streams
	if streams == nil {
		streams = map[string]onramp.StreamPref{}
	}
	js, err := json.Marshal(streams)
	if err != nil {
		return err
	}
	const q = `
		INSERT INTO notification_prefs (user_id, org_id, return_visitor_alerts, sound, voice_alerts, streams, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (user_id) DO UPDATE SET
			return_visitor_alerts = EXCLUDED.return_visitor_alerts, sound = EXCLUDED.sound,
			voice_alerts = EXCLUDED.voice_alerts, streams = EXCLUDED.streams, updated_at = EXCLUDED.updated_at
		WHERE notification_prefs.org_id = EXCLUDED.org_id AND notification_prefs.updated_at <= EXCLUDED.updated_at`
	b.Queue(q, repID, orgID, n.ReturnVisitorAlerts, n.Sound, n.VoiceAlerts, js, at)
	return nil
}

func queueBrowserPermissions(b *pgx.Batch, orgID, repID string, bp *onramp.BrowserPermissions, at time.Time) {
	const q = `
		INSERT INTO browser_permissions (user_id, org_id, notifications, camera, microphone, user_agent, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (user_id) DO UPDATE SET
			notifications = EXCLUDED.notifications, camera = EXCLUDED.camera, microphone = EXCLUDED.microphone,
			user_agent = EXCLUDED.user_agent, updated_at = EXCLUDED.updated_at
		WHERE browser_permissions.org_id = EXCLUDED.org_id AND browser_permissions.updated_at <= EXCLUDED.updated_at`
	b.Queue(q, repID, orgID, bp.Notifications, bp.Camera, bp.Microphone, bp.UserAgent, at)
}

// queueTransition projects one transition. Each statement is guarded by
// the transition's seq, so replaying it, or an older one, is a no-op.
func queueTransition(b *pgx.Batch, orgID, repID, workflowID string, t onramp.StepTransition) {
	at := orNow(t.At)
	st := t.Step
	updated := st.UpdatedAt
	if updated.IsZero() {
		updated = at
	}
	var finishedAt *time.Time
	if t.Finished {
		finishedAt = &at
	}
	// The onboarding row first: it is what a step row belongs to.
	const qOnboarding = `
		INSERT INTO onboardings AS o (rep_id, org_id, workflow_id, current_step, finished, last_seq, started_at, finished_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $7)
		ON CONFLICT (rep_id) DO UPDATE SET
			workflow_id  = CASE WHEN EXCLUDED.workflow_id <> '' THEN EXCLUDED.workflow_id ELSE o.workflow_id END,
			started_at   = least(o.started_at, EXCLUDED.started_at),
			current_step = CASE WHEN EXCLUDED.last_seq > o.last_seq THEN EXCLUDED.current_step ELSE o.current_step END,
			finished     = CASE WHEN EXCLUDED.last_seq > o.last_seq THEN EXCLUDED.finished ELSE o.finished END,
			finished_at  = CASE WHEN EXCLUDED.last_seq <= o.last_seq THEN o.finished_at
			                    WHEN EXCLUDED.finished THEN coalesce(o.finished_at, EXCLUDED.finished_at) END,
			updated_at   = CASE WHEN EXCLUDED.last_seq > o.last_seq THEN EXCLUDED.updated_at ELSE o.updated_at END,
			last_seq     = greatest(o.last_seq, EXCLUDED.last_seq)
		WHERE o.org_id = EXCLUDED.org_id
		  AND (EXCLUDED.last_seq > o.last_seq OR EXCLUDED.started_at < o.started_at
		       OR (EXCLUDED.workflow_id <> '' AND EXCLUDED.workflow_id <> o.workflow_id))`
	b.Queue(qOnboarding, repID, orgID, workflowID, t.Current, t.Finished, t.Seq, at, finishedAt)
	const qStep = `
		INSERT INTO onboarding_steps AS s (rep_id, step, org_id, position, status, required, attempts,
			last_error, message, started_at, completed_at, updated_at, seq)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
		ON CONFLICT (rep_id, step) DO UPDATE SET
			status = EXCLUDED.status, required = EXCLUDED.required, attempts = EXCLUDED.attempts,
			last_error = EXCLUDED.last_error, message = EXCLUDED.message, started_at = EXCLUDED.started_at,
			completed_at = EXCLUDED.completed_at, updated_at = EXCLUDED.updated_at, seq = EXCLUDED.seq
		WHERE s.org_id = EXCLUDED.org_id AND s.seq < EXCLUDED.seq`
	b.Queue(qStep, repID, st.Key, orgID, st.Key.Index(), st.Status, st.Required, st.Attempts,
		st.LastError, st.Message, st.StartedAt, st.CompletedAt, updated, t.Seq)
	const qEvent = `
		INSERT INTO onboarding_events (org_id, rep_id, seq, step, from_status, to_status, error, message, at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (rep_id, seq) DO NOTHING`
	b.Queue(qEvent, orgID, repID, t.Seq, st.Key, t.From, st.Status, st.LastError, st.Message, at)
}

// Progress rebuilds a rep's onboarding from the projection: the ten steps
// in order (steps never projected are pending, required as the org says),
// the current step and whether it is finished. TimeZoneCheck and
// CalendarTimeZone are not projected and stay empty. Returns ENOTFOUND if
// the rep is not in org orgID or has no onboarding.
func (s *OnboardingStore) Progress(ctx context.Context, orgID, repID string) (*onramp.Progress, error) {
	const op = "postgres.Progress"
	const notFound = "Onboarding not found."
	if !validUUID(orgID) || !validUUID(repID) {
		return nil, notFoundf(op, notFound)
	}
	p := &onramp.Progress{OrgID: orgID, RepID: repID}
	var required []string
	const q = `
		SELECT o.workflow_id, o.current_step, o.finished, o.started_at, o.finished_at, g.required_steps
		FROM onboardings o JOIN orgs g ON g.id = o.org_id
		WHERE o.rep_id = $1 AND o.org_id = $2`
	err := s.db.pool.QueryRow(ctx, q, repID, orgID).Scan(&p.WorkflowID, &p.CurrentStep, &p.Finished, &p.StartedAt, &p.FinishedAt, &required)
	if err != nil {
		return nil, wrap(op, err, notFound)
	}
	reqKeys := stepKeys(required)
	if len(reqKeys) == 0 {
		reqKeys = onramp.DefaultRequiredSteps
	}
	const qSteps = `
		SELECT step, status, required, attempts, last_error, message, started_at, completed_at, updated_at
		FROM onboarding_steps
		WHERE rep_id = $1 AND org_id = $2
		ORDER BY position`
	rows, _ := s.db.pool.Query(ctx, qSteps, repID, orgID)
	projected := map[onramp.StepKey]onramp.StepState{}
	var st onramp.StepState
	_, err = pgx.ForEachRow(rows, []any{&st.Key, &st.Status, &st.Required, &st.Attempts, &st.LastError, &st.Message, &st.StartedAt, &st.CompletedAt, &st.UpdatedAt}, func() error {
		projected[st.Key] = st
		st = onramp.StepState{}
		return nil
	})
	if err != nil {
		return nil, wrap(op, err, notFound)
	}
	for _, k := range onramp.Steps {
		st, ok := projected[k]
		if !ok {
			st = onramp.StepState{Key: k, Status: onramp.StatusPending, Required: slices.Contains(reqKeys, k), UpdatedAt: p.StartedAt}
		}
		st.Title = k.Info().Title
		p.Steps = append(p.Steps, st)
	}
	return p, nil
}

// StepEvents returns the rep's step-event log, oldest first (empty for a
// rep of another org).
func (s *OnboardingStore) StepEvents(ctx context.Context, orgID, repID string) ([]onramp.StepEvent, error) {
	const op = "postgres.StepEvents"
	events := []onramp.StepEvent{}
	if !validUUID(orgID) || !validUUID(repID) {
		return events, nil
	}
	const q = `
		SELECT seq, step, from_status, to_status, error, message, at
		FROM onboarding_events
		WHERE rep_id = $1 AND org_id = $2
		ORDER BY seq`
	rows, _ := s.db.pool.Query(ctx, q, repID, orgID)
	var e onramp.StepEvent
	_, err := pgx.ForEachRow(rows, []any{&e.Seq, &e.Step, &e.From, &e.To, &e.Error, &e.Message, &e.At}, func() error {
		events = append(events, e)
		return nil
	})
	if err != nil {
		return nil, wrap(op, err, "")
	}
	return events, nil
}

// Profile returns the rep's saved profile; ENOTFOUND when none is saved.
func (s *OnboardingStore) Profile(ctx context.Context, orgID, repID string) (*onramp.Profile, error) {
	const op = "postgres.Profile"
	if !validUUID(orgID) || !validUUID(repID) {
		return nil, notFoundf(op, "Profile not found.")
	}
	var p onramp.Profile
	var photo *string
	err := s.db.pool.QueryRow(ctx, `SELECT first_name, last_name, title, photo_id, updated_at FROM profiles WHERE user_id = $1 AND org_id = $2`, repID, orgID).
		Scan(&p.FirstName, &p.LastName, &p.Title, &photo, &p.UpdatedAt)
	if err != nil {
		return nil, wrap(op, err, "Profile not found.")
	}
	if photo != nil {
		p.PhotoID = *photo
	}
	return &p, nil
}

// Availability returns the rep's calendar settings; ENOTFOUND when none are saved.
func (s *OnboardingStore) Availability(ctx context.Context, orgID, repID string) (*onramp.Availability, error) {
	const op = "postgres.Availability"
	if !validUUID(orgID) || !validUUID(repID) {
		return nil, notFoundf(op, "Availability not found.")
	}
	var a onramp.Availability
	var weekly []byte
	err := s.db.pool.QueryRow(ctx, `SELECT time_zone, weekly, min_notice_minutes, buffer_minutes, updated_at FROM availability WHERE user_id = $1 AND org_id = $2`, repID, orgID).
		Scan(&a.TimeZone, &weekly, &a.MinNoticeMinutes, &a.BufferMinutes, &a.UpdatedAt)
	if err != nil {
		return nil, wrap(op, err, "Availability not found.")
	}
	if err := json.Unmarshal(weekly, &a.Weekly); err != nil {
		return nil, wrap(op, err, "")
	}
	return &a, nil
}

// NotificationPrefs returns the rep's notification settings; ENOTFOUND
// when none are saved.
func (s *OnboardingStore) NotificationPrefs(ctx context.Context, orgID, repID string) (*onramp.NotificationPrefs, error) {
	const op = "postgres.NotificationPrefs"
	if !validUUID(orgID) || !validUUID(repID) {
		return nil, notFoundf(op, "Notification settings not found.")
	}
	var n onramp.NotificationPrefs
	var streams []byte
	err := s.db.pool.QueryRow(ctx, `SELECT return_visitor_alerts, sound, voice_alerts, streams, updated_at FROM notification_prefs WHERE user_id = $1 AND org_id = $2`, repID, orgID).
		Scan(&n.ReturnVisitorAlerts, &n.Sound, &n.VoiceAlerts, &streams, &n.UpdatedAt)
	if err != nil {
		return nil, wrap(op, err, "Notification settings not found.")
	}
	if err := json.Unmarshal(streams, &n.Streams); err != nil {
		return nil, wrap(op, err, "")
	}
	return &n, nil
}

// BrowserPermissions returns what the rep's browser reported; ENOTFOUND
// when nothing is saved.
func (s *OnboardingStore) BrowserPermissions(ctx context.Context, orgID, repID string) (*onramp.BrowserPermissions, error) {
	const op = "postgres.BrowserPermissions"
	if !validUUID(orgID) || !validUUID(repID) {
		return nil, notFoundf(op, "Browser permissions not found.")
	}
	var b onramp.BrowserPermissions
	err := s.db.pool.QueryRow(ctx, `SELECT notifications, camera, microphone, user_agent, updated_at FROM browser_permissions WHERE user_id = $1 AND org_id = $2`, repID, orgID).
		Scan(&b.Notifications, &b.Camera, &b.Microphone, &b.UserAgent, &b.UpdatedAt)
	if err != nil {
		return nil, wrap(op, err, "Browser permissions not found.")
	}
	return &b, nil
}

// SavePhoto stores a processed photo, sets its ID and CreatedAt and returns
// the ID. Returns EUNSUPPORTED for a type other than JPEG or PNG, EINVALID
// for an empty photo, ENOTFOUND if the user is not in p.OrgID.
func (s *OnboardingStore) SavePhoto(ctx context.Context, p *onramp.Photo) (string, error) {
	const op = "postgres.SavePhoto"
	switch {
	case p.ContentType != "image/jpeg" && p.ContentType != "image/png":
		return "", &onramp.Error{Code: onramp.EUNSUPPORTED, Message: "Upload a JPG or PNG photo.", Op: op}
	case len(p.Data) == 0 || p.Width <= 0 || p.Height <= 0:
		return "", &onramp.Error{Code: onramp.EINVALID, Message: "The photo is empty.", Op: op}
	case !validUUID(p.OrgID) || !validUUID(p.UserID):
		return "", notFoundf(op, "User not found.")
	}
	const q = `
		INSERT INTO photos (org_id, user_id, content_type, width, height, data)
		VALUES ($1, $2, $3, $4, $5, $6)
		RETURNING id, created_at`
	if err := s.db.pool.QueryRow(ctx, q, p.OrgID, p.UserID, p.ContentType, p.Width, p.Height, p.Data).Scan(&p.ID, &p.CreatedAt); err != nil {
		return "", wrap(op, err, "User not found.")
	}
	return p.ID, nil
}

// FindPhoto returns ENOTFOUND if there is no such photo in the org.
func (s *OnboardingStore) FindPhoto(ctx context.Context, orgID, id string) (*onramp.Photo, error) {
	const op = "postgres.FindPhoto"
	if !validUUID(orgID) || !validUUID(id) {
		return nil, notFoundf(op, "Photo not found.")
	}
	var p onramp.Photo
	err := s.db.pool.QueryRow(ctx, `SELECT id, org_id, user_id, content_type, width, height, data, created_at FROM photos WHERE id = $1 AND org_id = $2`, id, orgID).
		Scan(&p.ID, &p.OrgID, &p.UserID, &p.ContentType, &p.Width, &p.Height, &p.Data, &p.CreatedAt)
	if err != nil {
		return nil, wrap(op, err, "Photo not found.")
	}
	return &p, nil
}

// Streams lists the org's streams: onramp.BuiltinStreams, then the
// admin-defined ones in the order they were created.
func (s *OnboardingStore) Streams(ctx context.Context, orgID string) ([]onramp.Stream, error) {
	const op = "postgres.Streams"
	streams := slices.Clone(onramp.BuiltinStreams)
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
// malformed key or a missing name, ECONFLICT if the key exists (built-in
// keys included), ENOTFOUND if the org does not exist.
func (s *OnboardingStore) CreateStream(ctx context.Context, orgID string, st onramp.Stream) error {
	const op = "postgres.CreateStream"
	f := map[string]string{}
	st.Name = strings.TrimSpace(st.Name)
	if !onramp.ValidStreamKey(st.Key) {
		f["key"] = "Key must start with a letter and hold only lowercase letters, digits and underscores (at most 40)."
	}
	if st.Name == "" {
		f["name"] = "Name is required."
	} else if utf8.RuneCountInString(st.Name) > onramp.MaxNameLen {
		f["name"] = "Name must be at most 80 characters."
	}
	if err := onramp.FieldErrors(f); err != nil {
		return wrap(op, err, "")
	}
	for _, b := range onramp.BuiltinStreams {
		if b.Key == st.Key {
			return &onramp.Error{Code: onramp.ECONFLICT, Message: "A stream with this key already exists.", Op: op}
		}
	}
	if !validUUID(orgID) {
		return notFoundf(op, "Org not found.")
	}
	_, err := s.db.pool.Exec(ctx, `INSERT INTO streams (org_id, key, name) VALUES ($1, $2, $3)`, orgID, st.Key, st.Name)
	return wrap(op, err, "Org not found.")
}
