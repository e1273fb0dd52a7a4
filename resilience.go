package caddyliveness

import (
	"context"
	"errors"
	"maps"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/sony/gobreaker/v2"
	"go.opentelemetry.io/otel/attribute"
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

	// minAttempt is the least time an attempt is started with, whatever
	// the vendor's latency (see guard.reserve). A call to a vendor's API
	// over the internet, an image upload over TLS, takes a few hundred
	// milliseconds at best (FACIA's polling, seconds); less than half a
	// second left is not worth a billed call. It only bounds how long a
	// call waits in the queue, never a call that finds a free slot.
	minAttempt = 500 * time.Millisecond
	// halfOpenProbes is how many calls a half-open breaker lets through
	// at once (gobreaker's MaxRequests), and how many successes in a row
	// close it again. Further calls wait for a probe to end rather than
	// being refused.
	halfOpenProbes = 4
)

// BreakerConfig sets up the circuit breaker kept for each vendor.
type BreakerConfig struct {
	// Consecutive failed vendor calls (attempts) that open the breaker.
	// Only the vendor's failures count: an attempt cut by the caller's
	// deadline counts only when it started with at least half of the
	// call's time (so it was the vendor that did not answer in time, not
	// the queue that left it too little). Default 5.
	Failures int `json:"failures,omitempty"`
	// How long an open breaker refuses calls before it lets probes
	// through (half-open: up to 4 at once, the others wait for them; 4
	// successes close it, one failure opens it again). Default 30s.
	Cooldown caddy.Duration `json:"cooldown,omitempty"`
}

// guard protects one vendor: a cap on concurrent calls, a circuit breaker
// over attempts, and retries with backoff, all within the caller's
// deadline.
type guard struct {
	handler string // the name of the handler it belongs to: its metrics' label
	vendor  vendors.Vendor
	errMu   sync.Mutex
	errs    map[string]int64 // failed calls by kind, for the admin API
	sem     *semaphore.Weighted
	breaker *gobreaker.CircuitBreaker[vendors.Result]
	retries int
	// sleep waits for d or until ctx ends; tests replace it.
	sleep func(ctx context.Context, d time.Duration) bool

	// turn is closed (and replaced) whenever the breaker may let another
	// call through: its state changed or an attempt ended. Calls that a
	// half-open breaker refused wait on it.
	turnMu sync.Mutex
	turn   chan struct{}

	// latency is a moving average of how long the vendor takes to answer
	// (attempts that returned a result), in nanoseconds; 0 before the
	// first answer.
	latency atomic.Int64
}

func newGuard(handler string, v vendors.Vendor, maxConcurrent, retries int, b BreakerConfig) *guard {
	registerMetrics(nil)
	state := metrics.breaker.WithLabelValues(handler, v.Name())
	state.Set(0)
	g := &guard{
		handler: handler,
		vendor:  v,
		sem:     semaphore.NewWeighted(int64(maxConcurrent)),
		retries: retries,
		sleep:   vendors.Sleep,
	}
	g.breaker = gobreaker.NewCircuitBreaker[vendors.Result](gobreaker.Settings{
		Name:        v.Name(),
		MaxRequests: halfOpenProbes,
		Timeout:     time.Duration(b.Cooldown),
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.ConsecutiveFailures >= uint32(b.Failures)
		},
		// Only trouble with the vendor counts against it; an answer
		// about the image, even a refusal, shows the vendor is up.
		IsSuccessful: func(err error) bool { return err == nil || !vendorTrouble(err) },
		// An attempt the caller cut short counts neither way (and frees
		// its place among the half-open probes).
		IsExcluded: func(err error) bool {
			var c *callerCut
			return errors.As(err, &c)
		},
		OnStateChange: func(_ string, _, to gobreaker.State) {
			state.Set(float64(to))
			g.wake()
		},
	})
	return g
}

// callerCut wraps the error of an attempt that the caller's deadline (or
// cancellation) cut short, not the vendor's failure, for IsExcluded.
type callerCut struct{ err error }

func (c *callerCut) Error() string { return c.err.Error() }
func (c *callerCut) Unwrap() error { return c.err }

// check asks the vendor, retrying retryable errors with exponential
// backoff and jitter (at least Retry-After), never past ctx's deadline.
// No attempt starts with less than the reserve left (see reserve), and
// waiting for a slot ends when only the reserve is left.
func (g *guard) check(ctx context.Context, req *vendors.Request) (vendors.Result, error) {
	deadline, hasDeadline := ctx.Deadline()
	var total, reserve time.Duration // the call's time, and what an attempt needs at least
	if hasDeadline {
		total = max(time.Until(deadline), 0)
		reserve = g.reserve(total)
	}
	// wctx ends when an attempt could no longer start: waiting for a slot
	// or a probe's turn stops there.
	wctx, cancel := ctx, context.CancelFunc(func() {})
	if hasDeadline {
		wctx, cancel = context.WithDeadline(ctx, deadline.Add(-reserve))
	}
	defer cancel()

	if g.breaker.State() == gobreaker.StateOpen {
		g.countError("breaker_open")
		return vendors.Result{}, g.err("circuit breaker open", gobreaker.ErrOpenState)
	}
	if err := g.sem.Acquire(wctx, 1); err != nil {
		return vendors.Result{}, g.noSlot(err)
	}
	defer g.sem.Release(1)
	if err := wctx.Err(); err != nil { // a slot free at once may come too late
		return vendors.Result{}, g.noSlot(err)
	}
	// The vendor's answers while this call waited tell better what an
	// attempt needs.
	if hasDeadline && time.Until(deadline) < g.reserve(total) {
		return vendors.Result{}, g.noSlot(context.DeadlineExceeded)
	}
	for attempt := 0; ; attempt++ {
		actx, span := startSpan(ctx, "liveness.vendor")
		if span.IsRecording() {
			span.SetAttributes(attribute.String("liveness.vendor", g.vendor.Name()), attribute.Int("liveness.attempt", attempt+1))
		}
		res, err := g.attempt(actx, wctx, req, total)
		if span.IsRecording() {
			endSpan(span, attemptOutcome(res, err), err)
		}
		if errors.Is(err, gobreaker.ErrOpenState) {
			g.countError("breaker_open")
			return res, g.err("circuit breaker open", err)
		}
		if errors.Is(err, gobreaker.ErrTooManyRequests) {
			g.countError("breaker_open")
			return res, g.err("circuit breaker half-open: no probe's turn before the deadline", err)
		}
		if err == nil || attempt >= g.retries || !vendors.Retryable(err) {
			return res, err
		}
		wait := max(backoff(attempt), vendors.RetryAfterOf(err))
		// The retry must still start with the reserve left.
		if hasDeadline && time.Now().Add(wait+reserve).After(deadline) {
			return res, err
		}
		if !g.sleep(ctx, wait) || hasDeadline && time.Until(deadline) < reserve {
			return res, err
		}
	}
}

// attempt runs one vendor call through the breaker. A half-open breaker
// that has all its probes out makes it wait for one to end (or for the
// state to change) until wctx ends, and then returns ErrTooManyRequests.
// An attempt cut short by the caller is reported to the breaker as
// excluded: by ctx's cancellation, or by its deadline when the attempt
// started with less than half of total, the call's time (the rest went
// waiting in the queue or on earlier attempts). An attempt that had most
// of the call's time and was still cut did not get an answer the vendor
// had time to give: that counts, so a vendor that hangs opens the breaker.
// attemptOutcome names how a vendor attempt ended, for its span: the
// result's class, or the error's kind.
func attemptOutcome(res vendors.Result, err error) string {
	switch {
	case errors.Is(err, gobreaker.ErrOpenState), errors.Is(err, gobreaker.ErrTooManyRequests):
		return "breaker_open"
	case err != nil:
		return string(vendors.KindOf(err))
	}
	return string(res.Class)
}

func (g *guard) attempt(ctx, wctx context.Context, req *vendors.Request, total time.Duration) (vendors.Result, error) {
	name := g.vendor.Name()
	for {
		turn := g.nextTurn()
		res, err := g.breaker.Execute(func() (vendors.Result, error) {
			inflight := metrics.inflight.WithLabelValues(g.handler, name)
			inflight.Inc()
			defer inflight.Dec()
			start := time.Now()
			res, err := g.vendor.Check(ctx, req)
			took := time.Since(start)
			outcome := "ok"
			switch {
			case err != nil:
				outcome = "error"
				g.countError(string(vendors.KindOf(err)))
				if vendorTrouble(err) && cutByCaller(ctx, start, total) {
					err = &callerCut{err}
				}
			case res.Class != vendors.ClassInconclusive: // inconclusive: the deadline, not the vendor, ended it
				g.observe(took)
			}
			metrics.vendorDuration.WithLabelValues(g.handler, name, outcome).Observe(took.Seconds())
			return res, err
		})
		if !errors.Is(err, gobreaker.ErrTooManyRequests) {
			g.wake() // a probe's place may be free
			var c *callerCut
			if errors.As(err, &c) {
				err = c.err
			}
			return res, err
		}
		select {
		case <-turn:
		case <-wctx.Done():
			return res, err
		}
	}
}

// reserve is the least time left of its deadline that an attempt of a
// call with total time is started with: "too little" is less than that.
// A call waits for a concurrency slot (or a half-open probe's turn) only
// until the reserve is left, and then fails with "no free slot", as does
// a retry that could not start before it. An attempt with less time than
// the vendor takes would be cut by the deadline: it would bill a call,
// hold a slot others wait for, and tell nothing about the vendor.
//
// The reserve is one and a half times the vendor's recent answer time
// (a moving average), at least minAttempt, at most half of total (so a
// short timeout still gets its attempt, and the rule of cutByCaller
// holds: an attempt started with the reserve but less than half of total
// is the caller's if it is cut). It only shortens waits in a queue: a call
// that finds a free slot starts at once.
func (g *guard) reserve(total time.Duration) time.Duration {
	r := max(minAttempt, time.Duration(g.latency.Load())*3/2)
	return min(r, total/2)
}

// observe adds the duration of an answered attempt to the moving average,
// an eighth to each new one.
func (g *guard) observe(d time.Duration) {
	for {
		old := g.latency.Load()
		next := int64(d)
		if old != 0 {
			next = old + (int64(d)-old)/8
		}
		if g.latency.CompareAndSwap(old, next) {
			return
		}
	}
}

// cutByCaller reports whether an attempt that started at start and
// failed was cut short by the caller rather than failed by the vendor:
// ctx was cancelled, or its deadline passed and the attempt had had less
// than half of total, the call's time, to run.
func cutByCaller(ctx context.Context, start time.Time, total time.Duration) bool {
	switch err := ctx.Err(); {
	case err == nil:
		return false
	case errors.Is(err, context.Canceled):
		return true
	}
	deadline, ok := ctx.Deadline()
	return !ok || deadline.Sub(start) < total/2
}

// nextTurn returns the channel the next wake closes.
func (g *guard) nextTurn() <-chan struct{} {
	g.turnMu.Lock()
	defer g.turnMu.Unlock()
	if g.turn == nil {
		g.turn = make(chan struct{})
	}
	return g.turn
}

// wake lets the calls waiting for a probe's turn try again.
func (g *guard) wake() {
	g.turnMu.Lock()
	defer g.turnMu.Unlock()
	if g.turn != nil {
		close(g.turn)
		g.turn = nil
	}
}

// noSlot is the error of a call that got no concurrency slot while an
// attempt could still start.
func (g *guard) noSlot(err error) *vendors.Error {
	g.countError("no_slot")
	return g.err("no free slot for a vendor call before the deadline", err)
}

func (g *guard) countError(kind string) {
	metrics.vendorErrors.WithLabelValues(g.handler, g.vendor.Name(), kind).Inc()
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

// vendorTrouble reports whether an error is the vendor's (down, slow,
// refusing our credentials or our rate) rather than about the image.
func vendorTrouble(err error) bool {
	switch vendors.KindOf(err) {
	case vendors.KindUnavailable, vendors.KindRateLimited, vendors.KindAuth:
		return true
	}
	return false
}
