package caddyliveness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.uber.org/zap"

	"github.com/caddy-liveness/caddy-liveness/internal/body"
	"github.com/caddy-liveness/caddy-liveness/internal/extract"
	"github.com/caddy-liveness/caddy-liveness/vendors"
	"github.com/caddy-liveness/caddy-liveness/verify"
)

// ServeHTTP runs the pipeline: strip forged headers, buffer the bounded
// body under the budget, find the media, ask the vendors (through the
// cache), decide, then deny or restore the body byte for byte and call
// next.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	start := time.Now()
	stripHeaders(r.Header, h.HeaderPrefix)
	repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)

	l := body.NewLease(h.budget, clientKey(r))
	buf, rest, o := h.readBody(w, r, l)
	size := o.size
	if o.input == nil {
		o = h.check(r, repl, buf, l)
	}
	if o.input != nil {
		o.verdict, o.reason = VerdictError, o.input.Reason
	}

	status, msg := h.denial(o)
	var herr error
	if status != 0 && h.Mode == "enforce" {
		herr = caddyhttp.Error(status, errors.New(msg))
		if status == http.StatusServiceUnavailable && w != nil {
			w.Header().Set("Retry-After", "1")
		}
	}
	if repl != nil {
		o.setPlaceholders(repl)
	}
	verdict := labelOr(string(o.verdict), "missing")
	metrics.checks.WithLabelValues(h.Name, labelOr(o.vendor, "none"), verdict).Inc()
	h.counts.decided(verdict)
	h.log(r, o, status, herr, size, time.Since(start))
	if herr != nil {
		l.Release()
		return herr
	}

	if h.Mode != "shadow" {
		o.setHeaders(r.Header, h.HeaderPrefix, h.OnDuplicate != "allow")
		if h.signKey != nil {
			h.sign(r)
		}
	}
	if buf == nil && rest == nil {
		l.Release()
		return next.ServeHTTP(w, r)
	}
	// The buffers go back to the pool, and their bytes to the budget, once
	// the next handlers have read them or closed the body and this
	// returned, and no vendor call holds them.
	pb := body.NewBody(buf, rest, l, r.Body)
	r.Body = pb
	defer pb.Finish()
	return next.ServeHTTP(w, r)
}

// clientKey is the client a request's share of the budget is counted
// for: its IP as Caddy sees it (trusted proxies' client IP headers
// applied), else its remote address.
func clientKey(r *http.Request) string {
	if ip, ok := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string); ok && ip != "" {
		return ip
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// sign adds <prefix>Signature over the verdict headers just set, the
// method and the path as they are now (a later rewrite changes what the
// upstream must verify against).
func (h *Handler) sign(r *http.Request) {
	f, err := verify.FromRequest(r, h.HeaderPrefix)
	if err != nil && !errors.Is(err, verify.ErrMissing) {
		// Only a duplicated header fails here, and every header with the
		// prefix was set by this handler alone.
		h.logger.Error("liveness: cannot sign the verdict", zap.Error(err))
		return
	}
	f.Timestamp = h.now().Unix()
	r.Header.Set(h.HeaderPrefix+"Signature", verify.Sign(h.signKey, f))
}

// readBody buffers the request body up to max_size as it arrives: into
// buffers from the lease that grow with what has been read (never sized
// from Content-Length before the bytes are there), under the body's own
// deadline and minimum rate. When it stops short (over the limit, no
// budget, too slow, a read error) it returns what it read and the unread
// remainder, so a request passed through in annotate or shadow mode keeps
// every byte.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request, l *body.Lease) (data []byte, rest io.Reader, o outcome) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil, o
	}
	if r.ContentLength > h.MaxSize {
		o.size = r.ContentLength
		o.input = tooLarge("body", "request body of %d bytes is over the limit of %d", r.ContentLength, h.MaxSize)
		return nil, r.Body, o
	}
	limit := h.MaxSize + 1 // a chunked body is read one byte past the limit to tell it is over
	if r.ContentLength >= 0 {
		limit = r.ContentLength
	}
	clock := h.newBodyClock(w, r)
	defer clock.stop()
	var buf []byte
	for int64(len(buf)) < limit {
		if len(buf) == cap(buf) {
			next := min(limit, max(growth*int64(cap(buf)), firstBuffer))
			if next >= limit/2 {
				next = limit // no small last step
			}
			var err error
			if buf, err = l.Grow(r.Context(), buf, int(next)); err != nil {
				o.size, o.input = int64(len(buf)), overloaded()
				return buf, r.Body, o
			}
		}
		clock.before(len(buf))
		n, err := r.Body.Read(buf[len(buf):cap(buf)][:min(int64(cap(buf)-len(buf)), limit-int64(len(buf)))])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			o.size = int64(len(buf))
			if clock.expired(err) {
				o.input = &inputError{Status: http.StatusRequestTimeout, Reason: "slow_body", Msg: fmt.Sprintf("request body not received in time (at least %d bytes a second)", h.BodyMinRate)}
			} else {
				o.input = badRequest("could not read the request body")
			}
			return buf, r.Body, o
		}
	}
	o.size = int64(len(buf))
	if int64(len(buf)) > h.MaxSize {
		o.input = tooLarge("body", "request body is over the limit of %d bytes", h.MaxSize)
		return buf, r.Body, o
	}
	return buf, nil, o
}

// firstBuffer is the first buffer a body gets: a small upload fits, and a
// client that sends a header and stalls holds no more. Each next buffer is
// growth times the full one (a client holds at most about that many times
// what it sent), or the whole body once that is at most twice as much.
// Each growth copies what was read: for a 512 KB upload 160 KB in all
// (factor 2 copied 480 KB, measurably slower).
const (
	firstBuffer = 32 << 10
	growth      = 4
)

func overloaded() *inputError {
	return &inputError{Status: http.StatusServiceUnavailable, Reason: "overloaded", Msg: "too many uploads at once, try again later"}
}

// bodyClock holds a body to its deadline and minimum rate through the
// connection's read deadline: before each read, the deadline is when the
// bytes read so far would fall below body_min_rate (after bodyGrace), and
// never past body_timeout nor the server's own read timeout. Where the
// connection cannot take a deadline (a test's recorder), nothing is
// enforced.
type bodyClock struct {
	rc    *http.ResponseController
	start time.Time // the start of the body, plus the grace
	end   time.Time
	rate  int64
	ok    bool
	set   bool
}

func (h *Handler) newBodyClock(w http.ResponseWriter, r *http.Request) *bodyClock {
	now := time.Now()
	c := &bodyClock{rc: http.NewResponseController(w), start: now.Add(h.bodyGrace), end: now.Add(time.Duration(h.BodyTimeout)), rate: h.BodyMinRate, ok: w != nil}
	if srv, _ := r.Context().Value(http.ServerContextKey).(*http.Server); srv != nil && srv.ReadTimeout > 0 {
		if t := now.Add(srv.ReadTimeout); t.Before(c.end) {
			c.end = t
		}
	}
	return c
}

func (c *bodyClock) before(n int) {
	if !c.ok {
		return
	}
	d := c.end
	if t := c.start.Add(time.Duration(float64(n) / float64(c.rate) * float64(time.Second))); t.Before(d) {
		d = t
	}
	if err := c.rc.SetReadDeadline(d); err != nil {
		c.ok = false
		return
	}
	c.set = true
}

func (c *bodyClock) expired(err error) bool {
	return c.set && errors.Is(err, os.ErrDeadlineExceeded)
}

// stop lifts the deadline once the body is read (the server sets its own
// for the connection's next request).
func (c *bodyClock) stop() {
	if c.set {
		c.rc.SetReadDeadline(time.Time{})
	}
}

// check finds the media in the body and decides about each.
func (h *Handler) check(r *http.Request, repl *caddy.Replacer, data []byte, l *body.Lease) outcome {
	alloc := func(n int) []byte { return l.Buffer(r.Context(), n) }
	media, err := h.x.Extract(extract.Request{Header: r.Header, RawQuery: r.URL.RawQuery, Body: data}, alloc)
	if err != nil {
		var ie *inputError
		if errors.As(err, &ie) {
			return outcome{input: ie}
		}
		return outcome{input: badRequest("%v", err)}
	}
	if len(media) == 0 {
		return outcome{reason: "missing_image"}
	}
	dup := h.sightings(r.Context(), media)
	if dup > 0 && h.OnDuplicate == "deny" && h.Mode == "enforce" {
		// A replay is refused before it costs a vendor call.
		sums := make([]string, len(media))
		for i, m := range media {
			sums[i] = fmt.Sprintf("%x", m.Sum)
		}
		return outcome{verdict: VerdictSpoof, reason: "duplicate", duplicate: dup, sums: sums}
	}
	ctx, cancel := context.WithTimeout(r.Context(), time.Duration(h.Timeout))
	defer cancel()
	all := make([]outcome, len(media))
	for i, m := range media {
		req := &vendors.Request{Media: vendors.Media{Data: m.Data, MIME: m.MIME}, UserAgent: r.UserAgent(), Threshold: h.Threshold, Replacer: repl}
		all[i] = h.checkMedium(ctx, req, m.Sum, l)
	}
	o := combine(all)
	o.duplicate = dup
	if dup > 0 && h.OnDuplicate == "deny" && o.verdict == VerdictLive {
		o.verdict, o.reason = VerdictSpoof, "duplicate"
	}
	return o
}

// sightings records that the media were seen and returns the highest
// count of an image seen before, outside duplicate_window of its first
// sighting; 0 when none was.
func (h *Handler) sightings(ctx context.Context, media []extract.Medium) int {
	now := h.now()
	dup := 0
	for _, m := range media {
		s := h.shared.store.Sight(ctx, m.Sum, now)
		switch {
		case s.Count == 1:
		case now.Sub(s.First) <= time.Duration(h.DuplicateWindow):
			metrics.duplicates.WithLabelValues(h.Name, "retry").Inc()
		default:
			metrics.duplicates.WithLabelValues(h.Name, h.OnDuplicate).Inc()
			dup = max(dup, s.Count)
		}
	}
	return dup
}

// checkMedium asks the vendors in order, each through its own cache
// entries, moving on only when a vendor fails with an error that another
// vendor may not have.
func (h *Handler) checkMedium(ctx context.Context, req *vendors.Request, sum [32]byte, l *body.Lease) outcome {
	var o outcome
	screened := false
	for i, v := range h.vendors {
		profile := v.Profile(req)
		lctx, span := startSpan(ctx, "liveness.lookup")
		if span.IsRecording() {
			span.SetAttributes(attribute.String("liveness.vendor", v.Name()))
		}
		res, hit := h.shared.store.Get(lctx, profile, sum)
		endSpan(span, cacheOutcome(hit), nil)
		if !hit && !screened && h.prescreen != nil && !isLocal(v) {
			screened = true
			if o, refused := h.screen(ctx, req, sum); refused {
				return o
			}
		}
		var err error
		if hit {
			metrics.cache.WithLabelValues(h.Name, "hit").Inc()
			h.shared.hits.Add(1)
			h.counts.hits.Add(1)
		} else {
			h.shared.misses.Add(1)
			h.counts.misses.Add(1)
			vctx, cancel := shareOfDeadline(ctx, len(h.vendors)-i)
			res, err = h.call(vctx, h.guards[i], profile, sum, req, l)
			cancel()
		}
		if err == nil {
			o = decide(res, h.Threshold)
			o.cacheHit = hit
		} else {
			o = outcome{verdict: VerdictError, reason: errorReason(err), err: err}
		}
		o.vendor = v.Name()
		if err == nil || !fallsBack(err) {
			break
		}
	}
	o.sums = []string{fmt.Sprintf("%x", sum)}
	return o
}

// isLocal reports whether v is the offline check, which screens its images
// itself.
func isLocal(v vendors.Vendor) bool {
	_, ok := v.(*vendors.Local)
	return ok
}

// screen runs the prescreen on a medium about to be sent to a vendor and
// reports whether it refused it, with the outcome. A prescreen that fails
// (an image it cannot decode, no slot in time) refuses nothing: the
// vendor judges the image as it would have without it.
func (h *Handler) screen(ctx context.Context, req *vendors.Request, sum [32]byte) (outcome, bool) {
	profile := h.prescreen.Profile()
	res, hit := h.shared.store.Get(ctx, profile, sum)
	if !hit {
		// The prescreen may wait for an inference slot a quarter of what
		// is left of the deadline, 2 s at most: the rest is the vendor's.
		sctx, cancel := context.WithTimeout(ctx, prescreenWait(ctx))
		var err error
		res, err = h.prescreen.Screen(sctx, req)
		cancel()
		if err != nil {
			h.logger.Debug("prescreen failed; the vendor judges the image", zap.String("error", err.Error()))
			return outcome{}, false
		}
		h.shared.store.Set(ctx, profile, sum, res)
	}
	if res.Class != vendors.ClassNoFace {
		return outcome{}, false
	}
	metrics.prescreened.WithLabelValues(h.Name, res.Reason).Inc()
	o := decide(res, h.Threshold)
	o.vendor, o.cacheHit = "prescreen", hit
	o.sums = []string{fmt.Sprintf("%x", sum)}
	return o, true
}

// prescreenWait is the longest a prescreen may take of ctx's time.
func prescreenWait(ctx context.Context) time.Duration {
	const most = 2 * time.Second
	if d, ok := ctx.Deadline(); ok {
		return min(time.Until(d)/4, most)
	}
	return most
}

// shareOfDeadline gives a vendor its share of what is left of the deadline when
// left vendors (itself included) may still have to be asked, so that a
// vendor that hangs leaves time for the fallback.
func shareOfDeadline(ctx context.Context, left int) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok || left <= 1 {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, time.Now().Add(time.Until(deadline)/time.Duration(left)))
}

// call asks v about req once for all concurrent requests with the same
// image; each request waits only until its own deadline. The vendor call
// keeps the deadline but not the cancellation of the request that started
// it, so one client going away does not fail the others. With Redis, the
// instances share the call too: see store.Store.Claim.
//
// The call may outlive the request: it holds a reference to the request's
// lease (l, nil for the check command), whose buffers hold the image, and
// takes from it the budget of the vendor's request body.
func (h *Handler) call(ctx context.Context, g *guard, profile string, sum [32]byte, req *vendors.Request, l *body.Lease) (vendors.Result, error) {
	deadline, _ := ctx.Deadline()
	var led atomic.Bool // set by the request whose call runs
	shared := false     // written by that call, read after it ended
	if l != nil {
		l.Retain() // for the call, if this request's is the one that runs
	}
	ch := h.shared.calls.DoChan(callKey(profile, sum), func() (any, error) {
		led.Store(true)
		if l != nil {
			defer l.Release()
		}
		cctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
		defer cancel()
		// A call that ended between this request's cache miss and now
		// (here or, with Redis, on another instance) has left its result:
		// take it rather than asking again.
		res, found, release, err := h.shared.store.Claim(cctx, profile, sum)
		if err != nil {
			return vendors.Result{}, g.err("no answer before the deadline", err)
		}
		if found {
			shared = true
			return res, nil
		}
		defer release() // after the result is stored
		if l != nil {
			// The vendor's request body: the image in base64 (4/3 of it)
			// and its envelope, at most.
			est := int64(len(req.Media.Data))*4/3 + 4096
			if err := l.Take(cctx, est); err != nil {
				return vendors.Result{}, g.err("no memory budget left for the vendor request", err)
			}
			defer l.Give(est)
		}
		res, err = g.check(cctx, req)
		if err == nil && res.Class != vendors.ClassInconclusive {
			h.shared.store.Set(cctx, profile, sum, res)
		}
		return res, err
	})
	select {
	case r := <-ch:
		if !led.Load() && l != nil {
			l.Release() // another request's call answered: this one's never ran
		}
		if led.Load() && !shared {
			metrics.cache.WithLabelValues(h.Name, "miss").Inc()
		} else {
			metrics.cache.WithLabelValues(h.Name, "shared").Inc()
		}
		if r.Err != nil {
			return vendors.Result{}, r.Err
		}
		return r.Val.(vendors.Result), nil
	case <-ctx.Done():
		if l != nil {
			go func() {
				<-ch // the call ends by its deadline
				if !led.Load() {
					l.Release()
				}
			}()
		}
		return vendors.Result{}, g.err("no answer before the deadline", ctx.Err())
	}
}

// checkFile runs one file through the vendor chain as ServeHTTP does for
// one medium: sniffing and limits, cache, vendors, decision. The check
// command uses it.
func (h *Handler) checkFile(ctx context.Context, data []byte) outcome {
	m, err := h.x.Medium(data, "file")
	if err != nil {
		return outcome{verdict: VerdictError, reason: err.Reason, input: err}
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(h.Timeout))
	defer cancel()
	req := &vendors.Request{Media: vendors.Media{Data: m.Data, MIME: m.MIME}, Threshold: h.Threshold}
	return h.checkMedium(ctx, req, m.Sum, nil)
}
