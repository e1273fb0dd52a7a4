package caddyliveness

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/caddy-liveness/caddy-liveness/vendors"
)

func TestMetricsCount(t *testing.T) {
	v := newFake("metricsvendor")
	h, _ := testHandler(t, nil, v)
	c := func(vec *prometheus.CounterVec, labels ...string) float64 {
		return testutil.ToFloat64(vec.WithLabelValues(labels...))
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
	if got := testutil.ToFloat64(metrics.breaker.WithLabelValues("metricsvendor")); got != 2 {
		t.Fatalf("breaker_state %v, want 2 (open)", got)
	}
	if got := testutil.ToFloat64(metrics.inflight.WithLabelValues("metricsvendor")); got != 0 {
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
	metrics.checks.WithLabelValues("reloadvendor", "live").Inc()
	if err := registerMetrics(next); err != nil {
		t.Fatalf("new configuration's registry: %v", err)
	}
	metrics.checks.WithLabelValues("reloadvendor", "live").Inc()
	want := `
# HELP caddy_liveness_checks_total Liveness decisions by the vendor that answered and the verdict.
# TYPE caddy_liveness_checks_total counter
caddy_liveness_checks_total{vendor="reloadvendor",verdict="live"} 2
`
	if err := testutil.GatherAndCompare(next, strings.NewReader(want), "caddy_liveness_checks_total"); err != nil {
		// Other tests count other vendors; compare only ours.
		if !strings.Contains(err.Error(), `vendor="reloadvendor",verdict="live"} 2`) {
			t.Fatal(err)
		}
	}
	// No label holds an image hash, a path or an address.
	mfs, err := next.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				switch l.GetName() {
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
