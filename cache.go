package caddyliveness

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gocache "github.com/patrickmn/go-cache"
	"golang.org/x/sync/singleflight"

	"github.com/caddy-liveness/caddy-liveness/vendors"
)

// cacheKey derives the verdict cache key from the image hash and the
// vendor profile: the same image checked by another vendor, model or
// endpoint is another entry.
func cacheKey(profile string, sum [32]byte) string {
	return profile + "\x00" + string(sum[:])
}

// boundedCache is go-cache with a hard bound of max entries: past it the
// oldest insertion goes. It holds vendor results (never images, never
// errors) and, in a second one, image sightings.
type boundedCache struct {
	ttl time.Duration
	c   *gocache.Cache

	mu   sync.Mutex
	ring []string // insertion order; every cached key sits in one slot
	next int

	stop chan struct{}
	done chan struct{}
}

func newBoundedCache(ttl time.Duration, max int) *boundedCache {
	vc := &boundedCache{
		ttl:  ttl,
		c:    gocache.New(ttl, 0), // no janitor of go-cache's: ours stops on Destruct
		ring: make([]string, max),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	go vc.janitor(min(ttl, time.Minute))
	return vc
}

// janitor drops expired entries so that their memory goes before the ring
// comes round to them.
func (vc *boundedCache) janitor(every time.Duration) {
	defer close(vc.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			vc.c.DeleteExpired()
		case <-vc.stop:
			return
		}
	}
}

func (vc *boundedCache) get(key string) (vendors.Result, bool) {
	v, ok := vc.c.Get(key)
	if !ok {
		return vendors.Result{}, false
	}
	return v.(vendors.Result), true
}

func (vc *boundedCache) set(key string, r vendors.Result) {
	vc.mu.Lock()
	defer vc.mu.Unlock()
	vc.setLocked(key, r)
}

// sighting is what is known of an image seen before.
type sighting struct {
	first time.Time
	count int
}

// sight records one more sighting of key at now and returns the record,
// the new one included. The TTL counts from the first sighting.
func (vc *boundedCache) sight(key string, now time.Time) sighting {
	vc.mu.Lock()
	defer vc.mu.Unlock()
	if v, exp, ok := vc.c.GetWithExpiration(key); ok {
		s := v.(sighting)
		s.count++
		vc.c.Set(key, s, time.Until(exp))
		return s
	}
	s := sighting{first: now, count: 1}
	vc.setLocked(key, s)
	return s
}

func (vc *boundedCache) setLocked(key string, v any) {
	if _, ok := vc.c.Get(key); !ok {
		// Every key enters the ring once per insertion and leaves go-cache
		// when its slot is reused, so go-cache never holds more keys than
		// the ring has slots.
		if old := vc.ring[vc.next]; old != "" {
			vc.c.Delete(old)
		}
		vc.ring[vc.next] = key
		vc.next = (vc.next + 1) % len(vc.ring)
	}
	vc.c.Set(key, v, vc.ttl)
}

func (vc *boundedCache) len() int { return vc.c.ItemCount() }

// purge deletes the results for one image (its hash as the key suffix,
// whatever the vendor profile), or all of them for a nil sum, and returns
// how many went.
func (vc *boundedCache) purge(sum []byte) int {
	vc.mu.Lock()
	defer vc.mu.Unlock()
	if sum == nil {
		n := vc.c.ItemCount()
		vc.c.Flush()
		return n
	}
	n := 0
	for k := range vc.c.Items() {
		if strings.HasSuffix(k, "\x00"+string(sum)) {
			vc.c.Delete(k)
			n++
		}
	}
	return n
}

// store keeps vendor results and image sightings. The in-memory
// memStore and the Redis redisStore implement it with the same semantics
// (storeSuite in the tests runs against both):
//
//   - get/set: a result per vendor profile and image hash, kept for the
//     TTL; never an image, never an error;
//   - sight: counts one more sighting of an image hash, atomically, and
//     returns the first-seen time and the count, this one included; the
//     TTL counts from the first sighting;
//   - purge: the results of one image hash (every profile), or all
//     results for a nil sum; sightings stay;
//   - len: the results held.
type store interface {
	get(ctx context.Context, profile string, sum [32]byte) (vendors.Result, bool, error)
	set(ctx context.Context, profile string, sum [32]byte, r vendors.Result) error
	sight(ctx context.Context, sum [32]byte, now time.Time) (sighting, error)
	purge(ctx context.Context, sum []byte) (int, error)
	len(ctx context.Context) (int, error)
}

// memStore is the in-memory store: two bounded caches in this process.
type memStore struct {
	cache *boundedCache // vendor results
	seen  *boundedCache // image sightings, for duplicate detection
}

func (m memStore) get(_ context.Context, profile string, sum [32]byte) (vendors.Result, bool, error) {
	r, ok := m.cache.get(cacheKey(profile, sum))
	return r, ok, nil
}

func (m memStore) set(_ context.Context, profile string, sum [32]byte, r vendors.Result) error {
	m.cache.set(cacheKey(profile, sum), r)
	return nil
}

func (m memStore) sight(_ context.Context, sum [32]byte, now time.Time) (sighting, error) {
	return m.seen.sight(string(sum[:]), now), nil
}

func (m memStore) purge(_ context.Context, sum []byte) (int, error) {
	return m.cache.purge(sum), nil
}

func (m memStore) len(context.Context) (int, error) { return m.cache.len(), nil }

// state is what survives a config reload when the cache-relevant part of
// the configuration is unchanged: the stores and the in-flight calls.
type state struct {
	cache *boundedCache // vendor results in this process
	seen  *boundedCache // image sightings in this process
	local memStore      // cache and seen: the memory backend, or Redis's fallback
	// remote, when set, is the Redis backend: results, sightings and
	// cluster-wide call locks shared by every instance using it. When it
	// fails, local stands in until it answers again.
	remote *redisStore
	health redisHealth
	onWait func() // tests: called when a request starts waiting for another instance's call

	calls  singleflight.Group
	hits   atomic.Int64 // cache lookups, for the admin API
	misses atomic.Int64
}

// Destruct implements caddy.Destructor: the usage pool calls it when the
// last configuration using this state is unloaded.
func (s *state) Destruct() error {
	for _, c := range []*boundedCache{s.cache, s.seen} {
		close(c.stop)
		<-c.done
	}
	if s.remote != nil {
		return s.remote.close()
	}
	return nil
}

func newState(ttl time.Duration, entries int) *state {
	s := &state{cache: newBoundedCache(ttl, entries), seen: newBoundedCache(ttl, entries)}
	s.local = memStore{cache: s.cache, seen: s.seen}
	s.health.init()
	return s
}

// backend names the store in use, for the admin API.
func (s *state) backend() string {
	if s.remote != nil {
		return "redis"
	}
	return "memory"
}

// get looks a result up in Redis, or in local memory without Redis or
// while it fails.
func (s *state) get(ctx context.Context, profile string, sum [32]byte) (vendors.Result, bool) {
	if s.useRemote() {
		octx, cancel := s.opContext(ctx)
		r, ok, err := s.remote.get(octx, profile, sum)
		cancel()
		if s.outcome(ctx, "get", err) {
			return r, ok
		}
	}
	r, ok, _ := s.local.get(ctx, profile, sum)
	return r, ok
}

// set stores a result in Redis, or in local memory without Redis or
// while it fails.
func (s *state) set(ctx context.Context, profile string, sum [32]byte, r vendors.Result) {
	if s.useRemote() {
		octx, cancel := s.opContext(ctx)
		err := s.remote.set(octx, profile, sum, r)
		cancel()
		if s.outcome(ctx, "set", err) {
			return
		}
	}
	s.local.set(ctx, profile, sum, r)
}

// sight records a sighting in Redis, or in local memory without Redis or
// while it fails.
func (s *state) sight(ctx context.Context, sum [32]byte, now time.Time) sighting {
	if s.useRemote() {
		octx, cancel := s.opContext(ctx)
		si, err := s.remote.sight(octx, sum, now)
		cancel()
		if s.outcome(ctx, "sight", err) {
			return si
		}
	}
	si, _ := s.local.sight(ctx, sum, now)
	return si
}

// purge deletes results everywhere this state keeps them and returns how
// many went from the backend (Redis or memory). A Redis failure is
// returned, after the local memory was purged.
func (s *state) purge(ctx context.Context, sum []byte) (int, error) {
	n, _ := s.local.purge(ctx, sum)
	if s.remote == nil {
		return n, nil
	}
	octx, cancel := context.WithTimeout(ctx, adminRedisTimeout)
	defer cancel()
	n, err := s.remote.purge(octx, sum)
	s.outcome(ctx, "purge", err)
	return n, err
}

// entries counts the results in the backend: Redis, or local memory
// without Redis or when Redis fails (degraded reports that).
func (s *state) entries(ctx context.Context) (n int, degraded bool) {
	if s.remote != nil {
		octx, cancel := context.WithTimeout(ctx, adminRedisTimeout)
		defer cancel()
		n, err := s.remote.len(octx)
		if s.outcome(ctx, "len", err) {
			return n, false
		}
		degraded = true
	}
	n, _ = s.local.len(ctx)
	return n, degraded
}
