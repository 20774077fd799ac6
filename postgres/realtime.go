package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/onramp/onramp"
)

// The real-time side of the store: API keys, visitor events and their
// notifications, chat, push devices (docs/REALTIME.md). Every write that
// someone is shown live appends to feeds in its own transaction and
// returns the events, for the caller to publish after the commit.

// pending is one feed entry to append.
type pending struct {
	feed, typ, repID string
	data             any
}

// appendAll appends entries in feed-name order (stable, so one feed's
// entries keep their order): transactions that lock the same feeds' heads
// always take them in the same order, and cannot deadlock.
func appendAll(ctx context.Context, tx pgx.Tx, orgID string, at time.Time, entries []pending) ([]onramp.Event, error) {
	slices.SortStableFunc(entries, func(a, b pending) int { return strings.Compare(a.feed, b.feed) })
	out := make([]onramp.Event, 0, len(entries))
	for _, p := range entries {
		e, err := appendTx(ctx, tx, p.feed, orgID, p.typ, p.repID, p.data, at)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// inTx runs fn in a transaction, bounded by the store's timeout.
func (s *Store) inTx(ctx context.Context, op, notFound string, fn func(ctx context.Context, tx pgx.Tx) error) error {
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	return wrap(op, pgx.BeginFunc(ctx, s.db.pool, func(tx pgx.Tx) error { return fn(ctx, tx) }), notFound)
}

// auditTx records an admin action in the action's transaction.
func auditTx(ctx context.Context, tx pgx.Tx, orgID, actorID, action, target string, detail map[string]any) error {
	raw, err := json.Marshal(detail)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO audit_log (org_id, actor_id, action, target, detail) VALUES ($1, $2, $3, $4, $5)`,
		orgID, nullUUID(actorID), action, target, raw)
	return err
}

// API keys.

// apiKeyPrefix starts every key, so that a leaked one is recognised.
const apiKeyPrefix = "onr_"

// CreateAPIKey creates a key named name for org orgID, audited as actorID's
// action, and returns it with its secret (shown once: only its SHA-256 is
// kept). Returns EINVALID for a bad name.
func (s *Store) CreateAPIKey(ctx context.Context, orgID, actorID, name string) (*onramp.APIKey, string, error) {
	const op = "postgres.CreateAPIKey"
	name, msg := onramp.CleanText("Name", name, onramp.MaxAPIKeyNameLen, true)
	if msg != "" {
		return nil, "", &onramp.Error{Code: onramp.EINVALID, Message: msg, Fields: map[string]string{"name": msg}, Op: op}
	}
	if !validUUID(orgID) {
		return nil, "", notFoundf(op, "Org not found.")
	}
	tok, err := newToken()
	if err != nil {
		return nil, "", wrap(op, err, "")
	}
	secret := apiKeyPrefix + tok
	k := &onramp.APIKey{OrgID: orgID, Name: name, Hint: secret[len(secret)-4:]}
	err = s.inTx(ctx, op, "Org not found.", func(ctx context.Context, tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `
			INSERT INTO api_keys (org_id, name, key_hash, hint, created_by) VALUES ($1, $2, $3, $4, $5)
			RETURNING id, created_at`, orgID, name, hashToken(secret), k.Hint, nullUUID(actorID)).Scan(&k.ID, &k.CreatedAt); err != nil {
			return err
		}
		return auditTx(ctx, tx, orgID, actorID, "api_key.create", k.ID, map[string]any{"name": name})
	})
	if err != nil {
		return nil, "", err
	}
	return k, secret, nil
}

// APIKeys lists the org's keys, newest first, revoked ones included.
func (s *Store) APIKeys(ctx context.Context, orgID string) ([]onramp.APIKey, error) {
	const op = "postgres.APIKeys"
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	keys := []onramp.APIKey{}
	if !validUUID(orgID) {
		return keys, nil
	}
	rows, _ := s.db.pool.Query(ctx, `
		SELECT id, org_id, name, hint, created_at, last_used_at, revoked_at FROM api_keys
		WHERE org_id = $1 ORDER BY created_at DESC, id`, orgID)
	var k onramp.APIKey
	_, err := pgx.ForEachRow(rows, []any{&k.ID, &k.OrgID, &k.Name, &k.Hint, &k.CreatedAt, &k.LastUsedAt, &k.RevokedAt}, func() error {
		keys = append(keys, k)
		return nil
	})
	return keys, wrap(op, err, "")
}

// RevokeAPIKey revokes key id of org orgID, audited as actorID's action.
// Returns ENOTFOUND for a key of another org or none, ECONFLICT if it was
// revoked already.
func (s *Store) RevokeAPIKey(ctx context.Context, orgID, actorID, id string) error {
	const op = "postgres.RevokeAPIKey"
	if !validUUID(orgID) || !validUUID(id) {
		return notFoundf(op, "API key not found.")
	}
	return s.inTx(ctx, op, "API key not found.", func(ctx context.Context, tx pgx.Tx) error {
		var revoked bool
		err := tx.QueryRow(ctx, `
			UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 AND org_id = $2
			RETURNING revoked_at < now()`, id, orgID).Scan(&revoked)
		if err != nil {
			return err
		}
		if revoked {
			return onramp.Errorf(onramp.ECONFLICT, "This API key was revoked already.")
		}
		return auditTx(ctx, tx, orgID, actorID, "api_key.revoke", id, nil)
	})
}

// FindAPIKey returns the live key whose secret is secret. Returns
// EUNAUTHORIZED for an unknown or revoked key.
func (s *Store) FindAPIKey(ctx context.Context, secret string) (*onramp.APIKey, error) {
	const op = "postgres.FindAPIKey"
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	unauthorized := &onramp.Error{Code: onramp.EUNAUTHORIZED, Message: "Invalid or revoked API key.", Op: op}
	if !strings.HasPrefix(secret, apiKeyPrefix) || len(secret) > 128 {
		return nil, unauthorized
	}
	var k onramp.APIKey
	err := s.db.pool.QueryRow(ctx, `
		SELECT id, org_id, name, hint, created_at, last_used_at FROM api_keys
		WHERE key_hash = $1 AND revoked_at IS NULL`, hashToken(secret)).
		Scan(&k.ID, &k.OrgID, &k.Name, &k.Hint, &k.CreatedAt, &k.LastUsedAt)
	if err == pgx.ErrNoRows {
		return nil, unauthorized
	} else if err != nil {
		return nil, wrap(op, err, "")
	}
	// Last use, to the minute: not a write per request.
	if k.LastUsedAt == nil || time.Since(*k.LastUsedAt) > time.Minute {
		_, _ = s.db.pool.Exec(ctx, `UPDATE api_keys SET last_used_at = now() WHERE id = $1`, k.ID)
	}
	return &k, nil
}

// Visitor events.

// IngestVisitorEvents records a batch of visitor events for org orgID and
// writes the notifications they route to (onramp.Route), all in one
// transaction. online are the reps with an open console (presence), for
// waiting_for_rep; only those ready count. An event whose ID the org sent
// before is a duplicate: counted, not routed again. Every event must be
// valid (onramp.VisitorEvent.Validate, done by the caller) and name an
// owner who is a rep of the org: otherwise EINVALID naming
// events[i].owner_rep, and nothing is recorded.
func (s *Store) IngestVisitorEvents(ctx context.Context, orgID string, events []onramp.VisitorEvent, online []string) (*onramp.IngestResult, error) {
	const op = "postgres.IngestVisitorEvents"
	if !validUUID(orgID) {
		return nil, notFoundf(op, "Org not found.")
	}
	res := &onramp.IngestResult{}
	err := s.inTx(ctx, op, "Org not found.", func(ctx context.Context, tx pgx.Tx) error {
		owners, err := resolveOwners(ctx, tx, orgID, events)
		if err != nil {
			return err
		}
		// Record; what the org sent before (or twice in this batch) is a
		// duplicate.
		ids := make([]string, 0, len(events))
		types := make([]string, 0, len(events))
		visitors := make([]string, 0, len(events))
		for _, e := range events {
			ids, types, visitors = append(ids, e.ID), append(types, string(e.Type)), append(visitors, e.VisitorID)
		}
		rows, _ := tx.Query(ctx, `
			INSERT INTO visitor_events (org_id, event_id, type, visitor_id)
			SELECT $1, e.id, e.type, e.visitor FROM unnest($2::text[], $3::text[], $4::text[]) AS e(id, type, visitor)
			ON CONFLICT (org_id, event_id) DO NOTHING
			RETURNING event_id`, orgID, ids, types, visitors)
		fresh, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		isNew := make(map[string]bool, len(fresh))
		for _, id := range fresh {
			isNew[id] = true
		}
		var routed []onramp.VisitorEvent
		for _, e := range events {
			if isNew[e.ID] {
				routed = append(routed, e)
				delete(isNew, e.ID) // a second copy in the batch is a duplicate
				continue
			}
			res.Duplicates++
		}
		res.Accepted = len(routed)
		if len(routed) == 0 {
			return nil
		}
		r, err := loadRouting(ctx, tx, orgID, owners, online)
		if err != nil {
			return err
		}
		var entries []pending
		for i := range routed {
			e := &routed[i]
			var owner *onramp.Recipient
			if id := owners[ownerKey(e.OwnerRep)]; id != "" {
				owner = r.recipients[id]
			}
			for _, n := range onramp.Route(e, r.streams, owner, r.online) {
				entries = append(entries, pending{feed: onramp.UserFeed(n.RepID), typ: onramp.EventNotification, repID: n.RepID, data: n})
				res.Pushes = append(res.Pushes, r.pushes(n)...)
			}
		}
		res.Notified = len(entries)
		res.Events, err = appendAll(ctx, tx, orgID, time.Now(), entries)
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// ownerKey is how an owner reference is looked up: an ID as is, an email
// lowercased.
func ownerKey(ref string) string { return strings.ToLower(ref) }

// resolveOwners maps each event's owner reference (email or ID) to the
// rep's ID. A reference that is not an active rep of the org is EINVALID.
func resolveOwners(ctx context.Context, tx pgx.Tx, orgID string, events []onramp.VisitorEvent) (map[string]string, error) {
	var refs []string
	for _, e := range events {
		if e.OwnerRep != "" {
			refs = append(refs, ownerKey(e.OwnerRep))
		}
	}
	owners := map[string]string{}
	if len(refs) == 0 {
		return owners, nil
	}
	rows, _ := tx.Query(ctx, `
		SELECT id::text, email FROM users
		WHERE org_id = $1 AND role = 'rep' AND status <> 'disabled' AND (email = ANY($2) OR id::text = ANY($2))`, orgID, refs)
	var id, email string
	if _, err := pgx.ForEachRow(rows, []any{&id, &email}, func() error {
		owners[id], owners[email] = id, id
		return nil
	}); err != nil {
		return nil, err
	}
	f := map[string]string{}
	for i, e := range events {
		if e.OwnerRep != "" && owners[ownerKey(e.OwnerRep)] == "" {
			f[fmt.Sprintf("events[%d].owner_rep", i)] = "No active rep of this org has this email or ID."
		}
	}
	return owners, onramp.FieldErrors(f)
}

// routing is what Route needs, loaded in the transaction.
type routing struct {
	streams    []onramp.Stream
	recipients map[string]*onramp.Recipient // by rep ID: owners and online reps
	online     []onramp.Recipient
	devices    map[string][]onramp.Push // by rep ID
}

// pushes are n's mobile pushes, one per registered device of its rep.
func (r *routing) pushes(n onramp.Notification) []onramp.Push {
	if !n.Mobile {
		return nil
	}
	var out []onramp.Push
	for _, d := range r.devices[n.RepID] {
		d.Note = n
		out = append(out, d)
	}
	return out
}

// loadRouting loads the org's streams, and the preferences and devices of
// the owners and of the online reps who are ready.
func loadRouting(ctx context.Context, tx pgx.Tx, orgID string, owners map[string]string, online []string) (*routing, error) {
	r := &routing{recipients: map[string]*onramp.Recipient{}, devices: map[string][]onramp.Push{}}
	var err error
	if r.streams, err = streamsOf(ctx, tx, orgID); err != nil {
		return nil, err
	}
	var onlineIDs []string
	for _, id := range online {
		if validUUID(id) {
			onlineIDs = append(onlineIDs, strings.ToLower(id))
		}
	}
	ready := map[string]bool{}
	if len(onlineIDs) > 0 {
		rows, _ := tx.Query(ctx, `SELECT id::text FROM users WHERE org_id = $1 AND id = ANY($2::uuid[]) AND role = 'rep' AND status = 'ready' ORDER BY id`, orgID, onlineIDs)
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			ready[id] = true
		}
	}
	var ids []string
	for _, id := range owners {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	for id := range ready {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	defaults := onramp.DefaultNotificationPrefs(r.streams)
	for _, id := range ids {
		r.recipients[id] = &onramp.Recipient{RepID: id, Prefs: defaults}
	}
	if len(ids) > 0 {
		rows, _ := tx.Query(ctx, `SELECT user_id::text, data FROM rep_settings WHERE org_id = $1 AND step = $2 AND user_id = ANY($3::uuid[])`,
			orgID, onramp.StepNotifications, ids)
		var id string
		var data []byte
		if _, err := pgx.ForEachRow(rows, []any{&id, &data}, func() error {
			var p onramp.NotificationPrefs
			if json.Unmarshal(data, &p) == nil {
				p.FillDefaults(onramp.SettingsDefaults{Streams: r.streams})
				r.recipients[id].Prefs = p
			}
			return nil
		}); err != nil {
			return nil, err
		}
		rows, _ = tx.Query(ctx, `SELECT id::text, user_id::text, platform, token FROM push_devices
			WHERE org_id = $1 AND user_id = ANY($2::uuid[]) AND revoked_at IS NULL ORDER BY created_at`, orgID, ids)
		var d onramp.Push
		if _, err := pgx.ForEachRow(rows, []any{&d.DeviceID, &id, &d.Platform, &d.Token}, func() error {
			r.devices[id] = append(r.devices[id], d)
			r.recipients[id].MobileDevices++
			return nil
		}); err != nil {
			return nil, err
		}
	}
	for _, id := range ids {
		if ready[id] {
			r.online = append(r.online, *r.recipients[id])
		}
	}
	return r, nil
}

// RegisterPushDevice registers a mobile device of user userID for push and
// returns its ID.
func (s *Store) RegisterPushDevice(ctx context.Context, orgID, userID, platform, token string) (string, error) {
	const op = "postgres.RegisterPushDevice"
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	if !validUUID(orgID) || !validUUID(userID) {
		return "", notFoundf(op, "User not found.")
	}
	var id string
	err := s.db.pool.QueryRow(ctx, `INSERT INTO push_devices (org_id, user_id, platform, token) VALUES ($1, $2, $3, $4) RETURNING id`,
		orgID, userID, platform, token).Scan(&id)
	return id, wrap(op, err, "User not found.")
}

// Chat.

const qConversation = `
	SELECT c.id, c.org_id, c.visitor_id, c.visitor_name, c.state, coalesce(c.rep_id::text, ''), coalesce(u.name, ''),
	       c.created_at, c.accepted_at, c.ended_at
	FROM conversations c LEFT JOIN users u ON u.id = c.rep_id`

func scanConversation(row pgx.Row) (*onramp.Conversation, error) {
	var c onramp.Conversation
	err := row.Scan(&c.ID, &c.OrgID, &c.VisitorID, &c.VisitorName, &c.State, &c.RepID, &c.RepName, &c.CreatedAt, &c.AcceptedAt, &c.EndedAt)
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// StartConversation opens a conversation for a visitor of org orgID, with
// its first message if any, and tells the online ready reps (a
// waiting_for_rep notification). Returns the conversation, the visitor's
// token (shown once), and what to deliver: the events to publish and the
// mobile pushes. ENOTFOUND for an unknown org.
func (s *Store) StartConversation(ctx context.Context, orgID string, nc onramp.NewConversation, online []string) (*onramp.Conversation, string, *onramp.Delivery, error) {
	const op = "postgres.StartConversation"
	if !validUUID(orgID) {
		return nil, "", nil, notFoundf(op, "Chat not found.")
	}
	if err := nc.Validate(); err != nil {
		return nil, "", nil, wrap(op, err, "")
	}
	token, err := newToken()
	if err != nil {
		return nil, "", nil, wrap(op, err, "")
	}
	var c *onramp.Conversation
	d := &onramp.Delivery{}
	err = s.inTx(ctx, op, "Chat not found.", func(ctx context.Context, tx pgx.Tx) error {
		var id string
		if err := tx.QueryRow(ctx, `
			INSERT INTO conversations (org_id, visitor_id, visitor_name, token_hash)
			VALUES ($1, CASE WHEN $2 = '' THEN 'visitor-' || substr(md5(random()::text), 1, 10) ELSE $2 END, $3, $4)
			RETURNING id`, orgID, nc.VisitorID, nc.Name, hashToken(token)).Scan(&id); err != nil {
			return err
		}
		var err error
		if c, err = scanConversation(tx.QueryRow(ctx, qConversation+` WHERE c.id = $1`, id)); err != nil {
			return err
		}
		now := time.Now()
		var entries []pending
		if nc.Message != "" {
			m, err := insertMessage(ctx, tx, c, onramp.SenderVisitor, "", nc.Message)
			if err != nil {
				return err
			}
			entries = append(entries, pending{feed: onramp.ConversationFeed(c.ID), typ: onramp.EventChatMessage, data: m})
		}
		r, err := loadRouting(ctx, tx, orgID, nil, online)
		if err != nil {
			return err
		}
		e := onramp.VisitorEvent{ID: "chat-" + c.ID, Type: onramp.VisitWaitingForRep, VisitorID: c.VisitorID, Name: c.VisitorName, Message: nc.Message}
		for _, n := range onramp.Route(&e, r.streams, nil, r.online) {
			n.ConversationID = c.ID
			entries = append(entries, pending{feed: onramp.UserFeed(n.RepID), typ: onramp.EventNotification, repID: n.RepID, data: n})
			d.Pushes = append(d.Pushes, r.pushes(n)...)
		}
		d.Events, err = appendAll(ctx, tx, orgID, now, entries)
		return err
	})
	if err != nil {
		return nil, "", nil, err
	}
	return c, token, d, nil
}

// insertMessage stores one message of c.
func insertMessage(ctx context.Context, tx pgx.Tx, c *onramp.Conversation, sender, repID, text string) (*onramp.ChatMessage, error) {
	m := &onramp.ChatMessage{ConversationID: c.ID, Sender: sender, RepID: repID, Text: text}
	err := tx.QueryRow(ctx, `INSERT INTO chat_messages (conversation_id, sender, rep_id, text) VALUES ($1, $2, $3, $4) RETURNING id, at`,
		c.ID, sender, nullUUID(repID), text).Scan(&m.ID, &m.At)
	return m, err
}

// ConversationByToken returns conversation id if token is its visitor's.
// Returns ENOTFOUND otherwise (a token of another conversation included).
func (s *Store) ConversationByToken(ctx context.Context, id, token string) (*onramp.Conversation, error) {
	const op = "postgres.ConversationByToken"
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	if !validUUID(id) || token == "" || len(token) > 128 {
		return nil, notFoundf(op, "Chat not found.")
	}
	c, err := scanConversation(s.db.pool.QueryRow(ctx, qConversation+` WHERE c.id = $1 AND c.token_hash = $2`, id, hashToken(token)))
	return c, wrap(op, err, "Chat not found.")
}

// Conversation returns conversation id of org orgID.
func (s *Store) Conversation(ctx context.Context, orgID, id string) (*onramp.Conversation, error) {
	const op = "postgres.Conversation"
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	if !validUUID(orgID) || !validUUID(id) {
		return nil, notFoundf(op, "Chat not found.")
	}
	c, err := scanConversation(s.db.pool.QueryRow(ctx, qConversation+` WHERE c.id = $1 AND c.org_id = $2`, id, orgID))
	return c, wrap(op, err, "Chat not found.")
}

// MaxMessagesPage bounds how many messages Messages returns.
const MaxMessagesPage = 500

// Messages returns the last messages of conversation id of org orgID,
// oldest first.
func (s *Store) Messages(ctx context.Context, orgID, id string) ([]onramp.ChatMessage, error) {
	const op = "postgres.Messages"
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	msgs := []onramp.ChatMessage{}
	if !validUUID(orgID) || !validUUID(id) {
		return msgs, nil
	}
	rows, _ := s.db.pool.Query(ctx, `
		SELECT * FROM (
			SELECT m.id, m.conversation_id, m.sender, coalesce(m.rep_id::text, ''), m.text, m.at
			FROM chat_messages m JOIN conversations c ON c.id = m.conversation_id
			WHERE m.conversation_id = $1 AND c.org_id = $2 ORDER BY m.id DESC LIMIT $3) t
		ORDER BY id`, id, orgID, MaxMessagesPage)
	var m onramp.ChatMessage
	_, err := pgx.ForEachRow(rows, []any{&m.ID, &m.ConversationID, &m.Sender, &m.RepID, &m.Text, &m.At}, func() error {
		msgs = append(msgs, m)
		return nil
	})
	return msgs, wrap(op, err, "")
}

// Conversations lists what a rep's console shows: the org's waiting
// conversations, oldest first, then the rep's active ones.
func (s *Store) Conversations(ctx context.Context, orgID, repID string) ([]onramp.Conversation, error) {
	const op = "postgres.Conversations"
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	out := []onramp.Conversation{}
	if !validUUID(orgID) || !validUUID(repID) {
		return out, nil
	}
	rows, _ := s.db.pool.Query(ctx, qConversation+`
		WHERE c.org_id = $1 AND (c.state = 'waiting' OR (c.state = 'active' AND c.rep_id = $2))
		ORDER BY c.state DESC, c.created_at LIMIT 200`, orgID, repID)
	defer rows.Close()
	for rows.Next() {
		c, err := scanConversation(rows)
		if err != nil {
			return nil, wrap(op, err, "")
		}
		out = append(out, *c)
	}
	return out, wrap(op, rows.Err(), "")
}

// AcceptConversation gives waiting conversation id to rep repID: the first
// rep to accept wins. Returns ECONFLICT when it is not waiting any more
// (another rep was first, or it ended), ENOTFOUND when it is not of the
// org or repID is not an active rep of it.
func (s *Store) AcceptConversation(ctx context.Context, orgID, id, repID string) (*onramp.Conversation, []onramp.Event, error) {
	const op = "postgres.AcceptConversation"
	if !validUUID(orgID) || !validUUID(id) || !validUUID(repID) {
		return nil, nil, notFoundf(op, "Chat not found.")
	}
	var c *onramp.Conversation
	var events []onramp.Event
	err := s.inTx(ctx, op, "Chat not found.", func(ctx context.Context, tx pgx.Tx) error {
		var accepted bool
		err := tx.QueryRow(ctx, `
			WITH rep AS (SELECT id FROM users WHERE id = $3 AND org_id = $2 AND role = 'rep' AND status <> 'disabled'),
			     won AS (
				UPDATE conversations SET state = 'active', rep_id = (SELECT id FROM rep), accepted_at = now()
				WHERE id = $1 AND org_id = $2 AND state = 'waiting' AND EXISTS (SELECT 1 FROM rep)
				RETURNING id)
			SELECT EXISTS (SELECT 1 FROM won) FROM conversations WHERE id = $1 AND org_id = $2 AND EXISTS (SELECT 1 FROM rep)`,
			id, orgID, repID).Scan(&accepted)
		if err != nil {
			return err
		}
		if !accepted {
			return onramp.Errorf(onramp.ECONFLICT, "Another rep has already accepted this chat, or it ended.")
		}
		if c, err = scanConversation(tx.QueryRow(ctx, qConversation+` WHERE c.id = $1`, id)); err != nil {
			return err
		}
		events, err = appendAll(ctx, tx, orgID, time.Now(), []pending{
			{feed: onramp.ConversationFeed(id), typ: onramp.EventChatState, data: c},
			{feed: onramp.UserFeed(repID), typ: onramp.EventChatState, repID: repID, data: c},
		})
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return c, events, nil
}

// PostMessage adds a message to conversation id of org orgID, from the
// visitor (repID "") or from its rep. A rep may write only in an active
// conversation they accepted (EFORBIDDEN otherwise); nobody in an ended
// one (ECONFLICT). Returns the message and the events to publish.
func (s *Store) PostMessage(ctx context.Context, orgID, id, sender, repID, text string) (*onramp.ChatMessage, []onramp.Event, error) {
	const op = "postgres.PostMessage"
	text, msg := onramp.CleanMessage(text, true)
	if msg != "" {
		return nil, nil, &onramp.Error{Code: onramp.EINVALID, Message: msg, Fields: map[string]string{"text": msg}, Op: op}
	}
	if !validUUID(orgID) || !validUUID(id) {
		return nil, nil, notFoundf(op, "Chat not found.")
	}
	var m *onramp.ChatMessage
	var events []onramp.Event
	err := s.inTx(ctx, op, "Chat not found.", func(ctx context.Context, tx pgx.Tx) error {
		c, err := scanConversation(tx.QueryRow(ctx, qConversation+` WHERE c.id = $1 AND c.org_id = $2 FOR UPDATE OF c`, id, orgID))
		if err != nil {
			return err
		}
		if err := canWrite(c, sender, repID); err != nil {
			return err
		}
		if m, err = insertMessage(ctx, tx, c, sender, repID, text); err != nil {
			return err
		}
		entries := []pending{{feed: onramp.ConversationFeed(id), typ: onramp.EventChatMessage, data: m}}
		if c.RepID != "" {
			entries = append(entries, pending{feed: onramp.UserFeed(c.RepID), typ: onramp.EventChatMessage, repID: c.RepID, data: m})
		}
		events, err = appendAll(ctx, tx, orgID, m.At, entries)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return m, events, nil
}

// canWrite: the visitor while the chat is open, its rep while active.
func canWrite(c *onramp.Conversation, sender, repID string) error {
	switch {
	case c.State == onramp.ChatEnded:
		return onramp.Errorf(onramp.ECONFLICT, "This chat has ended.")
	case sender == onramp.SenderVisitor:
		return nil
	case sender == onramp.SenderRep && c.State == onramp.ChatActive && c.RepID == repID:
		return nil
	case sender == onramp.SenderRep && c.State == onramp.ChatWaiting:
		return onramp.Errorf(onramp.ECONFLICT, "Accept this chat first.")
	}
	return onramp.Errorf(onramp.EFORBIDDEN, "Another rep has this chat.")
}

// EndConversation ends conversation id, by its visitor (repID "") or its
// rep. Ending an ended chat changes nothing.
func (s *Store) EndConversation(ctx context.Context, orgID, id, sender, repID string) (*onramp.Conversation, []onramp.Event, error) {
	const op = "postgres.EndConversation"
	if !validUUID(orgID) || !validUUID(id) {
		return nil, nil, notFoundf(op, "Chat not found.")
	}
	var c *onramp.Conversation
	var events []onramp.Event
	err := s.inTx(ctx, op, "Chat not found.", func(ctx context.Context, tx pgx.Tx) error {
		var err error
		if c, err = scanConversation(tx.QueryRow(ctx, qConversation+` WHERE c.id = $1 AND c.org_id = $2 FOR UPDATE OF c`, id, orgID)); err != nil {
			return err
		}
		if c.State == onramp.ChatEnded {
			return nil
		}
		if err := canWrite(c, sender, repID); err != nil && sender == onramp.SenderRep {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE conversations SET state = 'ended', ended_at = now() WHERE id = $1`, id); err != nil {
			return err
		}
		if c, err = scanConversation(tx.QueryRow(ctx, qConversation+` WHERE c.id = $1`, id)); err != nil {
			return err
		}
		entries := []pending{{feed: onramp.ConversationFeed(id), typ: onramp.EventChatState, data: c}}
		if c.RepID != "" {
			entries = append(entries, pending{feed: onramp.UserFeed(c.RepID), typ: onramp.EventChatState, repID: c.RepID, data: c})
		}
		events, err = appendAll(ctx, tx, orgID, time.Now(), entries)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return c, events, nil
}

// EscalateWaiting tells the admins of each org about its conversations
// that have been waiting since before olderThan with nobody accepting,
// once per conversation (marked escalated in the same transaction), and
// returns the events to publish.
func (s *Store) EscalateWaiting(ctx context.Context, olderThan time.Time) ([]onramp.Event, error) {
	const op = "postgres.EscalateWaiting"
	var events []onramp.Event
	err := s.inTx(ctx, op, "", func(ctx context.Context, tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `
			WITH due AS (
				SELECT id FROM conversations
				WHERE state = 'waiting' AND escalated_at IS NULL AND created_at < $1
				ORDER BY created_at LIMIT 100 FOR UPDATE SKIP LOCKED)
			UPDATE conversations c SET escalated_at = now() FROM due WHERE c.id = due.id
			RETURNING c.id, c.org_id, c.visitor_id, c.visitor_name`, olderThan)
		type due struct{ id, org, visitor, name string }
		var list []due
		var d due
		if _, err := pgx.ForEachRow(rows, []any{&d.id, &d.org, &d.visitor, &d.name}, func() error {
			list = append(list, d)
			return nil
		}); err != nil {
			return err
		}
		// By org, then each org's admin feeds in name order: every
		// transaction takes feed heads in one order, so two escalating
		// processes cannot deadlock.
		slices.SortFunc(list, func(a, b due) int {
			if c := strings.Compare(a.org, b.org); c != 0 {
				return c
			}
			return strings.Compare(a.id, b.id)
		})
		for _, d := range list {
			rows, _ := tx.Query(ctx, `SELECT id::text FROM users WHERE org_id = $1 AND role = 'admin' AND status <> 'disabled' ORDER BY id`, d.org)
			admins, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return err
			}
			var entries []pending
			for _, a := range admins {
				n := onramp.Notification{RepID: a, EventID: "unanswered-" + d.id, Kind: "unanswered", Streams: []string{onramp.StreamWaitingForRep},
					Desktop: true, Sound: "bell", VisitorID: d.visitor, Name: d.name, ConversationID: d.id}
				entries = append(entries, pending{feed: onramp.UserFeed(a), typ: onramp.EventNotification, repID: a, data: n})
			}
			ev, err := appendAll(ctx, tx, d.org, time.Now(), entries)
			if err != nil {
				return err
			}
			events = append(events, ev...)
		}
		return nil
	})
	return events, err
}

// querier is a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// streamsOf lists the org's streams (Streams), through q.
func streamsOf(ctx context.Context, q querier, orgID string) ([]onramp.Stream, error) {
	streams := onramp.BuiltinStreams()
	rows, _ := q.Query(ctx, `SELECT key, name, rules FROM streams WHERE org_id = $1 ORDER BY created_at, key`, orgID)
	var st onramp.Stream
	var rules []byte
	_, err := pgx.ForEachRow(rows, []any{&st.Key, &st.Name, &rules}, func() error {
		s := onramp.Stream{Key: st.Key, Name: st.Name}
		if err := json.Unmarshal(rules, &s.Rules); err != nil || len(s.Rules) == 0 {
			s.Rules = nil
		}
		streams = append(streams, s)
		return nil
	})
	return streams, err
}
