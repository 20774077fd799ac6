// Package redisbus implements Onramp's event bus and rate limiter on Redis
// (github.com/redis/go-redis/v9).
//
// Every API instance keeps one pattern subscription to all orgs' channels,
// read by one goroutine and fanned out in process to its subscribers; see Bus.
package redisbus

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/onramp/onramp"
)

// DefaultPrefix namespaces keys and channels in production. Tests use a
// random prefix each so that they neither see nor leave anything behind.
const DefaultPrefix = "onramp"

// pingTimeout bounds the ping of Open when ctx has no earlier deadline.
const pingTimeout = 5 * time.Second

// Open parses a redis:// (or rediss://) URL, connects and pings the server.
// It returns EINVALID for a malformed URL and EUNAVAILABLE when the server
// does not answer within a few seconds. The caller closes the client.
func Open(ctx context.Context, url string) (*redis.Client, error) {
	const op = "redisbus.Open"
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, &onramp.Error{Code: onramp.EINVALID, Message: "Invalid REDIS_URL.", Op: op, Err: err}
	}
	rdb := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		return nil, unavailable(op, err)
	}
	return rdb, nil
}

// unavailable wraps a Redis error as EUNAVAILABLE.
func unavailable(op string, err error) error {
	return &onramp.Error{Code: onramp.EUNAVAILABLE, Message: "Redis is unavailable.", Op: op, Err: err}
}
