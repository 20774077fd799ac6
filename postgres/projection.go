package postgres

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/onramp/onramp"
)

// checkRecord checks that every transition is about r's rep and names
// known steps and statuses.
func checkRecord(r *onramp.StepRecord) error {
	if !validUUID(r.OrgID) || !validUUID(r.RepID) {
		return onramp.Errorf(onramp.ENOTFOUND, "Rep not found.")
	}
	if r.RepStatus != "" && !r.RepStatus.Valid() {
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
		case !t.Step.Status.Valid(), t.From != "" && !t.From.Valid():
			return onramp.Errorf(onramp.EINVALID, "Unknown step status in transition %d.", t.Seq)
		case t.Seq < 0:
			return onramp.Errorf(onramp.EINVALID, "Step transition sequence must not be negative.")
		}
	}
	return nil
}

// RecordStep writes r in one transaction: the settings it carries
// (queueSettings), then for each transition the onboarding row (current
// step, finished and time-zone check from the newest transition), the step
// row (only if the transition is newer than the row) and the step-event
// log row (once per seq), then the rep's status. Writing the same record
// twice changes nothing; a transition older than what is projected does
// not overwrite it. Settings are saved as of the newest transition's time.
// Returns ENOTFOUND if the rep is not a user of r.OrgID (or the settings'
// photo is missing), EINVALID for unknown steps or statuses or invalid
// settings.
func (s *Store) RecordStep(ctx context.Context, r onramp.StepRecord) error {
	_, err := s.RecordStepEvents(ctx, r)
	return err
}

// RecordStepEvents is RecordStep that also appends each new transition's
// events to the rep's feed and to the org's (admins and support), in the
// same transaction, and returns them to publish. A transition recorded
// before appends nothing again.
func (s *Store) RecordStepEvents(ctx context.Context, r onramp.StepRecord) ([]onramp.Event, error) {
	const op = "postgres.RecordStep"
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	if err := checkRecord(&r); err != nil {
		return nil, wrap(op, err, "")
	}
	var at time.Time
	for _, t := range r.Transitions {
		if t.At.After(at) {
			at = t.At
		}
	}
	// One round trip: the statements go as one batch, which PostgreSQL runs
	// as one implicit transaction (all or nothing).
	b := &pgx.Batch{}
	queueRepInOrg(b, r.OrgID, r.RepID)
	if r.Settings != nil {
		at = orNow(at)
		if err := queueSettings(b, r.OrgID, r.RepID, r.Settings, &at); err != nil {
			return nil, wrap(op, err, "")
		}
	}
	var feeds []int // the statements that append to feeds, by position
	for _, t := range r.Transitions {
		queueTransition(b, r.OrgID, r.RepID, r.WorkflowID, t)
		feeds = append(feeds, b.Len()-1)
	}
	if r.RepStatus != "" {
		b.Queue(qSetUserStatus, r.RepID, r.OrgID, r.RepStatus)
	}
	br := s.db.pool.SendBatch(ctx, b)
	var events []onramp.Event
	for i := range b.Len() {
		if !slices.Contains(feeds, i) {
			if _, err := br.Exec(); err != nil {
				_ = br.Close()
				return nil, wrap(op, err, "Rep not found.")
			}
			continue
		}
		rows, _ := br.Query()
		var e onramp.Event
		_, err := pgx.ForEachRow(rows, []any{&e.Feed, &e.Type, &e.Seq, &e.Data, &e.At}, func() error {
			ev := e
			ev.OrgID, ev.RepID = r.OrgID, r.RepID
			ev.Data = append([]byte(nil), e.Data...)
			events = append(events, feedEvent(ev))
			return nil
		})
		if err != nil {
			_ = br.Close()
			return nil, wrap(op, err, "Rep not found.")
		}
	}
	if err := br.Close(); err != nil {
		return nil, wrap(op, err, "Rep not found.")
	}
	slices.SortFunc(events, func(a, b onramp.Event) int {
		if c := strings.Compare(a.Feed, b.Feed); c != 0 {
			return c
		}
		return int(a.Seq - b.Seq)
	})
	return events, nil
}

// queueRepInOrg queues the check that fails the batch (ENOTFOUND) unless
// the rep is a user of the org: it starts every batch that writes a rep's
// rows.
func queueRepInOrg(b *pgx.Batch, orgID, repID string) {
	b.Queue(`SELECT onramp_rep_in_org($1, $2)`, repID, orgID)
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
		INSERT INTO onboardings AS o (rep_id, org_id, workflow_id, current_step, finished, last_seq, started_at,
			finished_at, updated_at, calendar_time_zone)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $7, $9)
		ON CONFLICT (rep_id) DO UPDATE SET
			workflow_id  = CASE WHEN EXCLUDED.workflow_id <> '' THEN EXCLUDED.workflow_id ELSE o.workflow_id END,
			started_at   = least(o.started_at, EXCLUDED.started_at),
			current_step = CASE WHEN EXCLUDED.last_seq > o.last_seq THEN EXCLUDED.current_step ELSE o.current_step END,
			finished     = CASE WHEN EXCLUDED.last_seq > o.last_seq THEN EXCLUDED.finished ELSE o.finished END,
			finished_at  = CASE WHEN EXCLUDED.last_seq <= o.last_seq THEN o.finished_at
			                    WHEN EXCLUDED.finished THEN coalesce(o.finished_at, EXCLUDED.finished_at) END,
			updated_at   = CASE WHEN EXCLUDED.last_seq > o.last_seq THEN EXCLUDED.updated_at ELSE o.updated_at END,
			calendar_time_zone = CASE WHEN EXCLUDED.last_seq > o.last_seq THEN EXCLUDED.calendar_time_zone ELSE o.calendar_time_zone END,
			last_seq     = greatest(o.last_seq, EXCLUDED.last_seq)
		WHERE o.org_id = EXCLUDED.org_id
		  AND (EXCLUDED.last_seq > o.last_seq OR EXCLUDED.started_at < o.started_at
		       OR (EXCLUDED.workflow_id <> '' AND EXCLUDED.workflow_id <> o.workflow_id))`
	b.Queue(qOnboarding, repID, orgID, workflowID, t.Current, t.Finished, t.Seq, at, finishedAt, t.CalendarTimeZone)
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
	// The step-event log's row, once per seq; only when it is new, the
	// transition's events appended to the rep's and the org's feeds.
	const qEvent = `
		WITH ev AS (
			INSERT INTO onboarding_events (org_id, rep_id, seq, step, from_status, to_status, error, message, at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			ON CONFLICT (rep_id, seq) DO NOTHING
			RETURNING 1)
		SELECT f.feed, t.typ, onramp_feed_append(f.feed, $1, t.typ, $2, $10), $10::jsonb, $9::timestamptz
		FROM ev, unnest($11::text[]) WITH ORDINALITY AS t(typ, i), unnest($12::text[]) WITH ORDINALITY AS f(feed, j)
		ORDER BY i, j`
	data, _ := json.Marshal(t) // a transition always marshals
	b.Queue(qEvent, orgID, repID, t.Seq, st.Key, t.From, st.Status, st.LastError, st.Message, at,
		// In name order, as every transaction takes feed heads (appendAll).
		data, t.EventTypes(), []string{onramp.OrgFeed(orgID), onramp.UserFeed(repID)})
}

// Progress rebuilds a rep's onboarding from the projection: the steps in
// order (steps never projected are pending, required as the org says; the
// account step of a rep whose onboarding recorded nothing yet is in
// progress), the current step, whether it is finished, and the time-zone
// check of the rep's saved calendar settings against the connected
// calendar's zone (checked now, so later edits count). Returns ENOTFOUND if
// the rep is not in org orgID or has no onboarding.
func (s *Store) Progress(ctx context.Context, orgID, repID string) (*onramp.Progress, error) {
	const op = "postgres.Progress"
	const notFound = "Onboarding not found."
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	if !validUUID(orgID) || !validUUID(repID) {
		return nil, notFoundf(op, notFound)
	}
	p := &onramp.Progress{OrgID: orgID, RepID: repID}
	var required []string
	const q = `
		SELECT o.workflow_id, o.current_step, o.finished, o.started_at, o.finished_at,
		       o.calendar_time_zone, g.required_steps, a.data
		FROM onboardings o JOIN orgs g ON g.id = o.org_id
		LEFT JOIN rep_settings a ON a.user_id = o.rep_id AND a.org_id = o.org_id AND a.step = $3
		WHERE o.rep_id = $1 AND o.org_id = $2`
	var avData []byte
	err := s.db.pool.QueryRow(ctx, q, repID, orgID, onramp.StepAvailability).Scan(&p.WorkflowID, &p.CurrentStep, &p.Finished, &p.StartedAt, &p.FinishedAt,
		&p.CalendarTimeZone, &required, &avData)
	if err != nil {
		return nil, wrap(op, err, notFound)
	}
	p.TimeZoneCheck = onramp.TZUnverified
	if avData != nil {
		if av, err := onramp.DecodeSettings(onramp.StepAvailability, avData); err == nil {
			p.TimeZoneCheck, _ = onramp.CheckTimeZone(av.(*onramp.Availability).TimeZone, p.CalendarTimeZone)
		}
	}
	org := onramp.Org{RequiredSteps: stepKeys(required)}
	reqKeys := org.Required()
	const qSteps = `
		SELECT step, status, required, attempts, last_error, message, started_at, completed_at, updated_at
		FROM onboarding_steps
		WHERE rep_id = $1 AND org_id = $2`
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
	for _, k := range onramp.Steps() {
		st, ok := projected[k]
		if !ok {
			st = onramp.StepState{Key: k, Status: onramp.StatusPending, Required: slices.Contains(reqKeys, k), UpdatedAt: p.StartedAt}
			if k == onramp.StepAccount {
				st.Status = onramp.StatusInProgress // invited: done at the first sign-in
			}
		}
		st.Title = k.Info().Title
		p.Steps = append(p.Steps, st)
	}
	return p, nil
}

// StepEvents returns the rep's step-event log, oldest first (empty for a
// rep of another org).
func (s *Store) StepEvents(ctx context.Context, orgID, repID string) ([]onramp.StepEvent, error) {
	const op = "postgres.StepEvents"
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
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

// ListReps lists the org's reps, oldest first, with their current step,
// its status, since when, and the steps that are stuck. A rep whose
// onboarding has recorded nothing yet is on "account", in progress since
// invited.
func (s *Store) ListReps(ctx context.Context, orgID string) ([]onramp.RepSummary, error) {
	const op = "postgres.ListReps"
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	reps := []onramp.RepSummary{}
	if !validUUID(orgID) {
		return reps, nil
	}
	const q = `
		SELECT ` + userColumns + `,
		       coalesce(o.current_step, 'account'),
		       coalesce(s.status, CASE WHEN coalesce(o.current_step, 'account') = 'account' THEN 'in_progress' ELSE 'pending' END),
		       coalesce(s.updated_at, o.started_at, u.created_at),
		       coalesce((SELECT array_agg(x.step ORDER BY x.position)
		                 FROM onboarding_steps x
		                 WHERE x.rep_id = u.id AND x.org_id = u.org_id AND x.status = 'stuck'), '{}')
		FROM users u
		LEFT JOIN onboardings o ON o.rep_id = u.id AND o.org_id = u.org_id
		LEFT JOIN onboarding_steps s ON s.rep_id = u.id AND s.org_id = u.org_id AND s.step = o.current_step
		WHERE u.org_id = $1 AND u.role = 'rep'
		ORDER BY u.created_at, u.id`
	rows, _ := s.db.pool.Query(ctx, q, orgID)
	var r onramp.RepSummary
	var stuck []string
	_, err := pgx.ForEachRow(rows, append(userDest(&r.User), &r.CurrentStep, &r.StepStatus, &r.Since, &stuck), func() error {
		r.StuckSteps = stepKeys(stuck)
		reps = append(reps, r)
		return nil
	})
	if err != nil {
		return nil, wrap(op, err, "")
	}
	return reps, nil
}

// UnstartedOnboardings lists reps created more than olderThan ago whose
// onboarding has recorded nothing yet (its workflow may never have
// started: the start timed out, or Temporal was down), oldest first, at
// most limit.
func (s *Store) UnstartedOnboardings(ctx context.Context, olderThan time.Duration, limit int) ([]onramp.RepRef, error) {
	const op = "postgres.UnstartedOnboardings"
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	const q = `
		SELECT org_id, rep_id FROM onboardings
		WHERE last_seq = 0 AND updated_at < now() - make_interval(secs => $1)
		ORDER BY updated_at LIMIT $2`
	rows, _ := s.db.pool.Query(ctx, q, olderThan.Seconds(), limit)
	out := []onramp.RepRef{}
	var r onramp.RepRef
	_, err := pgx.ForEachRow(rows, []any{&r.OrgID, &r.RepID}, func() error {
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, wrap(op, err, "")
	}
	return out, nil
}
