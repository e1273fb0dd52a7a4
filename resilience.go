package caddyliveness

import (
	"context"
	"errors"
	"maps"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/sony/gobreaker/v2"
	"golang.org/x/sync/semaphore"

	"github.com/caddy-liveness/caddy-liveness/vendors"
)

// Defaults of the vendor protections.
const (
	DefaultRetries         = 2
	DefaultBreakerFailures = 5
	DefaultBreakerCooldown = 30 * time.Second
	DefaultMaxConcurrent   = 64
	retryBase              = 100 * time.Millisecond
)

// BreakerConfig sets up the circuit breaker kept for each vendor.
type BreakerConfig struct {
	// Consecutive failed vendor calls (attempts) that open the breaker.
	// Default 5.
	Failures int `json:"failures,omitempty"`
	// How long an open breaker refuses calls before it lets one probe
	// through. Default 30s.
	Cooldown caddy.Duration `json:"cooldown,omitempty"`
}

// guard protects one vendor: a cap on concurrent calls, a circuit breaker
// over attempts, and retries with backoff, all within the caller's
// deadline.
type guard struct {
	vendor  vendors.Vendor
	errMu   sync.Mutex
	errs    map[string]int64 // failed calls by kind, for the admin API
	sem     *semaphore.Weighted
	breaker *gobreaker.CircuitBreaker[vendors.Result]
	retries int
	// sleep waits for d or until ctx ends; tests replace it.
	sleep func(ctx context.Context, d time.Duration) bool
}

func newGuard(v vendors.Vendor, maxConcurrent, retries int, b BreakerConfig) *guard {
	registerMetrics(nil)
	metrics.breaker.WithLabelValues(v.Name()).Set(0)
	return &guard{
		vendor:  v,
		sem:     semaphore.NewWeighted(int64(maxConcurrent)),
		retries: retries,
		breaker: gobreaker.NewCircuitBreaker[vendors.Result](gobreaker.Settings{
			Name:        v.Name(),
			MaxRequests: 1,
			Timeout:     time.Duration(b.Cooldown),
			ReadyToTrip: func(c gobreaker.Counts) bool {
				return c.ConsecutiveFailures >= uint32(b.Failures)
			},
			// Only trouble with the vendor counts against it; an answer
			// about the image, even a refusal, shows the vendor is up.
			IsSuccessful: func(err error) bool { return err == nil || !vendorTrouble(err) },
			OnStateChange: func(name string, _, to gobreaker.State) {
				metrics.breaker.WithLabelValues(name).Set(float64(to))
			},
		}),
		sleep: vendors.Sleep,
	}
}

// check asks the vendor, retrying retryable errors with exponential
// backoff and jitter (at least Retry-After), never past ctx's deadline.
func (g *guard) check(ctx context.Context, req *vendors.Request) (vendors.Result, error) {
	name := g.vendor.Name()
	if err := g.sem.Acquire(ctx, 1); err != nil {
		g.countError("no_slot")
		return vendors.Result{}, g.err("no free slot for a vendor call before the deadline", err)
	}
	defer g.sem.Release(1)
	for attempt := 0; ; attempt++ {
		res, err := g.breaker.Execute(func() (vendors.Result, error) {
			inflight := metrics.inflight.WithLabelValues(name)
			inflight.Inc()
			defer inflight.Dec()
			start := time.Now()
			res, err := g.vendor.Check(ctx, req)
			outcome := "ok"
			if err != nil {
				outcome = "error"
				g.countError(string(vendors.KindOf(err)))
			}
			metrics.vendorDuration.WithLabelValues(name, outcome).Observe(time.Since(start).Seconds())
			return res, err
		})
		if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
			g.countError("breaker_open")
			return res, g.err("circuit breaker open", err)
		}
		if err == nil || attempt >= g.retries || !retryable(err) {
			return res, err
		}
		wait := backoff(attempt)
		var ve *vendors.Error
		if errors.As(err, &ve) && ve.RetryAfter > wait {
			wait = ve.RetryAfter
		}
		if deadline, ok := ctx.Deadline(); ok && time.Now().Add(wait).After(deadline) {
			return res, err
		}
		if !g.sleep(ctx, wait) {
			return res, err
		}
	}
}

func (g *guard) countError(kind string) {
	metrics.vendorErrors.WithLabelValues(g.vendor.Name(), kind).Inc()
	g.errMu.Lock()
	defer g.errMu.Unlock()
	if g.errs == nil {
		g.errs = map[string]int64{}
	}
	g.errs[kind]++
}

func (g *guard) errorCounts() map[string]int64 {
	g.errMu.Lock()
	defer g.errMu.Unlock()
	out := make(map[string]int64, len(g.errs))
	maps.Copy(out, g.errs)
	return out
}

func (g *guard) err(msg string, err error) *vendors.Error {
	return &vendors.Error{Vendor: g.vendor.Name(), Kind: vendors.KindUnavailable, Msg: msg, Err: err}
}

// backoff is the wait before retry attempt+1: exponential with full
// jitter over its upper half, so that clients retrying together spread.
func backoff(attempt int) time.Duration {
	d := retryBase << attempt
	return d/2 + rand.N(d/2+1)
}

// retryable reports whether another attempt may succeed: network
// failures, 5xx and 429. A malformed 200 or any other 4xx will not change.
func retryable(err error) bool {
	var ve *vendors.Error
	if !errors.As(err, &ve) {
		return !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled)
	}
	switch ve.Kind {
	case vendors.KindRateLimited:
		return true
	case vendors.KindUnavailable:
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return false
		}
		return ve.Status == 0 || ve.Status >= 500
	}
	return false
}

// vendorTrouble reports whether an error is the vendor's (down, slow,
// refusing our credentials or our rate) rather than about the image.
func vendorTrouble(err error) bool {
	switch vendors.KindOf(err) {
	case vendors.KindUnavailable, vendors.KindRateLimited, vendors.KindAuth:
		return true
	}
	return false
}
