package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/onramp/onramp"
)

// Feeds (docs/REALTIME.md): every event shown live is appended here first,
// with a gapless seq per feed, and published second.

// MaxFeedPage bounds how many entries one FeedSince returns.
const MaxFeedPage = 500

// validFeed checks a feed name's form (the table checks it too).
func validFeed(feed string) bool {
	kind, id, ok := strings.Cut(feed, ":")
	return ok && (kind == "user" || kind == "org" || kind == "conv") && validUUID(id) && id == strings.ToLower(id)
}

// appendTx appends one entry to feed inside tx and returns its event.
// Returns ENOTFOUND when the feed belongs to another org.
func appendTx(ctx context.Context, tx pgx.Tx, feed, orgID, typ, repID string, data any, at time.Time) (onramp.Event, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return onramp.Event{}, err
	}
	var seq *int64
	if err := tx.QueryRow(ctx, `SELECT onramp_feed_append($1, $2, $3, $4, $5)`, feed, orgID, typ, nullUUID(repID), raw).Scan(&seq); err != nil {
		return onramp.Event{}, err
	}
	if seq == nil {
		return onramp.Event{}, &onramp.Error{Code: onramp.ENOTFOUND, Message: "Not found.", Err: fmt.Errorf("feed %s is not of org %s", feed, orgID)}
	}
	return feedEvent(onramp.Event{OrgID: orgID, Type: typ, RepID: repID, At: at, Data: raw, Feed: feed, Seq: *seq}), nil
}

// feedEvent sets an entry's ID from its feed and seq.
func feedEvent(e onramp.Event) onramp.Event {
	e.ID = fmt.Sprintf("%s/%d", e.Feed, e.Seq)
	return e
}

// FeedHeads returns the last seq of each feed (0 for a feed never written),
// in order. Feeds of other orgs read as 0.
func (s *Store) FeedHeads(ctx context.Context, orgID string, feeds []string) ([]int64, error) {
	const op = "postgres.FeedHeads"
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	heads := make([]int64, len(feeds))
	if !validUUID(orgID) {
		return heads, nil
	}
	rows, _ := s.db.pool.Query(ctx, `SELECT feed, seq FROM feed_heads WHERE org_id = $1 AND feed = ANY($2)`, orgID, feeds)
	var feed string
	var seq int64
	_, err := pgx.ForEachRow(rows, []any{&feed, &seq}, func() error {
		for i, f := range feeds {
			if f == feed {
				heads[i] = seq
			}
		}
		return nil
	})
	if err != nil {
		return nil, wrap(op, err, "")
	}
	return heads, nil
}

// FeedSince returns the entries of feed after seq after, oldest first, at
// most limit (≤ MaxFeedPage) of them. gone is true when the entry after
// after is no longer kept (pruned) or after is ahead of the feed: the
// reader cannot catch up and must refetch its state.
func (s *Store) FeedSince(ctx context.Context, orgID, feed string, after int64, limit int) (entries []onramp.Event, gone bool, err error) {
	const op = "postgres.FeedSince"
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	if limit <= 0 || limit > MaxFeedPage {
		limit = MaxFeedPage
	}
	if !validUUID(orgID) || !validFeed(feed) || after < 0 {
		return nil, true, nil
	}
	var head int64
	err = s.db.pool.QueryRow(ctx, `SELECT coalesce((SELECT seq FROM feed_heads WHERE feed = $1 AND org_id = $2), 0)`, feed, orgID).Scan(&head)
	if err != nil {
		return nil, false, wrap(op, err, "")
	}
	if after > head {
		return nil, true, nil
	}
	if after == head {
		return nil, false, nil
	}
	rows, _ := s.db.pool.Query(ctx, `
		SELECT seq, type, coalesce(rep_id::text, ''), data, at FROM feed_entries
		WHERE feed = $1 AND org_id = $2 AND seq > $3 ORDER BY seq LIMIT $4`, feed, orgID, after, limit)
	var e onramp.Event
	_, err = pgx.ForEachRow(rows, []any{&e.Seq, &e.Type, &e.RepID, &e.Data, &e.At}, func() error {
		ev := e
		ev.OrgID, ev.Feed = orgID, feed
		ev.Data = append(json.RawMessage(nil), e.Data...)
		entries = append(entries, feedEvent(ev))
		return nil
	})
	if err != nil {
		return nil, false, wrap(op, err, "")
	}
	for i, e := range entries {
		if e.Seq != after+1+int64(i) {
			return nil, true, nil // pruned (pruning removes a prefix; this is a guard)
		}
	}
	if len(entries) == 0 {
		return nil, true, nil // pruned
	}
	return entries, false, nil
}

// FeedRecent returns the newest entries of feed still kept, at most limit
// (≤ MaxFeedPage), oldest first.
func (s *Store) FeedRecent(ctx context.Context, orgID, feed string, limit int) ([]onramp.Event, error) {
	const op = "postgres.FeedRecent"
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	if limit <= 0 || limit > MaxFeedPage {
		limit = MaxFeedPage
	}
	entries := []onramp.Event{}
	if !validUUID(orgID) || !validFeed(feed) {
		return entries, nil
	}
	rows, _ := s.db.pool.Query(ctx, `
		SELECT seq, type, coalesce(rep_id::text, ''), data, at FROM (
			SELECT * FROM feed_entries WHERE feed = $1 AND org_id = $2 ORDER BY seq DESC LIMIT $3) t
		ORDER BY seq`, feed, orgID, limit)
	var e onramp.Event
	_, err := pgx.ForEachRow(rows, []any{&e.Seq, &e.Type, &e.RepID, &e.Data, &e.At}, func() error {
		ev := e
		ev.OrgID, ev.Feed = orgID, feed
		ev.Data = append(json.RawMessage(nil), e.Data...)
		entries = append(entries, feedEvent(ev))
		return nil
	})
	if err != nil {
		return nil, wrap(op, err, "")
	}
	return entries, nil
}

// nullUUID is id, or NULL for "".
func nullUUID(id string) any {
	if id == "" {
		return nil
	}
	return id
}

// PruneFeeds deletes the feed entries and visitor-event IDs older than
// before, and returns how many entries went. The heads stay, so a reader
// behind them learns it must refetch.
func (s *Store) PruneFeeds(ctx context.Context, before time.Time) (int64, error) {
	const op = "postgres.PruneFeeds"
	ctx, cancel := s.db.bound(ctx)
	defer cancel()
	// A prefix of each feed: everything up to its newest entry older than
	// before, so that what is kept is always contiguous.
	tag, err := s.db.pool.Exec(ctx, `
		DELETE FROM feed_entries e
		USING (SELECT feed, max(seq) AS upto FROM feed_entries WHERE at < $1 GROUP BY feed) p
		WHERE e.feed = p.feed AND e.seq <= p.upto`, before)
	if err != nil {
		return 0, wrap(op, err, "")
	}
	if _, err := s.db.pool.Exec(ctx, `DELETE FROM visitor_events WHERE received_at < $1`, before); err != nil {
		return 0, wrap(op, err, "")
	}
	return tag.RowsAffected(), nil
}
