package caddyliveness

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/sony/gobreaker/v2"

	"github.com/caddy-liveness/caddy-liveness/vendors"
	"github.com/caddy-liveness/caddy-liveness/vendors/vendortest"
)

// TestBreakerUnderQueueing is the hostile load's row 4 scaled down: many more
// concurrent requests than max_concurrent, each with a unique image (no
// cache hit, no shared call), against a healthy vendor that is merely
// slow. The requests that wait for a slot past their time are the
// caller's doing, not the vendor's: the breaker must stay closed, and
// every request either gets a verdict or fails for want of a slot, none
// because the breaker opened. The assertions count outcomes, never time.
//
// Shape: 200 requests, 64 at a time, max_concurrent 2, the vendor (the
// SpoofSense emulator on loopback) answering in 100 ms, timeout 2s (row
// 4's: 1000, 64, 2, 500 ms, 2s). The vendor serves 20 calls a
// second, so fewer than half of the requests can be answered in time and
// the rest must give up waiting. Before the breaker told the caller's
// deadline from the vendor's failure, about 140 of the 200 were refused
// with "circuit breaker open" (965 of 1000 at row 4's numbers).
func TestBreakerUnderQueueing(t *testing.T) {
	const (
		requests    = 200
		concurrency = 64
		vendorDelay = 100 * time.Millisecond
		timeout     = 2 * time.Second
	)
	emu := vendortest.NewSpoofSense("k")
	srv := httptest.NewServer(emu)
	defer srv.Close()
	v := provisioned(t, &vendors.SpoofSense{APIKey: "k", BaseURL: srv.URL})
	h, logs := testHandler(t, func(h *Handler) {
		h.MaxConcurrent = 2
		h.Timeout = caddy.Duration(timeout)
	}, v)

	work := make(chan int)
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			for i := range work {
				img := vendortest.SampleJPEG(fmt.Sprintf("live;delay=%s;n=%d", vendorDelay, i))
				serve(h, post("image/jpeg", img), &upstream{})
			}
		})
	}
	for i := range requests {
		work <- i
	}
	close(work)
	wg.Wait()

	var verdicts, noSlot, breakerOpen, other int
	others := map[string]int{}
	entries := logs.FilterMessage("liveness decision").All()
	for _, e := range entries {
		ctx := e.ContextMap()
		verdict, _ := ctx["verdict"].(string)
		msg, _ := ctx["error"].(string)
		switch {
		case verdict == string(VerdictLive):
			verdicts++
		case strings.Contains(msg, "no free slot for a vendor call before the deadline"):
			noSlot++
		case strings.Contains(msg, "circuit breaker open"):
			breakerOpen++
		default:
			other++
			others[verdict+" "+msg]++
		}
	}
	g := h.guards[0]
	state := g.breaker.State()
	t.Logf("%d requests: %d verdicts, %d no slot before the deadline, %d circuit breaker open, %d other %v; breaker %s; vendor calls %d; error counts %v",
		len(entries), verdicts, noSlot, breakerOpen, other, others, state, emu.CallCount(), g.errorCounts())

	if len(entries) != requests {
		t.Fatalf("%d decisions logged for %d requests", len(entries), requests)
	}
	if state != gobreaker.StateClosed || g.errorCounts()["breaker_open"] != 0 {
		t.Errorf("breaker %s, %d refusals: a healthy vendor's breaker opened under queueing", state, g.errorCounts()["breaker_open"])
	}
	if breakerOpen != 0 || other != 0 {
		t.Errorf("%d requests refused by the breaker, %d failed otherwise (%v); want each to get a verdict or no slot", breakerOpen, other, others)
	}
	if verdicts == 0 || noSlot == 0 {
		t.Errorf("%d verdicts, %d without a slot: the scenario did not queue", verdicts, noSlot)
	}
}
