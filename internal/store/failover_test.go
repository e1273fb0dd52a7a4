//go:build failover

package store

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/caddy-liveness/caddy-liveness/internal/redistest"
)

// These tests fail the primary under a store that keeps writing: a
// Sentinel failover, and a cluster master that stops answering until its
// replica takes over. They stall a node of the deployments they run on
// (DEBUG SLEEP), so they run alone: make -f xcaddy.mk failover, which
// starts deployments of their own.

// stall makes the server at addr stop answering for d (its clients time
// out as with a dead machine); it comes back as a replica of whoever took
// over.
func stall(t *testing.T, addr string, d time.Duration) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, ReadTimeout: -1})
	go func() {
		defer c.Close()
		c.Do(context.Background(), "DEBUG", "SLEEP", fmt.Sprintf("%.1f", d.Seconds()))
	}()
}

// write is one Set of the writer: which image, whether Redis acknowledged
// it, and when.
type write struct {
	sum   [32]byte
	acked bool
	at    time.Time
	took  time.Duration
}

// keepWriting stores a new result every 10 ms until stop is closed,
// appending each write to ws.
func keepWriting(s *Store[result], stop <-chan struct{}, mu *sync.Mutex, ws *[]write) {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-time.After(10 * time.Millisecond):
		}
		sum := sha256.Sum256(fmt.Appendf(nil, "failover %d", i))
		start := time.Now()
		acked := s.Set(context.Background(), "p", sum, result{Class: "face", Score: 0.9, HasScore: true})
		mu.Lock()
		*ws = append(*ws, write{sum, acked, start, time.Since(start)})
		mu.Unlock()
	}
}

// failover runs the writer across a failure that fail starts, until a
// whole second of writes is acknowledged again, and checks that
// every acknowledged result is still in Redis, read by a client of its own.
func failover(t *testing.T, shape redistest.Shape, fail func()) {
	s := New(Config[result]{TTL: time.Hour, MaxEntries: 100_000, Redis: shape.Options, Prefix: redistest.Prefix(t),
		Replicas: 1, RetryAfter: 50 * time.Millisecond, Valid: func(r result) bool { return r.Class != "" }})
	defer s.Close()
	if err := s.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var mu sync.Mutex
	var ws []write
	var wg sync.WaitGroup
	wg.Go(func() { keepWriting(s, stop, &mu, &ws) })

	time.Sleep(time.Second)
	failedAt := time.Now()
	fail()
	// Wait for refused writes, then for a second of writes all
	// acknowledged.
	recovered := func() bool {
		mu.Lock()
		defer mu.Unlock()
		seen, since := false, time.Time{}
		for _, w := range ws {
			if !w.acked {
				seen, since = true, w.at
			}
		}
		return seen && time.Since(since) > time.Second
	}
	for deadline := time.Now().Add(60 * time.Second); !recovered(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			close(stop)
			wg.Wait()
			t.Fatal("no second of acknowledged writes within 60 s of the failure")
		}
	}
	close(stop)
	wg.Wait()

	var acked, refused int
	var firstRefused, lastRefused time.Time
	var slowest time.Duration
	for _, w := range ws {
		slowest = max(slowest, w.took)
		if w.acked {
			acked++
			continue
		}
		refused++
		if firstRefused.IsZero() {
			firstRefused = w.at
		}
		lastRefused = w.at
	}
	if refused == 0 {
		t.Fatal("no write refused: the failure did not show")
	}
	// Every acknowledged result survived, read by a fresh client.
	c := redis.NewUniversalClient(shape.Options)
	defer c.Close()
	lost := 0
	for _, w := range ws {
		if w.acked {
			if err := c.Get(context.Background(), s.remote.resultKey("p", w.sum)).Err(); err != nil {
				lost++
			}
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d acknowledged results lost in the failover", lost, acked)
	}
	// What was refused went to this instance's memory.
	for _, w := range ws {
		if !w.acked {
			if _, ok, _ := s.local.get(context.Background(), "p", w.sum); !ok {
				t.Fatal("a refused result is not in the memory either")
			}
		}
	}
	t.Logf("%s: %d writes, %d acknowledged (0 lost), %d refused into local memory between %v and %v after the failure "+
		"(%.1f s degraded); slowest write %v",
		shape.Name, len(ws), acked, refused, firstRefused.Sub(failedAt).Round(time.Millisecond),
		lastRefused.Sub(failedAt).Round(time.Millisecond), lastRefused.Sub(firstRefused).Seconds(), slowest.Round(time.Millisecond))
}

// The primary stops answering; the Sentinels promote a replica.
func TestFailoverSentinel(t *testing.T) {
	shape := redistest.Shapes(t)[2]
	sentinel := redis.NewSentinelClient(&redis.Options{Addr: shape.Options.Addrs[0]})
	defer sentinel.Close()
	primary := func() string {
		a, err := sentinel.GetMasterAddrByName(t.Context(), shape.Options.MasterName).Result()
		if err != nil {
			t.Fatal(err)
		}
		return a[0] + ":" + a[1]
	}
	old := primary()
	failover(t, shape, func() { stall(t, old, 4*time.Second) })
	if now := primary(); now == old {
		t.Fatalf("the Sentinels did not fail over: the primary is still %s", now)
	}
}

func TestFailoverCluster(t *testing.T) {
	shape := redistest.Shapes(t)[1]
	cc := redis.NewClusterClient(shape.Options.Cluster())
	defer cc.Close()
	// Stall the master of the first image's slot: its slots move to its
	// replica; the other masters' slots go on answering.
	key := "x:" + tag(sha256.Sum256([]byte("failover 0")))
	m, err := cc.MasterForKey(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	old := m.Options().Addr
	failover(t, shape, func() { stall(t, old, 4*time.Second) })
	slot := cc.ClusterKeySlot(t.Context(), key).Val()
	shards, err := cc.ClusterShards(t.Context()).Result()
	if err != nil {
		t.Fatal(err)
	}
	var masters []string
	for _, s := range shards {
		for _, r := range s.Slots {
			if r.Start <= slot && slot <= r.End {
				for _, n := range s.Nodes {
					if n.Role == "master" {
						masters = append(masters, fmt.Sprintf("%s:%d", n.IP, n.Port))
					}
				}
			}
		}
	}
	if len(masters) != 1 || masters[0] == old {
		t.Fatalf("the slot's masters after the failover: %q (was %s)", masters, old)
	}
}
