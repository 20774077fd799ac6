package redisbus

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/onramp/onramp"
)

// Limiter is the Redis implementation of onramp.RateLimiter: a fixed window
// counter per key, shared by every API instance. The counter of a window is
// the key <prefix>:rl:<key>:<window start in Unix ms>; it is incremented and
// given an expiry in one MULTI/EXEC, so no counter outlives its window by more
// than one window even if a process dies in between.
type Limiter struct {
	rdb    *redis.Client
	prefix string

	// Now returns the current time; tests set it. Windows are aligned on
	// multiples of their length (time.Truncate), so instances with roughly
	// synchronised clocks share them.
	Now func() time.Time
}

var _ onramp.RateLimiter = (*Limiter)(nil)

// NewLimiter returns a limiter keeping its counters in rdb under prefix.
func NewLimiter(rdb *redis.Client, prefix string) *Limiter {
	return &Limiter{rdb: rdb, prefix: prefix, Now: time.Now}
}

// Allow counts one attempt for key and reports whether it is within limit in
// the current window; when not, retryAfter is the time left until the next
// window. Returns EINVALID for a non-positive limit or window (a programming
// error) and EUNAVAILABLE when Redis cannot be reached.
func (l *Limiter) Allow(ctx context.Context, key string, limit int, window time.Duration) (bool, time.Duration, error) {
	const op = "redisbus.Allow"
	if err := checkLimit(op, limit, window); err != nil {
		return false, 0, err
	}
	now := l.Now()
	start, k := l.window(key, now, window)

	var incr *redis.IntCmd
	_, err := l.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		incr = p.Incr(ctx, k)
		p.PExpire(ctx, k, window)
		return nil
	})
	if err != nil {
		return false, 0, unavailable(op, err)
	}
	if incr.Val() <= int64(limit) {
		return true, 0, nil
	}
	return false, start.Add(window).Sub(now), nil
}

// checkLimit refuses a limit or window that is not positive (a
// programming error).
func checkLimit(op string, limit int, window time.Duration) error {
	if limit <= 0 || window < time.Millisecond {
		return &onramp.Error{Code: onramp.EINVALID, Message: "Invalid rate limit.", Op: op}
	}
	return nil
}

// window returns the start of the window now is in, and its counter's key.
func (l *Limiter) window(key string, now time.Time, window time.Duration) (time.Time, string) {
	start := now.Truncate(window)
	return start, l.prefix + ":rl:" + key + ":" + strconv.FormatInt(start.UnixMilli(), 10)
}

// Check reports whether key is within limit in the current window without
// counting an attempt (Allow counts): with it a caller can count only
// failed attempts. When not within limit, retryAfter is the time left until
// the next window. Returns EINVALID for a non-positive limit or window and
// EUNAVAILABLE when Redis cannot be reached.
func (l *Limiter) Check(ctx context.Context, key string, limit int, window time.Duration) (bool, time.Duration, error) {
	const op = "redisbus.Check"
	if err := checkLimit(op, limit, window); err != nil {
		return false, 0, err
	}
	now := l.Now()
	start, k := l.window(key, now, window)
	n, err := l.rdb.Get(ctx, k).Int64()
	if err != nil && err != redis.Nil {
		return false, 0, unavailable(op, err)
	}
	if n < int64(limit) {
		return true, 0, nil
	}
	return false, start.Add(window).Sub(now), nil
}
