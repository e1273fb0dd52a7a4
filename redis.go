package caddyliveness

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/caddy-liveness/caddy-liveness/vendors"
)

// Redis defaults and timings.
const (
	DefaultRedisPrefix = "liveness:"

	// Every Redis operation on a request's path gives up after this (or
	// the request's deadline, if sooner), and the request goes on with
	// the local memory.
	redisOpTimeout = 200 * time.Millisecond
	// Admin API operations (purge, counting entries) scan keys: longer.
	adminRedisTimeout = 5 * time.Second
	// How often an instance waiting for another's vendor call looks for
	// its result.
	redisPollInterval = 25 * time.Millisecond
	// After a failure Redis is left alone this long, then tried again.
	redisRetryAfter = time.Second
	// At most one warning per this interval while Redis fails.
	redisWarnEvery = 30 * time.Second
	// The lock's expiry when the context has no deadline (the handler's
	// always has one).
	redisDefaultLockTTL = 10 * time.Second
)

func init() {
	// go-redis prints its own diagnostics (each failed dial, ...) to
	// stderr; route them to Caddy's log at debug level instead, so that a
	// Redis outage is reported by our warning, once per interval. (This is
	// process-wide, for every go-redis user in the binary.)
	redis.SetLogger(redisLog{})
}

type redisLog struct{}

func (redisLog) Printf(_ context.Context, format string, v ...any) {
	caddy.Log().Named("redis").Debug(fmt.Sprintf(format, v...))
}

// RedisConfig points the verdict cache and the duplicate registry at a
// Redis server shared by several Caddy instances.
type RedisConfig struct {
	// host:port of the server. Placeholders allowed. One of Address and
	// URL is required.
	Address string `json:"address,omitempty"`
	// A redis:// or rediss:// (TLS) URL, which may carry a user name,
	// password and database. Placeholders allowed.
	URL string `json:"url,omitempty"`
	// The password (AUTH); overrides one in URL. Placeholders such as
	// {env.X} are resolved at provisioning; empty after resolution is an
	// error.
	Password string `json:"password,omitempty"`
	// The database number; overrides one in URL. Default 0.
	DB int `json:"db,omitempty"`
	// Prepended to every key. Default "liveness:".
	Prefix string `json:"prefix,omitempty"`
}

func (c *RedisConfig) validate() error {
	if (c.Address == "") == (c.URL == "") {
		return errors.New("cache redis needs one of address and url")
	}
	if c.DB < 0 {
		return errors.New("cache redis db must not be negative")
	}
	return nil
}

// options resolves the placeholders and builds the client options. The
// errors never quote a resolved value or a URL (which may hold a
// password).
func (c *RedisConfig) options() (*redis.Options, error) {
	repl := caddy.NewReplacer()
	var opts *redis.Options
	if c.URL != "" {
		o, err := redis.ParseURL(repl.ReplaceAll(c.URL, ""))
		if err != nil {
			return nil, errors.New("liveness: cache redis url is not a valid redis:// or rediss:// URL")
		}
		opts = o
	} else {
		addr := strings.TrimSpace(repl.ReplaceAll(c.Address, ""))
		if addr == "" {
			return nil, fmt.Errorf("liveness: cache redis address %q resolved to an empty value", c.Address)
		}
		opts = &redis.Options{Addr: addr}
	}
	if c.Password != "" {
		pw, err := vendors.ResolveSecret("liveness: cache redis password", c.Password)
		if err != nil {
			return nil, err
		}
		opts.Password = pw
	}
	if c.DB != 0 {
		opts.DB = c.DB
	}
	opts.DialTimeout = redisOpTimeout
	opts.ReadTimeout = redisOpTimeout
	opts.WriteTimeout = redisOpTimeout
	opts.PoolTimeout = redisOpTimeout
	opts.ContextTimeoutEnabled = true
	opts.MaxRetries = -1   // a failed operation falls back at once; the next request tries again
	opts.DialerRetries = 1 // one dial per attempt, within the operation's timeout
	return opts, nil
}

// redisStore keeps results, sightings and call locks in Redis:
//
//	<prefix>result:<hex sha256(profile)>:<hex sha256(image)>  result JSON, TTL the cache ttl
//	<prefix>seen:<hex sha256(image)>                          hash {n: count, f: first seen, unix ns}, TTL from the first sighting
//	<prefix>lock:<hex sha256(profile)>:<hex sha256(image)>    an instance's token while it calls the vendor, TTL its deadline
//
// Images are never stored, nor vendor profiles (which hold URLs) in the
// clear.
type redisStore struct {
	c         *redis.Client
	prefix    string
	ttl       time.Duration
	opTimeout time.Duration
}

func newRedisStore(opts *redis.Options, prefix string, ttl time.Duration) *redisStore {
	return &redisStore{c: redis.NewClient(opts), prefix: prefix, ttl: ttl, opTimeout: redisOpTimeout}
}

func (rs *redisStore) close() error { return rs.c.Close() }

// remoteID names the Redis keyspace of the state ("" without Redis):
// handlers with other vendors or options may share one.
func (s *state) remoteID() string {
	if s.remote == nil {
		return ""
	}
	o := s.remote.c.Options()
	return o.Addr + "/" + strconv.Itoa(o.DB) + "/" + s.remote.prefix
}

func (rs *redisStore) pair(profile string, sum [32]byte) string {
	p := sha256.Sum256([]byte(profile))
	return hex.EncodeToString(p[:]) + ":" + hex.EncodeToString(sum[:])
}

func (rs *redisStore) resultKey(profile string, sum [32]byte) string {
	return rs.prefix + "result:" + rs.pair(profile, sum)
}

func (rs *redisStore) lockKey(profile string, sum [32]byte) string {
	return rs.prefix + "lock:" + rs.pair(profile, sum)
}

func (rs *redisStore) seenKey(sum [32]byte) string {
	return rs.prefix + "seen:" + hex.EncodeToString(sum[:])
}

// decode reads a stored result; a value that is not one is a miss.
func decode(v string) (vendors.Result, bool) {
	var r vendors.Result
	if err := json.Unmarshal([]byte(v), &r); err != nil || r.Class == "" {
		return vendors.Result{}, false
	}
	return r, true
}

func (rs *redisStore) get(ctx context.Context, profile string, sum [32]byte) (vendors.Result, bool, error) {
	v, err := rs.c.Get(ctx, rs.resultKey(profile, sum)).Result()
	if errors.Is(err, redis.Nil) {
		return vendors.Result{}, false, nil
	}
	if err != nil {
		return vendors.Result{}, false, err
	}
	r, ok := decode(v)
	return r, ok, nil
}

func (rs *redisStore) set(ctx context.Context, profile string, sum [32]byte, r vendors.Result) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return rs.c.Set(ctx, rs.resultKey(profile, sum), b, rs.ttl).Err()
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

func (rs *redisStore) sight(ctx context.Context, sum [32]byte, now time.Time) (sighting, error) {
	v, err := sightScript.Run(ctx, rs.c, []string{rs.seenKey(sum)}, now.UnixNano(), rs.ttl.Milliseconds()).Slice()
	if err != nil {
		return sighting{}, err
	}
	if len(v) != 2 {
		return sighting{}, fmt.Errorf("sighting script answered %d values", len(v))
	}
	n, ok := v[0].(int64)
	fs, ok2 := v[1].(string)
	first, err := strconv.ParseInt(fs, 10, 64)
	if !ok || !ok2 || err != nil {
		return sighting{}, errors.New("sighting script answered an unexpected value")
	}
	return sighting{first: time.Unix(0, first), count: int(n)}, nil
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

// scan calls f with each batch of keys matching pattern.
func (rs *redisStore) scan(ctx context.Context, pattern string, f func([]string) error) error {
	var cursor uint64
	for {
		keys, next, err := rs.c.Scan(ctx, cursor, pattern, 1000).Result()
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

func (rs *redisStore) purge(ctx context.Context, sum []byte) (int, error) {
	pattern := globEscape(rs.prefix) + "result:*"
	if sum != nil {
		pattern += ":" + hex.EncodeToString(sum)
	}
	n := 0
	err := rs.scan(ctx, pattern, func(keys []string) error {
		d, err := rs.c.Del(ctx, keys...).Result()
		n += int(d)
		return err
	})
	return n, err
}

func (rs *redisStore) len(ctx context.Context) (int, error) {
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
func (rs *redisStore) lock(ctx context.Context, profile string, sum [32]byte, token string, ttl time.Duration) (r vendors.Result, found, taken bool, err error) {
	v, err := lockScript.Run(ctx, rs.c, []string{rs.resultKey(profile, sum), rs.lockKey(profile, sum)}, token, max(ttl.Milliseconds(), 1)).Slice()
	if err != nil {
		return r, false, false, err
	}
	code, _ := v[0].(int64)
	switch code {
	case 1:
		s, _ := v[1].(string)
		r, found = decode(s)
		return r, found, false, nil
	case 2:
		return r, false, true, nil
	}
	return r, false, false, nil
}

// poll looks for the result and whether the lock is still held.
func (rs *redisStore) poll(ctx context.Context, profile string, sum [32]byte) (r vendors.Result, found, held bool, err error) {
	v, err := rs.c.MGet(ctx, rs.resultKey(profile, sum), rs.lockKey(profile, sum)).Result()
	if err != nil {
		return r, false, false, err
	}
	if s, ok := v[0].(string); ok {
		if r, found = decode(s); found {
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

func (rs *redisStore) unlock(ctx context.Context, profile string, sum [32]byte, token string) error {
	return unlockScript.Run(ctx, rs.c, []string{rs.lockKey(profile, sum)}, token).Err()
}

// redisHealth tracks whether Redis answers: after a failure it is left
// alone for retryAfter (requests use local memory), then tried again;
// warnings go out at most once per warnEvery.
type redisHealth struct {
	down    atomic.Bool
	retryAt atomic.Int64 // unix ns; while down, Redis is skipped until then
	logger  atomic.Pointer[zap.Logger]

	mu       sync.Mutex
	lastWarn time.Time

	retryAfter time.Duration
	warnEvery  time.Duration
}

func (hl *redisHealth) init() {
	hl.retryAfter, hl.warnEvery = redisRetryAfter, redisWarnEvery
	hl.logger.Store(zap.NewNop())
}

// setLogger makes the newest configuration's logger the one used.
func (s *state) setLogger(l *zap.Logger) {
	if l != nil {
		s.health.logger.Store(l)
	}
}

// useRemote reports whether to ask Redis: there is one, and it answers
// or is due to be tried again.
func (s *state) useRemote() bool {
	if s.remote == nil {
		return false
	}
	return !s.health.down.Load() || time.Now().UnixNano() >= s.health.retryAt.Load()
}

// opContext bounds a Redis operation by its timeout and ctx's deadline.
func (s *state) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.remote.opTimeout)
}

// outcome accounts for the result of Redis operation op done within ctx
// and reports whether Redis answered. A failure marks Redis down,
// counts in caddy_liveness_redis_errors_total and warns at most once per
// interval; the first answer after one logs the recovery. A failure
// because ctx itself ended (the client went away, the deadline passed)
// is not Redis's.
func (s *state) outcome(ctx context.Context, op string, err error) bool {
	hl := &s.health
	if err == nil {
		if hl.down.CompareAndSwap(true, false) {
			hl.logger.Load().Info("liveness: redis answers again; the cache and duplicate registry are shared again")
		}
		return true
	}
	if ended(ctx) {
		return false
	}
	registerMetrics(nil)
	metrics.redisErrors.WithLabelValues(op).Inc()
	now := time.Now()
	hl.retryAt.Store(now.Add(hl.retryAfter).UnixNano())
	hl.down.Store(true)
	hl.mu.Lock()
	warn := hl.lastWarn.IsZero() || now.Sub(hl.lastWarn) >= hl.warnEvery
	if warn {
		hl.lastWarn = now
	}
	hl.mu.Unlock()
	if warn {
		hl.logger.Load().Warn("liveness: redis unavailable; using this instance's memory for the cache and duplicates until it answers",
			zap.String("op", op), zap.Error(err), zap.Duration("next_warning_after", hl.warnEvery))
	}
	return false
}

func newToken() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ended reports whether ctx is over. A Redis call cut by the deadline
// can fail an instant before ctx reports it (the connection's deadline
// fires first), so a passed deadline counts as well: that failure is the
// request's, not Redis's.
func ended(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}

// claim is asked before a vendor call about an image that missed the
// cache. It returns the result if one was stored meanwhile (found), or
// else lets the caller call the vendor: with Redis, only once it holds
// the image's call lock, so that of several instances missing at once
// one calls and the others wait for its result. release must be called
// after the result was stored. err is ctx's when its deadline passed
// while waiting. Without Redis, or when it fails, it looks in local
// memory only and never waits.
func (s *state) claim(ctx context.Context, profile string, sum [32]byte) (r vendors.Result, found bool, release func(), err error) {
	release = func() {}
	local := func() (vendors.Result, bool, func(), error) {
		r, found, _ := s.local.get(ctx, profile, sum)
		return r, found, release, nil
	}
	if !s.useRemote() {
		return local()
	}
	token := newToken()
	var tick *time.Ticker
	for {
		ttl := redisDefaultLockTTL
		if deadline, ok := ctx.Deadline(); ok {
			ttl = time.Until(deadline)
		}
		if ttl <= 0 {
			return r, false, release, context.DeadlineExceeded
		}
		octx, cancel := s.opContext(ctx)
		r, found, taken, err := s.remote.lock(octx, profile, sum, token, ttl)
		cancel()
		if !s.outcome(ctx, "lock", err) {
			if ended(ctx) {
				return r, false, release, context.DeadlineExceeded
			}
			return local()
		}
		if found {
			return r, true, release, nil
		}
		if taken {
			return r, false, func() {
				uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.remote.opTimeout)
				defer cancel()
				s.outcome(uctx, "unlock", s.remote.unlock(uctx, profile, sum, token))
			}, nil
		}
		// Another instance is calling: wait for its result, or for its
		// lock to go (it failed or gave up) and try to take it.
		if tick == nil {
			tick = time.NewTicker(redisPollInterval)
			defer tick.Stop()
			if s.onWait != nil {
				s.onWait()
			}
		}
		for held := true; held; {
			select {
			case <-ctx.Done():
				return r, false, release, ctx.Err()
			case <-tick.C:
			}
			octx, cancel := s.opContext(ctx)
			r, found, held, err = s.remote.poll(octx, profile, sum)
			cancel()
			if !s.outcome(ctx, "poll", err) {
				if ended(ctx) {
					return r, false, release, context.DeadlineExceeded
				}
				return local()
			}
			if found {
				return r, true, release, nil
			}
		}
	}
}
