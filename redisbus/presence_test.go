package redisbus_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/onramp/onramp/redisbus"
)

// A rep is online while one of their consoles beats; a console that leaves
// goes at once, one that stops beating goes after its TTL; orgs are apart.
func TestPresence(t *testing.T) {
	prefix := MustPrefix(t)
	p := redisbus.NewPresence(MustOpen(t, prefix), prefix)
	ctx := context.Background()
	online := func(org string) string {
		t.Helper()
		reps, err := p.Online(ctx, org)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(reps)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(p.Beat(ctx, "org1", "ann", "tab1", time.Minute))
	must(p.Beat(ctx, "org1", "ann", "tab2", time.Minute))
	must(p.Beat(ctx, "org1", "bob", "tab1", 300*time.Millisecond))
	must(p.Beat(ctx, "org2", "cat", "tab1", time.Minute))
	if got := online("org1"); got != "[bob ann]" && got != "[ann bob]" {
		t.Fatalf("org1 online: %s", got)
	}
	must(p.Leave(ctx, "org1", "ann", "tab1"))
	if got := online("org1"); got != "[bob ann]" && got != "[ann bob]" {
		t.Fatalf("ann has another tab open: %s", got)
	}
	time.Sleep(400 * time.Millisecond)
	if got := online("org1"); got != "[ann]" {
		t.Fatalf("bob stopped beating: %s", got)
	}
	must(p.Leave(ctx, "org1", "ann", "tab2"))
	if got := online("org1"); got != "[]" {
		t.Fatalf("everyone left: %s", got)
	}
	if got := online("org2"); got != "[cat]" {
		t.Fatalf("org2: %s", got)
	}
}
