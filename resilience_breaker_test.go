package caddyliveness

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/sony/gobreaker/v2"

	"github.com/caddy-liveness/caddy-liveness/vendors"
)

// hangVendor fails with errs in turn, then hangs until its context ends.
type hangVendor struct {
	mu    sync.Mutex
	errs  []error
	calls int
}

func (h *hangVendor) Name() string                    { return "fake" }
func (h *hangVendor) Profile(*vendors.Request) string { return "fake test" }
func (h *hangVendor) Check(ctx context.Context, _ *vendors.Request) (vendors.Result, error) {
	h.mu.Lock()
	h.calls++
	var err error
	if len(h.errs) > 0 {
		err, h.errs = h.errs[0], h.errs[1:]
	}
	h.mu.Unlock()
	if err != nil {
		return vendors.Result{}, err
	}
	<-ctx.Done()
	return vendors.Result{}, &vendors.Error{Vendor: "fake", Kind: vendors.KindUnavailable, Err: ctx.Err()}
}

func (h *hangVendor) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls
}

// A vendor that does not answer within the whole of the call's time is
// failing: its breaker opens, although each attempt ends by the caller's
// deadline.
func TestHungVendorOpensBreaker(t *testing.T) {
	v := &hangVendor{}
	g := newGuard("guardtest", v, 4, 0, BreakerConfig{Failures: 2, Cooldown: caddy.Duration(time.Hour)})
	for range 2 {
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		g.check(ctx, &vendors.Request{})
		cancel()
	}
	_, err := g.check(t.Context(), &vendors.Request{})
	if g.breaker.State() != gobreaker.StateOpen || err == nil || !strings.Contains(err.Error(), "circuit breaker open") || v.count() != 2 {
		t.Fatalf("breaker %s, err %v, calls %d; want open after 2 hung calls", g.breaker.State(), err, v.count())
	}
}

// An attempt that started with less than half of the call's time (here
// after a retry's wait) and was cut by the deadline is the caller's: the
// breaker counts it neither way.
func TestCallerCutNotCounted(t *testing.T) {
	v := &hangVendor{errs: []error{verr(vendors.KindUnavailable, 503)}}
	g := newGuard("guardtest", v, 4, 1, BreakerConfig{Failures: 2, Cooldown: caddy.Duration(time.Hour)})
	// The wait leaves the retry 800ms of 2s: more than the reserve
	// (500ms), less than half.
	g.sleep = func(ctx context.Context, _ time.Duration) bool { return vendors.Sleep(ctx, 1200*time.Millisecond) }
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	_, err := g.check(ctx, &vendors.Request{})
	c := g.breaker.Counts()
	if err == nil || v.count() != 2 || c.TotalFailures != 1 || c.TotalExclusions != 1 || g.breaker.State() != gobreaker.StateClosed {
		t.Fatalf("err %v, calls %d, counts %+v, breaker %s; want the 503 counted and the cut retry excluded", err, v.count(), c, g.breaker.State())
	}
}

// A call waits for a slot only while an attempt could still start: it
// gives up with "no free slot" before its deadline, and the vendor is
// not called.
func TestNoAttemptWithTooLittleTime(t *testing.T) {
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
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	_, err := g.check(ctx, &vendors.Request{})
	early := ctx.Err() == nil // the reserve (500ms) was still left
	if !strings.Contains(err.Error(), "no free slot") || !early || v.calls.Load() != 1 {
		t.Fatalf("err %v, returned before the deadline %v, calls %d", err, early, v.calls.Load())
	}
	close(v.gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if g.breaker.Counts().TotalFailures != 0 {
		t.Fatal("a call without a slot counted against the vendor")
	}
}

// Half-open lets several probes through at once and makes the others
// wait for them instead of refusing them; the probes' successes close it.
func TestHalfOpenProbes(t *testing.T) {
	v := scripted(verr(vendors.KindUnavailable, 503))
	g := newGuard("guardtest", v, 8, 0, BreakerConfig{Failures: 1, Cooldown: caddy.Duration(20 * time.Millisecond)})
	g.check(t.Context(), &vendors.Request{})
	if g.breaker.State() != gobreaker.StateOpen {
		t.Fatalf("breaker %s after a failure", g.breaker.State())
	}
	for g.breaker.State() == gobreaker.StateOpen {
		time.Sleep(5 * time.Millisecond)
	}
	v.gate = make(chan struct{})
	v.started = make(chan struct{}, 8)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			_, err := g.check(ctx, &vendors.Request{})
			errs <- err
		}()
	}
	for range halfOpenProbes {
		<-v.started
	}
	if n := g.breaker.Counts().Requests; n != halfOpenProbes || g.breaker.State() != gobreaker.StateHalfOpen {
		t.Fatalf("%d probes in flight, breaker %s; want %d half-open", n, g.breaker.State(), halfOpenProbes)
	}
	close(v.gate)
	for range 8 {
		if err := <-errs; err != nil {
			t.Errorf("a call during half-open failed: %v", err)
		}
	}
	if g.breaker.State() != gobreaker.StateClosed || v.calls.Load() != 9 || g.errorCounts()["breaker_open"] != 0 {
		t.Fatalf("breaker %s, calls %d, errors %v; want closed after the probes and every call made", g.breaker.State(), v.calls.Load(), g.errorCounts())
	}
}

// cutByCaller: cancellation is always the caller's; a deadline is the
// caller's when the attempt had less than half of the call's time.
func TestCutByCaller(t *testing.T) {
	expired, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Millisecond))
	defer cancel()
	canceled, cancel2 := context.WithCancel(t.Context())
	cancel2()
	deadline, _ := expired.Deadline()
	tests := []struct {
		name  string
		ctx   context.Context
		start time.Time
		total time.Duration
		want  bool
	}{
		{"not ended", t.Context(), time.Now(), time.Second, false},
		{"canceled", canceled, time.Now(), time.Second, true},
		{"deadline, started with most of the time", expired, deadline.Add(-900 * time.Millisecond), time.Second, false},
		{"deadline, started with half", expired, deadline.Add(-500 * time.Millisecond), time.Second, false},
		{"deadline, started late", expired, deadline.Add(-400 * time.Millisecond), time.Second, true},
	}
	for _, tt := range tests {
		if got := cutByCaller(tt.ctx, tt.start, tt.total); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

// The reserve: at least minAttempt, one and a half times the vendor's
// answer time, at most half of the call's time.
func TestReserve(t *testing.T) {
	g := newGuard("guardtest", newFake("fake"), 1, 0, bigBreaker)
	if r := g.reserve(10 * time.Second); r != minAttempt {
		t.Errorf("before any answer: %v, want %v", r, minAttempt)
	}
	if r := g.reserve(200 * time.Millisecond); r != 100*time.Millisecond {
		t.Errorf("short timeout: %v, want half of it", r)
	}
	g.observe(time.Second)
	if r := g.reserve(10 * time.Second); r != 1500*time.Millisecond {
		t.Errorf("vendor at 1s: %v, want 1.5s", r)
	}
	if r := g.reserve(2 * time.Second); r != time.Second {
		t.Errorf("vendor at 1s, call of 2s: %v, want 1s", r)
	}
	for range 100 {
		g.observe(100 * time.Millisecond)
	}
	if r := g.reserve(10 * time.Second); r != minAttempt {
		t.Errorf("vendor at 100ms: %v, want %v", r, minAttempt)
	}
}
