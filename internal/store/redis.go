package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisBackend keeps results, sightings and call locks in Redis — one
// server, a Redis Cluster or a primary under Sentinels:
//
//	<prefix>result:<hex sha256(profile)>:{<hex sha256(image)>}  result JSON, TTL the cache ttl
//	<prefix>lock:<hex sha256(profile)>:{<hex sha256(image)>}    an instance's token while it calls the vendor, TTL its deadline
//	<prefix>seen:{<hex sha256(image)>}                          hash {n: count, f: first seen, unix ns}, TTL from the first sighting
//
// The braces are a hash tag: every key of one image lives in one hash
// slot, so each script (which touches the result and the lock of one
// image) and each MGET runs on one node of a cluster. Images are never
// stored, nor vendor profiles (which hold URLs) in the clear.
type redisBackend[V any] struct {
	c       redis.UniversalClient
	name    string // servers, master name, database and prefix
	prefix  string
	ttl     time.Duration
	timeout time.Duration
	// replicas a result must reach before it counts as stored (WAIT);
	// 0: the primary's answer is enough.
	replicas int
	valid    func(V) bool
}

// newRedis returns the backend on a client with opts, whose timeouts it
// sets: every operation is bounded by timeout and never retried (a failed
// one falls back at once; the next request tries again).
func newRedis[V any](opts *redis.UniversalOptions, prefix string, ttl, timeout time.Duration, replicas int, valid func(V) bool) *redisBackend[V] {
	o := *opts
	o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout = timeout, timeout, timeout, timeout
	o.ContextTimeoutEnabled = true
	o.MaxRetries = -1
	o.DialerRetries = 1 // one dial per attempt, within the operation's timeout
	name := strings.Join(o.Addrs, ",") + "/" + o.MasterName + "/" + strconv.Itoa(o.DB) + "/" + prefix
	return &redisBackend[V]{c: redis.NewUniversalClient(&o), name: name, prefix: prefix, ttl: ttl, timeout: timeout, replicas: replicas, valid: valid}
}

// id names the keyspace: servers, master name, database and prefix.
func (rs *redisBackend[V]) id() string { return rs.name }

// tag is an image's hash tag.
func tag(sum [32]byte) string { return "{" + hex.EncodeToString(sum[:]) + "}" }

func (rs *redisBackend[V]) pair(profile string, sum [32]byte) string {
	p := sha256.Sum256([]byte(profile))
	return hex.EncodeToString(p[:]) + ":" + tag(sum)
}

func (rs *redisBackend[V]) resultKey(profile string, sum [32]byte) string {
	return rs.prefix + "result:" + rs.pair(profile, sum)
}

func (rs *redisBackend[V]) lockKey(profile string, sum [32]byte) string {
	return rs.prefix + "lock:" + rs.pair(profile, sum)
}

func (rs *redisBackend[V]) seenKey(sum [32]byte) string {
	return rs.prefix + "seen:" + tag(sum)
}

// decode reads a stored result; a value that is not one is a miss.
func (rs *redisBackend[V]) decode(s string) (V, bool) {
	var v V
	if err := json.Unmarshal([]byte(s), &v); err != nil || (rs.valid != nil && !rs.valid(v)) {
		var zero V
		return zero, false
	}
	return v, true
}

func (rs *redisBackend[V]) get(ctx context.Context, profile string, sum [32]byte) (V, bool, error) {
	v, err := rs.c.Get(ctx, rs.resultKey(profile, sum)).Result()
	if errors.Is(err, redis.Nil) {
		var zero V
		return zero, false, nil
	}
	if err != nil {
		var zero V
		return zero, false, err
	}
	r, ok := rs.decode(v)
	return r, ok, nil
}

// set stores a result. With replicas, Redis has acknowledged it only once
// that many replicas hold it too (WAIT, within the operation's timeout), so
// that a failover cannot lose it; short of that it is an error.
func (rs *redisBackend[V]) set(ctx context.Context, profile string, sum [32]byte, v V) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	key := rs.resultKey(profile, sum)
	if rs.replicas == 0 {
		return rs.c.Set(ctx, key, b, rs.ttl).Err()
	}
	// WAIT has no key: on a cluster it must go to the master of the key's
	// slot, with the SET (WAIT counts the writes of its own connection).
	// Going round the cluster client, it must hear of a slot that moved.
	var c redis.Cmdable = rs.c
	cc, cluster := rs.c.(*redis.ClusterClient)
	if cluster {
		if c, err = cc.MasterForKey(ctx, key); err != nil {
			return err
		}
	}
	var wait *redis.Cmd
	if _, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, key, b, rs.ttl)
		wait = p.Do(ctx, "WAIT", rs.replicas, max(rs.timeout/2, time.Millisecond).Milliseconds())
		return nil
	}); err != nil {
		if cluster {
			cc.ReloadState(context.WithoutCancel(ctx))
		}
		return err
	}
	if n, err := wait.Int64(); err != nil || n < int64(rs.replicas) {
		return fmt.Errorf("the result reached %d of %d replicas in time", n, rs.replicas)
	}
	return nil
}

// sightScript counts a sighting and keeps the first one's time; the TTL
// is set with the first sighting only.
var sightScript = redis.NewScript(`
local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
if n == 1 then
	redis.call('HSET', KEYS[1], 'f', ARGV[1])
	redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return {n, redis.call('HGET', KEYS[1], 'f')}
`)

func (rs *redisBackend[V]) sight(ctx context.Context, sum [32]byte, now time.Time) (Sighting, error) {
	v, err := sightScript.Run(ctx, rs.c, []string{rs.seenKey(sum)}, now.UnixNano(), rs.ttl.Milliseconds()).Slice()
	if err != nil {
		return Sighting{}, err
	}
	if len(v) != 2 {
		return Sighting{}, fmt.Errorf("sighting script answered %d values", len(v))
	}
	n, ok := v[0].(int64)
	fs, ok2 := v[1].(string)
	first, err := strconv.ParseInt(fs, 10, 64)
	if !ok || !ok2 || err != nil {
		return Sighting{}, errors.New("sighting script answered an unexpected value")
	}
	return Sighting{First: time.Unix(0, first), Count: int(n)}, nil
}

// globEscape escapes the glob characters of a key prefix for SCAN MATCH.
func globEscape(s string) string {
	var b strings.Builder
	for _, c := range s {
		if strings.ContainsRune(`*?[]\^`, c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// scan calls f with each batch of keys matching pattern: on every
// master of a cluster, or on the one server.
func (rs *redisBackend[V]) scan(ctx context.Context, pattern string, f func([]string) error) error {
	one := func(ctx context.Context, c redis.Cmdable, f func([]string) error) error {
		var cursor uint64
		for {
			keys, next, err := c.Scan(ctx, cursor, pattern, 1000).Result()
			if err != nil {
				return err
			}
			if len(keys) > 0 {
				if err := f(keys); err != nil {
					return err
				}
			}
			if next == 0 {
				return nil
			}
			cursor = next
		}
	}
	cc, ok := rs.c.(*redis.ClusterClient)
	if !ok {
		return one(ctx, rs.c, f)
	}
	// ForEachMaster runs in parallel: f is called one batch at a time.
	var mu sync.Mutex
	return cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		return one(ctx, m, func(keys []string) error {
			mu.Lock()
			defer mu.Unlock()
			return f(keys)
		})
	})
}

func (rs *redisBackend[V]) purge(ctx context.Context, sum []byte) (int, error) {
	pattern := globEscape(rs.prefix) + "result:*"
	if sum != nil {
		pattern += ":{" + hex.EncodeToString(sum) + "}"
	}
	n := 0
	err := rs.scan(ctx, pattern, func(keys []string) error {
		// One DEL per key: the keys of a batch lie in many hash slots.
		cmds, err := rs.c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range keys {
				p.Del(ctx, k)
			}
			return nil
		})
		for _, c := range cmds {
			if d, ok := c.(*redis.IntCmd); ok {
				n += int(d.Val())
			}
		}
		return err
	})
	return n, err
}

func (rs *redisBackend[V]) len(ctx context.Context) (int, error) {
	n := 0
	err := rs.scan(ctx, globEscape(rs.prefix)+"result:*", func(keys []string) error {
		n += len(keys)
		return nil
	})
	return n, err
}

// lockScript answers a stored result (1, result), or takes the lock
// (2), or reports it held by another (0), in one round trip.
var lockScript = redis.NewScript(`
local r = redis.call('GET', KEYS[1])
if r then return {1, r} end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {2} end
return {0}
`)

// lock looks for the result and, without one, tries to take the call
// lock for ttl.
func (rs *redisBackend[V]) lock(ctx context.Context, profile string, sum [32]byte, token string, ttl time.Duration) (r V, found, taken bool, err error) {
	v, err := lockScript.Run(ctx, rs.c, []string{rs.resultKey(profile, sum), rs.lockKey(profile, sum)}, token, max(ttl.Milliseconds(), 1)).Slice()
	if err != nil {
		return r, false, false, err
	}
	code, _ := v[0].(int64)
	switch code {
	case 1:
		s, _ := v[1].(string)
		r, found = rs.decode(s)
		return r, found, false, nil
	case 2:
		return r, false, true, nil
	}
	return r, false, false, nil
}

// poll looks for the result and whether the lock is still held.
func (rs *redisBackend[V]) poll(ctx context.Context, profile string, sum [32]byte) (r V, found, held bool, err error) {
	v, err := rs.c.MGet(ctx, rs.resultKey(profile, sum), rs.lockKey(profile, sum)).Result()
	if err != nil {
		return r, false, false, err
	}
	if s, ok := v[0].(string); ok {
		if r, found = rs.decode(s); found {
			return r, true, false, nil
		}
	}
	return r, false, v[1] != nil, nil
}

// unlockScript deletes the lock only if it is still this caller's.
var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

func (rs *redisBackend[V]) unlock(ctx context.Context, profile string, sum [32]byte, token string) error {
	return unlockScript.Run(ctx, rs.c, []string{rs.lockKey(profile, sum)}, token).Err()
}
