package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/workflows"
)

// demoPassword is the password of every demo user (dev only).
const demoPassword = "onramp-demo"

type demoLogin struct{ role, email string }

var demoUsers = []struct {
	role        onramp.Role
	email, name string
}{
	{onramp.RoleAdmin, "admin@demo.onramp.test", "Avery Admin"},
	{onramp.RoleSupport, "support@demo.onramp.test", "Sam Support"},
	{onramp.RoleRep, "rep@demo.onramp.test", "Riley Rep"},
}

// seedDemo creates the demo org once (an admin, a support user and one
// invited rep whose onboarding is started) and returns the logins.
func seedDemo(ctx context.Context, d *deps) ([]demoLogin, error) {
	var logins []demoLogin
	for _, u := range demoUsers {
		logins = append(logins, demoLogin{string(u.role), u.email})
	}
	if _, err := d.users.FindOrgBySlug(ctx, "demo"); err == nil {
		return logins, nil
	} else if onramp.ErrorCode(err) != onramp.ENOTFOUND {
		return nil, err
	}
	org := &onramp.Org{Name: "Demo Co", Slug: "demo"}
	if err := d.users.CreateOrg(ctx, org); err != nil {
		return nil, err
	}
	wc := &workflows.Client{Temporal: d.tc, Users: d.users, Store: d.store}
	for _, u := range demoUsers {
		nu := onramp.NewUser{OrgID: org.ID, Email: u.email, Name: u.name, Role: u.role, Password: demoPassword}
		var err error
		if u.role == onramp.RoleRep {
			var rep *onramp.User
			// A rep whose workflow could not start yet exists all the
			// same; the reconciler starts it.
			if rep, err = wc.CreateRep(ctx, org, nu); rep != nil {
				err = nil
			}
		} else {
			_, err = d.users.CreateUser(ctx, nu)
		}
		if err != nil {
			return nil, err
		}
	}
	return logins, nil
}

// demoAPIKey returns the demo org's API key for visitor events, created
// once and kept in dataDir (a key is shown only when created).
func demoAPIKey(ctx context.Context, d *deps, dataDir string) (string, error) {
	org, err := d.users.FindOrgBySlug(ctx, "demo")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dataDir, "demo-api-key")
	if b, err := os.ReadFile(path); err == nil {
		key := strings.TrimSpace(string(b))
		if k, err := d.store.FindAPIKey(ctx, key); err == nil && k.OrgID == org.ID {
			return key, nil
		}
	}
	_, key, err := d.store.CreateAPIKey(ctx, org.ID, "", "Demo website")
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", err
	}
	return key, os.WriteFile(path, []byte(key+"\n"), 0o600)
}
