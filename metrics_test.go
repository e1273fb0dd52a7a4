package caddyliveness

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/caddy-liveness/caddy-liveness/internal/store"
	"github.com/caddy-liveness/caddy-liveness/vendors"
)

func TestMetricsCount(t *testing.T) {
	v := newFake("metricsvendor")
	h, _ := testHandler(t, func(h *Handler) { h.Name = "metrics-count" }, v)
	c := func(vec interface {
		WithLabelValues(...string) prometheus.Counter
	}, labels ...string) float64 {
		return testutil.ToFloat64(vec.WithLabelValues(append([]string{h.Name}, labels...)...))
	}
	live0, spoof0 := c(metrics.checks, "metricsvendor", "live"), c(metrics.checks, "metricsvendor", "spoof")
	hit0, miss0 := c(metrics.cache, "hit"), c(metrics.cache, "miss")
	for _, img := range [][]byte{liveJPEG, liveJPEG, spoofJPEG} {
		ct, body := multipartBody(t, "selfie", img)
		serve(h, post(ct, body), &upstream{})
	}
	if c(metrics.checks, "metricsvendor", "live")-live0 != 2 || c(metrics.checks, "metricsvendor", "spoof")-spoof0 != 1 {
		t.Fatal("checks_total by vendor and verdict")
	}
	if c(metrics.cache, "hit")-hit0 != 1 || c(metrics.cache, "miss")-miss0 != 2 {
		t.Fatal("cache lookups")
	}
	if n := testutil.CollectAndCount(metrics.vendorDuration, "caddy_liveness_vendor_call_duration_seconds"); n == 0 {
		t.Fatal("no vendor call durations")
	}

	// Vendor errors by kind, and the breaker state.
	v.answer = func(vendors.Media) (vendors.Result, error) {
		return vendors.Result{}, &vendors.Error{Kind: vendors.KindAuth, Status: 401}
	}
	auth0, open0 := c(metrics.vendorErrors, "metricsvendor", "auth"), c(metrics.vendorErrors, "metricsvendor", "breaker_open")
	for range 6 { // the default breaker opens after 5 failed calls
		h.shared.store.Purge(t.Context(), nil)
		ct, body := multipartBody(t, "selfie", liveJPEG)
		serve(h, post(ct, body), &upstream{})
	}
	if got := c(metrics.vendorErrors, "metricsvendor", "auth") - auth0; got != 5 {
		t.Fatalf("vendor_errors_total{kind=auth} grew by %v, want 5", got)
	}
	if got := c(metrics.vendorErrors, "metricsvendor", "breaker_open") - open0; got != 1 {
		t.Fatalf("vendor_errors_total{kind=breaker_open} grew by %v, want 1", got)
	}
	if got := testutil.ToFloat64(metrics.breaker.WithLabelValues(h.Name, "metricsvendor")); got != 2 {
		t.Fatalf("breaker_state %v, want 2 (open)", got)
	}
	if got := testutil.ToFloat64(metrics.inflight.WithLabelValues(h.Name, "metricsvendor")); got != 0 {
		t.Fatalf("vendor_calls_in_flight %v after all calls ended", got)
	}
}

// Collectors survive a reload: the new configuration's registry accepts
// them (already registered on the old one), a second handler of the same
// configuration registering again is fine, and counts carry over.
func TestMetricsAcrossReload(t *testing.T) {
	old, next := prometheus.NewRegistry(), prometheus.NewRegistry()
	if err := registerMetrics(old); err != nil {
		t.Fatal(err)
	}
	if err := registerMetrics(old); err != nil {
		t.Fatalf("second handler on the same registry: %v", err)
	}
	metrics.checks.WithLabelValues("reload", "reloadvendor", "live").Inc()
	if err := registerMetrics(next); err != nil {
		t.Fatalf("new configuration's registry: %v", err)
	}
	metrics.checks.WithLabelValues("reload", "reloadvendor", "live").Inc()
	want := `
# HELP caddy_liveness_checks_total Liveness decisions by the vendor that answered and the verdict.
# TYPE caddy_liveness_checks_total counter
caddy_liveness_checks_total{handler="reload",vendor="reloadvendor",verdict="live"} 2
`
	if err := testutil.GatherAndCompare(next, strings.NewReader(want), "caddy_liveness_checks_total"); err != nil {
		// Other tests count other vendors; compare only ours.
		if !strings.Contains(err.Error(), `handler="reload",vendor="reloadvendor",verdict="live"} 2`) {
			t.Fatal(err)
		}
	}
	// No label holds an image hash or a request's path or address; the
	// handler label is a name (at most 64 characters).
	mfs, err := next.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "handler":
					if err := checkName(l.GetValue()); err != nil && l.GetValue() != "" {
						t.Errorf("%s label handler=%q: %v", mf.GetName(), l.GetValue(), err)
					}
					continue
				case "vendor", "verdict", "result", "outcome", "kind", "action", "reason", "op":
				default:
					t.Errorf("%s has label %s", mf.GetName(), l.GetName())
				}
				if len(l.GetValue()) > 40 {
					t.Errorf("%s label %s=%q looks high-cardinality", mf.GetName(), l.GetName(), l.GetValue())
				}
			}
		}
	}
}

// seriesValue is the value of c's series with these labels (a
// histogram's sample count), and whether there is one.
func seriesValue(t *testing.T, c prometheus.Collector, labels map[string]string) (float64, bool) {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
	series:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue series
				}
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue(), true
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue(), true
			case m.GetHistogram() != nil:
				return float64(m.GetHistogram().GetSampleCount()), true
			}
		}
	}
	return 0, false
}

// Every metric has the handler label, and two handlers with the same
// vendor count apart.
func TestMetricsByHandler(t *testing.T) {
	registerMetrics(nil)
	for name, vec := range map[string]interface {
		CurryWith(prometheus.Labels) (prometheus.ObserverVec, error)
	}{"vendor_call_duration_seconds": metrics.vendorDuration} {
		if _, err := vec.CurryWith(prometheus.Labels{"handler": "x"}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, vec := range map[string]*prometheus.CounterVec{
		"checks_total": metrics.checks, "cache_lookups_total": metrics.cache, "vendor_errors_total": metrics.vendorErrors,
		"duplicates_total": metrics.duplicates, "redis_errors_total": metrics.redisErrors, "prescreen_refusals_total": metrics.prescreened,
	} {
		if _, err := vec.CurryWith(prometheus.Labels{"handler": "x"}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, vec := range map[string]*prometheus.GaugeVec{"breaker_state": metrics.breaker, "vendor_calls_in_flight": metrics.inflight} {
		if _, err := vec.CurryWith(prometheus.Labels{"handler": "x"}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}

	va, vb := newFake("samevendor"), newFake("samevendor")
	vb.answer = func(vendors.Media) (vendors.Result, error) {
		return vendors.Result{}, &vendors.Error{Kind: vendors.KindUnavailable, Status: 503}
	}
	a, _ := testHandler(t, func(h *Handler) { h.Name = "metrics-a.example.com/upload" }, va)
	b, _ := testHandler(t, func(h *Handler) { h.Name = "metrics-b"; r := 0; h.Retries = &r; h.OnError = "allow" }, vb)
	clock := time.Unix(1_700_000_000, 0)
	a.now = func() time.Time { return clock }
	for range 2 { // a miss, then a hit; the second is a duplicate 2 minutes on
		ct, body := multipartBody(t, "selfie", liveJPEG)
		serve(a, post(ct, body), &upstream{})
		clock = clock.Add(2 * time.Minute)
	}
	ct, body := multipartBody(t, "selfie", spoofJPEG)
	serve(b, post(ct, body), &upstream{})

	val := func(c prometheus.Collector, labels ...string) float64 {
		t.Helper()
		m := map[string]string{}
		for i := 0; i < len(labels); i += 2 {
			m[labels[i]] = labels[i+1]
		}
		v, ok := seriesValue(t, c, m)
		if !ok {
			t.Errorf("no series %v", m)
		}
		return v
	}
	for _, tc := range []struct {
		what string
		got  float64
		want float64
	}{
		{"checks a live", val(metrics.checks, "handler", a.Name, "vendor", "samevendor", "verdict", "live"), 2},
		{"checks b error", val(metrics.checks, "handler", b.Name, "vendor", "samevendor", "verdict", "error"), 1},
		{"cache a hit", val(metrics.cache, "handler", a.Name, "result", "hit"), 1},
		{"cache a miss", val(metrics.cache, "handler", a.Name, "result", "miss"), 1},
		{"cache b miss", val(metrics.cache, "handler", b.Name, "result", "miss"), 1},
		{"duration a ok", val(metrics.vendorDuration, "handler", a.Name, "vendor", "samevendor", "outcome", "ok"), 1},
		{"duration b error", val(metrics.vendorDuration, "handler", b.Name, "vendor", "samevendor", "outcome", "error"), 1},
		{"errors b", val(metrics.vendorErrors, "handler", b.Name, "vendor", "samevendor", "kind", "unavailable"), 1},
		{"duplicates a", val(metrics.duplicates, "handler", a.Name, "action", "allow"), 1},
		{"breaker a", val(metrics.breaker, "handler", a.Name, "vendor", "samevendor"), 0},
		{"in flight b", val(metrics.inflight, "handler", b.Name, "vendor", "samevendor"), 0},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %v, want %v", tc.what, tc.got, tc.want)
		}
	}
	for _, absent := range []map[string]string{
		{"handler": b.Name, "verdict": "live"},
		{"handler": a.Name, "verdict": "error"},
		{"handler": b.Name, "result": "hit"},
		{"handler": a.Name, "kind": "unavailable"},
	} {
		for _, c := range []prometheus.Collector{metrics.checks, metrics.cache, metrics.vendorErrors} {
			if v, ok := seriesValue(t, c, absent); ok && v != 0 {
				t.Errorf("%v counted %v: the other handler's", absent, v)
			}
		}
	}
}

// A failed Redis operation of a store is counted under the first by name
// of the handlers using it.
func TestRedisErrorsByHandler(t *testing.T) {
	s := newShared(store.Config[vendors.Result]{TTL: time.Minute, MaxEntries: 10, Prefix: "metrics-test:", RedisTimeout: 500 * time.Millisecond,
		Redis: &redis.UniversalOptions{Addrs: []string{"127.0.0.1:1"}}}) // nothing listens on port 1
	t.Cleanup(func() { s.Destruct() })
	s.addUser("redis-b")
	s.addUser("redis-a")
	s.addUser("redis-a")
	s.removeUser("redis-a") // one of two left
	count := func(handler string) float64 {
		v, _ := seriesValue(t, metrics.redisErrors, map[string]string{"handler": handler, "op": "get"})
		return v
	}
	a0, b0 := count("redis-a"), count("redis-b")
	s.store.Get(t.Context(), "p", [32]byte{1})
	if count("redis-a")-a0 != 1 || count("redis-b") != b0 {
		t.Fatalf("redis_errors_total{op=get}: redis-a +%v, redis-b +%v; want 1 and 0", count("redis-a")-a0, count("redis-b")-b0)
	}
	s.removeUser("redis-a")
	if s.label() != "redis-b" {
		t.Fatalf("label %q once redis-a left", s.label())
	}
}
