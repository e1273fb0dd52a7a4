//go:build hostile

// Package hostile repeats, as an attacker would, seven hostile loads
// (the rows below) against the built Caddy (./caddy, make -f xcaddy.mk build): for
// every row, first with bare reverse_proxy, then with liveness in front,
// one Caddy at a time on the same machine in the same run, each under a
// memory ceiling this test sets itself. It talks only to loopback, ends
// every row by itself in bounded time (a few tens of seconds), and prints
// a table of what it measured against the pass criteria below. Run it
// with
//
//	go test -tags hostile -run TestHostile -v -count=1 -timeout 15m ./hostile
//
// # What it measures, per row and variant
//
// Peak RSS of the Caddy process (VmRSS sampled every 20 ms, and VmHWM);
// whether it died (exited, or was killed at the ceiling); the success
// rate and p50/p99 latency of honest uploads made while the attack runs
// (4 clients uploading the same 500 KB JPEG in a loop from 127.0.0.2; a
// success is a 200 whose upstream received every byte; the latencies are
// of every finished attempt, failures included); and, after the attack
// (every attack connection closed), Caddy's goroutines (admin API
// /debug/pprof/goroutine) against the count before it, and its heap after
// two forced collections. The attacker dials from 127.0.0.3, so a
// per-client share separates it from the honest clients; Caddy listens on
// 127.0.0.1; the vendor (the SpoofSense emulator of vendors/vendortest
// behind a wrapper that delays or misbehaves for the attack's images
// only) and the upstream (which drains the body and answers its size)
// are httptest servers on 127.0.0.1; row 5's "other host" is on
// 127.0.0.77.
//
// # Pass criteria (the gated variant; bare reverse_proxy is the reference)
//
//   - Caddy starts with the gated Caddyfile, and does not die.
//   - Peak RSS ≤ bare reverse_proxy's peak under the same load +
//     max_buffered (256 MiB) + a fixed overhead of 128 MiB, and under the
//     ceiling.
//   - Honest uploads while the attack runs: ≥ 95 % succeed (at least one
//     attempted).
//   - Nothing leaks: within 15 s of the attack's end, goroutines ≤ the
//     count before the attack + 32, and the heap after GC ≤ before + 64
//     MiB.
//   - The row's own criterion, printed with it (row 2: ≥ 99 % of the slow
//     connections ended by Caddy before the attack ends; row 4: no
//     decision logged with "circuit breaker open"; row 5: the other host
//     receives no request and no spoof passes; row 7: at most 4 vendor
//     calls, the default max_images).
//
// # The memory ceiling
//
// HOSTILE_CEILING_MIB (default 4096) is a ceiling on Caddy's resident
// memory: the sampler kills Caddy (SIGKILL) the moment its VmRSS reaches
// it, as a cgroup's memory.max would. Behind it, as a backstop that no
// growth between two samples can get past, Caddy runs with its address
// space capped at the ceiling + HOSTILE_AS_SLACK_MIB (default 8192, so 12
// GiB) through util-linux's prlimit --as (caddyproc.Options.AddressSpace):
// an allocation past it ends Caddy with "fatal error: out of memory". The
// slack is wide because a Go process reserves address space it does not
// touch (an idle Caddy: ~1.3 GB of VmSize for ~50 MB of RSS), and a
// buffer sized from Content-Length is address space before it is memory:
// with a 6 GiB cap, today's build died in rows 2 and 3 at under 100 MiB
// of RSS, which says more about the cap than about memory. Either end —
// killed at the ceiling or out of address space — counts as death. The
// machine needs the cap at worst (one Caddy at a time) plus ~2 GiB for
// this process; lower both on a smaller one. A cgroup was not used:
// where this test was written (a Firecracker VM, cgroup v1 for memory,
// owned by the sandbox), the cgroup v2 hierarchy at
// /sys/fs/cgroup/unified offers no memory controller (only hugetlb), so
// memory.max cannot be set.
//
// # The gated Caddyfile and the new options
//
// The gated variant sets max_size 20MB and max_buffered 256MiB explicitly
// (the other new options — body_timeout, body_min_rate, max_images —
// are left at their defaults, which are what the rows test).
// HOSTILE_NEW_OPTIONS=0 leaves max_buffered out, for a Caddy built before
// it exists (which refuses unknown options: with the default, such a
// Caddy fails every gated row at start).
//
// # Environment
//
// HOSTILE_CADDY (the binary, default ../caddy), HOSTILE_ROWS (e.g. "1,4";
// default all), HOSTILE_DURATION (the attack's length in rows 1 and 2,
// default 15s; rows 3 and 6 take 2/3 of it per phase), HOSTILE_HONEST
// (honest clients, default 4), HOSTILE_CEILING_MIB, HOSTILE_AS_SLACK_MIB,
// HOSTILE_NEW_OPTIONS, HOSTILE_OUT (also write the table to this file).
package hostile

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-liveness/caddy-liveness/internal/caddyproc"
	"github.com/caddy-liveness/caddy-liveness/vendors/vendortest"
)

var (
	binPath       = os.Getenv("HOSTILE_CADDY")
	rowsWanted    = os.Getenv("HOSTILE_ROWS")
	attackFor     = envDuration("HOSTILE_DURATION", 15*time.Second)
	honestClients = envInt("HOSTILE_HONEST", 4)
	ceiling       = envMiB("HOSTILE_CEILING_MIB", 4<<30)
	asSlack       = envMiB("HOSTILE_AS_SLACK_MIB", 8<<30)
	newOptions    = os.Getenv("HOSTILE_NEW_OPTIONS") != "0"
	outPath       = os.Getenv("HOSTILE_OUT")
)

const (
	apiKey   = "hostile-key"
	honestIP = "127.0.0.2"
	attackIP = "127.0.0.3"
	thiefIP  = "127.0.0.77"

	budget       = 256 << 20 // max_buffered in the gated Caddyfile
	overhead     = 128 << 20 // allowed above bare's peak + the budget
	honestTarget = 0.95
	leakMargin   = 32       // goroutines
	heapMargin   = 64 << 20 // bytes
	settleFor    = 15 * time.Second
	maxImages    = 4 // the default max_images
)

// row is one hostile load.
type row struct {
	n    int
	what string
	// opts are extra lines in the gated liveness block.
	opts string
	// setup prepares the row's vendor, thief and bodies.
	setup func(r *row) error
	// attack runs against one Caddy and returns once it is over.
	attack func(ctx context.Context, r *row, tg *target)
	// lateHonest: attack starts the honest load itself (tg.honest.start).
	lateHonest bool
	criterion  string
	// check is the row's own criterion on the gated variant.
	check func(r *row, bare, gated *variant) (string, bool)

	vendor *hostileVendor
	thief  *thief
	bodies []body
}

// target is one Caddy under attack.
type target struct {
	gated   bool
	url     string // http://127.0.0.1:port/upload
	addr    string // 127.0.0.1:port
	t       *tally
	honest  *honestLoad
	clients []*http.Client
	rss     func() int64 // Caddy's VmRSS now
}

func (tg *target) client(conns int, timeout time.Duration) *http.Client {
	c := clientFrom(attackIP, conns, timeout)
	tg.clients = append(tg.clients, c)
	return c
}

// variant is what one Caddy did under one row.
type variant struct {
	gated          bool
	startErr       string
	idle, peak     int64
	after          int64
	died           bool
	death          string
	honest         honestStats
	g0, g1         int
	h0, h1         uint64
	adminErr       string
	attack         *tally
	log            string
	stats          string
	took           time.Duration
	killedAtCeilng bool
	dump           string // goroutine profile saved when they did not come back
}

func rows() []*row {
	slowHead := []byte("POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: " + multipartType + "\r\nContent-Length: 10485760\r\n\r\n")
	bigHeader := strings.Repeat("a", 1<<20-32)
	return []*row{
		{
			n:    1,
			what: "512 concurrent uploads of 5–15 MB, vendor answering in 2 s, max_size 20MB",
			setup: func(r *row) error {
				r.vendor = newVendor(func(v *hostileVendor) { v.delay = 2 * time.Second })
				return nil
			},
			attack: func(ctx context.Context, r *row, tg *target) {
				ctx, cancel := context.WithTimeout(ctx, attackFor)
				defer cancel()
				c := tg.client(512, time.Minute)
				swarm(ctx, 512, func(i int) bool {
					body, n := streamedUpload(fmt.Sprintf("live;attack;r1;n=%d", i+1), uploadSize(int64(i+1), 5_000_000, 15_000_000))
					resp, err := post(ctx, c, tg.url, body, n)
					if ctx.Err() != nil {
						tg.t.add("cut at the end", 1)
						return false
					}
					if err != nil {
						tg.t.result(0, err)
						time.Sleep(10 * time.Millisecond)
						return true
					}
					tg.t.result(resp.StatusCode, nil)
					if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != "" {
						tg.t.add("503 with Retry-After", 1)
					}
					return true
				})
			},
			criterion: "generic only",
			check: func(r *row, bare, gated *variant) (string, bool) {
				return fmt.Sprintf("vendor calls %d; 503 with Retry-After %d", r.vendor.attackCalls.Load(), gated.attack.get("503 with Retry-After")), true
			},
		},
		{
			n:    2,
			what: "1000 connections: headers with Content-Length: 10485760, then 1 byte/s",
			setup: func(r *row) error {
				r.vendor = newVendor(nil)
				return nil
			},
			attack: func(ctx context.Context, r *row, tg *target) {
				ctx, cancel := context.WithTimeout(ctx, attackFor)
				defer cancel()
				d := dialerFrom(attackIP)
				var wg sync.WaitGroup
				for range 1000 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						rawConn(ctx, d, tg.addr, slowHead, true, tg.t)
					}()
				}
				wg.Wait()
			},
			criterion: "≥ 99 % of the slow connections ended by Caddy before the attack ends",
			check: func(r *row, bare, gated *variant) (string, bool) {
				closed := gated.attack.get("closed by Caddy")
				gated.attack.mu.Lock()
				after := gated.attack.times["closed after"]
				gated.attack.mu.Unlock()
				died := ""
				if gated.died {
					died = " (Caddy died: they ended with it)"
				}
				return fmt.Sprintf("ended by Caddy %d/1000 within %v%s (median after %s, last after %s); bare %d/1000",
					closed, attackFor, died, ms(percentile(after, 50)), ms(percentile(after, 100)), bare.attack.get("closed by Caddy")), closed >= 990 && !gated.died
			},
		},
		{
			n:    3,
			what: "~1000 header-only connections (Content-Length 10 MiB, no body) reconnecting as soon as dropped; no honest traffic, then with",
			setup: func(r *row) error {
				r.vendor = newVendor(nil)
				return nil
			},
			lateHonest: true,
			attack: func(ctx context.Context, r *row, tg *target) {
				phase := attackFor * 2 / 3
				ctx, cancel := context.WithTimeout(ctx, 2*phase)
				defer cancel()
				d := dialerFrom(attackIP)
				var wg sync.WaitGroup
				for range 1000 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for ctx.Err() == nil {
							if rawConn(ctx, d, tg.addr, slowHead, false, tg.t) {
								tg.t.add("reconnects", 1)
							}
						}
					}()
				}
				select {
				case <-time.After(phase):
					tg.t.add("RSS at the end of phase A", tg.rss())
					tg.honest.start()
				case <-ctx.Done():
				}
				wg.Wait()
			},
			criterion: "generic only (honest traffic measured in the second half)",
			check: func(r *row, bare, gated *variant) (string, bool) {
				return fmt.Sprintf("reconnects: bare %d, gated %d", bare.attack.get("reconnects"), gated.attack.get("reconnects")), true
			},
		},
		{
			n:    4,
			what: "1000 unique uploads at concurrency 64, max_concurrent 2, vendor healthy at 500 ms",
			// timeout 2s (default 10s) bounds the row: 1000 uploads / 64
			// at most 2 s each.
			opts: "max_concurrent 2\n\t\t\ttimeout 2s",
			setup: func(r *row) error {
				r.vendor = newVendor(func(v *hostileVendor) { v.delay = 500 * time.Millisecond })
				for i := range 1000 {
					r.bodies = append(r.bodies, multipartJPEG(vendortest.SampleJPEGSize(fmt.Sprintf("live;attack;r4;n=%d", i), 32<<10)))
				}
				return nil
			},
			attack: func(ctx context.Context, r *row, tg *target) {
				ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
				defer cancel()
				c := tg.client(64, 30*time.Second)
				swarm(ctx, 64, func(i int) bool {
					if i >= len(r.bodies) {
						return false
					}
					b := r.bodies[i].data
					resp, err := post(ctx, c, tg.url, bytes.NewReader(b), int64(len(b)))
					tg.t.result(status(resp), err)
					return true
				})
			},
			criterion: "no decision logged with \"circuit breaker open\"",
			check: func(r *row, bare, gated *variant) (string, bool) {
				open := len(logLines(gated.log, "liveness decision", "circuit breaker open"))
				gated.attack.mu.Lock()
				n503 := gated.attack.status[http.StatusServiceUnavailable]
				gated.attack.mu.Unlock()
				return fmt.Sprintf("503: %d of 1000; of which breaker open: %d; vendor calls %d (at most %d at once)",
					n503, open, r.vendor.attackCalls.Load(), r.vendor.maxInflight.Load()), open == 0 && gated.startErr == ""
			},
		},
		{
			n:    5,
			what: "vendor answering 302/307 to another loopback host (127.0.0.77)",
			setup: func(r *row) error {
				th, err := newThief()
				if err != nil {
					return err
				}
				r.thief = th
				r.vendor = newVendor(func(v *hostileVendor) {
					v.attack = func(w http.ResponseWriter, _ *http.Request, call int64) bool {
						code := http.StatusFound
						if call%2 == 0 {
							code = http.StatusTemporaryRedirect
						}
						w.Header().Set("Location", th.srv.URL+vendortest.SpoofSenseAntispoofing)
						w.WriteHeader(code)
						return true
					}
				})
				for i := range 64 {
					m := "live"
					if i%2 == 0 {
						m = "spoof"
					}
					r.bodies = append(r.bodies, multipartJPEG(vendortest.SampleJPEG(fmt.Sprintf("%s;attack;r5;n=%d", m, i))))
				}
				return nil
			},
			attack: func(ctx context.Context, r *row, tg *target) {
				ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
				defer cancel()
				c := tg.client(8, 30*time.Second)
				swarm(ctx, 8, func(i int) bool {
					if i >= len(r.bodies) {
						return false
					}
					b := r.bodies[i].data
					resp, err := post(ctx, c, tg.url, bytes.NewReader(b), int64(len(b)))
					tg.t.result(status(resp), err)
					if err == nil && resp.StatusCode == http.StatusOK && i%2 == 0 {
						tg.t.add("spoofs passed", 1)
					}
					return true
				})
			},
			criterion: "the other host receives 0 requests; 0 spoofs pass",
			check: func(r *row, bare, gated *variant) (string, bool) {
				reqs, spoofs := r.thief.reqs.Load(), gated.attack.get("spoofs passed")
				return fmt.Sprintf("other host: %d requests (%d with x-api-key, %d body bytes); spoofs passed %d/32",
					reqs, r.thief.withKey.Load(), r.thief.bytes.Load(), spoofs), reqs == 0 && spoofs == 0 && gated.startErr == ""
			},
		},
		{
			n:    6,
			what: "vendor answering with 9 MiB of headers (the body 1 s later), 64 calls at once",
			setup: func(r *row) error {
				r.vendor = newVendor(func(v *hostileVendor) {
					// The headers, then the verdict a second later: the
					// client holds what it parsed of every call at once.
					v.attack = func(w http.ResponseWriter, r *http.Request, _ int64) bool {
						for i := range 9 {
							w.Header().Set("X-Pad-"+strconv.Itoa(i), bigHeader)
						}
						w.Header().Set("Content-Type", "application/json")
						w.WriteHeader(http.StatusOK)
						http.NewResponseController(w).Flush()
						t := time.NewTimer(time.Second)
						defer t.Stop()
						select {
						case <-t.C:
						case <-r.Context().Done():
							return true
						}
						io.WriteString(w, `{"success": true, "message": "Process finished successfully", "model_output": {"pred_idx": "real", "prob_real": 0.97}}`)
						return true
					}
				})
				return nil
			},
			attack: func(ctx context.Context, r *row, tg *target) {
				ctx, cancel := context.WithTimeout(ctx, attackFor*2/3)
				defer cancel()
				c := tg.client(64, time.Minute)
				swarm(ctx, 64, func(i int) bool {
					b := multipartJPEG(vendortest.SampleJPEG(fmt.Sprintf("live;attack;r6;n=%d", i+1))).data
					resp, err := post(ctx, c, tg.url, bytes.NewReader(b), int64(len(b)))
					if ctx.Err() != nil {
						return false
					}
					tg.t.result(status(resp), err)
					if err != nil {
						time.Sleep(10 * time.Millisecond)
					}
					return true
				})
			},
			criterion: "generic only",
			check: func(r *row, bare, gated *variant) (string, bool) {
				return fmt.Sprintf("vendor calls %d (at most %d at once)", r.vendor.attackCalls.Load(), r.vendor.maxInflight.Load()), true
			},
		},
		{
			n:    7,
			what: "one request with 5000 tiny images (multipart, each a valid small JPEG)",
			setup: func(r *row) error {
				r.vendor = newVendor(nil)
				imgs := make([][]byte, 5000)
				for i := range imgs {
					imgs[i] = vendortest.SampleJPEG(fmt.Sprintf("live;attack;r7;n=%d", i))
				}
				r.bodies = []body{manyJPEGs(imgs)}
				return nil
			},
			attack: func(ctx context.Context, r *row, tg *target) {
				ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
				defer cancel()
				c := tg.client(1, time.Minute)
				b := r.bodies[0].data
				start := time.Now()
				resp, err := post(ctx, c, tg.url, bytes.NewReader(b), int64(len(b)))
				tg.t.time("answered after", time.Since(start))
				if err != nil {
					tg.t.result(0, err)
					return
				}
				tg.t.result(resp.StatusCode, nil)
			},
			criterion: fmt.Sprintf("≤ %d vendor calls (max_images default)", maxImages),
			check: func(r *row, bare, gated *variant) (string, bool) {
				calls := r.vendor.attackCalls.Load()
				gated.attack.mu.Lock()
				after := gated.attack.times["answered after"]
				gated.attack.mu.Unlock()
				return fmt.Sprintf("vendor calls %d; answer %s after %s (%d bytes body)", calls, gated.attack.statuses(), ms(percentile(after, 100)), len(r.bodies[0].data)),
					calls <= maxImages && gated.startErr == ""
			},
		},
	}
}

func caddyfile(listen, admin string, gated bool, opts, vendorURL, upstream string) string {
	var route string
	if gated {
		extra := ""
		if newOptions {
			extra += "\n\t\t\tmax_buffered 256MiB"
		}
		if opts != "" {
			extra += "\n\t\t\t" + opts
		}
		route = fmt.Sprintf(`		liveness {
			vendor spoofsense {
				api_key %s
				base_url %s
			}
			max_size 20MB%s
		}
`, apiKey, vendorURL, extra)
	}
	return fmt.Sprintf(`{
	admin %s
	persist_config off
	auto_https off
	log {
		level WARN
	}
}
http://%s {
	bind 127.0.0.1
	route /upload {
%s		reverse_proxy %s {
			# Caddy drops idle upstream connections first (the upstream
			# keeps them), so none is reused as the upstream closes it and
			# none reads as a leaked goroutine a second after a row.
			transport http {
				keepalive 1s
			}
		}
	}
}
`, admin, listen, route, upstream)
}

func runVariant(t *testing.T, bin string, r *row, gated bool, upstream string) *variant {
	start := time.Now()
	res := &variant{gated: gated, attack: newTally()}
	defer func() { res.took = time.Since(start) }()
	name := fmt.Sprintf("row %d bare", r.n)
	if gated {
		name = fmt.Sprintf("row %d gated", r.n)
	}
	listen, admin := caddyproc.FreeAddr(t), caddyproc.FreeAddr(t)
	cfg := caddyfile(listen, admin, gated, r.opts, r.vendor.srv.URL, upstream)
	p := caddyproc.StartWith(t, bin, name, cfg, caddyproc.Options{AddressSpace: ceiling + asSlack, LogTail: 8})
	defer p.Stop()
	base, adminURL := "http://"+listen, "http://"+admin
	if err := waitReady(p, base+"/", adminURL+"/config/"); err != nil {
		res.startErr = err.Error()
		if l := logLines(p.Log(), "rror"); len(l) > 0 {
			res.startErr += ": " + firstLine(l[len(l)-1], 300)
		}
		return res
	}
	pid := p.Pid()
	res.idle = procStatus(pid, "VmRSS")

	hon := newHonest(base+"/upload", honestClients)
	defer hon.client.CloseIdleConnections()
	// Warm-up: the honest image gets its verdict cached, connections are
	// made on every side.
	if err := hon.once(); err != nil {
		res.startErr = "first honest upload: " + err.Error()
		return res
	}
	var wg sync.WaitGroup
	for range honestClients {
		wg.Add(1)
		go func() { defer wg.Done(); hon.once() }()
	}
	wg.Wait()
	hon.reset()
	hon.client.CloseIdleConnections()
	time.Sleep(1500 * time.Millisecond) // idle connections to upstream and vendor end (1 s)
	var err error
	if res.g0, err = goroutines(adminURL); err == nil {
		res.h0, err = heapAfterGC(adminURL)
	}
	if err != nil {
		res.adminErr = err.Error()
	}

	samp := startSampler(p, ceiling)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-p.Exited():
			cancel()
		case <-ctx.Done():
		}
	}()
	tg := &target{gated: gated, url: base + "/upload", addr: listen, t: res.attack, honest: hon}
	tg.rss = func() int64 { return procStatus(pid, "VmRSS") }
	attackStart := time.Now()
	if !r.lateHonest {
		hon.start()
	}
	r.attack(ctx, r, tg)
	// Honest uploads run at least 3 s, also when the attack is one request.
	if d := 3*time.Second - time.Since(attackStart); d > 0 && ctx.Err() == nil {
		select {
		case <-time.After(d):
		case <-ctx.Done():
		}
	}
	hon.halt()
	cancel()
	for _, c := range tg.clients {
		c.CloseIdleConnections()
	}
	hon.client.CloseIdleConnections()
	res.honest = hon.stats()

	alive := func() bool {
		select {
		case <-p.Exited():
			return false
		default:
			return true
		}
	}
	var hwm int64
	if alive() {
		deadline := time.Now().Add(settleFor)
		for {
			g, err := goroutines(adminURL)
			if err != nil {
				res.adminErr = err.Error()
				break
			}
			res.g1 = g
			if g <= res.g0+leakMargin || time.Now().After(deadline) || !alive() {
				break
			}
			time.Sleep(250 * time.Millisecond)
		}
		if res.g1 > res.g0+leakMargin {
			if b, err := adminGet(adminURL, "/debug/pprof/goroutine?debug=1"); err == nil {
				res.dump = filepath.Join(os.TempDir(), strings.ReplaceAll(name, " ", "-")+"-goroutines.txt")
				os.WriteFile(res.dump, b, 0o644)
			}
		}
		if h, err := heapAfterGC(adminURL); err == nil {
			res.h1 = h
		}
		res.after = procStatus(pid, "VmRSS")
		hwm = procStatus(pid, "VmHWM")
		if gated {
			if b, err := adminGet(adminURL, "/liveness/stats"); err == nil {
				res.stats = strings.TrimSpace(string(b))
			}
		}
	}
	res.peak = max(samp.halt(), hwm)
	if !alive() {
		res.died = true
		res.killedAtCeilng = samp.killed.Load()
		switch l := logLines(p.Log(), "fatal error"); {
		case res.killedAtCeilng:
			res.death = fmt.Sprintf("killed at the RSS ceiling (%s)", mib(ceiling))
		case len(l) > 0:
			res.death = firstLine(l[0], 120) + " (" + p.Err().Error() + ")"
		default:
			res.death = fmt.Sprintf("exited: %v", p.Err())
		}
	}
	res.log = p.Log()
	return res
}

// verdict is the gated variant's pass or fail with its reasons.
func verdict(r *row, bare, gated *variant) (limit int64, specific string, reasons []string) {
	limit = budget + overhead + max(bare.peak, bare.idle)
	if gated.startErr != "" {
		reasons = append(reasons, "did not start: "+gated.startErr)
	}
	if gated.died {
		reasons = append(reasons, "died: "+gated.death)
	}
	if gated.peak > limit {
		reasons = append(reasons, fmt.Sprintf("peak RSS %s over the limit %s", mib(gated.peak), mib(limit)))
	}
	if gated.startErr == "" {
		if h := gated.honest; h.rate() < honestTarget {
			reasons = append(reasons, fmt.Sprintf("honest uploads %d/%d succeeded (first failure: %s)", h.ok, h.total, firstLine(h.firstErr, 100)))
		}
		if !gated.died {
			if gated.adminErr != "" {
				reasons = append(reasons, "admin API: "+firstLine(gated.adminErr, 100))
			}
			if gated.g1 > gated.g0+leakMargin {
				reasons = append(reasons, fmt.Sprintf("goroutines %d → %d %v after the attack (profile: %s)", gated.g0, gated.g1, settleFor, gated.dump))
			}
			if gated.h1 > gated.h0+heapMargin {
				reasons = append(reasons, fmt.Sprintf("heap after GC %s → %s", mib(int64(gated.h0)), mib(int64(gated.h1))))
			}
		}
	}
	specific, ok := r.check(r, bare, gated)
	if !ok {
		reasons = append(reasons, "row criterion: "+specific)
	}
	return limit, specific, reasons
}

func TestHostile(t *testing.T) {
	bin := binPath
	if bin == "" {
		bin = "../caddy"
	}
	bin, err := filepath.Abs(bin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("no Caddy binary at %s (make -f xcaddy.mk build): %v", bin, err)
	}
	if !caddyproc.HavePrlimit() {
		t.Fatal("prlimit (util-linux) is needed to cap Caddy's address space")
	}
	var want []int
	for _, f := range strings.Split(rowsWanted, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil {
			want = append(want, n)
		}
	}
	up := newUpstream()
	defer up.Close()
	upstream := strings.TrimPrefix(up.URL, "http://")

	type result struct {
		r           *row
		bare, gated *variant
		limit       int64
		specific    string
		reasons     []string
	}
	var results []result
	runStart := time.Now()
	for _, r := range rows() {
		if len(want) > 0 && !slices.Contains(want, r.n) {
			continue
		}
		if err := r.setup(r); err != nil {
			t.Fatalf("row %d: %v", r.n, err)
		}
		bare := runVariant(t, bin, r, false, upstream)
		gated := runVariant(t, bin, r, true, upstream)
		r.vendor.srv.Close()
		if r.thief != nil {
			r.thief.srv.Close()
		}
		limit, specific, reasons := verdict(r, bare, gated)
		results = append(results, result{r, bare, gated, limit, specific, reasons})
		status := "PASS"
		if len(reasons) > 0 {
			status = "FAIL: " + strings.Join(reasons, "; ")
		}
		t.Logf("row %d (bare %v, gated %v): %s", r.n, bare.took.Round(time.Second), gated.took.Round(time.Second), status)
	}

	var w strings.Builder
	fmt.Fprintf(&w, "\n## Hostile load: bare reverse_proxy vs liveness, same machine, same run\n\n")
	opt := "max_buffered 256MiB"
	if !newOptions {
		opt = "no max_buffered (HOSTILE_NEW_OPTIONS=0)"
	}
	fmt.Fprintf(&w, "Caddy (%s) under an RSS ceiling of %s (killed there) and an address-space cap of %s (prlimit --as); gated: max_size 20MB, %s. "+
		"Limit = bare peak + 256 MiB budget + 128 MiB overhead. Honest: %d clients, 500 KB JPEG in a loop from %s during the attack (attacker from %s); pass ≥ %.0f %%. "+
		"Leak: goroutines ≤ before + %d within %v, heap after GC ≤ before + %s. Run took %v.\n\n",
		bin, mib(ceiling), mib(ceiling+asSlack), opt, honestClients, honestIP, attackIP, honestTarget*100, leakMargin, settleFor, mib(heapMargin), time.Since(runStart).Round(time.Second))
	fmt.Fprintf(&w, "| row | bare peak RSS | gated peak RSS | limit | ceiling | died? bare / gated | honest ok bare / gated | honest p50 / p99 gated | goroutines gated before → after | criterion | measured | result |\n")
	fmt.Fprintf(&w, "|---|---:|---:|---:|---:|---|---|---|---|---|---|---|\n")
	failed := 0
	for _, x := range results {
		died := func(v *variant) string {
			switch {
			case v.startErr != "":
				return "did not start"
			case v.died:
				return "DIED"
			}
			return "no"
		}
		pct := func(v *variant) string {
			if v.startErr != "" {
				return "—"
			}
			return fmt.Sprintf("%.1f %% (%d/%d)", 100*v.honest.rate(), v.honest.ok, v.honest.total)
		}
		gor := "—"
		if x.gated.startErr == "" && !x.gated.died {
			gor = fmt.Sprintf("%d → %d", x.gated.g0, x.gated.g1)
		}
		res := "PASS"
		if len(x.reasons) > 0 {
			res = "**FAIL**: " + strings.Join(x.reasons, "; ")
			failed++
		}
		fmt.Fprintf(&w, "| %d. %s | %s | %s | %s | %s | %s / %s | %s / %s | %s / %s | %s | %s | %s | %s |\n",
			x.r.n, x.r.what, mib(x.bare.peak), mib(x.gated.peak), mib(x.limit), mib(ceiling), died(x.bare), died(x.gated),
			pct(x.bare), pct(x.gated), ms(x.gated.honest.p50), ms(x.gated.honest.p99), gor, x.r.criterion, x.specific, res)
	}
	fmt.Fprintf(&w, "\n### Details\n\n")
	for _, x := range results {
		for _, v := range []*variant{x.bare, x.gated} {
			kind := "bare "
			if v.gated {
				kind = "gated"
			}
			fmt.Fprintf(&w, "- row %d %s (%v): ", x.r.n, kind, v.took.Round(time.Second))
			if v.startErr != "" {
				fmt.Fprintf(&w, "did not start: %s\n", v.startErr)
				continue
			}
			fmt.Fprintf(&w, "RSS idle %s, peak %s, after %s; goroutines %d → %d; heap after GC %s → %s; attack: %s",
				mib(v.idle), mib(v.peak), mib(v.after), v.g0, v.g1, mib(int64(v.h0)), mib(int64(v.h1)), v.attack.statuses())
			v.attack.mu.Lock()
			keys := make([]string, 0, len(v.attack.counts))
			for k := range v.attack.counts {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				if strings.HasPrefix(k, "RSS") {
					fmt.Fprintf(&w, "; %s %s", k, mib(v.attack.counts[k]))
				} else {
					fmt.Fprintf(&w, "; %s %d", k, v.attack.counts[k])
				}
			}
			v.attack.mu.Unlock()
			fmt.Fprintf(&w, "; honest %d/%d ok, p50 %s, p99 %s, statuses %v", v.honest.ok, v.honest.total, ms(v.honest.p50), ms(v.honest.p99), v.honest.statuses)
			if v.honest.firstErr != "" {
				fmt.Fprintf(&w, " (first failure: %s)", firstLine(v.honest.firstErr, 100))
			}
			if v.died {
				fmt.Fprintf(&w, "; DIED: %s", v.death)
			}
			if v.stats != "" {
				fmt.Fprintf(&w, "; /liveness/stats %s", firstLine(v.stats, 400))
			}
			fmt.Fprintln(&w)
		}
	}
	fmt.Print(w.String())
	if outPath != "" {
		if err := os.WriteFile(outPath, []byte(w.String()), 0o644); err != nil {
			t.Error(err)
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d rows fail their criteria (table above)", failed, len(results))
	}
}
