//go:build failover

package store

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
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

// keepWriting stores the result of image(i), i = 0, 1, ..., every 10 ms
// until stop is closed, appending each write to ws.
func keepWriting(s *Store[result], image func(int) [32]byte, stop <-chan struct{}, mu *sync.Mutex, ws *[]write) {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-time.After(10 * time.Millisecond):
		}
		sum := image(i)
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
	disturb(t, shape, newImage, fail, true)
}

// newImage is a new image each time.
func newImage(i int) [32]byte { return sha256.Sum256(fmt.Appendf(nil, "failover %d", i)) }

// disturb is failover with the images written given, and whether the
// disturbance must refuse writes.
func disturb(t *testing.T, shape redistest.Shape, image func(int) [32]byte, fail func(), mustRefuse bool) {
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
	wg.Go(func() { keepWriting(s, image, stop, &mu, &ws) })

	time.Sleep(time.Second)
	failedAt := time.Now()
	fail()
	done := time.Now()
	// Wait for refused writes (when they must come), then for a second of
	// writes all acknowledged.
	recovered := func() bool {
		mu.Lock()
		defer mu.Unlock()
		seen, since := !mustRefuse, done
		for _, w := range ws {
			if !w.acked {
				seen = true
				if w.at.After(since) {
					since = w.at
				}
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
	if refused == 0 && mustRefuse {
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
	if refused == 0 {
		firstRefused, lastRefused = failedAt, failedAt
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

// A slot moves from one master to another (MIGRATING / IMPORTING, MIGRATE,
// SETSLOT NODE) while a store writes images of that slot: writes go on
// (some into memory while the slot is half-moved), come back by
// themselves, and no acknowledged result is lost.
func TestFailoverSlotMigration(t *testing.T) {
	shape := redistest.Shapes(t)[1]
	cc := redis.NewClusterClient(shape.Options.Cluster())
	defer cc.Close()
	ctx := t.Context()
	// Images of one slot: found by their hash tag's CRC16, as Redis does.
	slot := int(crc16([]byte(tag(newImage(0))[1:65])) % 16384)
	var images [][32]byte
	for i := 0; len(images) < 100; i++ {
		sum := sha256.Sum256(fmt.Appendf(nil, "slot %d", i))
		if int(crc16([]byte(tag(sum)[1:65]))%16384) == slot {
			images = append(images, sum)
		}
	}
	if got := cc.ClusterKeySlot(ctx, tag(images[0])).Val(); got != int64(slot) {
		t.Fatalf("the test's CRC16 puts the image in slot %d, Redis in %d", slot, got)
	}
	source, err := cc.MasterForKey(ctx, tag(images[0]))
	if err != nil {
		t.Fatal(err)
	}
	var target *redis.Client
	var masters []*redis.Client
	cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		mastersMu.Lock()
		defer mastersMu.Unlock()
		masters = append(masters, m)
		if m.Options().Addr != source.Options().Addr && target == nil {
			target = m
		}
		return nil
	})
	id := func(c *redis.Client) string { return c.Do(ctx, "CLUSTER", "MYID").Val().(string) }
	sourceID, targetID := id(source), id(target)
	host, port, _ := strings.Cut(target.Options().Addr, ":")
	migrate := func() {
		must := func(c *redis.Client, args ...any) {
			if err := c.Do(ctx, args...).Err(); err != nil {
				t.Errorf("%v on %s: %v", args, c.Options().Addr, err)
			}
		}
		must(target, "CLUSTER", "SETSLOT", slot, "IMPORTING", sourceID)
		must(source, "CLUSTER", "SETSLOT", slot, "MIGRATING", targetID)
		for {
			keys, err := source.ClusterGetKeysInSlot(ctx, slot, 100).Result()
			if err != nil {
				t.Error(err)
				return
			}
			if len(keys) == 0 {
				break
			}
			args := []any{"MIGRATE", host, port, "", 0, 5000, "KEYS"}
			for _, k := range keys {
				args = append(args, k)
			}
			must(source, args...)
			time.Sleep(20 * time.Millisecond) // the writer goes on meanwhile
		}
		for _, m := range masters {
			must(m, "CLUSTER", "SETSLOT", slot, "NODE", targetID)
		}
	}
	disturb(t, shape, func(i int) [32]byte { return images[i%len(images)] }, migrate, false)
	fresh := redis.NewClusterClient(shape.Options.Cluster())
	defer fresh.Close()
	if m, err := fresh.MasterForKey(ctx, tag(images[0])); err != nil || m.Options().Addr != target.Options().Addr {
		t.Fatalf("the slot's master after the move: %v, want %s", err, target.Options().Addr)
	}
}

// mastersMu guards what ForEachMaster's parallel calls collect.
var mastersMu sync.Mutex

// crc16 is Redis Cluster's key hash: CRC-16/XMODEM.
func crc16(b []byte) uint16 {
	var crc uint16
	for _, c := range b {
		crc = crc<<8 ^ crcTable[byte(crc>>8)^c]
	}
	return crc
}

var crcTable = func() (t [256]uint16) {
	for i := range t {
		crc := uint16(i) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
		t[i] = crc
	}
	return t
}()
