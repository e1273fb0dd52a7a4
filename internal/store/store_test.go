package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-liveness/caddy-liveness/internal/redistest"
)

// result stands for the values the handler stores: a verdict.
type result struct {
	Class     string  `json:"class"`
	Score     float64 `json:"score,omitempty"`
	HasScore  bool    `json:"has_score,omitempty"`
	Passed    *bool   `json:"passed,omitempty"`
	Reason    string  `json:"reason,omitempty"`
	Reference string  `json:"reference,omitempty"`
}

// newTestRedis is a Redis backend on a test deployment under a fresh
// prefix, whose keys go when the test ends.
func newTestRedis(t *testing.T, shape redistest.Shape, ttl time.Duration) *redisBackend[result] {
	// 2s: correctness here, not latency.
	rs := newRedis(shape.Options, redistest.Prefix(t), ttl, 2*time.Second, 0, func(r result) bool { return r.Class != "" })
	t.Cleanup(func() {
		clean(rs)
		rs.c.Close()
	})
	return rs
}

// clean deletes every key under rs's prefix (which may hold glob
// characters), one DEL each: on a cluster they lie in many slots.
func clean(rs *redisBackend[result]) {
	ctx := context.Background()
	rs.scan(ctx, globEscape(rs.prefix)+"*", func(keys []string) error {
		for _, k := range keys {
			rs.c.Del(ctx, k)
		}
		return nil
	})
}

// eachShape runs f on each Redis deployment.
func eachShape(t *testing.T, f func(t *testing.T, shape redistest.Shape)) {
	for _, shape := range redistest.Shapes(t) {
		t.Run(shape.Name, func(t *testing.T) { f(t, shape) })
	}
}

// storeSuite is the behaviour both backends share.
func storeSuite(t *testing.T, open func(t *testing.T, ttl time.Duration) backend[result]) {
	yes := true
	res := result{Class: "face", Score: 0.93, HasScore: true, Passed: &yes, Reason: "some_reason", Reference: "ref-1"}
	a, b := sha256.Sum256([]byte("image a")), sha256.Sum256([]byte("image b"))
	const p1, p2 = "spoofsense https://one.example/v1 antispoofing", "spoofsense https://one.example/v1 robust"

	t.Run("results", func(t *testing.T) {
		s, ctx := open(t, time.Hour), t.Context()
		if _, ok, err := s.get(ctx, p1, a); ok || err != nil {
			t.Fatalf("empty store: ok %v, err %v", ok, err)
		}
		if err := s.set(ctx, p1, a, res); err != nil {
			t.Fatal(err)
		}
		got, ok, err := s.get(ctx, p1, a)
		if !ok || err != nil || !reflect.DeepEqual(got, res) {
			t.Fatalf("got %+v %v %v, want %+v", got, ok, err, res)
		}
		if _, ok, _ := s.get(ctx, p2, a); ok {
			t.Fatal("another profile shares the entry")
		}
		if _, ok, _ := s.get(ctx, p1, b); ok {
			t.Fatal("another image shares the entry")
		}
		other := result{Class: "no_face", Reason: "face_not_detected"}
		s.set(ctx, p1, a, other)
		if got, _, _ := s.get(ctx, p1, a); !reflect.DeepEqual(got, other) {
			t.Fatalf("overwrite: %+v", got)
		}
		if n, err := s.len(ctx); n != 1 || err != nil {
			t.Fatalf("len %d %v, want 1", n, err)
		}
	})

	t.Run("result ttl", func(t *testing.T) {
		s, ctx := open(t, 200*time.Millisecond), t.Context()
		s.set(ctx, p1, a, res)
		if _, ok, _ := s.get(ctx, p1, a); !ok {
			t.Fatal("gone at once")
		}
		redistest.WaitFor(t, 5*time.Second, "the result to expire", func() bool {
			_, ok, _ := s.get(ctx, p1, a)
			return !ok
		})
	})

	t.Run("sightings", func(t *testing.T) {
		s, ctx := open(t, time.Hour), t.Context()
		t0 := time.Unix(1_700_000_000, 123456789)
		if si, err := s.sight(ctx, a, t0); err != nil || si.Count != 1 || !si.First.Equal(t0) {
			t.Fatalf("first sighting %+v %v", si, err)
		}
		if si, _ := s.sight(ctx, a, t0.Add(time.Minute)); si.Count != 2 || !si.First.Equal(t0) {
			t.Fatalf("second sighting %+v: the first-seen time must stay", si)
		}
		if si, _ := s.sight(ctx, b, t0.Add(time.Hour)); si.Count != 1 || !si.First.Equal(t0.Add(time.Hour)) {
			t.Fatalf("another image %+v", si)
		}
		if n, _ := s.len(ctx); n != 0 {
			t.Fatalf("sightings counted as results: len %d", n)
		}
	})

	t.Run("sightings are atomic", func(t *testing.T) {
		s, ctx := open(t, time.Hour), t.Context()
		const n = 40
		t0 := time.Unix(1_700_000_000, 0)
		counts := make([]int, n)
		firsts := make([]time.Time, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				si, err := s.sight(ctx, a, t0.Add(time.Duration(i)*time.Second))
				if err != nil {
					t.Error(err)
				}
				counts[i], firsts[i] = si.Count, si.First
			})
		}
		wg.Wait()
		slices.Sort(counts)
		for i, c := range counts {
			if c != i+1 {
				t.Fatalf("counts %v, want 1..%d once each", counts, n)
			}
		}
		for _, f := range firsts {
			if !f.Equal(firsts[0]) {
				t.Fatalf("first-seen times differ: %v", firsts)
			}
		}
	})

	t.Run("sighting ttl counts from the first", func(t *testing.T) {
		s, ctx := open(t, 300*time.Millisecond), t.Context()
		// Sighting it again and again must not keep it: it is forgotten
		// one TTL after the first sighting.
		redistest.WaitFor(t, 5*time.Second, "the sighting to expire", func() bool {
			si, _ := s.sight(ctx, a, time.Now())
			return si.Count == 1
		})
	})

	t.Run("purge", func(t *testing.T) {
		s, ctx := open(t, time.Hour), t.Context()
		for _, p := range []string{p1, p2} {
			for _, sum := range [][32]byte{a, b} {
				s.set(ctx, p, sum, res)
			}
		}
		s.sight(ctx, a, time.Now())
		if n, err := s.purge(ctx, a[:]); n != 2 || err != nil {
			t.Fatalf("purged %d %v, want 2", n, err)
		}
		for _, p := range []string{p1, p2} {
			if _, ok, _ := s.get(ctx, p, a); ok {
				t.Fatal("a purged image kept a result")
			}
			if _, ok, _ := s.get(ctx, p, b); !ok {
				t.Fatal("another image's result went")
			}
		}
		if n, _ := s.len(ctx); n != 2 {
			t.Fatalf("len %d, want 2", n)
		}
		if si, _ := s.sight(ctx, a, time.Now()); si.Count != 2 {
			t.Fatalf("purge dropped the sightings: %+v", si)
		}
		if n, err := s.purge(ctx, nil); n != 2 || err != nil {
			t.Fatalf("purged all: %d %v, want 2", n, err)
		}
		if n, _ := s.len(ctx); n != 0 {
			t.Fatalf("len %d after purging all", n)
		}
	})
}

func TestStoreMemory(t *testing.T) {
	storeSuite(t, func(t *testing.T, ttl time.Duration) backend[result] {
		s := New(Config[result]{TTL: ttl, MaxEntries: 1000})
		t.Cleanup(func() { s.Close() })
		return s.local
	})
}

func TestStoreRedis(t *testing.T) {
	eachShape(t, func(t *testing.T, shape redistest.Shape) {
		storeSuite(t, func(t *testing.T, ttl time.Duration) backend[result] {
			return newTestRedis(t, shape, ttl)
		})
	})
}

// The key layout: hashes only, never a profile (with its URL) or image
// bytes; every key has a TTL; every key of one image has the image's hash
// tag, so that it lies in the image's hash slot.
func TestRedisKeyLayout(t *testing.T) {
	eachShape(t, func(t *testing.T, shape redistest.Shape) {
		rs := newTestRedis(t, shape, time.Hour)
		ctx := t.Context()
		img := []byte("the image bytes")
		sum := sha256.Sum256(img)
		profile := "spoofsense https://api.example/v1 antispoofing"
		// An instance takes the call lock, stores the result; the image
		// was sighted.
		if _, _, taken, err := rs.lock(ctx, profile, sum, "token", time.Minute); err != nil || !taken {
			t.Fatalf("lock: taken %v, %v", taken, err)
		}
		rs.set(ctx, profile, sum, result{Class: "face", Score: 0.9, HasScore: true})
		rs.sight(ctx, sum, time.Now())
		ps := sha256.Sum256([]byte(profile))
		hexSum := hex.EncodeToString(sum[:])
		want := []string{
			rs.prefix + "lock:" + hex.EncodeToString(ps[:]) + ":{" + hexSum + "}",
			rs.prefix + "result:" + hex.EncodeToString(ps[:]) + ":{" + hexSum + "}",
			rs.prefix + "seen:{" + hexSum + "}",
		}
		slices.Sort(want)
		c := shape.Connect(t)
		if got := redistest.Keys(t, c, rs.prefix); !slices.Equal(got, want) {
			t.Fatalf("keys %q, want %q", got, want)
		}
		slot := c.ClusterKeySlot(ctx, hexSum).Val()
		for _, k := range want {
			if ttl := c.PTTL(ctx, k).Val(); ttl <= 0 || ttl > time.Hour {
				t.Fatalf("%s has TTL %v", k, ttl)
			}
			dump := c.Dump(ctx, k).Val()
			if strings.Contains(dump, string(img)) || strings.Contains(dump, "api.example") {
				t.Fatalf("%s holds the image or the profile", k)
			}
			if shape.Name == "cluster" {
				if s := c.ClusterKeySlot(ctx, k).Val(); s != slot {
					t.Fatalf("%s is in slot %d, the image's is %d", k, s, slot)
				}
			}
		}
		if v := c.Get(ctx, want[1]).Val(); !strings.Contains(v, `"class":"face"`) {
			t.Fatalf("result value %q", v)
		}
	})
}

func TestRedisPrefixIsEscapedForScans(t *testing.T) {
	shape := redistest.Shapes(t)[0]
	rs := newTestRedis(t, shape, time.Hour)
	ctx := t.Context()
	rs.prefix += "*?[x]\\"
	other := newTestRedis(t, shape, time.Hour)
	other.prefix = strings.TrimSuffix(rs.prefix, "*?[x]\\") + "zz?[x]\\"
	sum := sha256.Sum256([]byte("x"))
	rs.set(ctx, "p", sum, result{Class: "face"})
	other.set(ctx, "p", sum, result{Class: "face"})
	t.Cleanup(func() { clean(rs) })
	if n, _ := rs.len(ctx); n != 1 {
		t.Fatalf("len %d, want 1: the glob characters of the prefix matched other keys", n)
	}
	if n, _ := rs.purge(ctx, nil); n != 1 {
		t.Fatalf("purged %d, want 1", n)
	}
	if _, ok, _ := other.get(ctx, "p", sum); !ok {
		t.Fatal("a purge reached another prefix")
	}
}

func TestCacheHardBound(t *testing.T) {
	vc := newBoundedCache(time.Hour, 3)
	defer vc.close()
	key := func(i int) string { return memKey("v", [32]byte{byte(i)}) }
	for i := range 10 {
		vc.set(key(i), result{Class: "face", Score: float64(i) / 10})
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
	vc.set(key(9), result{Class: "no_face"})
	if r, _ := vc.get(key(9)); r.(result).Class != "no_face" || vc.len() != 3 {
		t.Fatalf("overwrite: %+v, len %d", r, vc.len())
	}
	if _, ok := vc.get(key(7)); !ok {
		t.Fatal("overwriting evicted another entry")
	}
}

func TestCacheTTL(t *testing.T) {
	vc := newBoundedCache(90*time.Minute, 10)
	defer vc.close()
	k := memKey("v", [32]byte{1})
	vc.set(k, result{Class: "face"})
	item, ok := vc.c.Items()[k]
	if !ok {
		t.Fatal("not stored")
	}
	if left := time.Until(time.Unix(0, item.Expiration)); left < 89*time.Minute || left > 90*time.Minute {
		t.Fatalf("expires in %v, want 90m", left)
	}
}

func TestKeySeparatesProfiles(t *testing.T) {
	sum := [32]byte{1, 2, 3}
	if memKey("spoofsense https://a/prod/antispoofing", sum) == memKey("spoofsense https://a/prod/robust", sum) {
		t.Fatal("two profiles share a key")
	}
	if memKey("p", sum) == memKey("p", [32]byte{1, 2, 4}) {
		t.Fatal("two images share a key")
	}
}

func TestSightings(t *testing.T) {
	seen := newBoundedCache(time.Hour, 2)
	defer seen.close()
	t0 := time.Now()
	if s := seen.sight("a", t0); s.Count != 1 || !s.First.Equal(t0) {
		t.Fatalf("first sighting %+v", s)
	}
	if s := seen.sight("a", t0.Add(time.Minute)); s.Count != 2 || !s.First.Equal(t0) {
		t.Fatalf("second sighting %+v: the first-seen time must stay", s)
	}
	seen.sight("b", t0)
	seen.sight("c", t0) // evicts a, the oldest
	if s := seen.sight("a", t0); s.Count != 1 {
		t.Fatalf("evicted sighting kept its count: %+v", s)
	}
	if seen.len() > 2 {
		t.Fatalf("%d sightings, bound 2", seen.len())
	}
}

// Close stops the janitors of the memory.
func TestCloseStopsJanitors(t *testing.T) {
	s := New(Config[result]{TTL: time.Hour, MaxEntries: 10})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*boundedCache{s.local.results, s.local.seen} {
		select {
		case <-c.done:
		default:
			t.Fatal("a janitor still runs after Close")
		}
	}
}

// Two instances on one deployment missing the same image at once: one
// takes the call lock, the other waits for its result instead of calling
// too. On a cluster this needs the result and the lock in one slot (the
// lock script touches both).
func TestClaimSharesTheCall(t *testing.T) {
	eachShape(t, func(t *testing.T, shape redistest.Shape) {
		prefix := redistest.Prefix(t)
		open := func() *Store[result] {
			s := New(Config[result]{TTL: time.Hour, MaxEntries: 10, Redis: shape.Options, Prefix: prefix,
				RedisTimeout: 2 * time.Second, Valid: func(r result) bool { return r.Class != "" }})
			t.Cleanup(func() { clean(s.remote); s.Close() })
			return s
		}
		a, b := open(), open()
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		sum := sha256.Sum256([]byte("one image"))
		_, found, release, err := a.Claim(ctx, "p", sum)
		if found || err != nil || a.Degraded() {
			t.Fatalf("first claim: found %v, err %v, degraded %v", found, err, a.Degraded())
		}
		waiting := make(chan struct{})
		b.OnWait = func() { close(waiting) }
		got := make(chan result, 1)
		go func() {
			r, found, _, err := b.Claim(ctx, "p", sum)
			if !found || err != nil {
				t.Errorf("second claim: found %v, err %v, degraded %v", found, err, b.Degraded())
			}
			got <- r
		}()
		select {
		case <-waiting:
		case <-ctx.Done():
			t.Fatal("the second instance did not wait for the first one's call")
		}
		want := result{Class: "face", Score: 0.8, HasScore: true}
		a.Set(ctx, "p", sum, want)
		release()
		if r := <-got; !reflect.DeepEqual(r, want) {
			t.Fatalf("the waiter got %+v, want %+v", r, want)
		}
		if a.Degraded() || b.Degraded() {
			t.Fatal("Redis failed on the way")
		}
	})
}

// With Replicas, a result counts as stored in Redis only once that many
// replicas hold it: a single server has none, so the write is refused
// there (and kept in memory), while the Sentinel-managed primary has two.
func TestReplicasWaitForTheWrite(t *testing.T) {
	for _, tc := range []struct {
		shape  redistest.Shape
		stored bool
	}{{redistest.Shapes(t)[0], false}, {redistest.Shapes(t)[2], true}, {redistest.Shapes(t)[1], true}} {
		t.Run(tc.shape.Name, func(t *testing.T) {
			s := New(Config[result]{TTL: time.Hour, MaxEntries: 10, Redis: tc.shape.Options, Prefix: redistest.Prefix(t),
				Replicas: 1, RedisTimeout: 2 * time.Second, Valid: func(r result) bool { return r.Class != "" }})
			defer func() { clean(s.remote); s.Close() }()
			sum := sha256.Sum256([]byte("replicated"))
			if got := s.Set(t.Context(), "p", sum, result{Class: "face"}); got != tc.stored {
				t.Fatalf("Set reported stored in Redis %v, want %v", got, tc.stored)
			}
			if _, inMemory, _ := s.local.get(t.Context(), "p", sum); inMemory == tc.stored {
				t.Fatalf("in this process's memory: %v, want %v", inMemory, !tc.stored)
			}
		})
	}
}
