package caddyliveness

import (
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

// state is what survives a config reload when the cache-relevant part of
// the configuration is unchanged: the cache and the in-flight calls.
type state struct {
	cache  *boundedCache // vendor results
	seen   *boundedCache // image sightings, for duplicate detection
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
	return nil
}

func newState(ttl time.Duration, entries int) *state {
	return &state{cache: newBoundedCache(ttl, entries), seen: newBoundedCache(ttl, entries)}
}
