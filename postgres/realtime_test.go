package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/onramp/onramp"
)

// realtimeFixture: the fixture's org with its rep ready, a second ready
// rep, an admin, and another org with a rep.
type realtimeFixture struct {
	*fixture
	rep2, admin, otherRep *onramp.User
	other                 *onramp.Org
}

func mustRealtime(t *testing.T) *realtimeFixture {
	t.Helper()
	f := &realtimeFixture{fixture: MustFixture(t)}
	ctx := context.Background()
	f.rep2 = MustCreateUser(t, f.users, onramp.NewUser{OrgID: f.org.ID, Email: "rep2@example.com", Name: "Rep Two", Role: onramp.RoleRep})
	f.admin = MustCreateUser(t, f.users, onramp.NewUser{OrgID: f.org.ID, Email: "admin@example.com", Name: "Admin", Role: onramp.RoleAdmin})
	f.other = MustCreateOrg(t, f.users, "globex")
	f.otherRep = MustCreateUser(t, f.users, onramp.NewUser{OrgID: f.other.ID, Email: "rep@globex.example", Name: "G", Role: onramp.RoleRep})
	for _, u := range []*onramp.User{f.rep, f.rep2, f.otherRep} {
		if err := f.users.SetUserStatus(ctx, u.OrgID, u.ID, onramp.UserReady); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func (f *realtimeFixture) feed(t *testing.T, orgID, feed string, after int64) []onramp.Event {
	t.Helper()
	entries, gone, err := f.store.FeedSince(context.Background(), orgID, feed, after, 0)
	if err != nil || gone {
		t.Fatalf("FeedSince(%s, %d): gone=%v %v", feed, after, gone, err)
	}
	return entries
}

// Concurrent appends to one feed get every seq once, with no gap, and a
// reader that saw seq n reads exactly the rest after it.
func TestFeedGaplessUnderConcurrency(t *testing.T) {
	f := mustRealtime(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Go(func() {
			_, err := f.store.IngestVisitorEvents(ctx, f.org.ID, []onramp.VisitorEvent{
				{ID: fmt.Sprintf("e%d", i), Type: onramp.VisitVIP, VisitorID: "v", OwnerRep: f.rep.Email},
			}, nil)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	entries := f.feed(t, f.org.ID, onramp.UserFeed(f.rep.ID), 0)
	if len(entries) != 40 {
		t.Fatalf("%d entries, want 40", len(entries))
	}
	for i, e := range entries {
		if e.Seq != int64(i+1) || e.Type != onramp.EventNotification || e.RepID != f.rep.ID {
			t.Fatalf("entry %d: %+v", i, e)
		}
	}
	if rest := f.feed(t, f.org.ID, onramp.UserFeed(f.rep.ID), 37); len(rest) != 3 || rest[0].Seq != 38 {
		t.Fatalf("after 37: %+v", rest)
	}
	heads, err := f.store.FeedHeads(ctx, f.org.ID, []string{onramp.UserFeed(f.rep.ID), onramp.UserFeed(f.rep2.ID)})
	if err != nil || heads[0] != 40 || heads[1] != 0 {
		t.Fatalf("heads %v %v", heads, err)
	}
	// Another org reads nothing of this feed: its head is 0, so any
	// cursor is ahead of it.
	if heads, _ := f.store.FeedHeads(ctx, f.other.ID, []string{onramp.UserFeed(f.rep.ID)}); heads[0] != 0 {
		t.Fatalf("another org sees head %d", heads[0])
	}
	if e, gone, err := f.store.FeedSince(ctx, f.other.ID, onramp.UserFeed(f.rep.ID), 0, 0); err != nil || gone || len(e) != 0 {
		t.Fatalf("another org reads the feed: %d entries, gone=%v, %v", len(e), gone, err)
	}
	if _, gone, _ := f.store.FeedSince(ctx, f.other.ID, onramp.UserFeed(f.rep.ID), 5, 0); !gone {
		t.Fatal("another org's cursor into this feed is not told to refetch")
	}
}

// A cursor behind what is kept, or ahead of the feed, is gone: the
// reader must refetch.
func TestFeedPrunedIsGone(t *testing.T) {
	f := mustRealtime(t)
	ctx := context.Background()
	for i := range 3 {
		if _, err := f.store.IngestVisitorEvents(ctx, f.org.ID, []onramp.VisitorEvent{{ID: fmt.Sprint(i), Type: onramp.VisitVIP, VisitorID: "v", OwnerRep: f.rep.ID}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	feed := onramp.UserFeed(f.rep.ID)
	if _, gone, _ := f.store.FeedSince(ctx, f.org.ID, feed, 4, 0); !gone {
		t.Error("a cursor ahead of the feed is not gone")
	}
	if n, err := f.store.PruneFeeds(ctx, time.Now().Add(time.Minute)); err != nil || n != 3 {
		t.Fatalf("pruned %d, %v", n, err)
	}
	if _, gone, _ := f.store.FeedSince(ctx, f.org.ID, feed, 1, 0); !gone {
		t.Error("a cursor behind what is kept is not gone")
	}
	if e, gone, err := f.store.FeedSince(ctx, f.org.ID, feed, 3, 0); gone || err != nil || len(e) != 0 {
		t.Errorf("an up-to-date cursor after pruning: %v %v %v", e, gone, err)
	}
	// The heads stay: the next entry is 4.
	res, err := f.store.IngestVisitorEvents(ctx, f.org.ID, []onramp.VisitorEvent{{ID: "x", Type: onramp.VisitVIP, VisitorID: "v", OwnerRep: f.rep.ID}}, nil)
	if err != nil || len(res.Events) != 1 || res.Events[0].Seq != 4 {
		t.Fatalf("after pruning: %+v %v", res, err)
	}
}

// Pruning removes a prefix of each feed, never a hole, even when entries'
// times are out of order (a slow clock, a long transaction): what is kept
// stays contiguous, and a reader behind it is told to refetch.
func TestFeedPruneKeepsNoHole(t *testing.T) {
	f := mustRealtime(t)
	ctx := context.Background()
	for i := range 3 {
		if _, err := f.store.IngestVisitorEvents(ctx, f.org.ID, []onramp.VisitorEvent{{ID: fmt.Sprint(i), Type: onramp.VisitVIP, VisitorID: "v", OwnerRep: f.rep.ID}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	feed := onramp.UserFeed(f.rep.ID)
	// Entry 2 is old, 1 and 3 are new.
	if _, err := f.db.Pool().Exec(ctx, `UPDATE feed_entries SET at = now() - interval '8 days' WHERE feed = $1 AND seq = 2`, feed); err != nil {
		t.Fatal(err)
	}
	if n, err := f.store.PruneFeeds(ctx, time.Now().Add(-7*24*time.Hour)); err != nil || n != 2 {
		t.Fatalf("pruned %d, %v; want 2 (the prefix up to the old entry)", n, err)
	}
	if _, gone, _ := f.store.FeedSince(ctx, f.org.ID, feed, 0, 0); !gone {
		t.Error("a reader at 0 is not told to refetch")
	}
	if e, gone, err := f.store.FeedSince(ctx, f.org.ID, feed, 2, 0); gone || err != nil || len(e) != 1 || e[0].Seq != 3 {
		t.Errorf("a reader at 2: %+v gone=%v %v", e, gone, err)
	}
}

// FeedRecent gives what is kept of the newest entries, however much of the
// window was pruned.
func TestFeedRecent(t *testing.T) {
	f := mustRealtime(t)
	ctx := context.Background()
	var batch []onramp.VisitorEvent
	for i := range 60 {
		batch = append(batch, onramp.VisitorEvent{ID: fmt.Sprint(i), Type: onramp.VisitVIP, VisitorID: "v", OwnerRep: f.rep.ID})
	}
	if _, err := f.store.IngestVisitorEvents(ctx, f.org.ID, batch, nil); err != nil {
		t.Fatal(err)
	}
	feed := onramp.UserFeed(f.rep.ID)
	if _, err := f.db.Pool().Exec(ctx, `UPDATE feed_entries SET at = now() - interval '8 days' WHERE feed = $1 AND seq <= 20`, feed); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.PruneFeeds(ctx, time.Now().Add(-7*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	recent, err := f.store.FeedRecent(ctx, f.org.ID, feed, 50)
	if err != nil || len(recent) != 40 || recent[0].Seq != 21 || recent[39].Seq != 60 {
		t.Fatalf("recent: %d entries (%v)", len(recent), err)
	}
	if other, _ := f.store.FeedRecent(ctx, f.other.ID, feed, 50); len(other) != 0 {
		t.Errorf("another org reads %d entries", len(other))
	}
}

func TestIngestVisitorEvents(t *testing.T) {
	f := mustRealtime(t)
	ctx := context.Background()
	batch := []onramp.VisitorEvent{
		{ID: "a", Type: onramp.VisitVIP, VisitorID: "v1", OwnerRep: "REP@example.com"},
		{ID: "b", Type: onramp.VisitVisit, VisitorID: "v1", OwnerRep: f.rep.ID},
		{ID: "a", Type: onramp.VisitVIP, VisitorID: "v1", OwnerRep: f.rep.Email}, // twice in one batch
		{ID: "w", Type: onramp.VisitWaitingForRep, VisitorID: "v2"},
	}
	res, err := f.store.IngestVisitorEvents(ctx, f.org.ID, batch, []string{f.rep2.ID, f.otherRep.ID, "not-a-uuid"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted != 3 || res.Duplicates != 1 || res.Notified != 2 {
		t.Fatalf("result %+v, want 3 accepted, 1 duplicate, 2 notified (vip to owner, waiting to rep2)", res)
	}
	got := map[string]string{}
	for _, e := range res.Events {
		var n onramp.Notification
		if err := json.Unmarshal(e.Data, &n); err != nil {
			t.Fatal(err)
		}
		got[e.Feed] = n.Kind
	}
	if got[onramp.UserFeed(f.rep.ID)] != "vip" || got[onramp.UserFeed(f.rep2.ID)] != "waiting_for_rep" || len(got) != 2 {
		t.Fatalf("notifications %v (another org's online rep must not get one)", got)
	}

	// Sent again: all duplicates, nothing routed.
	res, err = f.store.IngestVisitorEvents(ctx, f.org.ID, batch[:2], nil)
	if err != nil || res.Accepted != 0 || res.Duplicates != 2 || len(res.Events) != 0 {
		t.Fatalf("again: %+v %v", res, err)
	}
	// The same ID in another org is another event.
	res, err = f.store.IngestVisitorEvents(ctx, f.other.ID, []onramp.VisitorEvent{{ID: "a", Type: onramp.VisitVIP, VisitorID: "v", OwnerRep: f.otherRep.Email}}, nil)
	if err != nil || res.Accepted != 1 {
		t.Fatalf("same id, other org: %+v %v", res, err)
	}

	// An owner of another org (or no one): EINVALID naming the event, and
	// nothing of the batch is recorded.
	bad := []onramp.VisitorEvent{
		{ID: "c", Type: onramp.VisitVIP, VisitorID: "v", OwnerRep: f.rep.Email},
		{ID: "d", Type: onramp.VisitVIP, VisitorID: "v", OwnerRep: f.otherRep.Email},
	}
	_, err = f.store.IngestVisitorEvents(ctx, f.org.ID, bad, nil)
	if onramp.ErrorCode(err) != onramp.EINVALID || onramp.ErrorFields(err)["events[1].owner_rep"] == "" {
		t.Fatalf("owner of another org: %v", err)
	}
	if res, err := f.store.IngestVisitorEvents(ctx, f.org.ID, bad[:1], nil); err != nil || res.Accepted != 1 {
		t.Fatalf("event c was recorded by the refused batch: %+v %v", res, err)
	}

	// Preferences decide: with VIP off, a VIP event notifies nobody;
	// mobile goes to a registered device.
	prefs := onramp.DefaultNotificationPrefs(onramp.BuiltinStreams())
	prefs.Streams[onramp.StreamVIP] = onramp.StreamPref{}
	prefs.Streams[onramp.StreamHighIntent] = onramp.StreamPref{Mobile: true}
	if _, err := f.db.Pool().Exec(ctx, `INSERT INTO rep_settings (user_id, org_id, step, data, updated_at) VALUES ($1, $2, 'notifications', $3, now())`,
		f.rep.ID, f.org.ID, mustJSON(t, prefs)); err != nil {
		t.Fatal(err)
	}
	res, err = f.store.IngestVisitorEvents(ctx, f.org.ID, []onramp.VisitorEvent{{ID: "vip-off", Type: onramp.VisitVIP, VisitorID: "v", OwnerRep: f.rep.Email}}, nil)
	if err != nil || res.Notified != 0 {
		t.Fatalf("VIP off: %+v %v", res, err)
	}
	res, err = f.store.IngestVisitorEvents(ctx, f.org.ID, []onramp.VisitorEvent{{ID: "hi-1", Type: onramp.VisitHighIntent, VisitorID: "v", OwnerRep: f.rep.Email}}, nil)
	if err != nil || res.Notified != 0 || len(res.Pushes) != 0 {
		t.Fatalf("mobile only, no device: %+v %v", res, err)
	}
	dev, err := f.store.RegisterPushDevice(ctx, f.org.ID, f.rep.ID, "ios", "apns-token-1")
	if err != nil {
		t.Fatal(err)
	}
	res, err = f.store.IngestVisitorEvents(ctx, f.org.ID, []onramp.VisitorEvent{{ID: "hi-2", Type: onramp.VisitHighIntent, VisitorID: "v", OwnerRep: f.rep.Email}}, nil)
	if err != nil || res.Notified != 1 || len(res.Pushes) != 1 || res.Pushes[0].DeviceID != dev || res.Pushes[0].Token != "apns-token-1" || !res.Pushes[0].Note.Mobile || res.Pushes[0].Note.Desktop {
		t.Fatalf("mobile only, with a device: %+v %v", res, err)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAPIKeys(t *testing.T) {
	f := mustRealtime(t)
	ctx := context.Background()
	k, secret, err := f.store.CreateAPIKey(ctx, f.org.ID, f.admin.ID, " Website ")
	if err != nil || k.Name != "Website" || len(secret) < 40 || k.Hint != secret[len(secret)-4:] {
		t.Fatalf("create: %+v %q %v", k, secret, err)
	}
	found, err := f.store.FindAPIKey(ctx, secret)
	if err != nil || found.ID != k.ID || found.OrgID != f.org.ID {
		t.Fatalf("find: %+v %v", found, err)
	}
	for _, bad := range []string{"", secret + "x", "onr_nope", "Bearer " + secret} {
		if _, err := f.store.FindAPIKey(ctx, bad); onramp.ErrorCode(err) != onramp.EUNAUTHORIZED {
			t.Errorf("FindAPIKey(%q): %v", bad, err)
		}
	}
	if _, _, err := f.store.CreateAPIKey(ctx, f.org.ID, f.admin.ID, "  "); onramp.ErrorCode(err) != onramp.EINVALID {
		t.Errorf("empty name: %v", err)
	}
	// Another org can neither list nor revoke it.
	if keys, _ := f.store.APIKeys(ctx, f.other.ID); len(keys) != 0 {
		t.Errorf("another org lists %v", keys)
	}
	if err := f.store.RevokeAPIKey(ctx, f.other.ID, "", k.ID); onramp.ErrorCode(err) != onramp.ENOTFOUND {
		t.Errorf("revoke from another org: %v", err)
	}
	if err := f.store.RevokeAPIKey(ctx, f.org.ID, f.admin.ID, k.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.store.RevokeAPIKey(ctx, f.org.ID, f.admin.ID, k.ID); onramp.ErrorCode(err) != onramp.ECONFLICT {
		t.Errorf("revoked twice: %v", err)
	}
	if _, err := f.store.FindAPIKey(ctx, secret); onramp.ErrorCode(err) != onramp.EUNAUTHORIZED {
		t.Errorf("revoked key still works: %v", err)
	}
	keys, err := f.store.APIKeys(ctx, f.org.ID)
	if err != nil || len(keys) != 1 || keys[0].RevokedAt == nil {
		t.Fatalf("list: %+v %v", keys, err)
	}
	var audited int
	if err := f.db.Pool().QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE org_id = $1 AND action LIKE 'api_key.%' AND actor_id = $2`, f.org.ID, f.admin.ID).Scan(&audited); err != nil || audited != 2 {
		t.Errorf("audited %d, %v", audited, err)
	}
}

// Two reps accept the same waiting visitor at the same moment: exactly one
// wins, the other gets ECONFLICT.
func TestAcceptConversationOnce(t *testing.T) {
	f := mustRealtime(t)
	ctx := context.Background()
	for round := range 20 {
		c, token, d, err := f.store.StartConversation(ctx, f.org.ID, onramp.NewConversation{Name: "Ada", Message: "Hello?"}, []string{f.rep.ID, f.rep2.ID})
		if err != nil {
			t.Fatal(err)
		}
		if round == 0 && (len(d.Events) != 3 || token == "") { // the message, and the notification of each online rep
			t.Fatalf("start: %d events, token %q", len(d.Events), token)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		won, lost := 0, 0
		start := make(chan struct{})
		for _, r := range []*onramp.User{f.rep, f.rep2} {
			wg.Go(func() {
				<-start
				_, _, err := f.store.AcceptConversation(ctx, f.org.ID, c.ID, r.ID)
				mu.Lock()
				defer mu.Unlock()
				switch onramp.ErrorCode(err) {
				case "":
					won++
				case onramp.ECONFLICT:
					lost++
				default:
					t.Error(err)
				}
			})
		}
		close(start)
		wg.Wait()
		if won != 1 || lost != 1 {
			t.Fatalf("round %d: %d won, %d lost", round, won, lost)
		}
	}
}

func TestConversation(t *testing.T) {
	f := mustRealtime(t)
	ctx := context.Background()
	c, _, _, err := f.store.StartConversation(ctx, f.org.ID, onramp.NewConversation{VisitorID: "v9", Name: "Ada"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := f.store.StartConversation(ctx, "00000000-0000-0000-0000-000000000000", onramp.NewConversation{}, nil); onramp.ErrorCode(err) != onramp.ENOTFOUND {
		t.Errorf("unknown org: %v", err)
	}
	// The token opens this conversation only.
	c2, token2, _, _ := f.store.StartConversation(ctx, f.org.ID, onramp.NewConversation{}, nil)
	if _, err := f.store.ConversationByToken(ctx, c.ID, token2); onramp.ErrorCode(err) != onramp.ENOTFOUND {
		t.Errorf("another conversation's token: %v", err)
	}
	if got, err := f.store.ConversationByToken(ctx, c2.ID, token2); err != nil || got.ID != c2.ID {
		t.Errorf("own token: %v", err)
	}
	// A rep writes only once they accepted; another org's rep cannot accept.
	if _, _, err := f.store.PostMessage(ctx, f.org.ID, c.ID, onramp.SenderRep, f.rep.ID, "hi"); onramp.ErrorCode(err) != onramp.ECONFLICT {
		t.Errorf("rep writes before accepting: %v", err)
	}
	if _, _, err := f.store.AcceptConversation(ctx, f.other.ID, c.ID, f.otherRep.ID); onramp.ErrorCode(err) != onramp.ENOTFOUND {
		t.Errorf("another org accepts: %v", err)
	}
	if _, _, err := f.store.AcceptConversation(ctx, f.org.ID, c.ID, f.otherRep.ID); onramp.ErrorCode(err) != onramp.ENOTFOUND {
		t.Errorf("another org's rep accepts: %v", err)
	}
	if _, _, err := f.store.AcceptConversation(ctx, f.org.ID, c.ID, f.rep.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.store.PostMessage(ctx, f.org.ID, c.ID, onramp.SenderRep, f.rep2.ID, "mine?"); onramp.ErrorCode(err) != onramp.EFORBIDDEN {
		t.Errorf("the other rep writes: %v", err)
	}
	if _, ev, err := f.store.PostMessage(ctx, f.org.ID, c.ID, onramp.SenderVisitor, "", "Pricing?"); err != nil || len(ev) != 2 {
		t.Fatalf("visitor writes: %d events %v", len(ev), err)
	}
	if _, _, err := f.store.PostMessage(ctx, f.org.ID, c.ID, onramp.SenderRep, f.rep.ID, "Sure!\nHere."); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.store.PostMessage(ctx, f.org.ID, c.ID, onramp.SenderRep, f.rep.ID, " \x00 "); onramp.ErrorCode(err) != onramp.EINVALID {
		t.Errorf("control characters: %v", err)
	}
	msgs, err := f.store.Messages(ctx, f.org.ID, c.ID)
	if err != nil || len(msgs) != 2 || msgs[0].Sender != "visitor" || msgs[1].Text != "Sure!\nHere." {
		t.Fatalf("messages %+v %v", msgs, err)
	}
	if other, _ := f.store.Messages(ctx, f.other.ID, c.ID); len(other) != 0 {
		t.Errorf("another org reads %d messages", len(other))
	}
	// The visitor's feed has the acceptance and both messages, in order.
	entries := f.feed(t, f.org.ID, onramp.ConversationFeed(c.ID), 0)
	var types []string
	for _, e := range entries {
		types = append(types, e.Type)
	}
	if fmt.Sprint(types) != "[chat.state chat.message chat.message]" {
		t.Errorf("conversation feed %v", types)
	}
	if _, _, err := f.store.EndConversation(ctx, f.org.ID, c.ID, onramp.SenderVisitor, ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.store.PostMessage(ctx, f.org.ID, c.ID, onramp.SenderVisitor, "", "still there?"); onramp.ErrorCode(err) != onramp.ECONFLICT {
		t.Errorf("write after end: %v", err)
	}
}

// A conversation nobody accepts is escalated to the org's admins, once.
func TestEscalateWaiting(t *testing.T) {
	f := mustRealtime(t)
	ctx := context.Background()
	c, _, _, err := f.store.StartConversation(ctx, f.org.ID, onramp.NewConversation{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	accepted, _, _, _ := f.store.StartConversation(ctx, f.org.ID, onramp.NewConversation{}, nil)
	if _, _, err := f.store.AcceptConversation(ctx, f.org.ID, accepted.ID, f.rep.ID); err != nil {
		t.Fatal(err)
	}
	if ev, err := f.store.EscalateWaiting(ctx, time.Now().Add(-time.Hour)); err != nil || len(ev) != 0 {
		t.Fatalf("too early: %v %v", ev, err)
	}
	ev, err := f.store.EscalateWaiting(ctx, time.Now().Add(time.Second))
	if err != nil || len(ev) != 1 || ev[0].Feed != onramp.UserFeed(f.admin.ID) {
		t.Fatalf("escalated: %+v %v", ev, err)
	}
	var n onramp.Notification
	if err := json.Unmarshal(ev[0].Data, &n); err != nil || n.ConversationID != c.ID {
		t.Fatalf("notification %+v %v", n, err)
	}
	if ev, err := f.store.EscalateWaiting(ctx, time.Now().Add(time.Second)); err != nil || len(ev) != 0 {
		t.Fatalf("escalated twice: %v %v", ev, err)
	}
}
