package caddyliveness

import (
	"fmt"
	"testing"
	"time"

	"github.com/caddy-liveness/caddy-liveness/vendors"
)

func TestCacheHardBound(t *testing.T) {
	st := newState(time.Hour, 3)
	defer st.Destruct()
	vc := st.cache
	key := func(i int) string { return cacheKey("v", [32]byte{byte(i)}) }
	for i := range 10 {
		vc.set(key(i), vendors.Result{Class: vendors.ClassFace, Score: float64(i) / 10})
		if n := vc.len(); n > 3 {
			t.Fatalf("after %d inserts the cache holds %d entries, bound 3", i+1, n)
		}
	}
	// The newest stay, the oldest went.
	for i := range 10 {
		_, ok := vc.get(key(i))
		if want := i >= 7; ok != want {
			t.Errorf("entry %d present %v, want %v", i, ok, want)
		}
	}
	// Setting a present key again neither grows the cache nor evicts.
	vc.set(key(9), vendors.Result{Class: vendors.ClassNoFace})
	if r, _ := vc.get(key(9)); r.Class != vendors.ClassNoFace || vc.len() != 3 {
		t.Fatalf("overwrite: %+v, len %d", r, vc.len())
	}
	if _, ok := vc.get(key(7)); !ok {
		t.Fatal("overwriting evicted another entry")
	}
}

func TestCacheTTL(t *testing.T) {
	st := newState(90*time.Minute, 10)
	defer st.Destruct()
	vc := st.cache
	k := cacheKey("v", [32]byte{1})
	vc.set(k, vendors.Result{Class: vendors.ClassFace})
	item, ok := vc.c.Items()[k]
	if !ok {
		t.Fatal("not stored")
	}
	if left := time.Until(time.Unix(0, item.Expiration)); left < 89*time.Minute || left > 90*time.Minute {
		t.Fatalf("expires in %v, want 90m", left)
	}
}

func TestCacheKeySeparatesVendors(t *testing.T) {
	sum := [32]byte{1, 2, 3}
	if cacheKey("spoofsense https://a/prod/antispoofing", sum) == cacheKey("spoofsense https://a/prod/robust", sum) {
		t.Fatal("two profiles share a key")
	}
	if cacheKey("p", sum) == cacheKey("p", [32]byte{1, 2, 4}) {
		t.Fatal("two images share a key")
	}
}

// A reload with the same vendors and cache keeps the cache; another
// configuration gets its own.
func TestPoolKeepsCacheAcrossReload(t *testing.T) {
	cfg := func(ttl string) string {
		return fmt.Sprintf("liveness {\n vendor spoofsense {\n api_key k\n }\n threshold 0.3\n cache {\n ttl %s\n }\n}", ttl)
	}
	provision := func(input string) *Handler {
		h, err := parse(input)
		if err != nil {
			t.Fatal(err)
		}
		ctx := newCaddyContext(t)
		if err := h.Provision(ctx); err != nil {
			t.Fatal(err)
		}
		return h
	}
	old := provision(cfg("1h"))
	old.state.cache.set("k", vendors.Result{Class: vendors.ClassFace})
	next := provision(cfg("1h"))
	if err := old.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if _, ok := next.state.cache.get("k"); !ok {
		t.Fatal("the reload dropped the cache")
	}
	other := provision(cfg("2h"))
	defer other.Cleanup()
	if other.state == next.state {
		t.Fatal("a different cache configuration shares the state")
	}
	if err := next.Cleanup(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-next.state.cache.done:
	default:
		t.Fatal("the last user's cleanup left the janitor running")
	}
}

func TestSightings(t *testing.T) {
	st := newState(time.Hour, 2)
	defer st.Destruct()
	t0 := time.Now()
	if s := st.seen.sight("a", t0); s.count != 1 || !s.first.Equal(t0) {
		t.Fatalf("first sighting %+v", s)
	}
	if s := st.seen.sight("a", t0.Add(time.Minute)); s.count != 2 || !s.first.Equal(t0) {
		t.Fatalf("second sighting %+v: the first-seen time must stay", s)
	}
	st.seen.sight("b", t0)
	st.seen.sight("c", t0) // evicts a, the oldest
	if s := st.seen.sight("a", t0); s.count != 1 {
		t.Fatalf("evicted sighting kept its count: %+v", s)
	}
	if st.seen.len() > 2 {
		t.Fatalf("%d sightings, bound 2", st.seen.len())
	}
}
