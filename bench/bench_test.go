//go:build bench

// Package bench measures what the liveness gate adds to uploads: the built
// ./caddy (make -f xcaddy.mk build) with reverse_proxy only, side by side
// with the same proxy behind liveness, against a draining upstream and the
// SpoofSense emulator, with a closed-loop load generator bounded in count
// and time. It talks only to loopback. Run it with make -f xcaddy.mk
// bench; it prints markdown tables (BENCHMARKS.md explains them).
//
// The environment can change the load: BENCH_DURATION (per variant and
// case, default 5s), BENCH_ROUNDS (bare and gated alternate this many
// times within it, default 2), BENCH_WARMUP (default 1s), BENCH_CONCURRENCY
// (default 8), BENCH_MISS_DELAY (the vendor's delay, default 50ms) and
// BENCH_OUT (also write the tables to this file). BENCH_PROFILE=<dir>
// turns on each Caddy's admin API on loopback and saves a CPU profile of
// each variant of each case (taken during its first slice) to <dir>, for
// go tool pprof -top; profiling costs some CPU, so the figures of such a
// run are not the ones to quote.
package bench

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-liveness/caddy-liveness/internal/caddyproc"
	"github.com/caddy-liveness/caddy-liveness/vendors/vendortest"
)

var (
	duration    = envDuration("BENCH_DURATION", 5*time.Second)
	rounds      = envInt("BENCH_ROUNDS", 2)
	warmup      = envDuration("BENCH_WARMUP", time.Second)
	concurrency = envInt("BENCH_CONCURRENCY", 8)
	missDelay   = envDuration("BENCH_MISS_DELAY", 50*time.Millisecond)
	profileDir  = os.Getenv("BENCH_PROFILE")
)

const (
	apiKey = "bench-key"
	// maxRequests bounds every measured slice besides its duration.
	maxRequests = 1_000_000
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// drainingUpstream reads the whole body and keeps nothing. It answers with
// the number of bytes received and the cache header the gate set, so the
// load generator can check that each upload arrived whole and was a hit.
func drainingUpstream(w http.ResponseWriter, r *http.Request) {
	n, err := io.Copy(io.Discard, r.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	w.Header().Set("Bench-Received", strconv.FormatInt(n, 10))
	w.Header().Set("Bench-Cache", r.Header.Get("X-Liveness-Cache"))
	w.WriteHeader(http.StatusOK)
}

// slowVendor answers like the emulator, a fixed delay after it has read
// the request, and records how long each call took on its side.
type slowVendor struct {
	emu   *vendortest.SpoofSense
	delay time.Duration
	mu    sync.Mutex
	took  []time.Duration
}

func (v *slowVendor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	t := time.NewTimer(v.delay)
	select {
	case <-t.C:
	case <-r.Context().Done():
		t.Stop()
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	v.emu.ServeHTTP(w, r)
	took := time.Since(start)
	v.mu.Lock()
	v.took = append(v.took, took)
	v.mu.Unlock()
}

// caddyProc is one running Caddy.
type caddyProc struct {
	*caddyproc.Proc
	base    string // http://127.0.0.1:port
	admin   string // http://127.0.0.1:port when BENCH_PROFILE is set
	idleRSS int64  // bytes, once ready
}

// startCaddy runs the binary with one site holding routes. The admin API
// is off (on a free loopback port with BENCH_PROFILE), so parallel runs on
// the machine do not collide; logs go to a file (the gate's default one
// line per decision included).
func startCaddy(t *testing.T, bin, name, routes string) *caddyProc {
	t.Helper()
	listen, admin := caddyproc.FreeAddr(t), "off"
	if profileDir != "" {
		admin = caddyproc.FreeAddr(t)
	}
	cfg := fmt.Sprintf("{\n\tadmin %s\n\tpersist_config off\n\tauto_https off\n}\nhttp://%s {\n%s}\n", admin, listen, routes)
	p := &caddyProc{Proc: caddyproc.Start(t, bin, name, cfg), base: "http://" + listen}
	if admin != "off" {
		p.admin = "http://" + admin
	}
	p.WaitReady(t, p.base+"/")
	p.idleRSS = p.status(t, "VmRSS")
	return p
}

// cpu is the process's user+system CPU time so far (all threads).
func (p *caddyProc) cpu(t *testing.T) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.Pid()))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command name, which may hold spaces: state is the
	// first, utime the 12th and stime the 13th.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / time.Duration(clockTicks)
}

// profile saves a CPU profile of the next d (whole seconds, at least one)
// to path; wait for it with the returned function.
func (p *caddyProc) profile(t *testing.T, d time.Duration, path string) (wait func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := http.Get(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", p.admin, max(1, int(d/time.Second))))
		if err != nil {
			t.Errorf("profile: %v", err)
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		if err == nil {
			err = os.WriteFile(path, b, 0o644)
		}
		if err != nil {
			t.Errorf("profile %s: %v", path, err)
		}
	}()
	return func() { <-done }
}

// status returns a "kB" field of /proc/<pid>/status, in bytes.
func (p *caddyProc) status(t *testing.T, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid()))
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/<pid>/status", field)
	return 0
}

// clockTicks is USER_HZ, the unit of utime and stime.
var clockTicks = func() int64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if n, err2 := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err == nil && err2 == nil && n > 0 {
		return n
	}
	return 100
}()

// upload is one kind of request body.
type upload struct {
	name        string
	imageSize   int
	contentType string
	body        []byte
}

func multipartUpload(name string, img []byte) upload {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	w.WriteField("user", "alice")
	fw, _ := w.CreateFormFile("selfie", "selfie.jpg")
	fw.Write(img)
	w.Close()
	return upload{name, len(img), w.FormDataContentType(), buf.Bytes()}
}

func jsonUpload(name string, img []byte) upload {
	var b bytes.Buffer
	b.WriteString(`{"user": "alice", "image": "data:image/jpeg;base64,`)
	b.WriteString(base64.StdEncoding.EncodeToString(img))
	b.WriteString(`"}`)
	return upload{name, len(img), "application/json", b.Bytes()}
}

// stats accumulates the measured slices of one variant of one case.
type stats struct {
	requests int
	elapsed  time.Duration
	cpu      time.Duration
	lat      []time.Duration
	errs     int
	firstErr error
}

func (s *stats) rate() float64 { return float64(s.requests) / s.elapsed.Seconds() }
func (s *stats) cpuPerUpload() time.Duration {
	if s.requests == 0 {
		return 0
	}
	return s.cpu / time.Duration(s.requests)
}

func (s *stats) pct(p float64) time.Duration {
	if len(s.lat) == 0 {
		return 0
	}
	l := slices.Clone(s.lat)
	slices.Sort(l)
	return l[int(float64(len(l)-1)*p/100)]
}

// load runs a closed loop: concurrency workers each send one request at
// a time until d has passed or maxRequests were sent. body gives the
// bytes of request i; check inspects each answer.
func load(client *http.Client, url, contentType string, body func(i int) []byte, d time.Duration, check func(*http.Response, []byte) error) *stats {
	s := &stats{}
	var mu sync.Mutex
	var next atomic.Int64
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			errs := 0
			var first error
			for time.Now().Before(deadline) {
				i := int(next.Add(1)) - 1
				if i >= maxRequests {
					break
				}
				b := body(i)
				t0 := time.Now()
				err := do(client, url, contentType, b, check)
				if err != nil {
					errs++
					if first == nil {
						first = err
					}
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			s.lat = append(s.lat, lat...)
			s.errs += errs
			if s.firstErr == nil {
				s.firstErr = first
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	s.elapsed = time.Since(start)
	s.requests = len(s.lat)
	return s
}

func do(client *http.Client, url, contentType string, b []byte, check func(*http.Response, []byte) error) error {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	return check(resp, b)
}

// expect checks that the upstream got the whole body, with the given
// X-Liveness-Cache ("" for the bare proxy).
func expect(cache string) func(*http.Response, []byte) error {
	return func(resp *http.Response, b []byte) error {
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		if got := resp.Header.Get("Bench-Received"); got != strconv.Itoa(len(b)) {
			return fmt.Errorf("upstream received %s of %d bytes", got, len(b))
		}
		if got := resp.Header.Get("Bench-Cache"); got != cache {
			return fmt.Errorf("X-Liveness-Cache %q, want %q", got, cache)
		}
		return nil
	}
}

// floor times fn in this process, on one goroutine, with no load
// running: the fastest of 5 batches of at least 60 ms and 5 runs each, so
// that another process on the machine does not inflate the floor.
func floor(fn func()) time.Duration {
	fn()
	best := time.Duration(0)
	for range 5 {
		start := time.Now()
		runs := 0
		for runs < 5 || time.Since(start) < 60*time.Millisecond {
			fn()
			runs++
		}
		if d := time.Since(start) / time.Duration(runs); best == 0 || d < best {
			best = d
		}
	}
	return best
}

// caseResult is one case: both variants, its floor, the memory.
type caseResult struct {
	up           upload
	bare, gated  *stats
	sha, b64     time.Duration
	bareP, gateP *caddyProc
	barePeak     int64
	gatePeak     int64
}

func TestBench(t *testing.T) {
	bin, err := filepath.Abs("../caddy")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("no Caddy binary at ../caddy (make -f xcaddy.mk build): %v", err)
	}

	if profileDir != "" {
		if err := os.MkdirAll(profileDir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	emu := vendortest.NewSpoofSense(apiKey)
	emu.Keep = 1
	esrv := httptest.NewServer(emu)
	defer esrv.Close()
	slow := &slowVendor{emu: emu, delay: missDelay}
	ssrv := httptest.NewServer(slow)
	defer ssrv.Close()
	usrv := httptest.NewServer(http.HandlerFunc(drainingUpstream))
	defer usrv.Close()
	up := strings.TrimPrefix(usrv.URL, "http://")

	bareRoutes := fmt.Sprintf("\troute /bare {\n\t\treverse_proxy %s\n\t}\n", up)
	gatedRoute := func(path, vendorURL string) string {
		return fmt.Sprintf("\troute %s {\n\t\tliveness {\n\t\t\tvendor spoofsense {\n\t\t\t\tapi_key %s\n\t\t\t\tbase_url %s\n\t\t\t}\n\t\t}\n\t\treverse_proxy %s\n\t}\n", path, apiKey, vendorURL, up)
	}

	client := &http.Client{
		Transport: &http.Transport{
			MaxIdleConnsPerHost: 2 * concurrency,
			DisableCompression:  true,
			WriteBufferSize:     64 << 10,
		},
		Timeout: time.Minute,
	}
	defer client.CloseIdleConnections()

	cases := []upload{
		multipartUpload("multipart 64 KB", vendortest.SampleJPEGSize("live", 64<<10)),
		multipartUpload("multipart 512 KB", vendortest.SampleJPEGSize("live", 512<<10)),
		multipartUpload("multipart 4 MB", vendortest.SampleJPEGSize("live", 4<<20)),
		jsonUpload("JSON base64 512 KB", vendortest.SampleJPEGSize("live", 512<<10)),
	}
	runStart := time.Now()
	var results []*caseResult
	for _, c := range cases {
		r := &caseResult{up: c}
		// A fresh pair of processes per case, so each peak RSS is its own.
		r.bareP = startCaddy(t, bin, "bare", bareRoutes)
		r.gateP = startCaddy(t, bin, "gated", gatedRoute("/gated", esrv.URL))
		same := func(int) []byte { return c.body }
		// Warm-up: connections on both sides, and the gate's cache (its
		// first request is the one miss).
		if err := do(client, r.gateP.base+"/gated", c.contentType, c.body, expect("miss")); err != nil {
			t.Fatalf("%s: first gated upload: %v", c.name, err)
		}
		for _, w := range []struct {
			url   string
			cache string
		}{{r.bareP.base + "/bare", ""}, {r.gateP.base + "/gated", "hit"}} {
			if s := load(client, w.url, c.contentType, same, warmup, expect(w.cache)); s.errs > 0 {
				t.Fatalf("%s: warm-up: %d errors, first: %v", c.name, s.errs, s.firstErr)
			}
		}
		r.bare, r.gated = &stats{}, &stats{}
		for round := range rounds {
			order := []bool{false, true} // gated?
			if round%2 == 1 {
				order = []bool{true, false}
			}
			for _, gated := range order {
				p, url, cache, acc := r.bareP, r.bareP.base+"/bare", "", r.bare
				if gated {
					p, url, cache, acc = r.gateP, r.gateP.base+"/gated", "hit", r.gated
				}
				slice := duration / time.Duration(rounds)
				wait := func() {}
				if profileDir != "" && round == 0 {
					wait = p.profile(t, slice, filepath.Join(profileDir, profileName(c.name, gated)))
				}
				c0 := p.cpu(t)
				s := load(client, url, c.contentType, same, slice, expect(cache))
				acc.cpu += p.cpu(t) - c0
				wait()
				acc.requests += s.requests
				acc.elapsed += s.elapsed
				acc.lat = append(acc.lat, s.lat...)
				acc.errs += s.errs
				if acc.firstErr == nil {
					acc.firstErr = s.firstErr
				}
			}
		}
		r.barePeak, r.gatePeak = r.bareP.status(t, "VmHWM"), r.gateP.status(t, "VmHWM")
		r.bareP.Stop()
		r.gateP.Stop()
		// The floor, in this process, with no load running.
		img := make([]byte, c.imageSize)
		copy(img, c.body) // any bytes: SHA-256 costs the same on all
		r.sha = floor(func() { sha256.Sum256(img) })
		if strings.HasPrefix(c.name, "JSON") {
			enc := []byte(base64.StdEncoding.EncodeToString(img))
			dst := make([]byte, c.imageSize+3)
			r.b64 = floor(func() { base64.StdEncoding.Decode(dst, enc) })
		}
		for _, s := range []*stats{r.bare, r.gated} {
			if s.errs > 0 {
				t.Errorf("%s: %d failed uploads, first: %v", c.name, s.errs, s.firstErr)
			}
		}
		results = append(results, r)
	}

	// Cache misses: each upload a unique image, the vendor answering after
	// missDelay.
	missP := startCaddy(t, bin, "gated, misses", gatedRoute("/miss", ssrv.URL))
	tmpl := multipartUpload("miss", vendortest.SampleJPEGSize("live;n=00000000", 512<<10))
	at := bytes.Index(tmpl.body, []byte("n=00000000")) + len("n=")
	var seq atomic.Int64
	unique := func(int) []byte {
		b := slices.Clone(tmpl.body)
		copy(b[at:at+8], fmt.Sprintf("%08d", seq.Add(1)))
		return b
	}
	callsBefore := emu.CallCount()
	if s := load(client, missP.base+"/miss", tmpl.contentType, unique, warmup/2, expect("miss")); s.errs > 0 {
		t.Fatalf("misses: warm-up: %d errors, first: %v", s.errs, s.firstErr)
	}
	slow.mu.Lock()
	slow.took = nil
	slow.mu.Unlock()
	miss := load(client, missP.base+"/miss", tmpl.contentType, unique, duration, expect("miss"))
	if miss.errs > 0 {
		t.Errorf("misses: %d failed uploads, first: %v", miss.errs, miss.firstErr)
	}
	if calls, sent := emu.CallCount()-callsBefore, int(seq.Load()); calls != sent {
		t.Errorf("misses: %d vendor calls for %d unique images", calls, sent)
	}
	slow.mu.Lock()
	vendorSide := &stats{lat: slow.took}
	slow.mu.Unlock()
	missP.Stop()
	missSHA := floor(func() { sha256.Sum256(tmpl.body[:512<<10]) })
	total := time.Since(runStart)

	var out strings.Builder
	report(&out, bin, results, miss, vendorSide, missSHA, total)
	fmt.Print(out.String())
	if path := os.Getenv("BENCH_OUT"); path != "" {
		if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
			t.Error(err)
		}
	}
}

// profileName is e.g. gated-multipart-512KB.prof.
func profileName(name string, gated bool) string {
	v := "bare"
	if gated {
		v = "gated"
	}
	return v + "-" + strings.NewReplacer(" KB", "KB", " MB", "MB", " ", "-").Replace(name) + ".prof"
}

func ms(d time.Duration) string  { return fmt.Sprintf("%.2f ms", float64(d)/1e6) }
func ms3(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d)/1e6) }
func mb(b int64) string          { return fmt.Sprintf("%.0f MB", float64(b)/1e6) }

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
	}
	return "unknown"
}

func hasSHANI() bool {
	b, _ := os.ReadFile("/proc/cpuinfo")
	return bytes.Contains(b, []byte(" sha_ni"))
}

func report(w io.Writer, bin string, results []*caseResult, miss, vendorSide *stats, missSHA, total time.Duration) {
	ver, _ := exec.Command(bin, "version").Output()
	fmt.Fprintf(w, "\n## Run\n\n")
	fmt.Fprintf(w, "- machine: %d CPUs (nproc), %s, SHA-NI %v; %s; Caddy %s\n", runtime.NumCPU(), cpuModel(), hasSHANI(), runtime.Version(), strings.Fields(string(ver) + " ?")[0])
	fmt.Fprintf(w, "- load: closed loop, concurrency %d, %v per variant and case in %d alternating slices (bare, gated, then gated, bare), after %v of warm-up each; load generator, draining upstream and emulator in one Go process, Caddy in its own (a fresh bare and gated pair per case)\n", concurrency, duration, rounds, warmup)
	fmt.Fprintf(w, "- whole run: %v\n\n", total.Round(time.Second))

	fmt.Fprintf(w, "## Cache hits: throughput and latency\n\n")
	fmt.Fprintf(w, "| upload | body | bare uploads/s | gated uploads/s | gated/bare | bare p50 | gated p50 | gated/bare | bare p99 | gated p99 | gated/bare |\n")
	fmt.Fprintf(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range results {
		fmt.Fprintf(w, "| %s | %d B | %.0f | %.0f | %.2f | %s | %s | %.2f | %s | %s | %.2f |\n",
			r.up.name, len(r.up.body), r.bare.rate(), r.gated.rate(), r.gated.rate()/r.bare.rate(),
			ms(r.bare.pct(50)), ms(r.gated.pct(50)), float64(r.gated.pct(50))/float64(r.bare.pct(50)),
			ms(r.bare.pct(99)), ms(r.gated.pct(99)), float64(r.gated.pct(99))/float64(r.bare.pct(99)))
	}

	fmt.Fprintf(w, "\n## Cache hits: Caddy's CPU per upload against the floor\n\n")
	fmt.Fprintf(w, "CPU is Caddy's process utime+stime over each measured slice, divided by the uploads in it. The floor is SHA-256 over the image's bytes, timed in the same run (the bench process, one goroutine, no load running, fastest of 5 batches). Target: gated − bare ≤ 1.5x the floor (aim 1.3x).\n\n")
	fmt.Fprintf(w, "| upload | image | bare CPU/upload | gated CPU/upload | gated − bare | SHA-256 of the image (floor) | (gated − bare) / floor | ≤ 1.5x | base64 decode of the image | (gated − bare) / (SHA-256 + base64) | Caddy cores busy, bare / gated |\n")
	fmt.Fprintf(w, "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|\n")
	for _, r := range results {
		diff := r.gated.cpuPerUpload() - r.bare.cpuPerUpload()
		x := float64(diff) / float64(r.sha)
		met := "no"
		if x <= 1.5 {
			met = "yes"
		}
		b64, withB64 := "—", "—"
		if r.b64 > 0 {
			b64 = ms3(r.b64)
			withB64 = fmt.Sprintf("%.2fx", float64(diff)/float64(r.sha+r.b64))
		}
		fmt.Fprintf(w, "| %s | %d B | %s | %s | %s | %s | %.2fx | %s | %s | %s | %.2f / %.2f |\n",
			r.up.name, r.up.imageSize, ms3(r.bare.cpuPerUpload()), ms3(r.gated.cpuPerUpload()), ms3(diff), ms3(r.sha), x, met, b64, withB64,
			r.bare.cpu.Seconds()/r.bare.elapsed.Seconds(), r.gated.cpu.Seconds()/r.gated.elapsed.Seconds())
	}

	fmt.Fprintf(w, "\n## Cache hits: Caddy's peak memory\n\n")
	fmt.Fprintf(w, "Peak RSS is VmHWM of each fresh process after its case (start-up, warm-up and load); idle is VmRSS once it answered. Per in-flight upload: (peak − idle) / concurrency %d / image size; the gate's own is (gated peak − bare peak) / concurrency / image size.\n\n", concurrency)
	fmt.Fprintf(w, "| upload | image | bare idle → peak RSS | bare per in-flight upload | gated idle → peak RSS | gated per in-flight upload | the gate's own per in-flight upload |\n")
	fmt.Fprintf(w, "|---|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range results {
		per := func(p *caddyProc, peak int64) string {
			return fmt.Sprintf("%.2fx image", float64(peak-p.idleRSS)/float64(concurrency)/float64(r.up.imageSize))
		}
		fmt.Fprintf(w, "| %s | %d B | %s → %s | %s | %s → %s | %s | %.2fx image |\n", r.up.name, r.up.imageSize,
			mb(r.bareP.idleRSS), mb(r.barePeak), per(r.bareP, r.barePeak),
			mb(r.gateP.idleRSS), mb(r.gatePeak), per(r.gateP, r.gatePeak),
			float64(r.gatePeak-r.barePeak)/float64(concurrency)/float64(r.up.imageSize))
	}

	fmt.Fprintf(w, "\n## Cache misses: added latency\n\n")
	fmt.Fprintf(w, "Multipart 512 KB, every upload a unique image, the vendor (emulator) answering %v after it has read the request; concurrency %d for %v.\n\n", missDelay, concurrency, duration)
	fmt.Fprintf(w, "| uploads | uploads/s | end-to-end p50 | end-to-end p99 | p50 − %v | p99 − %v | vendor side p50 (read + %v + answer) | SHA-256 of the image |\n", missDelay, missDelay, missDelay)
	fmt.Fprintf(w, "|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	fmt.Fprintf(w, "| %d | %.0f | %s | %s | %s | %s | %s | %s |\n", miss.requests, miss.rate(),
		ms(miss.pct(50)), ms(miss.pct(99)), ms(miss.pct(50)-missDelay), ms(miss.pct(99)-missDelay), ms(vendorSide.pct(50)), ms3(missSHA))
}
