package postgres

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/onramp/onramp"
)

// UserService stores orgs, users, sessions and the audit log.
type UserService struct {
	db *DB
}

var _ onramp.UserService = (*UserService)(nil)

// NewUserService returns a UserService on db.
func NewUserService(db *DB) *UserService { return &UserService{db: db} }

var slugRE = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// validateOrg trims and checks an org before it is created.
func validateOrg(o *onramp.Org) error {
	f := map[string]string{}
	var msg string
	if o.Name, msg = onramp.CleanText("Name", o.Name, onramp.MaxOrgNameLen, true); msg != "" {
		f["name"] = msg
	}
	o.Slug = strings.ToLower(strings.TrimSpace(o.Slug))
	if !slugRE.MatchString(o.Slug) || len(o.Slug) > 63 {
		f["slug"] = "Slug must be lowercase letters, digits and dashes (at most 63)."
	}
	if err := onramp.ValidateRequiredSteps(o.RequiredSteps); err != nil {
		for k, v := range onramp.ErrorFields(err) {
			f[k] = v
		}
	}
	return onramp.FieldErrors(f)
}

// CreateOrg creates an org and sets its ID and CreatedAt. Returns EINVALID
// for a missing name or a malformed slug, ECONFLICT if the slug is taken.
func (s *UserService) CreateOrg(ctx context.Context, o *onramp.Org) error {
	const op = "postgres.CreateOrg"
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	if err := validateOrg(o); err != nil {
		return wrap(op, err, "")
	}
	steps := make([]string, len(o.RequiredSteps))
	for i, k := range o.RequiredSteps {
		steps[i] = string(k)
	}
	const q = `
		INSERT INTO orgs (name, slug, required_steps, salesforce_org_wide)
		VALUES ($1, $2, $3, $4)
		RETURNING id, created_at`
	err := s.db.pool.QueryRow(ctx, q, o.Name, o.Slug, steps, o.SalesforceOrgWide).Scan(&o.ID, &o.CreatedAt)
	return wrap(op, err, "Org not found.")
}

const orgColumns = `id, name, slug, required_steps, salesforce_org_wide, created_at`

func scanOrg(row pgx.Row) (*onramp.Org, error) {
	var o onramp.Org
	var steps []string
	if err := row.Scan(&o.ID, &o.Name, &o.Slug, &steps, &o.SalesforceOrgWide, &o.CreatedAt); err != nil {
		return nil, err
	}
	o.RequiredSteps = stepKeys(steps)
	return &o, nil
}

func stepKeys(ss []string) []onramp.StepKey {
	ks := make([]onramp.StepKey, len(ss))
	for i, s := range ss {
		ks[i] = onramp.StepKey(s)
	}
	return ks
}

// FindOrgByID returns ENOTFOUND if the org does not exist.
func (s *UserService) FindOrgByID(ctx context.Context, id string) (*onramp.Org, error) {
	const op = "postgres.FindOrgByID"
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	if !validUUID(id) {
		return nil, notFoundf(op, "Org not found.")
	}
	o, err := scanOrg(s.db.pool.QueryRow(ctx, `SELECT `+orgColumns+` FROM orgs WHERE id = $1`, id))
	return o, wrap(op, err, "Org not found.")
}

// FindOrgBySlug returns ENOTFOUND if the org does not exist.
func (s *UserService) FindOrgBySlug(ctx context.Context, slug string) (*onramp.Org, error) {
	const op = "postgres.FindOrgBySlug"
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	o, err := scanOrg(s.db.pool.QueryRow(ctx, `SELECT `+orgColumns+` FROM orgs WHERE slug = $1`, strings.ToLower(slug)))
	return o, wrap(op, err, "Org not found.")
}

const userColumns = `u.id, u.org_id, u.email, u.name, u.role, u.status, u.created_at`

func userDest(u *onramp.User) []any {
	return []any{&u.ID, &u.OrgID, &u.Email, &u.Name, &u.Role, &u.Status, &u.CreatedAt}
}

// CreateUser creates an invited user, hashing the password (if any) with
// argon2id. A rep is created together with their onboarding's projection
// row (nothing recorded yet, on "account"), in one statement: a rep never
// exists without it, and UnstartedOnboardings finds the rep until the
// workflow records its first transition. Returns EINVALID for bad input,
// ENOTFOUND if the org does not exist, ECONFLICT if the email is taken (in
// any org).
func (s *UserService) CreateUser(ctx context.Context, nu onramp.NewUser) (*onramp.User, error) {
	const op = "postgres.CreateUser"
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	if err := nu.Validate(); err != nil {
		return nil, wrap(op, err, "")
	}
	if !validUUID(nu.OrgID) {
		return nil, notFoundf(op, "Org not found.")
	}
	var hash *string
	if nu.Password != "" {
		h, err := hashPassword(nu.Password)
		if err != nil {
			return nil, wrap(op, err, "")
		}
		hash = &h
	}
	const q = `
		WITH u AS (
			INSERT INTO users (org_id, email, name, role, status, password_hash)
			VALUES ($1, $2, $3, $4, 'invited', $5)
			RETURNING *
		), o AS (
			INSERT INTO onboardings (rep_id, org_id, workflow_id, current_step, started_at, updated_at)
			SELECT id, org_id, '', 'account', created_at, created_at FROM u WHERE role = 'rep'
		)
		SELECT ` + userColumns + ` FROM u`
	var u onramp.User
	err := s.db.pool.QueryRow(ctx, q, nu.OrgID, nu.Email, nu.Name, nu.Role, hash).Scan(userDest(&u)...)
	if err != nil {
		return nil, wrap(op, err, "Org not found.")
	}
	return &u, nil
}

// FindUser returns the user of org orgID. Returns ENOTFOUND if there is no
// such user in that org.
func (s *UserService) FindUser(ctx context.Context, orgID, userID string) (*onramp.User, error) {
	const op = "postgres.FindUser"
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	if !validUUID(orgID) || !validUUID(userID) {
		return nil, notFoundf(op, "User not found.")
	}
	var u onramp.User
	err := s.db.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users u WHERE u.id = $1 AND u.org_id = $2`, userID, orgID).Scan(userDest(&u)...)
	if err != nil {
		return nil, wrap(op, err, "User not found.")
	}
	return &u, nil
}

var errBadLogin = onramp.Errorf(onramp.EUNAUTHORIZED, "Wrong email or password.")

// Authenticate checks email and password. Returns EUNAUTHORIZED "Wrong
// email or password." for an unknown email, a wrong password or a user
// without a password, taking about as long in each case, and EUNAUTHORIZED
// "This account is disabled." for a disabled user with the right password.
func (s *UserService) Authenticate(ctx context.Context, email, password string) (*onramp.User, error) {
	const op = "postgres.Authenticate"
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	email = strings.ToLower(strings.TrimSpace(email))
	var u onramp.User
	var hash *string
	err := s.db.pool.QueryRow(ctx, `SELECT `+userColumns+`, u.password_hash FROM users u WHERE lower(u.email) = $1`, email).
		Scan(append(userDest(&u), &hash)...)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, wrap(op, err, "")
	}
	if errors.Is(err, pgx.ErrNoRows) || hash == nil {
		checkPassword(dummyHash(), password) // same work as a wrong password
		return nil, &onramp.Error{Code: errBadLogin.Code, Message: errBadLogin.Message, Op: op}
	}
	ok, err := checkPassword(*hash, password)
	if err != nil {
		return nil, wrap(op, err, "")
	}
	if !ok {
		return nil, &onramp.Error{Code: errBadLogin.Code, Message: errBadLogin.Message, Op: op}
	}
	if u.Status == onramp.UserDisabled {
		return nil, &onramp.Error{Code: onramp.EUNAUTHORIZED, Message: "This account is disabled.", Op: op}
	}
	return &u, nil
}

// SetUserStatus sets a user's status. Returns EINVALID for an unknown
// status, ENOTFOUND if there is no such user in the org.
func (s *UserService) SetUserStatus(ctx context.Context, orgID, userID string, st onramp.UserStatus) error {
	const op = "postgres.SetUserStatus"
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	if !st.Valid() {
		return wrap(op, onramp.Errorf(onramp.EINVALID, "Unknown user status %q.", st), "")
	}
	if !validUUID(orgID) || !validUUID(userID) {
		return notFoundf(op, "User not found.")
	}
	tag, err := s.db.pool.Exec(ctx, qSetUserStatus, userID, orgID, st)
	if err != nil {
		return wrap(op, err, "User not found.")
	}
	if tag.RowsAffected() == 0 {
		return notFoundf(op, "User not found.")
	}
	return nil
}

// qSetUserStatus sets user $1 of org $2 to status $3 (SetUserStatus, and
// RecordStep's batch).
const qSetUserStatus = `UPDATE users SET status = $3 WHERE id = $1 AND org_id = $2`

// newToken returns 32 random bytes, base64url-encoded without padding.
func newToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// CreateSession starts a session of ttl for u and returns its secret token;
// only the token's SHA-256 is stored. Returns EINVALID for a ttl that is
// not positive, ENOTFOUND if u is not a user of u.OrgID.
func (s *UserService) CreateSession(ctx context.Context, u *onramp.User, ttl time.Duration) (string, *onramp.Session, error) {
	const op = "postgres.CreateSession"
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	if ttl <= 0 {
		return "", nil, &onramp.Error{Code: onramp.EINVALID, Message: "Session lifetime must be positive.", Op: op}
	}
	if !validUUID(u.ID) || !validUUID(u.OrgID) {
		return "", nil, notFoundf(op, "User not found.")
	}
	token, err := newToken()
	if err != nil {
		return "", nil, wrap(op, err, "")
	}
	csrf, err := newToken()
	if err != nil {
		return "", nil, wrap(op, err, "")
	}
	const q = `
		INSERT INTO sessions (token_hash, user_id, org_id, csrf_token, expires_at)
		VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))
		RETURNING expires_at`
	sess := &onramp.Session{User: *u, CSRFToken: csrf}
	if err := s.db.pool.QueryRow(ctx, q, hashToken(token), u.ID, u.OrgID, csrf, ttl.Seconds()).Scan(&sess.ExpiresAt); err != nil {
		return "", nil, wrap(op, err, "User not found.")
	}
	return token, sess, nil
}

// FindSession returns the session of token with its user as stored now.
// Returns EUNAUTHORIZED for an unknown or expired token, or a disabled user.
func (s *UserService) FindSession(ctx context.Context, token string) (*onramp.Session, error) {
	const op = "postgres.FindSession"
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	unauthorized := &onramp.Error{Code: onramp.EUNAUTHORIZED, Message: "Please sign in.", Op: op}
	if token == "" {
		return nil, unauthorized
	}
	const q = `
		SELECT ` + userColumns + `, s.csrf_token, s.expires_at
		FROM sessions s
		JOIN users u ON u.id = s.user_id AND u.org_id = s.org_id
		WHERE s.token_hash = $1 AND s.expires_at > now() AND u.status <> 'disabled'`
	var sess onramp.Session
	err := s.db.pool.QueryRow(ctx, q, hashToken(token)).Scan(append(userDest(&sess.User), &sess.CSRFToken, &sess.ExpiresAt)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, unauthorized
	} else if err != nil {
		return nil, wrap(op, err, "")
	}
	return &sess, nil
}

// DeleteSession ends a session; deleting an unknown one is not an error.
func (s *UserService) DeleteSession(ctx context.Context, token string) error {
	const op = "postgres.DeleteSession"
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	_, err := s.db.pool.Exec(ctx, `DELETE FROM sessions WHERE token_hash = $1`, hashToken(token))
	return wrap(op, err, "")
}

// DeleteExpiredSessions deletes the sessions that have expired and returns
// how many there were. Run it now and then.
func (s *UserService) DeleteExpiredSessions(ctx context.Context) (int64, error) {
	const op = "postgres.DeleteExpiredSessions"
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	tag, err := s.db.pool.Exec(ctx, `DELETE FROM sessions WHERE expires_at <= now()`)
	if err != nil {
		return 0, wrap(op, err, "")
	}
	return tag.RowsAffected(), nil
}

// Audit records an admin or support action. ActorID may be empty (an
// action of the system, e.g. SCIM). Returns EINVALID without an action,
// ENOTFOUND if the org does not exist.
func (s *UserService) Audit(ctx context.Context, e onramp.AuditEntry) error {
	const op = "postgres.Audit"
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	if strings.TrimSpace(e.Action) == "" {
		return &onramp.Error{Code: onramp.EINVALID, Message: "Audit action is required.", Op: op}
	}
	if !validUUID(e.OrgID) {
		return notFoundf(op, "Org not found.")
	}
	var actor *string
	if e.ActorID != "" {
		if !validUUID(e.ActorID) {
			return notFoundf(op, "User not found.")
		}
		actor = &e.ActorID
	}
	detail := []byte("{}")
	if len(e.Detail) > 0 {
		b, err := json.Marshal(e.Detail)
		if err != nil {
			return wrap(op, err, "")
		}
		detail = b
	}
	_, err := s.db.pool.Exec(ctx, `INSERT INTO audit_log (org_id, actor_id, action, target, detail) VALUES ($1, $2, $3, $4, $5)`,
		e.OrgID, actor, e.Action, e.Target, detail)
	return wrap(op, err, "Org not found.")
}
