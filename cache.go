package caddyliveness

import (
	"context"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
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

	usersMu sync.Mutex
	users   map[string]int // the names of the handlers using it, and how many of each
}

// newShared returns a shared state on the store that c describes. A
// value read back from Redis without a class is no result. A failed
// Redis operation is the store's, which the handlers with the same
// vendors and cache configuration share: it is counted under the first
// by name of the handlers using the store (see label).
func newShared(c store.Config[vendors.Result]) *shared {
	s := new(shared)
	c.Valid = func(r vendors.Result) bool { return r.Class != "" }
	c.Trace = func(ctx context.Context, op string) (context.Context, func(error)) {
		ctx, span := startSpan(ctx, "liveness.redis")
		if !span.IsRecording() {
			return ctx, func(error) {}
		}
		span.SetAttributes(attribute.String("db.system", "redis"), attribute.String("db.operation", op))
		return ctx, func(err error) {
			outcome := "ok"
			if err != nil {
				outcome = "error"
			}
			endSpan(span, outcome, err)
		}
	}
	c.OnRedisError = func(op string) {
		registerMetrics(nil)
		metrics.redisErrors.WithLabelValues(s.label(), op).Inc()
	}
	s.store = store.New(c)
	return s
}

// addUser records that the handler named name uses the state;
// removeUser, that one no longer does.
func (s *shared) addUser(name string) {
	s.usersMu.Lock()
	defer s.usersMu.Unlock()
	if s.users == nil {
		s.users = map[string]int{}
	}
	s.users[name]++
}

func (s *shared) removeUser(name string) {
	s.usersMu.Lock()
	defer s.usersMu.Unlock()
	if s.users[name]--; s.users[name] <= 0 {
		delete(s.users, name)
	}
}

// label is the handler label of the store's own metrics: the first by
// name of the handlers using it (one name while a configuration runs,
// whatever order its handlers were provisioned in), "" before any.
func (s *shared) label() string {
	s.usersMu.Lock()
	defer s.usersMu.Unlock()
	if len(s.users) == 0 {
		return ""
	}
	return slices.Min(slices.Collect(maps.Keys(s.users)))
}

// Destruct implements caddy.Destructor: the usage pool calls it when the
// last configuration using this state is unloaded.
func (s *shared) Destruct() error { return s.store.Close() }

// callKey names a vendor call: the same image checked by another vendor,
// model or endpoint is another call.
func callKey(profile string, sum [32]byte) string {
	return profile + "\x00" + string(sum[:])
}
