package caddyliveness

import (
	"errors"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// The collectors are created once per process and registered on each
// configuration's registry, so counts survive reloads. Every one has the
// label handler, the handler's name (Handler.Name: from the configuration,
// never from a request), first. The others are low cardinality: vendor,
// verdict, outcome, kind, op, result, action, reason — never an image
// hash, a client address or a request's path.
var (
	metricsOnce sync.Once
	metrics     struct {
		checks         *prometheus.CounterVec
		cache          *prometheus.CounterVec
		vendorDuration *prometheus.HistogramVec
		vendorErrors   *prometheus.CounterVec
		breaker        *prometheus.GaugeVec
		inflight       *prometheus.GaugeVec
		duplicates     *prometheus.CounterVec
		redisErrors    *prometheus.CounterVec
		prescreened    *prometheus.CounterVec
	}
)

func initMetrics() {
	const ns, sub = "caddy", "liveness"
	metrics.checks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Subsystem: sub, Name: "checks_total",
		Help: "Liveness decisions by the vendor that answered and the verdict.",
	}, []string{"handler", "vendor", "verdict"})
	metrics.cache = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Subsystem: sub, Name: "cache_lookups_total",
		Help: "Verdict cache lookups per image: hit, miss (a vendor call), shared (joined a call in flight).",
	}, []string{"handler", "result"})
	metrics.vendorDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: ns, Subsystem: sub, Name: "vendor_call_duration_seconds",
		Help:    "Duration of vendor calls (attempts) by vendor and outcome (ok or error).",
		Buckets: []float64{.025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"handler", "vendor", "outcome"})
	metrics.vendorErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Subsystem: sub, Name: "vendor_errors_total",
		Help: "Failed vendor calls by vendor and error kind.",
	}, []string{"handler", "vendor", "kind"})
	metrics.breaker = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: ns, Subsystem: sub, Name: "breaker_state",
		Help: "Circuit breaker state per vendor: 0 closed, 1 half-open, 2 open.",
	}, []string{"handler", "vendor"})
	metrics.inflight = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: ns, Subsystem: sub, Name: "vendor_calls_in_flight",
		Help: "Vendor calls in flight per vendor.",
	}, []string{"handler", "vendor"})
	metrics.duplicates = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Subsystem: sub, Name: "duplicates_total",
		Help: "Images seen again, by what the policy did: retry (within duplicate_window), allow, annotate, deny.",
	}, []string{"handler", "action"})
	metrics.redisErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Subsystem: sub, Name: "redis_errors_total",
		Help: "Failed Redis operations by operation (get, set, sight, lock, poll, unlock, purge, len); each one fell back to local memory. The handler is the first by name of those sharing the store.",
	}, []string{"handler", "op"})
	metrics.prescreened = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Subsystem: sub, Name: "prescreen_refusals_total",
		Help: "Images the prescreen refused without a vendor call (each one a call saved), by reason: face_not_detected, several_faces, face_too_small.",
	}, []string{"handler", "reason"})
}

// registerMetrics puts the collectors on a configuration's registry; a
// collector already there (another handler of the same configuration) is
// fine.
func registerMetrics(reg prometheus.Registerer) error {
	metricsOnce.Do(initMetrics)
	if reg == nil {
		return nil
	}
	for _, c := range []prometheus.Collector{
		metrics.checks, metrics.cache, metrics.vendorDuration, metrics.vendorErrors,
		metrics.breaker, metrics.inflight, metrics.duplicates, metrics.redisErrors, metrics.prescreened,
	} {
		if err := reg.Register(c); err != nil && !errors.As(err, new(prometheus.AlreadyRegisteredError)) {
			return err
		}
	}
	return nil
}
