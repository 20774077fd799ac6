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

// refundScript takes one attempt back from a window's counter, if the
// counter still exists (the window may have ended meanwhile).
var refundScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 and tonumber(redis.call('GET', KEYS[1])) > 0 then
	return redis.call('DECR', KEYS[1])
end
return 0`)

// Refund takes back one attempt counted by Allow in the current window of
// key (a sign-in that succeeded does not count as a failure). Counting
// first and refunding after, rather than checking first and counting
// after, is what keeps concurrent attempts within the limit. Returns
// EINVALID for a non-positive window and EUNAVAILABLE when Redis cannot be
// reached.
func (l *Limiter) Refund(ctx context.Context, key string, window time.Duration) error {
	const op = "redisbus.Refund"
	if err := checkLimit(op, 1, window); err != nil {
		return err
	}
	_, k := l.window(key, l.Now(), window)
	if err := refundScript.Run(ctx, l.rdb, []string{k}).Err(); err != nil {
		return unavailable(op, err)
	}
	return nil
}
