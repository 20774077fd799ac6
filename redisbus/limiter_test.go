package redisbus_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/redisbus"
)

func TestLimiter(t *testing.T) {
	ctx := context.Background()
	prefix := MustPrefix(t)
	rdb := MustOpen(t, prefix+"-limiter")
	l := redisbus.NewLimiter(rdb, prefix)
	start := time.Date(2025, 3, 4, 5, 6, 0, 0, time.UTC) // a window boundary
	now := start.Add(20 * time.Second)
	l.Now = func() time.Time { return now }

	type result struct {
		OK         bool
		RetryAfter time.Duration
	}
	allow := func(key string) result {
		t.Helper()
		ok, retry, err := l.Allow(ctx, key, 3, time.Minute)
		if err != nil {
			t.Fatalf("Allow(%s): %v", key, err)
		}
		return result{ok, retry}
	}

	for i := range 3 {
		if got := allow("login:a@example.com"); got != (result{OK: true}) {
			t.Fatalf("attempt %d: %+v, want allowed", i+1, got)
		}
	}
	if got, want := allow("login:a@example.com"), (result{false, 40 * time.Second}); got != want {
		t.Errorf("4th attempt: %+v, want %+v", got, want)
	}
	if got := allow("login:b@example.com"); !got.OK {
		t.Errorf("other key: %+v, want allowed", got)
	}

	// The counter lives in Redis under the documented key and expires.
	key := prefix + ":rl:login:a@example.com:" + "1741064760000"
	if n, err := rdb.Get(ctx, key).Int(); err != nil || n != 4 {
		t.Errorf("GET %s = %d, %v; want 4", key, n, err)
	}
	if ttl := rdb.PTTL(ctx, key).Val(); ttl <= 0 || ttl > time.Minute {
		t.Errorf("PTTL %s = %v, want in (0, 1m]", key, ttl)
	}

	// Still denied late in the window; allowed again in the next one.
	now = start.Add(59 * time.Second)
	if got, want := allow("login:a@example.com"), (result{false, time.Second}); got != want {
		t.Errorf("end of window: %+v, want %+v", got, want)
	}
	now = start.Add(time.Minute)
	if got := allow("login:a@example.com"); !got.OK {
		t.Errorf("next window: %+v, want allowed", got)
	}

	t.Run("Refund", func(t *testing.T) {
		key := "login:failures:c@example.com"
		// Five attempts each counted then refunded (successes): none is
		// left, the sixth is allowed.
		for range 5 {
			if ok, _, err := l.Allow(ctx, key, 2, time.Minute); err != nil || !ok {
				t.Fatalf("allow: %v %v", ok, err)
			}
			if err := l.Refund(ctx, key, time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		for range 2 {
			if ok, _, _ := l.Allow(ctx, key, 2, time.Minute); !ok {
				t.Fatal("failures refused before the limit")
			}
		}
		if ok, _, _ := l.Allow(ctx, key, 2, time.Minute); ok {
			t.Fatal("a third failure allowed with a limit of 2")
		}
		// A refund of a key with nothing counted leaves no negative
		// counter behind.
		if err := l.Refund(ctx, "login:nothing", time.Minute); err != nil {
			t.Fatal(err)
		}
		if n, err := rdb.Exists(ctx, prefix+":rl:login:nothing:"+strconv.FormatInt(now.Truncate(time.Minute).UnixMilli(), 10)).Result(); err != nil || n != 0 {
			t.Errorf("refund created a counter: %d %v", n, err)
		}
	})

	t.Run("SharedByInstances", func(t *testing.T) {
		other := redisbus.NewLimiter(MustOpen(t, prefix+"-limiter2"), prefix)
		other.Now = l.Now
		key := "invite:org-1"
		for i := range 4 {
			lim := l
			if i%2 == 1 {
				lim = other
			}
			ok, _, err := lim.Allow(ctx, key, 3, time.Minute)
			if err != nil || ok != (i < 3) {
				t.Errorf("attempt %d: %v, %v; want %v", i+1, ok, err, i < 3)
			}
		}
	})

	t.Run("Invalid", func(t *testing.T) {
		if _, _, err := l.Allow(ctx, "k", 0, time.Minute); onramp.ErrorCode(err) != onramp.EINVALID {
			t.Errorf("limit 0: %v, want %s", err, onramp.EINVALID)
		}
		if _, _, err := l.Allow(ctx, "k", 1, 0); onramp.ErrorCode(err) != onramp.EINVALID {
			t.Errorf("window 0: %v, want %s", err, onramp.EINVALID)
		}
	})

	t.Run("Unavailable", func(t *testing.T) {
		down := redisbus.NewLimiter(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1}), prefix)
		if _, _, err := down.Allow(ctx, "k", 1, time.Minute); onramp.ErrorCode(err) != onramp.EUNAVAILABLE {
			t.Errorf("Redis down: %v, want %s", err, onramp.EUNAVAILABLE)
		}
	})
}
