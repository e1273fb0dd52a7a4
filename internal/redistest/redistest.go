// Package redistest gives tests the Redis deployments that make -f
// xcaddy.mk test starts (through scripts/with-redis.sh): one server
// (LIVENESS_REDIS_ADDR), a three-master cluster (LIVENESS_REDIS_CLUSTER)
// and a primary with a replica under Sentinels (LIVENESS_REDIS_SENTINEL,
// LIVENESS_REDIS_SENTINEL_MASTER); a key prefix of their own and clients to
// look at the keys. Without them the tests fail rather than skip, so that
// CI cannot pass without them.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Addr is the single test server's host:port.
func Addr(t testing.TB) string {
	t.Helper()
	return env(t, "LIVENESS_REDIS_ADDR")
}

func env(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatal(name + " is not set: run the tests with `make -f xcaddy.mk test` " +
			"or `scripts/with-redis.sh go test ./...`, which start the Redis deployments")
	}
	return v
}

// A Shape is one kind of Redis deployment.
type Shape struct {
	Name    string                  // single, cluster or sentinel
	Options *redis.UniversalOptions // how to reach it
}

// Shapes are the three deployments: a single server, a cluster and a
// primary under Sentinels.
func Shapes(t testing.TB) []Shape {
	t.Helper()
	return []Shape{
		{"single", &redis.UniversalOptions{Addrs: []string{Addr(t)}}},
		{"cluster", &redis.UniversalOptions{Addrs: strings.Split(env(t, "LIVENESS_REDIS_CLUSTER"), ","), IsClusterMode: true}},
		{"sentinel", &redis.UniversalOptions{Addrs: strings.Split(env(t, "LIVENESS_REDIS_SENTINEL"), ","),
			MasterName: env(t, "LIVENESS_REDIS_SENTINEL_MASTER")}},
	}
}

// Connect is a client of s, closed when the test ends.
func (s Shape) Connect(t testing.TB) redis.UniversalClient {
	c := redis.NewUniversalClient(s.Options)
	t.Cleanup(func() { c.Close() })
	return c
}

// Prefix is a key prefix of this test's own.
func Prefix(t testing.TB) string {
	var b [6]byte
	rand.Read(b[:])
	return "test:" + strings.ReplaceAll(t.Name(), "/", ".") + ":" + hex.EncodeToString(b[:]) + ":"
}

// Client talks to the test server directly, to look at the keys; it is
// closed when the test ends.
func Client(t testing.TB) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: Addr(t)})
	t.Cleanup(func() { c.Close() })
	return c
}

// Keys lists the keys under prefix, sorted, on every master of a cluster
// or the one server. The prefix must hold no glob character (Prefix's
// never do).
func Keys(t testing.TB, c redis.UniversalClient, prefix string) []string {
	t.Helper()
	var mu sync.Mutex
	var all []string
	keys := func(ctx context.Context, c redis.Cmdable) error {
		ks, err := c.Keys(ctx, prefix+"*").Result()
		mu.Lock()
		all = append(all, ks...)
		mu.Unlock()
		return err
	}
	var err error
	if cc, ok := c.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(context.Background(), func(ctx context.Context, m *redis.Client) error { return keys(ctx, m) })
	} else {
		err = keys(context.Background(), c)
	}
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(all)
	return all
}

// WaitFor polls cond every 10 ms until it holds, failing the test after
// within: for what Redis gives no signal of (a key's expiry, a recovery).
func WaitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %v waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
