package main

import (
	"context"

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
