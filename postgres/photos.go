package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/onramp/onramp"
)

// MaxStagedPhotos is how many uploads one user may have waiting for their
// profile to be saved; older ones are dropped.
const MaxStagedPhotos = 5

// StagePhoto stores an upload, not served, until the profile that shows
// it is saved (see queueSettings), and returns its ID. The user's staged
// uploads beyond the newest MaxStagedPhotos are deleted. Returns
// EUNSUPPORTED for a type other than JPEG or PNG, EINVALID for an empty
// photo, ENOTFOUND if the user is not in p.OrgID.
func (s *Store) StagePhoto(ctx context.Context, p *onramp.Photo) (string, error) {
	const op = "postgres.StagePhoto"
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	switch {
	case p.ContentType != "image/jpeg" && p.ContentType != "image/png":
		return "", &onramp.Error{Code: onramp.EUNSUPPORTED, Message: "Upload a JPG or PNG photo.", Op: op}
	case len(p.Data) == 0 || p.Width <= 0 || p.Height <= 0:
		return "", &onramp.Error{Code: onramp.EINVALID, Message: "The photo is empty.", Op: op}
	case !validUUID(p.OrgID) || !validUUID(p.UserID):
		return "", notFoundf(op, "User not found.")
	}
	b := &pgx.Batch{}
	const q = `
		INSERT INTO photo_uploads (org_id, user_id, content_type, width, height, data)
		VALUES ($1, $2, $3, $4, $5, $6)
		RETURNING id, created_at`
	b.Queue(q, p.OrgID, p.UserID, p.ContentType, p.Width, p.Height, p.Data).QueryRow(func(row pgx.Row) error {
		return row.Scan(&p.ID, &p.CreatedAt)
	})
	const qTrim = `
		DELETE FROM photo_uploads
		WHERE user_id = $1 AND org_id = $2 AND id NOT IN (
			SELECT id FROM photo_uploads WHERE user_id = $1 AND org_id = $2
			ORDER BY created_at DESC, id LIMIT $3)`
	b.Queue(qTrim, p.UserID, p.OrgID, MaxStagedPhotos)
	if err := s.db.pool.SendBatch(ctx, b).Close(); err != nil {
		return "", wrap(op, err, "User not found.")
	}
	return p.ID, nil
}

// FindPhoto returns a saved photo: one a rep's settings show. ENOTFOUND if
// there is no such photo in the org, or it is only staged.
func (s *Store) FindPhoto(ctx context.Context, orgID, id string) (*onramp.Photo, error) {
	const op = "postgres.FindPhoto"
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
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

// DeleteStaleUploads deletes uploads staged more than olderThan ago whose
// profile was never saved (rejected or abandoned), and returns how many
// there were. Run it now and then.
func (s *Store) DeleteStaleUploads(ctx context.Context, olderThan time.Duration) (int64, error) {
	const op = "postgres.DeleteStaleUploads"
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	tag, err := s.db.pool.Exec(ctx, `DELETE FROM photo_uploads WHERE created_at < now() - make_interval(secs => $1)`, olderThan.Seconds())
	if err != nil {
		return 0, wrap(op, err, "")
	}
	return tag.RowsAffected(), nil
}
