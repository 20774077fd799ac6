package postgres_test

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/postgres"
	"github.com/onramp/onramp/postgres/pgtest"
)

// MustCreateOrg creates an org with the given slug.
func MustCreateOrg(t testing.TB, s *postgres.UserService, slug string) *onramp.Org {
	t.Helper()
	o := &onramp.Org{Name: "Org " + slug, Slug: slug}
	if err := s.CreateOrg(context.Background(), o); err != nil {
		t.Fatalf("CreateOrg(%s): %v", slug, err)
	}
	return o
}

// MustCreateUser creates a user.
func MustCreateUser(t testing.TB, s *postgres.UserService, nu onramp.NewUser) *onramp.User {
	t.Helper()
	u, err := s.CreateUser(context.Background(), nu)
	if err != nil {
		t.Fatalf("CreateUser(%s): %v", nu.Email, err)
	}
	return u
}

// MustCode fails unless err has the application error code want.
func MustCode(t testing.TB, err error, want string) {
	t.Helper()
	if got := onramp.ErrorCode(err); got != want {
		t.Fatalf("error = %v (code %q), want code %q", err, got, want)
	}
}

func TestOrgs(t *testing.T) {
	ctx := context.Background()
	s := postgres.NewUserService(pgtest.MustOpen(t))
	org := &onramp.Org{Name: " Acme ", Slug: "Acme", RequiredSteps: []onramp.StepKey{onramp.StepAccount, onramp.StepFinish}, SalesforceOrgWide: true}
	if err := s.CreateOrg(ctx, org); err != nil {
		t.Fatal(err)
	}
	t.Run("FindByID", func(t *testing.T) {
		got, err := s.FindOrgByID(ctx, org.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "Acme" || got.Slug != "acme" || !got.SalesforceOrgWide ||
			!slices.Equal(got.RequiredSteps, org.RequiredSteps) || got.CreatedAt.IsZero() {
			t.Errorf("FindOrgByID = %+v, want the org as created", got)
		}
	})
	t.Run("FindBySlug", func(t *testing.T) {
		got, err := s.FindOrgBySlug(ctx, "acme")
		if err != nil || got.ID != org.ID {
			t.Fatalf("FindOrgBySlug = %v, %v; want org %s", got, err, org.ID)
		}
	})
	t.Run("ErrSlugTaken", func(t *testing.T) {
		err := s.CreateOrg(ctx, &onramp.Org{Name: "Other", Slug: "acme"})
		MustCode(t, err, onramp.ECONFLICT)
		if msg := onramp.ErrorMessage(err); msg != "An org with this slug already exists." {
			t.Errorf("message = %q", msg)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		err := s.CreateOrg(ctx, &onramp.Org{Name: "", Slug: "no spaces", RequiredSteps: []onramp.StepKey{"bogus"}})
		MustCode(t, err, onramp.EINVALID)
		if f := onramp.ErrorFields(err); f["name"] == "" || f["slug"] == "" || f["required_steps"] == "" {
			t.Errorf("fields = %v, want name, slug and required_steps", f)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := s.FindOrgByID(ctx, "00000000-0000-0000-0000-000000000000")
		MustCode(t, err, onramp.ENOTFOUND)
		_, err = s.FindOrgByID(ctx, "not-a-uuid")
		MustCode(t, err, onramp.ENOTFOUND)
		_, err = s.FindOrgBySlug(ctx, "nope")
		MustCode(t, err, onramp.ENOTFOUND)
	})
}

func TestUsers(t *testing.T) {
	ctx := context.Background()
	s := postgres.NewUserService(pgtest.MustOpen(t))
	acme := MustCreateOrg(t, s, "acme")
	globex := MustCreateOrg(t, s, "globex")
	ann := MustCreateUser(t, s, onramp.NewUser{OrgID: acme.ID, Email: " Ann@Example.com ", Name: "Ann", Role: onramp.RoleRep, Password: "correct horse battery"})
	invited := MustCreateUser(t, s, onramp.NewUser{OrgID: acme.ID, Email: "bob@example.com", Name: "Bob", Role: onramp.RoleRep})

	t.Run("Create", func(t *testing.T) {
		if ann.Email != "ann@example.com" || ann.OrgID != acme.ID || ann.Role != onramp.RoleRep || ann.Status != onramp.UserInvited {
			t.Errorf("created user = %+v", ann)
		}
	})
	t.Run("ErrEmailTaken", func(t *testing.T) {
		// Login is by email alone: unique across orgs, whatever the case.
		_, err := s.CreateUser(ctx, onramp.NewUser{OrgID: globex.ID, Email: "ANN@example.com", Name: "Ann 2", Role: onramp.RoleAdmin})
		MustCode(t, err, onramp.ECONFLICT)
		if msg := onramp.ErrorMessage(err); msg != "A user with this email already exists." {
			t.Errorf("message = %q", msg)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		_, err := s.CreateUser(ctx, onramp.NewUser{OrgID: acme.ID, Email: "nope", Name: "X", Role: "boss", Password: "short"})
		MustCode(t, err, onramp.EINVALID)
		if f := onramp.ErrorFields(err); f["email"] == "" || f["role"] == "" || f["password"] == "" {
			t.Errorf("fields = %v", f)
		}
	})
	t.Run("ErrOrgNotFound", func(t *testing.T) {
		_, err := s.CreateUser(ctx, onramp.NewUser{OrgID: "00000000-0000-0000-0000-000000000000", Email: "x@example.com", Name: "X", Role: onramp.RoleRep})
		MustCode(t, err, onramp.ENOTFOUND)
	})
	t.Run("Find", func(t *testing.T) {
		got, err := s.FindUser(ctx, acme.ID, ann.ID)
		if err != nil || *got != *ann {
			t.Errorf("FindUser = %+v, %v; want %+v", got, err, ann)
		}
	})
	t.Run("ErrOtherOrg", func(t *testing.T) {
		_, err := s.FindUser(ctx, globex.ID, ann.ID)
		MustCode(t, err, onramp.ENOTFOUND)
		MustCode(t, s.SetUserStatus(ctx, globex.ID, ann.ID, onramp.UserReady), onramp.ENOTFOUND)
	})
	t.Run("ErrMalformedID", func(t *testing.T) {
		_, err := s.FindUser(ctx, acme.ID, "1; DROP TABLE users")
		MustCode(t, err, onramp.ENOTFOUND)
	})
	t.Run("SetStatus", func(t *testing.T) {
		if err := s.SetUserStatus(ctx, acme.ID, invited.ID, onramp.UserOnboarding); err != nil {
			t.Fatal(err)
		}
		got, _ := s.FindUser(ctx, acme.ID, invited.ID)
		if got.Status != onramp.UserOnboarding {
			t.Errorf("status = %q, want onboarding", got.Status)
		}
		MustCode(t, s.SetUserStatus(ctx, acme.ID, invited.ID, "sleeping"), onramp.EINVALID)
	})
}

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	s := postgres.NewUserService(pgtest.MustOpen(t))
	acme := MustCreateOrg(t, s, "acme")
	ann := MustCreateUser(t, s, onramp.NewUser{OrgID: acme.ID, Email: "ann@example.com", Name: "Ann", Role: onramp.RoleRep, Password: "correct horse battery"})
	MustCreateUser(t, s, onramp.NewUser{OrgID: acme.ID, Email: "bob@example.com", Name: "Bob", Role: onramp.RoleRep})

	t.Run("Right", func(t *testing.T) {
		u, err := s.Authenticate(ctx, " ANN@example.com", "correct horse battery")
		if err != nil || u.ID != ann.ID {
			t.Fatalf("Authenticate = %v, %v; want ann", u, err)
		}
	})
	bad := map[string][2]string{
		"WrongPassword": {"ann@example.com", "correct horse batterx"},
		"UnknownEmail":  {"nobody@example.com", "correct horse battery"},
		"NoPassword":    {"bob@example.com", "anything at all"},
		"EmptyPassword": {"ann@example.com", ""},
	}
	for name, c := range bad {
		t.Run(name, func(t *testing.T) {
			_, err := s.Authenticate(ctx, c[0], c[1])
			MustCode(t, err, onramp.EUNAUTHORIZED)
			if msg := onramp.ErrorMessage(err); msg != "Wrong email or password." {
				t.Errorf("message = %q, want the same for every failure", msg)
			}
		})
	}
	t.Run("SameTime", func(t *testing.T) {
		// An unknown email must cost a hash too, or its speed tells
		// which emails have accounts. Take the best of a few runs.
		best := func(email, password string) time.Duration {
			d := time.Hour
			for range 3 {
				start := time.Now()
				s.Authenticate(ctx, email, password)
				d = min(d, time.Since(start))
			}
			return d
		}
		wrong := best("ann@example.com", "correct horse batterx")
		unknown := best("nobody@example.com", "correct horse battery")
		if unknown < wrong/3 {
			t.Errorf("unknown email took %v, wrong password %v: unknown emails are detectable by timing", unknown, wrong)
		}
	})
	t.Run("ErrDisabled", func(t *testing.T) {
		if err := s.SetUserStatus(ctx, acme.ID, ann.ID, onramp.UserDisabled); err != nil {
			t.Fatal(err)
		}
		_, err := s.Authenticate(ctx, "ann@example.com", "correct horse battery")
		MustCode(t, err, onramp.EUNAUTHORIZED)
	})
}

func TestSessions(t *testing.T) {
	ctx := context.Background()
	db := pgtest.MustOpen(t)
	s := postgres.NewUserService(db)
	acme := MustCreateOrg(t, s, "acme")
	ann := MustCreateUser(t, s, onramp.NewUser{OrgID: acme.ID, Email: "ann@example.com", Name: "Ann", Role: onramp.RoleAdmin})

	token, sess, err := s.CreateSession(ctx, ann, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("Create", func(t *testing.T) {
		if len(token) != 43 { // 32 bytes, base64url without padding
			t.Errorf("token %q has length %d, want 43", token, len(token))
		}
		if sess.CSRFToken == "" || sess.CSRFToken == token {
			t.Errorf("CSRF token = %q, want a random token distinct from the session token", sess.CSRFToken)
		}
		if d := time.Until(sess.ExpiresAt); d < 59*time.Minute || d > 61*time.Minute {
			t.Errorf("expires in %v, want 1h", d)
		}
		token2, _, _ := s.CreateSession(ctx, ann, time.Hour)
		if token2 == token {
			t.Error("two sessions got the same token")
		}
	})
	t.Run("StoredHashed", func(t *testing.T) {
		var n int
		if err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM sessions WHERE position($1::bytea IN token_hash) > 0`, []byte(token)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Error("the session token is stored in clear")
		}
	})
	t.Run("Find", func(t *testing.T) {
		got, err := s.FindSession(ctx, token)
		if err != nil {
			t.Fatal(err)
		}
		if got.User != *ann || got.CSRFToken != sess.CSRFToken || !got.ExpiresAt.Equal(sess.ExpiresAt) {
			t.Errorf("FindSession = %+v, want %+v", got, sess)
		}
	})
	t.Run("ErrUnknown", func(t *testing.T) {
		for _, tok := range []string{"", "nope", token + "x"} {
			_, err := s.FindSession(ctx, tok)
			MustCode(t, err, onramp.EUNAUTHORIZED)
		}
	})
	t.Run("ErrExpired", func(t *testing.T) {
		short, _, err := s.CreateSession(ctx, ann, time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
		_, err = s.FindSession(ctx, short)
		MustCode(t, err, onramp.EUNAUTHORIZED)
		n, err := s.DeleteExpiredSessions(ctx)
		if err != nil || n != 1 {
			t.Errorf("DeleteExpiredSessions = %d, %v; want 1", n, err)
		}
	})
	t.Run("Delete", func(t *testing.T) {
		if err := s.DeleteSession(ctx, token); err != nil {
			t.Fatal(err)
		}
		_, err := s.FindSession(ctx, token)
		MustCode(t, err, onramp.EUNAUTHORIZED)
		if err := s.DeleteSession(ctx, token); err != nil {
			t.Errorf("deleting an unknown session: %v, want nil", err)
		}
	})
	t.Run("ErrUserDisabled", func(t *testing.T) {
		bob := MustCreateUser(t, s, onramp.NewUser{OrgID: acme.ID, Email: "bob@example.com", Name: "Bob", Role: onramp.RoleRep})
		tok, _, err := s.CreateSession(ctx, bob, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SetUserStatus(ctx, acme.ID, bob.ID, onramp.UserDisabled); err != nil {
			t.Fatal(err)
		}
		_, err = s.FindSession(ctx, tok)
		MustCode(t, err, onramp.EUNAUTHORIZED)
	})
	t.Run("ErrWrongOrg", func(t *testing.T) {
		other := MustCreateOrg(t, s, "other")
		forged := *ann
		forged.OrgID = other.ID
		_, _, err := s.CreateSession(ctx, &forged, time.Hour)
		MustCode(t, err, onramp.ENOTFOUND)
	})
}

func TestAudit(t *testing.T) {
	ctx := context.Background()
	db := pgtest.MustOpen(t)
	s := postgres.NewUserService(db)
	acme := MustCreateOrg(t, s, "acme")
	admin := MustCreateUser(t, s, onramp.NewUser{OrgID: acme.ID, Email: "admin@example.com", Name: "Admin", Role: onramp.RoleAdmin})
	err := s.Audit(ctx, onramp.AuditEntry{OrgID: acme.ID, ActorID: admin.ID, Action: "rep.create", Target: "rep-1", Detail: map[string]any{"email": "x@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	var action, target string
	var detail []byte
	if err := db.Pool().QueryRow(ctx, `SELECT action, target, detail::text FROM audit_log WHERE org_id = $1 AND actor_id = $2`, acme.ID, admin.ID).Scan(&action, &target, &detail); err != nil {
		t.Fatal(err)
	}
	if action != "rep.create" || target != "rep-1" || !bytes.Contains(detail, []byte(`"email": "x@example.com"`)) {
		t.Errorf("audit row = %q %q %s", action, target, detail)
	}
	t.Run("ErrNoAction", func(t *testing.T) {
		MustCode(t, s.Audit(ctx, onramp.AuditEntry{OrgID: acme.ID}), onramp.EINVALID)
	})
	t.Run("System", func(t *testing.T) {
		if err := s.Audit(ctx, onramp.AuditEntry{OrgID: acme.ID, Action: "scim.provision"}); err != nil {
			t.Errorf("audit without an actor: %v", err)
		}
	})
}
