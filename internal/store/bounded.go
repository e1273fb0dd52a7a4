package store

import (
	"strings"
	"sync"
	"time"

	gocache "github.com/patrickmn/go-cache"
)

// memKey is the memory key of a result: the same image checked under another
// profile is another entry.
func memKey(profile string, sum [32]byte) string {
	return profile + "\x00" + string(sum[:])
}

// boundedCache is go-cache with a hard bound of max entries: past it the
// oldest insertion goes. It holds results (never images, never errors)
// and, in a second one, image sightings.
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
// close stops the janitor.
func (vc *boundedCache) close() {
	close(vc.stop)
	<-vc.done
}

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

func (vc *boundedCache) get(key string) (any, bool) {
	return vc.c.Get(key)
}

func (vc *boundedCache) set(key string, v any) {
	vc.mu.Lock()
	defer vc.mu.Unlock()
	vc.setLocked(key, v)
}

// sight records one more sighting of key at now and returns the record,
// the new one included. The TTL counts from the first sighting.
func (vc *boundedCache) sight(key string, now time.Time) Sighting {
	vc.mu.Lock()
	defer vc.mu.Unlock()
	if v, exp, ok := vc.c.GetWithExpiration(key); ok {
		s := v.(Sighting)
		s.Count++
		vc.c.Set(key, s, time.Until(exp))
		return s
	}
	s := Sighting{First: now, Count: 1}
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
