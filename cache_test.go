package caddyliveness

import (
	"fmt"
	"testing"

	"github.com/caddy-liveness/caddy-liveness/vendors"
)

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
	sum := [32]byte{7}
	old.shared.store.Set(t.Context(), "k", sum, vendors.Result{Class: vendors.ClassFace})
	next := provision(cfg("1h"))
	if err := old.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if _, ok := next.shared.store.Get(t.Context(), "k", sum); !ok {
		t.Fatal("the reload dropped the cache")
	}
	other := provision(cfg("2h"))
	defer other.Cleanup()
	if other.shared == next.shared {
		t.Fatal("a different cache configuration shares the state")
	}
	if err := next.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if _, ok := usagePool.References(next.poolKey); ok {
		t.Fatal("the last user's cleanup left the state in the pool")
	}
}
