// Package redistest gives tests the redis-server that make -f xcaddy.mk
// test starts (through scripts/with-redis.sh, which sets
// LIVENESS_REDIS_ADDR), a key prefix of their own and a client to look at
// the keys. Without the server the tests fail rather than skip, so that CI
// cannot pass without them.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// Addr is the test server's host:port.
func Addr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv("LIVENESS_REDIS_ADDR")
	if addr == "" {
		t.Fatal("LIVENESS_REDIS_ADDR is not set: run the tests with `make -f xcaddy.mk test` " +
			"or `scripts/with-redis.sh go test ./...`, which start a redis-server")
	}
	return addr
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

// Keys lists the keys under prefix, sorted. The prefix must hold no glob
// character (Prefix's never do).
func Keys(t testing.TB, c *redis.Client, prefix string) []string {
	t.Helper()
	ks, err := c.Keys(context.Background(), prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ks)
	return ks
}
