//go:build soak

// Package soak loads a real Caddy (the ./caddy that make -f xcaddy.mk build
// writes) with the liveness handler in front of an upstream that hashes
// what it receives, against the SpoofSense emulator with injected faults.
// Run it with make -f xcaddy.mk soak; it talks only to loopback and stops
// by itself.
package soak

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
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

// Settings; the environment can override the load.
var (
	requests    = envInt("SOAK_REQUESTS", 3000)
	concurrency = envInt("SOAK_CONCURRENCY", 32)
	uniques     = envInt("SOAK_UNIQUE_IMAGES", 600)
)

const (
	maxSize      = 4 << 20
	failRate     = 0.10 // vendor answers 503
	hangRate     = 0.05 // vendor never answers: the handler's timeout ends it
	timeout      = "10s"
	warmRequests = 300
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// faultyVendor injects faults in front of the emulator and counts, per
// image hash, the answers that carried a verdict.
type faultyVendor struct {
	emu      *vendortest.SpoofSense
	rnd      *rand.Rand
	mu       sync.Mutex
	calls    int
	failed   int
	hung     int
	answered map[string]int
}

func (f *faultyVendor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.calls++
	p := f.rnd.Float64()
	f.mu.Unlock()
	switch {
	case p < failRate:
		f.count(&f.failed)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"message": "Service Unavailable"}`))
		return
	case p < failRate+hangRate:
		f.count(&f.hung)
		<-r.Context().Done()
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := httptest.NewRecorder()
	f.emu.ServeHTTP(rec, r)
	if rec.Code == http.StatusOK {
		var req struct{ Data string }
		json.Unmarshal(body, &req)
		sum := sha256.Sum256([]byte(req.Data))
		f.mu.Lock()
		f.answered[hex.EncodeToString(sum[:])]++
		f.mu.Unlock()
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}

func (f *faultyVendor) count(n *int) {
	f.mu.Lock()
	*n++
	f.mu.Unlock()
}

// hashingUpstream answers with the SHA-256 of the body it received.
func hashingUpstream(w http.ResponseWriter, r *http.Request) {
	h := sha256.New()
	n, err := io.Copy(h, r.Body)
	if err != nil || (r.ContentLength >= 0 && n != r.ContentLength) {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	io.WriteString(w, hex.EncodeToString(h.Sum(nil)))
}

// upload is one prepared request.
type upload struct {
	contentType string
	body        []byte
	sum         string
	spoof       bool
}

func makeUploads(t *testing.T) []upload {
	sizes := []int{16 << 10, 64 << 10, 512 << 10, 2 << 20, maxSize - (64 << 10)}
	out := make([]upload, uniques)
	for i := range out {
		spoof := i%4 == 0
		marker := fmt.Sprintf("live;score=0.9%d", i%10)
		if spoof {
			marker = "spoof"
		}
		// The index makes every image distinct.
		img := vendortest.SampleJPEGSize(marker+";n="+strconv.Itoa(i), sizes[i%len(sizes)])
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		w.WriteField("user", strconv.Itoa(i))
		fw, _ := w.CreateFormFile("selfie", "selfie.jpg")
		fw.Write(img)
		w.Close()
		sum := sha256.Sum256(buf.Bytes())
		out[i] = upload{w.FormDataContentType(), buf.Bytes(), hex.EncodeToString(sum[:]), spoof}
	}
	return out
}

type admin struct{ base string }

func (a admin) get(t *testing.T, path string) []byte {
	resp, err := http.Get(a.base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return b
}

// goroutines and heap of the Caddy process, after two forced GCs: the
// pooled body buffers of finished uploads survive one (sync.Pool keeps
// them through a collection) and go at the second.
func (a admin) sample(t *testing.T) (int, uint64) {
	a.get(t, "/debug/pprof/heap?gc=1")
	a.get(t, "/debug/pprof/heap?gc=1")
	line, _, _ := bytes.Cut(a.get(t, "/debug/pprof/goroutine?debug=1"), []byte("\n"))
	g, _ := strconv.Atoi(strings.TrimPrefix(string(line), "goroutine profile: total "))
	var vars struct{ Memstats struct{ HeapAlloc uint64 } }
	json.Unmarshal(a.get(t, "/debug/vars"), &vars)
	return g, vars.Memstats.HeapAlloc
}

type results struct {
	mu         sync.Mutex
	status     map[int]int
	mismatches int
	unexplain  int

	wrongPass int
	latencies []time.Duration
}

func TestSoak(t *testing.T) {
	bin, err := filepath.Abs("../caddy")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("no Caddy binary at ../caddy (make -f xcaddy.mk build): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()

	vendor := &faultyVendor{emu: vendortest.NewSpoofSense("soak-key"), rnd: rand.New(rand.NewPCG(1, 2)), answered: map[string]int{}}
	vendor.emu.Keep = 1
	vsrv := httptest.NewServer(vendor)
	defer vsrv.Close()
	usrv := httptest.NewServer(http.HandlerFunc(hashingUpstream))
	defer usrv.Close()

	adminAddr, listen := caddyproc.FreeAddr(t), caddyproc.FreeAddr(t)
	caddyfile := fmt.Sprintf(`{
	admin %s
	persist_config off
	auto_https off
	log {
		level ERROR
	}
}
http://%s {
	liveness {
		vendor spoofsense {
			api_key soak-key
			base_url %s
		}
		timeout %s
		max_size %d
		# Hung calls end together at the deadline; five in a row would open
		# the breaker for the rest of a short run.
		breaker {
			failures 20
			cooldown 2s
		}
	}
	reverse_proxy %s
}
`, adminAddr, listen, vsrv.URL, timeout, maxSize, strings.TrimPrefix(usrv.URL, "http://"))
	adm := admin{"http://" + adminAddr}
	caddyproc.Start(t, bin, "Caddy", caddyfile).WaitReady(t, adm.base+"/config/")

	uploads := makeUploads(t)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrency}, Timeout: time.Minute}
	res := &results{status: map[int]int{}}
	run := func(n int, pick func(i int) int) time.Duration {
		start := time.Now()
		var next atomic.Int64
		var wg sync.WaitGroup
		for range concurrency {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1)) - 1
					if i >= n || ctx.Err() != nil {
						return
					}
					res.do(t, client, "http://"+listen+"/upload", uploads[pick(i)])
				}
			}()
		}
		wg.Wait()
		return time.Since(start)
	}

	// Warm up the connection pools so that what stays after is a leak.
	run(warmRequests, func(i int) int { return i % uniques })
	g0, h0 := adm.sample(t)
	gBefore := adm.get(t, "/debug/pprof/goroutine?debug=1")
	callsBefore := vendor.calls

	// Then the load: each unique image once, and repeats drawn at random.
	rnd := rand.New(rand.NewPCG(3, 4))
	picks := make([]int, requests)
	for i := range picks {
		if i < uniques {
			picks[i] = i
		} else {
			picks[i] = rnd.IntN(uniques)
		}
	}
	rnd.Shuffle(len(picks), func(i, j int) { picks[i], picks[j] = picks[j], picks[i] })
	res.reset()
	took := run(requests, func(i int) int { return picks[i] })

	// Every request has its answer, so no vendor call is still in flight.
	g1, h1 := adm.sample(t)

	vendor.mu.Lock()
	twice := 0
	for _, n := range vendor.answered {
		if n > 1 {
			twice++
		}
	}
	calls, total, failed, hung, answered := vendor.calls-callsBefore, vendor.calls, vendor.failed, vendor.hung, len(vendor.answered)
	vendor.mu.Unlock()

	res.mu.Lock()
	defer res.mu.Unlock()
	p50, p99 := percentile(res.latencies, 50), percentile(res.latencies, 99)
	t.Logf("requests %d at concurrency %d in %v (%.0f/s); p50 %v, p99 %v", requests, concurrency, took.Round(time.Millisecond), float64(requests)/took.Seconds(), p50, p99)
	t.Logf("statuses %v", res.status)
	t.Logf("vendor calls: %d in the whole run (%d during the load) for %d unique images (%.2f per image); injected: %d 503, %d hangs; images answered: %d, answered more than once: %d",
		total, calls, uniques, float64(total)/float64(uniques), failed, hung, answered, twice)
	t.Logf("upstream bodies differing from what the client sent: %d; 5xx or errors not explained by the policy: %d; spoofs let through: %d",
		res.mismatches, res.unexplain, res.wrongPass)
	t.Logf("Caddy goroutines %d -> %d, heap after GC %.1f MB -> %.1f MB", g0, g1, float64(h0)/1e6, float64(h1)/1e6)

	if res.mismatches != 0 || res.unexplain != 0 || res.wrongPass != 0 {
		t.Error("the gate altered a body, failed without a policy reason, or let a spoof through")
	}
	if twice != 0 {
		t.Errorf("%d images got more than one vendor answer: the cache or singleflight failed", twice)
	}
	if h1 > h0+16<<20 {
		t.Errorf("heap after GC grew from %.1f MB to %.1f MB: buffers are kept", float64(h0)/1e6, float64(h1)/1e6)
	}
	if g1 > g0+16 {
		t.Errorf("goroutines grew from %d to %d", g0, g1)
		os.WriteFile(filepath.Join(os.TempDir(), "soak-goroutines-before.txt"), gBefore, 0o644)
		os.WriteFile(filepath.Join(os.TempDir(), "soak-goroutines-after.txt"), adm.get(t, "/debug/pprof/goroutine?debug=1"), 0o644)
	}
	if h1 > h0+64<<20 {
		t.Errorf("heap grew from %d to %d bytes", h0, h1)
	}
}

func (res *results) reset() {
	res.mu.Lock()
	defer res.mu.Unlock()
	res.status = map[int]int{}
	res.mismatches, res.unexplain, res.wrongPass, res.latencies = 0, 0, 0, nil
}

// do sends one upload and checks the outcome against the image: a live
// image passes with its body intact or is 503 (vendor failure, on_error
// deny); a spoof is 403 or 503; nothing else is explained.
func (res *results) do(t *testing.T, c *http.Client, url string, u upload) {
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(u.body))
	req.Header.Set("Content-Type", u.contentType)
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		res.mu.Lock()
		res.unexplain++
		res.mu.Unlock()
		return
	}
	got, _ := io.ReadAll(bufio.NewReader(resp.Body))
	resp.Body.Close()
	took := time.Since(start)
	res.mu.Lock()
	defer res.mu.Unlock()
	res.latencies = append(res.latencies, took)
	res.status[resp.StatusCode]++
	switch {
	case resp.StatusCode == http.StatusOK && u.spoof:
		res.wrongPass++
	case resp.StatusCode == http.StatusOK:
		if string(got) != u.sum {
			res.mismatches++
		}
	case resp.StatusCode == http.StatusForbidden && u.spoof:
	case resp.StatusCode == http.StatusServiceUnavailable:
	default:
		res.unexplain++
	}
}

func percentile(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[(len(s)-1)*p/100].Round(time.Millisecond)
}
