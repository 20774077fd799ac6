// Package onramp holds Onramp's domain: orgs, users, the ten onboarding steps
// of the Chat User Setup Guide and their settings, events, and the service
// interfaces that the adapters (postgres, redisbus, …) implement. It does no I/O.
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

// Org is a customer organisation. Every query is scoped by org.
type Org struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Slug string `json:"slug"`
	// RequiredSteps are the steps a rep must complete (done) before finish;
	// the others may be skipped. Empty means DefaultRequiredSteps.
	RequiredSteps []StepKey `json:"required_steps"`
	// SalesforceOrgWide is true when an admin connected Salesforce for the
	// whole org: the crm step is then skipped automatically.
	SalesforceOrgWide bool      `json:"salesforce_org_wide"`
	CreatedAt         time.Time `json:"created_at"`
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

// Validate normalises and checks a new user.
func (u *NewUser) Validate() error {
	f := map[string]string{}
	u.Email = strings.ToLower(strings.TrimSpace(u.Email))
	u.Name = strings.TrimSpace(u.Name)
	if a, err := mail.ParseAddress(u.Email); err != nil || a.Address != u.Email || len(u.Email) > 254 {
		f["email"] = "Enter a valid email address."
	}
	if u.Name == "" {
		f["name"] = "Name is required."
	} else if len([]rune(u.Name)) > 160 {
		f["name"] = "Name must be at most 160 characters."
	}
	if !u.Role.Valid() {
		f["role"] = "Role must be rep, admin or support."
	}
	if u.Password != "" && len(u.Password) < 10 {
		f["password"] = "Password must be at least 10 characters."
	}
	return FieldErrors(f)
}

// RepSummary is one row of the admin's rep list, read from the projection.
type RepSummary struct {
	User
	CurrentStep StepKey    `json:"current_step"`
	StepStatus  StepStatus `json:"step_status"`
	// Since is when the current step last changed: "for how long".
	Since      time.Time `json:"since"`
	StuckSteps []StepKey `json:"stuck_steps"`
}

// Session is a signed-in browser or API client.
type Session struct {
	User      User
	CSRFToken string
	ExpiresAt time.Time
}

// UserService stores orgs, users and sessions.
type UserService interface {
	// CreateOrg creates an org. Returns ECONFLICT if the slug is taken.
	CreateOrg(ctx context.Context, org *Org) error
	// FindOrgByID returns ENOTFOUND if the org does not exist.
	FindOrgByID(ctx context.Context, id string) (*Org, error)
	// FindOrgBySlug returns ENOTFOUND if the org does not exist.
	FindOrgBySlug(ctx context.Context, slug string) (*Org, error)
	// CreateUser creates a user (hashing Password, if any, with argon2id).
	// Returns EINVALID for bad input, ECONFLICT if the email is taken.
	CreateUser(ctx context.Context, u NewUser) (*User, error)
	// DeleteUser removes a user that was just created (rollback when the
	// onboarding workflow could not start). Returns ENOTFOUND.
	DeleteUser(ctx context.Context, orgID, userID string) error
	// FindUser returns the user of org orgID. Returns ENOTFOUND if there is
	// no such user in that org (other orgs' users are not found).
	FindUser(ctx context.Context, orgID, userID string) (*User, error)
	// Authenticate checks email and password. Returns EUNAUTHORIZED for an
	// unknown email, a wrong password or a user without a password.
	Authenticate(ctx context.Context, email, password string) (*User, error)
	// SetUserStatus sets a user's status. Returns ENOTFOUND.
	SetUserStatus(ctx context.Context, orgID, userID string, s UserStatus) error
	// ListReps lists the org's reps with their onboarding position.
	ListReps(ctx context.Context, orgID string) ([]RepSummary, error)

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
