// Package store keeps verdicts and image sightings: in this process's
// memory, or in Redis shared by every instance using it, with the memory
// standing in while Redis fails. It knows nothing of Caddy or the vendors:
// a stored value is any V, encoded as JSON for Redis. Metrics and logs
// reach the caller through Config's hooks and SetLogger.
package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Timings.
const (
	// Every Redis operation on a request's path gives up after this (or
	// the request's deadline, if sooner), and the request goes on with
	// the local memory.
	DefaultRedisTimeout = 200 * time.Millisecond
	// Operations of the admin API (purge, counting entries) scan keys:
	// longer.
	adminTimeout = 5 * time.Second
	// How often an instance waiting for another's vendor call looks for
	// its result.
	pollInterval = 25 * time.Millisecond
	// After a failure Redis is left alone this long, then tried again.
	DefaultRetryAfter = time.Second
	// At most one warning per this interval while Redis fails.
	warnEvery = 30 * time.Second
	// The lock's expiry when the context has no deadline (the handler's
	// always has one).
	defaultLockTTL = 10 * time.Second
)

// Sighting is what is known of an image seen before.
type Sighting struct {
	First time.Time // the first sighting
	Count int       // sightings, the last one included
}

// Config sets up a Store.
type Config[V any] struct {
	TTL        time.Duration // how long a result (and sightings, from the first) is kept
	MaxEntries int           // the bound of each memory cache (results, sightings)

	// Redis, when set, shares results, sightings and call locks between
	// instances; the memory stands in while it fails. Its timeouts and
	// retries are set by New.
	Redis        *redis.UniversalOptions
	Prefix       string        // prepended to every Redis key
	RedisTimeout time.Duration // per operation; default DefaultRedisTimeout
	RetryAfter   time.Duration // how long Redis is left alone after a failure; default DefaultRetryAfter
	// Replicas is how many replicas must hold a result before Redis has
	// stored it (WAIT): with 1 or more, a failover loses no result Set
	// reported stored. 0: the primary's answer.
	Replicas int

	// Valid reports whether a value read back from Redis is one (nil:
	// every value that decodes is); one that is not is a miss.
	Valid func(V) bool
	// OnRedisError is called with the operation's name for each Redis
	// failure that is Redis's (not the request's deadline), for metrics.
	OnRedisError func(op string)
	// Trace, when set, is called before each Redis operation with its
	// context and name (get, set, sight, lock, poll, unlock, purge, len);
	// the operation runs in the context it returns and calls end with its
	// error. For spans.
	Trace func(ctx context.Context, op string) (_ context.Context, end func(error))
}

// backend is what the memory and Redis implement with the same semantics
// (the suite in the tests runs against both):
//
//   - get/set: a result per profile and image hash, kept for the TTL;
//   - sight: counts one more sighting of an image hash, atomically, and
//     returns the first-seen time and the count, this one included; the
//     TTL counts from the first sighting;
//   - purge: the results of one image hash (every profile), or all
//     results for a nil sum; sightings stay;
//   - len: the results held.
type backend[V any] interface {
	get(ctx context.Context, profile string, sum [32]byte) (V, bool, error)
	set(ctx context.Context, profile string, sum [32]byte, v V) error
	sight(ctx context.Context, sum [32]byte, now time.Time) (Sighting, error)
	purge(ctx context.Context, sum []byte) (int, error)
	len(ctx context.Context) (int, error)
}

// memory is the in-memory backend: two bounded caches in this process.
type memory[V any] struct {
	results *boundedCache
	seen    *boundedCache
}

func (m memory[V]) get(_ context.Context, profile string, sum [32]byte) (V, bool, error) {
	v, ok := m.results.get(memKey(profile, sum))
	r, _ := v.(V)
	return r, ok, nil
}

func (m memory[V]) set(_ context.Context, profile string, sum [32]byte, v V) error {
	m.results.set(memKey(profile, sum), v)
	return nil
}

func (m memory[V]) sight(_ context.Context, sum [32]byte, now time.Time) (Sighting, error) {
	return m.seen.sight(string(sum[:]), now), nil
}

func (m memory[V]) purge(_ context.Context, sum []byte) (int, error) {
	return m.results.purge(sum), nil
}

func (m memory[V]) len(context.Context) (int, error) { return m.results.len(), nil }

// Store is the verdict store: results and sightings in Redis, or in this
// process's memory without Redis or while it fails.
type Store[V any] struct {
	local  memory[V]
	remote *redisBackend[V] // nil without Redis
	health health
	onErr  func(op string)
	onOp   func(ctx context.Context, op string) (context.Context, func(error))

	closeOnce sync.Once
	closeErr  error

	// OnWait, when set, is called when a Claim starts waiting for another
	// instance's call (tests).
	OnWait func()
}

// New returns a store. With Redis it does not connect yet: Redis being
// down at start is handled like Redis going down later.
func New[V any](c Config[V]) *Store[V] {
	s := &Store[V]{
		local: memory[V]{results: newBoundedCache(c.TTL, c.MaxEntries), seen: newBoundedCache(c.TTL, c.MaxEntries)},
		onErr: c.OnRedisError,
		onOp:  c.Trace,
	}
	s.health.retryAfter = orDefault(c.RetryAfter, DefaultRetryAfter)
	s.health.logger.Store(zap.NewNop())
	if c.Redis != nil {
		s.remote = newRedis[V](c.Redis, c.Prefix, c.TTL, orDefault(c.RedisTimeout, DefaultRedisTimeout), c.Replicas, c.Valid)
	}
	return s
}

// orDefault is d when set, else def.
func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Close stops the memory's janitors and closes the Redis client; calls
// after the first do nothing.
func (s *Store[V]) Close() error {
	s.closeOnce.Do(func() {
		s.local.results.close()
		s.local.seen.close()
		if s.remote != nil {
			s.closeErr = s.remote.c.Close()
		}
	})
	return s.closeErr
}

// SetLogger makes l the logger of Redis's warnings (the newest
// configuration's).
func (s *Store[V]) SetLogger(l *zap.Logger) {
	if l != nil {
		s.health.logger.Store(l)
	}
}

// Backend names the store in use: "redis" or "memory".
func (s *Store[V]) Backend() string {
	if s.remote != nil {
		return "redis"
	}
	return "memory"
}

// RemoteID names the Redis keyspace ("" without Redis): stores of
// handlers with other vendors or options may share one.
func (s *Store[V]) RemoteID() string {
	if s.remote == nil {
		return ""
	}
	return s.remote.id()
}

// Degraded reports whether Redis failed last time it was asked.
func (s *Store[V]) Degraded() bool { return s.health.down.Load() }

// Memory counts the results and sightings held in this process.
func (s *Store[V]) Memory() (results, sightings int) {
	return s.local.results.len(), s.local.seen.len()
}

// Get looks a result up.
func (s *Store[V]) Get(ctx context.Context, profile string, sum [32]byte) (V, bool) {
	if s.useRemote() {
		octx, cancel := s.opContext(ctx)
		octx, end := s.trace(octx, "get")
		v, ok, err := s.remote.get(octx, profile, sum)
		end(err)
		cancel()
		if s.answered(ctx, "get", err) {
			return v, ok
		}
	}
	v, ok, _ := s.local.get(ctx, profile, sum)
	return v, ok
}

// Set stores a result and reports whether Redis acknowledged it (false
// without Redis or while it fails: then the memory holds it).
func (s *Store[V]) Set(ctx context.Context, profile string, sum [32]byte, v V) (inRedis bool) {
	if s.useRemote() {
		octx, cancel := s.opContext(ctx)
		octx, end := s.trace(octx, "set")
		err := s.remote.set(octx, profile, sum, v)
		end(err)
		cancel()
		if s.answered(ctx, "set", err) {
			return true
		}
	}
	s.local.set(ctx, profile, sum, v)
	return false
}

// Sight records a sighting of an image at now and returns its record.
func (s *Store[V]) Sight(ctx context.Context, sum [32]byte, now time.Time) Sighting {
	if s.useRemote() {
		octx, cancel := s.opContext(ctx)
		octx, end := s.trace(octx, "sight")
		si, err := s.remote.sight(octx, sum, now)
		end(err)
		cancel()
		if s.answered(ctx, "sight", err) {
			return si
		}
	}
	si, _ := s.local.sight(ctx, sum, now)
	return si
}

// Purge deletes results everywhere the store keeps them — one image's
// (every profile) or, for a nil sum, all — and returns how many went from
// the backend (Redis or memory). A Redis failure is returned, after the
// memory was purged.
func (s *Store[V]) Purge(ctx context.Context, sum []byte) (int, error) {
	n, _ := s.local.purge(ctx, sum)
	if s.remote == nil {
		return n, nil
	}
	octx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	octx, end := s.trace(octx, "purge")
	n, err := s.remote.purge(octx, sum)
	end(err)
	s.answered(ctx, "purge", err)
	return n, err
}

// Entries counts the results in the backend: Redis, or the memory without
// Redis or when Redis fails (degraded reports that).
func (s *Store[V]) Entries(ctx context.Context) (n int, degraded bool) {
	if s.remote != nil {
		octx, cancel := context.WithTimeout(ctx, adminTimeout)
		defer cancel()
		octx, end := s.trace(octx, "len")
		n, err := s.remote.len(octx)
		end(err)
		if s.answered(ctx, "len", err) {
			return n, false
		}
		degraded = true
	}
	n, _ = s.local.len(ctx)
	return n, degraded
}

// health tracks whether Redis answers: after a failure it is left alone
// for retryAfter (requests use the memory), then tried again; warnings go
// out at most once per warnEvery.
type health struct {
	down    atomic.Bool
	retryAt atomic.Int64 // unix ns; while down, Redis is skipped until then
	logger  atomic.Pointer[zap.Logger]

	mu       sync.Mutex
	lastWarn time.Time

	retryAfter time.Duration
}

// trace starts what Config.Trace does for operation op.
func (s *Store[V]) trace(ctx context.Context, op string) (context.Context, func(error)) {
	if s.onOp == nil {
		return ctx, func(error) {}
	}
	return s.onOp(ctx, op)
}

// useRemote reports whether to ask Redis: there is one, and it answers
// or is due to be tried again.
func (s *Store[V]) useRemote() bool {
	if s.remote == nil {
		return false
	}
	return !s.health.down.Load() || time.Now().UnixNano() >= s.health.retryAt.Load()
}

// opContext bounds a Redis operation by its timeout and ctx's deadline.
func (s *Store[V]) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.remote.timeout)
}

// answered accounts for the result of Redis operation op done within ctx
// and reports whether Redis answered. A failure marks Redis down, goes to
// OnRedisError and warns at most once per interval; the first answer
// after one logs the recovery. A failure because ctx itself ended (the
// client went away, the deadline passed) is not Redis's.
func (s *Store[V]) answered(ctx context.Context, op string, err error) bool {
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
	if s.onErr != nil {
		s.onErr(op)
	}
	now := time.Now()
	hl.retryAt.Store(now.Add(hl.retryAfter).UnixNano())
	hl.down.Store(true)
	hl.mu.Lock()
	warn := hl.lastWarn.IsZero() || now.Sub(hl.lastWarn) >= warnEvery
	if warn {
		hl.lastWarn = now
	}
	hl.mu.Unlock()
	if warn {
		hl.logger.Load().Warn("liveness: redis unavailable; using this instance's memory for the cache and duplicates until it answers",
			zap.String("op", op), zap.Error(err), zap.Duration("next_warning_after", warnEvery))
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

// Claim is asked before a vendor call about an image that missed the
// cache. It returns the result if one was stored meanwhile (found), or
// else lets the caller call the vendor: with Redis, only once it holds
// the image's call lock, so that of several instances missing at once
// one calls and the others wait for its result. release must be called
// after the result was stored. err is ctx's when its deadline passed
// while waiting. Without Redis, or when it fails, it looks in local
// memory only and never waits.
func (s *Store[V]) Claim(ctx context.Context, profile string, sum [32]byte) (r V, found bool, release func(), err error) {
	release = func() {}
	local := func() (V, bool, func(), error) {
		r, found, _ := s.local.get(ctx, profile, sum)
		return r, found, release, nil
	}
	if !s.useRemote() {
		return local()
	}
	token := newToken()
	var tick *time.Ticker
	for {
		ttl := defaultLockTTL
		if deadline, ok := ctx.Deadline(); ok {
			ttl = time.Until(deadline)
		}
		if ttl <= 0 {
			return r, false, release, context.DeadlineExceeded
		}
		octx, cancel := s.opContext(ctx)
		octx, end := s.trace(octx, "lock")
		r, found, taken, err := s.remote.lock(octx, profile, sum, token, ttl)
		end(err)
		cancel()
		if !s.answered(ctx, "lock", err) {
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
				uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.remote.timeout)
				defer cancel()
				uctx, end := s.trace(uctx, "unlock")
				err := s.remote.unlock(uctx, profile, sum, token)
				end(err)
				s.answered(uctx, "unlock", err)
			}, nil
		}
		// Another instance is calling: wait for its result, or for its
		// lock to go (it failed or gave up) and try to take it.
		if tick == nil {
			tick = time.NewTicker(pollInterval)
			defer tick.Stop()
			if s.OnWait != nil {
				s.OnWait()
			}
		}
		for held := true; held; {
			select {
			case <-ctx.Done():
				return r, false, release, ctx.Err()
			case <-tick.C:
			}
			octx, cancel := s.opContext(ctx)
			octx, end := s.trace(octx, "poll")
			r, found, held, err = s.remote.poll(octx, profile, sum)
			end(err)
			cancel()
			if !s.answered(ctx, "poll", err) {
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

// Ping connects to Redis now (nil without Redis).
func (s *Store[V]) Ping(ctx context.Context) error {
	if s.remote == nil {
		return nil
	}
	return s.remote.c.Ping(ctx).Err()
}
