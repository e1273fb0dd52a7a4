package caddyliveness

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-liveness/caddy-liveness/vendors"
)

// scripted answers each call with the next error from errs (nil: a live
// face), then with a live face.
func scripted(errs ...error) *fakeVendor {
	v := newFake("fake")
	var mu sync.Mutex
	v.answer = func(vendors.Media) (vendors.Result, error) {
		mu.Lock()
		defer mu.Unlock()
		if len(errs) > 0 {
			err := errs[0]
			errs = errs[1:]
			if err != nil {
				return vendors.Result{}, err
			}
		}
		return vendors.Result{Class: vendors.ClassFace, Score: 0.9, HasScore: true, DefaultThreshold: 0.5}, nil
	}
	return v
}

func verr(kind vendors.Kind, status int) error {
	return &vendors.Error{Vendor: "fake", Kind: kind, Status: status}
}

// testGuard records the waits instead of sleeping.
func testGuard(v vendors.Vendor, retries int, b BreakerConfig) (*guard, *[]time.Duration) {
	g := newGuard("guardtest", v, 4, retries, b)
	var waits []time.Duration
	g.sleep = func(_ context.Context, d time.Duration) bool {
		waits = append(waits, d)
		return true
	}
	return g, &waits
}

var bigBreaker = BreakerConfig{Failures: 100, Cooldown: caddy.Duration(time.Hour)}

func TestRetries(t *testing.T) {
	tests := []struct {
		name    string
		errs    []error
		retries int
		calls   int64
		ok      bool
	}{
		{"5xx then success", []error{verr(vendors.KindUnavailable, 503), verr(vendors.KindUnavailable, 500)}, 2, 3, true},
		{"network error then success", []error{&vendors.Error{Kind: vendors.KindUnavailable, Err: errors.New("connection reset")}}, 2, 2, true},
		{"429 then success", []error{verr(vendors.KindRateLimited, 429)}, 2, 2, true},
		{"retries exhausted", []error{verr(vendors.KindUnavailable, 503), verr(vendors.KindUnavailable, 503), verr(vendors.KindUnavailable, 503)}, 2, 3, false},
		{"no retries configured", []error{verr(vendors.KindUnavailable, 503)}, 0, 1, false},
		{"malformed 200 is not retried", []error{verr(vendors.KindUnavailable, 200)}, 2, 1, false},
		{"auth is not retried", []error{verr(vendors.KindAuth, 401)}, 2, 1, false},
		{"bad request is not retried", []error{verr(vendors.KindBadRequest, 400)}, 2, 1, false},
		{"invalid image is not retried", []error{verr(vendors.KindInvalidMedia, 200)}, 2, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := scripted(tt.errs...)
			g, waits := testGuard(v, tt.retries, bigBreaker)
			_, err := g.check(t.Context(), &vendors.Request{})
			if (err == nil) != tt.ok || v.calls.Load() != tt.calls {
				t.Fatalf("err %v after %d calls; want ok=%v after %d", err, v.calls.Load(), tt.ok, tt.calls)
			}
			if len(*waits) != int(tt.calls-1) {
				t.Fatalf("%d waits for %d calls", len(*waits), tt.calls)
			}
			for i, w := range *waits {
				if hi := retryBase << i; w < hi/2 || w > hi {
					t.Errorf("wait %d = %v, want within [%v, %v]", i, w, hi/2, hi)
				}
			}
		})
	}
}

func TestRetryAfterHonouredWithinDeadline(t *testing.T) {
	rl := &vendors.Error{Kind: vendors.KindRateLimited, Status: 429, RetryAfter: 3 * time.Second}
	v := scripted(rl)
	g, waits := testGuard(v, 2, bigBreaker)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := g.check(ctx, &vendors.Request{}); err != nil || len(*waits) != 1 || (*waits)[0] != 3*time.Second {
		t.Fatalf("err %v, waits %v; want one wait of Retry-After 3s", err, *waits)
	}
	// A Retry-After past the deadline is not waited for.
	v = scripted(rl)
	g, waits = testGuard(v, 2, bigBreaker)
	ctx, cancel = context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	if _, err := g.check(ctx, &vendors.Request{}); vendors.KindOf(err) != vendors.KindRateLimited || len(*waits) != 0 || v.calls.Load() != 1 {
		t.Fatalf("err %v, waits %v, calls %d", err, *waits, v.calls.Load())
	}
}

func TestBreaker(t *testing.T) {
	down := verr(vendors.KindUnavailable, 503)
	v := scripted(down, down, down, down)
	g, _ := testGuard(v, 0, BreakerConfig{Failures: 3, Cooldown: caddy.Duration(time.Hour)})
	for range 3 {
		g.check(t.Context(), &vendors.Request{})
	}
	_, err := g.check(t.Context(), &vendors.Request{})
	if v.calls.Load() != 3 || !strings.Contains(err.Error(), "circuit breaker open") || vendors.KindOf(err) != vendors.KindUnavailable {
		t.Fatalf("after 3 failures: calls %d, err %v; want the breaker to refuse without a call", v.calls.Load(), err)
	}

	// Answers about the image do not count as failures.
	v = scripted(down, down, verr(vendors.KindInvalidMedia, 200), down, down)
	g, _ = testGuard(v, 0, BreakerConfig{Failures: 3, Cooldown: caddy.Duration(time.Hour)})
	for range 5 {
		g.check(t.Context(), &vendors.Request{})
	}
	if v.calls.Load() != 5 {
		t.Fatalf("calls %d: an invalid image counted as a vendor failure", v.calls.Load())
	}

	// After the cooldown a probe goes through (half-open: see
	// TestHalfOpenProbes for several at once and what closes it).
	v = scripted(down, down)
	g, _ = testGuard(v, 0, BreakerConfig{Failures: 2, Cooldown: 1})
	g.check(t.Context(), &vendors.Request{})
	g.check(t.Context(), &vendors.Request{})
	if _, err := g.check(t.Context(), &vendors.Request{}); err != nil || v.calls.Load() != 3 {
		t.Fatalf("probe after cooldown: err %v, calls %d", err, v.calls.Load())
	}
}

func TestMaxConcurrent(t *testing.T) {
	v := newFake("fake")
	v.gate = make(chan struct{})
	v.started = make(chan struct{}, 2)
	g := newGuard("guardtest", v, 1, 0, bigBreaker)
	done := make(chan error)
	go func() {
		_, err := g.check(context.Background(), &vendors.Request{})
		done <- err
	}()
	<-v.started
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := g.check(ctx, &vendors.Request{})
	if vendors.KindOf(err) != vendors.KindUnavailable || !strings.Contains(err.Error(), "no free slot") {
		t.Fatalf("err %v, want no free slot", err)
	}
	if v.calls.Load() != 1 {
		t.Fatalf("calls %d, want 1 in flight", v.calls.Load())
	}
	close(v.gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
