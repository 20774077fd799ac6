package redisbus

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/onramp/onramp"
)

// SubscriberBuffer is how many events a subscriber may fall behind before it
// is dropped (its channel closed) so that it cannot hold up the others. A
// slot is a pointer (the events are shared), so a batch of 100 visitor
// events to one rep fits in about 2 KB per connection.
const SubscriberBuffer = 256

// readyTimeout bounds how long Subscribe waits for the process-wide Redis
// subscription to be confirmed when ctx has no earlier deadline.
const readyTimeout = 5 * time.Second

// Bus is the Redis implementation of onramp.EventBus.
//
// Publish sends an event to the org's channel <prefix>:org:<orgID>:events.
// On the receiving side a Bus holds one Redis pattern subscription
// (<prefix>:org:*:events) for the whole process, started by the first
// Subscribe. It is read by one goroutine, which fans events out to the
// in-process subscribers of each org through buffered channels, never
// blocking: a subscriber whose buffer is full is dropped.
//
// go-redis re-establishes the subscription when the connection drops (Redis
// restart, CLIENT KILL, network). Events published while it was down are not
// delivered, so when the subscription comes back every current subscriber is
// dropped too: a closed channel means "you may have missed events", and the
// subscriber (an SSE client) reconnects and catches up from Postgres.
type Bus struct {
	rdb    *redis.Client
	prefix string

	ready chan struct{} // closed when Redis first confirms the subscription
	done  chan struct{} // closed when the reading goroutine has returned

	mu     sync.Mutex
	pubsub *redis.PubSub // nil until the first Subscribe
	closed bool
	subs   map[string]map[*subscription]struct{} // by org ID
}

var _ onramp.EventBus = (*Bus)(nil)

// New returns a bus publishing and subscribing through rdb, with channel
// names under prefix (DefaultPrefix in production). The caller still owns
// rdb: Close the bus first, then the client.
func New(rdb *redis.Client, prefix string) *Bus {
	return &Bus{
		rdb:    rdb,
		prefix: prefix,
		ready:  make(chan struct{}),
		done:   make(chan struct{}),
		subs:   make(map[string]map[*subscription]struct{}),
	}
}

// channel returns the Redis channel of an org's events.
func (b *Bus) channel(orgID string) string {
	return b.prefix + ":org:" + orgID + ":events"
}

// Publish sends e to every subscriber of e.OrgID, in every process.
// Returns EINVALID without an org ID and EUNAVAILABLE when Redis cannot be
// reached or the bus is closed.
func (b *Bus) Publish(ctx context.Context, e onramp.Event) error {
	const op = "redisbus.Publish"
	if e.OrgID == "" {
		return &onramp.Error{Code: onramp.EINVALID, Message: "Event has no org.", Op: op}
	}
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return &onramp.Error{Code: onramp.EUNAVAILABLE, Message: "Event bus is closed.", Op: op}
	}
	data, err := json.Marshal(e)
	if err != nil {
		return &onramp.Error{Code: onramp.EINTERNAL, Message: "Internal error.", Op: op, Err: err}
	}
	if err := b.rdb.Publish(ctx, b.channel(e.OrgID), data).Err(); err != nil {
		return unavailable(op, err)
	}
	return nil
}

// Subscribe returns a subscription to the events of orgID. Its channel is
// closed when ctx ends, Close is called, the subscriber falls more than
// SubscriberBuffer events behind, the Redis subscription had to be
// re-established, or the bus is closed.
//
// The first call starts the process-wide Redis subscription and waits (at most
// a few seconds) until Redis confirms it, so an event published after
// Subscribe returns is delivered. Returns EINVALID without an org ID and
// EUNAVAILABLE when Redis does not confirm in time or the bus is closed.
func (b *Bus) Subscribe(ctx context.Context, orgID string) (onramp.Subscription, error) {
	const op = "redisbus.Subscribe"
	if orgID == "" {
		return nil, &onramp.Error{Code: onramp.EINVALID, Message: "Subscription has no org.", Op: op}
	}
	if err := b.start(ctx); err != nil {
		return nil, err
	}

	s := &subscription{bus: b, orgID: orgID, ch: make(chan *onramp.Event, SubscriberBuffer)}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, &onramp.Error{Code: onramp.EUNAVAILABLE, Message: "Event bus is closed.", Op: op}
	}
	set := b.subs[orgID]
	if set == nil {
		set = make(map[*subscription]struct{})
		b.subs[orgID] = set
	}
	set[s] = struct{}{}
	b.mu.Unlock()

	// Runs at once (in its own goroutine) if ctx is already done.
	s.stop = context.AfterFunc(ctx, func() { b.unsubscribe(s) })
	return s, nil
}

// start starts the process-wide subscription if needed and waits until Redis
// has confirmed it.
func (b *Bus) start(ctx context.Context) error {
	const op = "redisbus.Subscribe"
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return &onramp.Error{Code: onramp.EUNAVAILABLE, Message: "Event bus is closed.", Op: op}
	}
	if b.pubsub == nil {
		// If Redis is down now, go-redis keeps retrying in the background.
		b.pubsub = b.rdb.PSubscribe(context.Background(), escapePattern(b.prefix)+":org:*:events")
		go b.run(b.pubsub.ChannelWithSubscriptions(redis.WithChannelSize(256)))
	}
	b.mu.Unlock()

	t := time.NewTimer(readyTimeout)
	defer t.Stop()
	select {
	case <-b.ready:
		return nil
	case <-b.done:
		return &onramp.Error{Code: onramp.EUNAVAILABLE, Message: "Event bus is closed.", Op: op}
	case <-ctx.Done():
		return unavailable(op, ctx.Err())
	case <-t.C:
		return unavailable(op, context.DeadlineExceeded)
	}
}

// run is the one goroutine reading the Redis subscription (go-redis's channel
// is fed by go-redis's single receiving goroutine). It returns when the
// PubSub is closed.
func (b *Bus) run(ch <-chan any) {
	defer close(b.done)
	confirmed := false
	for m := range ch {
		switch m := m.(type) {
		case *redis.Subscription:
			if m.Kind != "psubscribe" {
				continue
			}
			if !confirmed {
				confirmed = true
				close(b.ready)
				continue
			}
			// go-redis reconnected and subscribed again: whatever was
			// published in between is lost to our subscribers.
			b.dropAll()
		case *redis.Message:
			b.dispatch(m)
		}
	}
}

// dispatch hands one message to the subscribers of its org without blocking.
func (b *Bus) dispatch(m *redis.Message) {
	orgID, ok := strings.CutPrefix(m.Channel, b.prefix+":org:")
	if !ok {
		return
	}
	if orgID, ok = strings.CutSuffix(orgID, ":events"); !ok {
		return
	}
	// Every instance receives every org's events: decode only those that
	// someone here listens to.
	b.mu.Lock()
	listened := len(b.subs[orgID]) > 0
	b.mu.Unlock()
	if !listened {
		return
	}
	var e onramp.Event
	if err := json.Unmarshal([]byte(m.Payload), &e); err != nil || e.OrgID != orgID {
		return // not ours: every publisher of these channels is a Bus
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs[orgID] {
		select {
		case s.ch <- &e:
		default:
			b.removeLocked(s) // too slow: drop it rather than block the others
		}
	}
}

// dropAll closes every subscription.
func (b *Bus) dropAll() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, set := range b.subs {
		for s := range set {
			b.removeLocked(s)
		}
	}
}

// unsubscribe removes s and closes its channel, unless that already happened.
func (b *Bus) unsubscribe(s *subscription) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.removeLocked(s)
}

// removeLocked removes s and closes its channel if s is still subscribed, so
// the channel is closed exactly once and never sent to after. b.mu is held.
func (b *Bus) removeLocked(s *subscription) {
	set := b.subs[s.orgID]
	if _, ok := set[s]; !ok {
		return
	}
	delete(set, s)
	if len(set) == 0 {
		delete(b.subs, s.orgID)
	}
	close(s.ch)
}

// Close stops the Redis subscription and closes every subscription. Publish
// and Subscribe fail afterwards. It does not close the Redis client.
func (b *Bus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	ps := b.pubsub
	for _, set := range b.subs {
		for s := range set {
			b.removeLocked(s)
		}
	}
	b.mu.Unlock()

	if ps == nil {
		return nil
	}
	err := ps.Close()
	<-b.done
	return err
}

// Ping reports whether Redis answers, for readiness checks.
// Returns EUNAVAILABLE when it does not.
func (b *Bus) Ping(ctx context.Context) error {
	if err := b.rdb.Ping(ctx).Err(); err != nil {
		return unavailable("redisbus.Ping", err)
	}
	return nil
}

// subscription is one in-process subscriber to an org's events.
type subscription struct {
	bus   *Bus
	orgID string
	ch    chan *onramp.Event // shared, read-only events: a pointer each keeps the buffer small
	stop  func() bool        // stops the context.AfterFunc
}

func (s *subscription) C() <-chan *onramp.Event { return s.ch }

// Close unsubscribes and closes the channel; calling it again does nothing.
func (s *subscription) Close() error {
	s.stop()
	s.bus.unsubscribe(s)
	return nil
}

// escapePattern escapes the glob characters of a PSUBSCRIBE pattern.
func escapePattern(s string) string {
	var sb strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\':
			sb.WriteByte('\\')
		}
		sb.WriteRune(r)
	}
	return sb.String()
}
