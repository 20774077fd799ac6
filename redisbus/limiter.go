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
	if limit <= 0 || window < time.Millisecond {
		return false, 0, &onramp.Error{Code: onramp.EINVALID, Message: "Invalid rate limit.", Op: op}
	}
	now := l.Now()
	start := now.Truncate(window)
	k := l.prefix + ":rl:" + key + ":" + strconv.FormatInt(start.UnixMilli(), 10)

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
