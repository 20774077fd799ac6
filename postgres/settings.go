package postgres

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/onramp/onramp"
)

// queueSettings queues the statements that save s as the rep's settings of
// its step: the one place settings are written, by RecordStep (the
// wizard's, as of at, the transition's time: a record replayed late never
// overwrites newer settings) and SaveSettings (later edits: at is nil, the
// database's now, and the edit wins). Settings that show a photo
// (onramp.PhotoHolder) first move it from the staged uploads to the public
// photos; the rep's photos no settings show any more are deleted after.
func queueSettings(b *pgx.Batch, orgID, repID string, s onramp.Settings, at *time.Time) error {
	if err := s.Validate(); err != nil {
		return err
	}
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	var photo *string
	if ph, ok := s.(onramp.PhotoHolder); ok && ph.PhotoRef() != "" {
		id := ph.PhotoRef()
		if !validUUID(id) {
			return onramp.Errorf(onramp.ENOTFOUND, "Photo not found: upload it again.")
		}
		photo = &id
		const qAttach = `
			INSERT INTO photos (id, org_id, user_id, content_type, width, height, data, created_at)
			SELECT id, org_id, user_id, content_type, width, height, data, created_at
			FROM photo_uploads WHERE id = $1 AND org_id = $2 AND user_id = $3
			ON CONFLICT (id) DO NOTHING`
		b.Queue(qAttach, id, orgID, repID)
		b.Queue(`DELETE FROM photo_uploads WHERE id = $1 AND org_id = $2 AND user_id = $3`, id, orgID, repID)
	}
	// The photo's foreign key fails the whole batch when the photo is
	// neither staged nor saved, so nothing half-saved remains.
	const qUpsert = `
		INSERT INTO rep_settings AS r (user_id, org_id, step, data, photo_id, updated_at)
		VALUES ($1, $2, $3, $4, $5, coalesce($6, now()))
		ON CONFLICT (user_id, step) DO UPDATE SET
			data = EXCLUDED.data, photo_id = EXCLUDED.photo_id, updated_at = EXCLUDED.updated_at
		WHERE r.org_id = EXCLUDED.org_id AND ($6 IS NULL OR r.updated_at <= EXCLUDED.updated_at)`
	b.Queue(qUpsert, repID, orgID, s.Step(), data, photo, at)
	if photo != nil {
		const qUnused = `
			DELETE FROM photos p
			WHERE p.org_id = $1 AND p.user_id = $2
			  AND NOT EXISTS (SELECT 1 FROM rep_settings r WHERE r.photo_id = p.id)`
		b.Queue(qUnused, orgID, repID)
	}
	return nil
}

// SaveSettings validates s and saves it as the rep's settings of its step,
// now by the database's clock, over whatever was saved before (an edit
// after onboarding; during onboarding the workflow records settings with
// its transitions). Returns EINVALID, or ENOTFOUND if the
// rep is not in org orgID or the photo s shows is neither staged nor saved.
func (s *Store) SaveSettings(ctx context.Context, orgID, repID string, set onramp.Settings) error {
	const op = "postgres.SaveSettings"
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	if !validUUID(orgID) || !validUUID(repID) {
		return notFoundf(op, "Rep not found.")
	}
	b := &pgx.Batch{}
	queueRepInOrg(b, orgID, repID)
	if err := queueSettings(b, orgID, repID, set, nil); err != nil {
		return wrap(op, err, "")
	}
	return wrap(op, s.db.pool.SendBatch(ctx, b).Close(), "Rep not found.")
}

// Settings returns the rep's saved settings of step k; ENOTFOUND when none
// are saved (or k carries no settings).
func (s *Store) Settings(ctx context.Context, orgID, repID string, k onramp.StepKey) (onramp.Settings, error) {
	const op = "postgres.Settings"
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	if !validUUID(orgID) || !validUUID(repID) || !onramp.HasSettings(k) {
		return nil, notFoundf(op, "Settings not found.")
	}
	var data []byte
	err := s.db.pool.QueryRow(ctx, `SELECT data FROM rep_settings WHERE user_id = $1 AND org_id = $2 AND step = $3`, repID, orgID, k).Scan(&data)
	if err != nil {
		return nil, wrap(op, err, "Settings not found.")
	}
	set, err := onramp.DecodeSettings(k, data)
	return set, wrap(op, err, "")
}

// AllSettings returns every saved settings of the rep, by step (empty for
// a rep of another org). Rows of steps this code does not know are left
// out.
func (s *Store) AllSettings(ctx context.Context, orgID, repID string) (map[onramp.StepKey]onramp.Settings, error) {
	const op = "postgres.AllSettings"
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	out := map[onramp.StepKey]onramp.Settings{}
	if !validUUID(orgID) || !validUUID(repID) {
		return out, nil
	}
	rows, _ := s.db.pool.Query(ctx, `SELECT step, data FROM rep_settings WHERE user_id = $1 AND org_id = $2`, repID, orgID)
	var k onramp.StepKey
	var data []byte
	_, err := pgx.ForEachRow(rows, []any{&k, &data}, func() error {
		if !onramp.HasSettings(k) {
			return nil
		}
		set, err := onramp.DecodeSettings(k, data)
		if err != nil {
			return err
		}
		out[k] = set
		return nil
	})
	if err != nil {
		return nil, wrap(op, err, "")
	}
	return out, nil
}
