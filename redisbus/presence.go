package redisbus

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/onramp/onramp"
)

// Presence records which reps have a console open, shared by every API
// instance: one sorted set per org, <prefix>:presence:<org>, whose members
// are "<rep>/<connection>" scored by when they expire. Each open console
// beats every few seconds; a console that closes leaves at once, one
// whose process died expires after its TTL.
type Presence struct {
	rdb    *redis.Client
	prefix string
}

var _ onramp.Presence = (*Presence)(nil)

// NewPresence returns presence kept in rdb under prefix.
func NewPresence(rdb *redis.Client, prefix string) *Presence {
	return &Presence{rdb: rdb, prefix: prefix}
}

func (p *Presence) key(orgID string) string { return p.prefix + ":presence:" + orgID }

// Beat marks connection conn of rep repID online for ttl.
func (p *Presence) Beat(ctx context.Context, orgID, repID, conn string, ttl time.Duration) error {
	k := p.key(orgID)
	now := time.Now()
	pipe := p.rdb.TxPipeline()
	pipe.ZAdd(ctx, k, redis.Z{Score: float64(now.Add(ttl).UnixMilli()), Member: repID + "/" + conn})
	// Members of dead processes never leave by themselves.
	pipe.ZRemRangeByScore(ctx, k, "-inf", strconv.FormatInt(now.UnixMilli(), 10))
	pipe.Expire(ctx, k, 2*ttl)
	if _, err := pipe.Exec(ctx); err != nil {
		return unavailable("redisbus.Beat", err)
	}
	return nil
}

// Leave marks connection conn of rep repID offline.
func (p *Presence) Leave(ctx context.Context, orgID, repID, conn string) error {
	if err := p.rdb.ZRem(ctx, p.key(orgID), repID+"/"+conn).Err(); err != nil {
		return unavailable("redisbus.Leave", err)
	}
	return nil
}

// Online returns the reps of org orgID with at least one console open.
func (p *Presence) Online(ctx context.Context, orgID string) ([]string, error) {
	members, err := p.rdb.ZRangeByScore(ctx, p.key(orgID), &redis.ZRangeBy{
		Min: strconv.FormatInt(time.Now().UnixMilli(), 10), Max: "+inf",
	}).Result()
	if err != nil {
		return nil, unavailable("redisbus.Online", err)
	}
	seen := map[string]bool{}
	var reps []string
	for _, m := range members {
		rep, _, _ := strings.Cut(m, "/")
		if !seen[rep] {
			seen[rep] = true
			reps = append(reps, rep)
		}
	}
	return reps, nil
}
