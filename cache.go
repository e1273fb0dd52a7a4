package caddyliveness

import (
	"sync/atomic"

	"golang.org/x/sync/singleflight"

	"github.com/caddy-liveness/caddy-liveness/internal/store"
	"github.com/caddy-liveness/caddy-liveness/vendors"
)

// shared is what survives a config reload when the cache-relevant part of
// the configuration is unchanged: the verdict store and the calls in
// flight. It lives in the usage pool.
type shared struct {
	store  *store.Store[vendors.Result]
	calls  singleflight.Group // keyed by callKey
	hits   atomic.Int64       // cache lookups, for the admin API
	misses atomic.Int64
}

// newShared returns a shared state on the store that c describes. A
// value read back from Redis without a class is no result.
func newShared(c store.Config[vendors.Result]) *shared {
	c.Valid = func(r vendors.Result) bool { return r.Class != "" }
	c.OnRedisError = func(op string) {
		registerMetrics(nil)
		metrics.redisErrors.WithLabelValues(op).Inc()
	}
	return &shared{store: store.New(c)}
}

// Destruct implements caddy.Destructor: the usage pool calls it when the
// last configuration using this state is unloaded.
func (s *shared) Destruct() error { return s.store.Close() }

// callKey names a vendor call: the same image checked by another vendor,
// model or endpoint is another call.
func callKey(profile string, sum [32]byte) string {
	return profile + "\x00" + string(sum[:])
}
