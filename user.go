package onramp

import (
	"context"
	"net/mail"
	"strings"
	"time"
)

// Role is what a user may do.
type Role string

const (
	RoleRep     Role = "rep"
	RoleAdmin   Role = "admin"
	RoleSupport Role = "support"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleRep || r == RoleAdmin || r == RoleSupport }

// UserStatus is where a user is in their life cycle.
type UserStatus string

const (
	UserInvited    UserStatus = "invited"    // created, has not signed in yet
	UserOnboarding UserStatus = "onboarding" // signed in, wizard not finished
	UserReady      UserStatus = "ready"      // finished onboarding: in routing and booking
	UserDisabled   UserStatus = "disabled"
)

// Valid reports whether s is a known status.
func (s UserStatus) Valid() bool {
	switch s {
	case UserInvited, UserOnboarding, UserReady, UserDisabled:
		return true
	}
	return false
}

// Org is a customer organisation. Every query is scoped by org.
type Org struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Slug string `json:"slug"`
	// RequiredSteps are the steps a rep must complete (done) before finish;
	// the others may be skipped. Empty means DefaultRequiredSteps().
	RequiredSteps []StepKey `json:"required_steps"`
	// SalesforceOrgWide is true when an admin connected Salesforce for the
	// whole org: the crm step is then skipped automatically.
	SalesforceOrgWide bool      `json:"salesforce_org_wide"`
	CreatedAt         time.Time `json:"created_at"`
}

// MaxEmailLen is the longest email address, in bytes (RFC 5321).
const MaxEmailLen = 254

// MaxOrgNameLen and MaxUserNameLen bound names, in characters.
const (
	MaxOrgNameLen  = 160
	MaxUserNameLen = 160
)

// Required returns the steps the org's reps must complete: RequiredSteps,
// or DefaultRequiredSteps() when the org chose none; account and finish
// always.
func (o *Org) Required() []StepKey {
	req := o.RequiredSteps
	if len(req) == 0 {
		req = DefaultRequiredSteps()
	}
	out := []StepKey{StepAccount}
	for _, k := range req {
		if k != StepAccount && k != StepFinish && !contains(out, k) {
			out = append(out, k)
		}
	}
	return append(out, StepFinish)
}

// ValidateRequiredSteps checks the steps an org requires: each must be a
// known step that a rep can complete in this release. A required step
// that cannot be completed (an integration not built yet) would keep every
// rep from finishing. Returns EINVALID naming the field required_steps.
func ValidateRequiredSteps(keys []StepKey) error {
	for _, k := range keys {
		switch {
		case !k.Valid():
			return FieldErrors(map[string]string{"required_steps": "Unknown step \"" + string(k) + "\"."})
		case !k.Info().Completable:
			return FieldErrors(map[string]string{"required_steps": "\"" + k.Info().Title + "\" cannot be required yet: reps cannot complete it in this release."})
		}
	}
	return nil
}

// User is a rep, admin or support person of one org.
type User struct {
	ID        string     `json:"id"`
	OrgID     string     `json:"org_id"`
	Email     string     `json:"email"`
	Name      string     `json:"name"`
	Role      Role       `json:"role"`
	Status    UserStatus `json:"status"`
	CreatedAt time.Time  `json:"created_at"`
}

// NewUser is the input to create a user.
type NewUser struct {
	OrgID    string
	Email    string
	Name     string
	Role     Role
	Password string // optional; empty leaves the account invited without a password
}

// MinPasswordLen is the shortest password accepted.
const MinPasswordLen = 10

// Validate normalises and checks a new user.
func (u *NewUser) Validate() error {
	f := map[string]string{}
	u.Email = strings.ToLower(strings.TrimSpace(u.Email))
	if a, err := mail.ParseAddress(u.Email); err != nil || a.Address != u.Email || len(u.Email) > MaxEmailLen {
		f["email"] = "Enter a valid email address."
	}
	var msg string
	if u.Name, msg = CleanText("Name", u.Name, MaxUserNameLen, true); msg != "" {
		f["name"] = msg
	}
	if !u.Role.Valid() {
		f["role"] = "Role must be rep, admin or support."
	}
	if u.Password != "" && len(u.Password) < MinPasswordLen {
		f["password"] = "Password must be at least 10 characters."
	}
	return FieldErrors(f)
}

// Session is a signed-in browser or API client.
type Session struct {
	User      User
	CSRFToken string
	ExpiresAt time.Time
}

// UserService stores orgs, users and sessions, and the audit log.
type UserService interface {
	// CreateOrg creates an org. Returns EINVALID for a bad name, slug or
	// required steps, ECONFLICT if the slug is taken.
	CreateOrg(ctx context.Context, org *Org) error
	// FindOrgByID returns ENOTFOUND if the org does not exist.
	FindOrgByID(ctx context.Context, id string) (*Org, error)
	// FindOrgBySlug returns ENOTFOUND if the org does not exist.
	FindOrgBySlug(ctx context.Context, slug string) (*Org, error)
	// CreateUser creates a user (hashing Password, if any, with argon2id).
	// A rep is created together with their onboarding's projection row,
	// in one transaction, so that a rep never exists without it.
	// Returns EINVALID for bad input, ECONFLICT if the email is taken.
	CreateUser(ctx context.Context, u NewUser) (*User, error)
	// FindUser returns the user of org orgID. Returns ENOTFOUND if there is
	// no such user in that org (other orgs' users are not found).
	FindUser(ctx context.Context, orgID, userID string) (*User, error)
	// Authenticate checks email and password. Returns EUNAUTHORIZED for an
	// unknown email, a wrong password or a user without a password.
	Authenticate(ctx context.Context, email, password string) (*User, error)
	// SetUserStatus sets a user's status. Returns ENOTFOUND.
	SetUserStatus(ctx context.Context, orgID, userID string, s UserStatus) error

	// CreateSession starts a session for the user and returns its secret
	// token (stored hashed) and CSRF token.
	CreateSession(ctx context.Context, u *User, ttl time.Duration) (token string, s *Session, err error)
	// FindSession returns EUNAUTHORIZED for an unknown or expired token.
	FindSession(ctx context.Context, token string) (*Session, error)
	// DeleteSession ends a session; deleting an unknown one is not an error.
	DeleteSession(ctx context.Context, token string) error

	// Audit records an admin or support action.
	Audit(ctx context.Context, e AuditEntry) error
}

// AuditEntry is one admin or support action.
type AuditEntry struct {
	OrgID   string
	ActorID string
	Action  string // e.g. "rep.create", "step.retry", "step.reset"
	Target  string // e.g. the rep's ID
	Detail  map[string]any
}
