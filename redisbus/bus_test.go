package redisbus_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/redisbus"
)

// wait bounds every wait for an event in these tests.
const wait = 10 * time.Second

// MustPrefix returns a random key and channel prefix for one test and
// deletes every key under it when the test ends.
func MustPrefix(tb testing.TB) string {
	tb.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := "test-" + hex.EncodeToString(b)
	rdb := MustOpen(tb, prefix+"-cleanup")
	tb.Cleanup(func() { // runs before rdb is closed (cleanups run last first)
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, prefix+":*", 100).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
		if err := iter.Err(); err != nil {
			tb.Errorf("cleaning up %s: %v", prefix, err)
		}
	})
	return prefix
}

// MustOpen connects to the Redis at REDIS_URL (default the local one) with a
// client name, so that a test can find its own connections in CLIENT LIST.
func MustOpen(tb testing.TB, name string) *redis.Client {
	tb.Helper()
	url := os.Getenv("REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		tb.Fatalf("REDIS_URL: %v", err)
	}
	opt.ClientName = name
	rdb := redis.NewClient(opt)
	tb.Cleanup(func() { rdb.Close() })
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		tb.Fatalf("Redis at %s: %v (run scripts/services up)", url, err)
	}
	return rdb
}

// MustBus returns a bus on its own Redis client, as in its own process.
func MustBus(tb testing.TB, prefix, name string) *redisbus.Bus {
	tb.Helper()
	b := redisbus.New(MustOpen(tb, prefix+"-"+name), prefix)
	tb.Cleanup(func() { b.Close() })
	return b
}

// MustSubscribe subscribes to org's events until the test ends.
func MustSubscribe(tb testing.TB, b *redisbus.Bus, orgID string) onramp.Subscription {
	tb.Helper()
	s, err := b.Subscribe(context.Background(), orgID)
	if err != nil {
		tb.Fatalf("Subscribe(%s): %v", orgID, err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func MustPublish(tb testing.TB, b *redisbus.Bus, e onramp.Event) {
	tb.Helper()
	if err := b.Publish(context.Background(), e); err != nil {
		tb.Fatalf("Publish(%s): %v", e.ID, err)
	}
}

// MustReceive returns the next event of s; it fails if none comes or s is closed.
func MustReceive(tb testing.TB, s onramp.Subscription) onramp.Event {
	tb.Helper()
	select {
	case e, ok := <-s.C():
		if !ok {
			tb.Fatal("subscription closed, want an event")
		}
		return *e
	case <-time.After(wait):
		tb.Fatal("no event")
	}
	panic("unreachable")
}

// MustClosed drains s and fails unless its channel is closed in time.
// It returns the number of events drained.
func MustClosed(tb testing.TB, s onramp.Subscription) int {
	tb.Helper()
	n := 0
	deadline := time.After(wait)
	for {
		select {
		case _, ok := <-s.C():
			if !ok {
				return n
			}
			n++
		case <-deadline:
			tb.Fatal("subscription not closed")
		}
	}
}

func event(org, id string) onramp.Event {
	return onramp.Event{
		ID:    id,
		OrgID: org,
		Type:  onramp.EventStepChanged,
		RepID: "rep-1",
		At:    time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC),
		Data:  json.RawMessage(`{"step":"calendar","to":"done"}`),
	}
}

func TestBus(t *testing.T) {
	t.Run("AcrossInstances", func(t *testing.T) {
		prefix := MustPrefix(t)
		api1, api2 := MustBus(t, prefix, "api1"), MustBus(t, prefix, "api2")
		s1 := MustSubscribe(t, api1, "org-a")
		s2 := MustSubscribe(t, api2, "org-a")

		want := event("org-a", "1")
		MustPublish(t, api1, want)
		for i, s := range []onramp.Subscription{s1, s2} {
			if diff := cmp.Diff(want, MustReceive(t, s)); diff != "" {
				t.Errorf("subscriber %d: event mismatch (-want +got):\n%s", i+1, diff)
			}
		}
	})

	t.Run("OrgIsolation", func(t *testing.T) {
		prefix := MustPrefix(t)
		api1, api2 := MustBus(t, prefix, "api1"), MustBus(t, prefix, "api2")
		a := MustSubscribe(t, api2, "org-a")
		b := MustSubscribe(t, api2, "org-b")

		MustPublish(t, api1, event("org-b", "b1"))
		MustPublish(t, api1, event("org-a", "a1"))
		MustPublish(t, api1, event("org-b", "b2"))
		for _, tt := range []struct {
			s    onramp.Subscription
			want []string
		}{{a, []string{"a1"}}, {b, []string{"b1", "b2"}}} {
			var got []string
			for range tt.want {
				e := MustReceive(t, tt.s)
				got = append(got, e.OrgID+"/"+e.ID)
			}
			var want []string
			for _, id := range tt.want {
				want = append(want, "org-"+id[:1]+"/"+id)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		}
		// Nothing else arrives: a marker published last is the next event.
		MustPublish(t, api1, event("org-a", "a-end"))
		if e := MustReceive(t, a); e.ID != "a-end" {
			t.Errorf("org-a got %s/%s, want a-end", e.OrgID, e.ID)
		}
	})

	t.Run("SlowSubscriberDropped", func(t *testing.T) {
		prefix := MustPrefix(t)
		bus := MustBus(t, prefix, "api")
		slow := MustSubscribe(t, bus, "org-a")
		fast := MustSubscribe(t, bus, "org-a")

		// Publish in batches the fast subscriber drains, so only the slow
		// one (which never reads) can overflow its buffer.
		const batch = redisbus.SubscriberBuffer / 2
		total := 0
		for total <= redisbus.SubscriberBuffer+batch {
			for range batch {
				MustPublish(t, bus, event("org-a", fmt.Sprint(total)))
				total++
			}
			for i := total - batch; i < total; i++ {
				if e := MustReceive(t, fast); e.ID != fmt.Sprint(i) {
					t.Fatalf("fast subscriber got event %s, want %d", e.ID, i)
				}
			}
		}
		if n := MustClosed(t, slow); n != redisbus.SubscriberBuffer {
			t.Errorf("slow subscriber drained %d events before close, want %d", n, redisbus.SubscriberBuffer)
		}
		MustPublish(t, bus, event("org-a", "after"))
		if e := MustReceive(t, fast); e.ID != "after" {
			t.Errorf("fast subscriber got %s, want after", e.ID)
		}
	})

	t.Run("Close", func(t *testing.T) {
		prefix := MustPrefix(t)
		bus := MustBus(t, prefix, "api")
		s := MustSubscribe(t, bus, "org-a")
		other := MustSubscribe(t, bus, "org-a")
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		MustClosed(t, s)
		MustPublish(t, bus, event("org-a", "1"))
		if e := MustReceive(t, other); e.ID != "1" {
			t.Errorf("other subscriber got %s, want 1", e.ID)
		}
	})

	t.Run("ContextCanceled", func(t *testing.T) {
		prefix := MustPrefix(t)
		bus := MustBus(t, prefix, "api")
		ctx, cancel := context.WithCancel(context.Background())
		s, err := bus.Subscribe(ctx, "org-a")
		if err != nil {
			t.Fatal(err)
		}
		cancel()
		MustClosed(t, s)
		if err := s.Close(); err != nil {
			t.Errorf("Close after cancel: %v", err)
		}
		MustPublish(t, bus, event("org-a", "1")) // must not panic on a closed channel
		MustSubscribe(t, bus, "org-a")           // the bus still works
	})

	t.Run("BusClose", func(t *testing.T) {
		prefix := MustPrefix(t)
		bus := MustBus(t, prefix, "api")
		a := MustSubscribe(t, bus, "org-a")
		b := MustSubscribe(t, bus, "org-b")
		if err := bus.Close(); err != nil {
			t.Fatal(err)
		}
		MustClosed(t, a)
		MustClosed(t, b)
		if err := a.Close(); err != nil {
			t.Errorf("subscription Close after bus Close: %v", err)
		}
		if err := bus.Close(); err != nil {
			t.Errorf("second bus Close: %v", err)
		}
		if _, err := bus.Subscribe(context.Background(), "org-a"); onramp.ErrorCode(err) != onramp.EUNAVAILABLE {
			t.Errorf("Subscribe after Close: %v, want %s", err, onramp.EUNAVAILABLE)
		}
		if err := bus.Publish(context.Background(), event("org-a", "1")); onramp.ErrorCode(err) != onramp.EUNAVAILABLE {
			t.Errorf("Publish after Close: %v, want %s", err, onramp.EUNAVAILABLE)
		}
		// A bus closed before it ever subscribed closes cleanly too.
		if err := MustBus(t, prefix, "idle").Close(); err != nil {
			t.Errorf("Close of an idle bus: %v", err)
		}
	})

	t.Run("Invalid", func(t *testing.T) {
		bus := MustBus(t, MustPrefix(t), "api")
		if _, err := bus.Subscribe(context.Background(), ""); onramp.ErrorCode(err) != onramp.EINVALID {
			t.Errorf("Subscribe without org: %v, want %s", err, onramp.EINVALID)
		}
		if err := bus.Publish(context.Background(), event("", "1")); onramp.ErrorCode(err) != onramp.EINVALID {
			t.Errorf("Publish without org: %v, want %s", err, onramp.EINVALID)
		}
	})

	t.Run("OneRedisSubscription", func(t *testing.T) {
		prefix := MustPrefix(t)
		bus := MustBus(t, prefix, "api")
		for _, org := range []string{"org-a", "org-a", "org-b", "org-c"} {
			MustSubscribe(t, bus, org)
		}
		if ids := pubsubClients(t, prefix+"-api"); len(ids) != 1 {
			t.Errorf("%d Redis pub/sub connections, want 1", len(ids))
		}
	})

	t.Run("Reconnect", func(t *testing.T) {
		prefix := MustPrefix(t)
		api1, api2 := MustBus(t, prefix, "api1"), MustBus(t, prefix, "api2")
		before := MustSubscribe(t, api2, "org-a")
		MustPublish(t, api1, event("org-a", "1"))
		MustReceive(t, before)

		// CLIENT KILL TYPE pubsub, limited to this test's connection so that
		// other tests sharing the server are not disturbed.
		ids := pubsubClients(t, prefix+"-api2")
		if len(ids) != 1 {
			t.Fatalf("%d pub/sub connections of api2, want 1", len(ids))
		}
		admin := MustOpen(t, prefix+"-admin")
		if err := admin.Do(context.Background(), "CLIENT", "KILL", "ID", ids[0]).Err(); err != nil {
			t.Fatal(err)
		}

		// Events published while the connection was down may be lost, so
		// subscribers are told (their channel closes) once it is back.
		MustClosed(t, before)
		after := MustSubscribe(t, api2, "org-a")
		MustPublish(t, api1, event("org-a", "2"))
		if e := MustReceive(t, after); e.ID != "2" {
			t.Errorf("after reconnect got %s, want 2", e.ID)
		}
		if ids := pubsubClients(t, prefix+"-api2"); len(ids) != 1 {
			t.Errorf("%d pub/sub connections of api2 after reconnect, want 1", len(ids))
		}
	})
}

// pubsubClients returns the IDs of the pub/sub connections named name.
func pubsubClients(tb testing.TB, name string) []string {
	tb.Helper()
	rdb := MustOpen(tb, name+"-list")
	list, err := rdb.Do(context.Background(), "CLIENT", "LIST", "TYPE", "pubsub").Text()
	if err != nil {
		tb.Fatal(err)
	}
	var ids []string
	for _, line := range strings.Split(list, "\n") {
		f := map[string]string{}
		for _, kv := range strings.Fields(line) {
			k, v, _ := strings.Cut(kv, "=")
			f[k] = v
		}
		if f["name"] == name {
			ids = append(ids, f["id"])
		}
	}
	return ids
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	url := os.Getenv("REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	rdb, err := redisbus.Open(ctx, url)
	if err != nil {
		t.Fatalf("Open(%s): %v", url, err)
	}
	rdb.Close()
	if _, err := redisbus.Open(ctx, "http://nope"); onramp.ErrorCode(err) != onramp.EINVALID {
		t.Errorf("Open(bad URL): %v, want %s", err, onramp.EINVALID)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := redisbus.Open(ctx, "redis://127.0.0.1:1/0"); onramp.ErrorCode(err) != onramp.EUNAVAILABLE {
		t.Errorf("Open(closed port): %v, want %s", err, onramp.EUNAVAILABLE)
	}
}

func TestPing(t *testing.T) {
	bus := MustBus(t, MustPrefix(t), "api")
	if err := bus.Ping(context.Background()); err != nil {
		t.Errorf("Ping: %v", err)
	}
	down := redisbus.New(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1}), "x")
	if err := down.Ping(context.Background()); onramp.ErrorCode(err) != onramp.EUNAVAILABLE {
		t.Errorf("Ping of a closed port: %v, want %s", err, onramp.EUNAVAILABLE)
	}
}

func TestSubscribeRedisDown(t *testing.T) {
	bus := redisbus.New(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1}), "x")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := bus.Subscribe(ctx, "org-a"); onramp.ErrorCode(err) != onramp.EUNAVAILABLE {
		t.Errorf("Subscribe: %v, want %s", err, onramp.EUNAVAILABLE)
	}
	closed := make(chan struct{})
	go func() {
		bus.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(wait):
		t.Fatal("Close hangs while Redis is down")
	}
}
