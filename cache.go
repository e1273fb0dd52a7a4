package caddyliveness

import (
	"sync"
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

// verdictCache holds vendor results (never images, never errors) for ttl,
// with a hard bound of max entries: past it the oldest insertion goes.
type verdictCache struct {
	ttl time.Duration
	c   *gocache.Cache

	mu   sync.Mutex
	ring []string // insertion order; every cached key sits in one slot
	next int

	stop chan struct{}
	done chan struct{}
}

func newVerdictCache(ttl time.Duration, max int) *verdictCache {
	vc := &verdictCache{
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
func (vc *verdictCache) janitor(every time.Duration) {
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

func (vc *verdictCache) get(key string) (vendors.Result, bool) {
	v, ok := vc.c.Get(key)
	if !ok {
		return vendors.Result{}, false
	}
	return v.(vendors.Result), true
}

func (vc *verdictCache) set(key string, r vendors.Result) {
	vc.mu.Lock()
	defer vc.mu.Unlock()
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
	vc.c.Set(key, r, vc.ttl)
}

func (vc *verdictCache) len() int { return vc.c.ItemCount() }

// state is what survives a config reload when the cache-relevant part of
// the configuration is unchanged: the cache and the in-flight calls.
type state struct {
	cache *verdictCache
	calls singleflight.Group
}

// Destruct implements caddy.Destructor: the usage pool calls it when the
// last configuration using this state is unloaded.
func (s *state) Destruct() error {
	close(s.cache.stop)
	<-s.cache.done
	return nil
}
