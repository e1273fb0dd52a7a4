//go:build hostile

package hostile

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddy-liveness/caddy-liveness/internal/caddyproc"
	"github.com/caddy-liveness/caddy-liveness/vendors/vendortest"
)

// ---- settings -------------------------------------------------------------

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

// envBytes reads a size in MiB (HOSTILE_CEILING_MIB=4096).
func envMiB(name string, def int64) int64 {
	if v, err := strconv.ParseInt(os.Getenv(name), 10, 64); err == nil && v > 0 {
		return v << 20
	}
	return def
}

func mib(n int64) string {
	if n <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
}

func ms(d time.Duration) string {
	if d <= 0 {
		return "—"
	}
	if d < 10*time.Millisecond {
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.0f ms", float64(d)/1e6)
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[int(float64(len(s)-1)*p/100)]
}

// ---- loopback clients -----------------------------------------------------

// dialerFrom dials from a given loopback address, so that Caddy sees the
// honest clients and the attacker as different remotes (Linux routes all
// of 127.0.0.0/8 to lo).
func dialerFrom(ip string) *net.Dialer {
	return &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
}

func clientFrom(ip string, conns int, timeout time.Duration) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DialContext:         dialerFrom(ip).DialContext,
			MaxIdleConnsPerHost: conns,
			IdleConnTimeout:     5 * time.Second,
			DisableCompression:  true,
			WriteBufferSize:     64 << 10,
		},
		Timeout: timeout,
		// Never follow a redirect: only loopback is ever contacted anyway.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// ---- request bodies -------------------------------------------------------

const boundary = "hostile-7d3f0c1e9b2a4c5d8e6f"

func multipartHead(field, filename string) string {
	return "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + field + "\"; filename=\"" + filename + "\"\r\nContent-Type: image/jpeg\r\n\r\n"
}

const (
	multipartType = "multipart/form-data; boundary=" + boundary
	multipartEnd  = "\r\n--" + boundary + "--\r\n"
)

// body is one prepared request body.
type body struct {
	data []byte
}

// multipartJPEG is a one-file multipart body holding img.
func multipartJPEG(img []byte) body {
	var b bytes.Buffer
	b.WriteString(multipartHead("selfie", "selfie.jpg"))
	b.Write(img)
	b.WriteString(multipartEnd)
	return body{b.Bytes()}
}

// manyJPEGs is one multipart body with a part per image, each its own
// field.
func manyJPEGs(imgs [][]byte) body {
	var b bytes.Buffer
	for i, img := range imgs {
		if i > 0 {
			b.WriteString("\r\n")
		}
		b.WriteString(multipartHead("selfie"+strconv.Itoa(i), "s"+strconv.Itoa(i)+".jpg"))
		b.Write(img)
	}
	b.WriteString(multipartEnd)
	return body{b.Bytes()}
}

// noise fills the padding of the large streamed JPEGs: one block reused,
// so that 512 uploads of 15 MB cost this process nothing to produce.
var noise = func() []byte {
	b := make([]byte, 65533)
	x := uint32(88172645)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}()

// endOfSOF returns the offset just after the frame header of a JPEG
// written by image/jpeg (as vendortest pads its samples there).
func endOfSOF(b []byte) int {
	for i := 2; i+4 <= len(b) && b[i] == 0xFF; {
		m := b[i+1]
		end := i + 2 + int(binary.BigEndian.Uint16(b[i+2:]))
		if m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC {
			return end
		}
		i = end
	}
	panic("no SOF segment")
}

// streamedUpload is a multipart body of total bytes holding one valid
// JPEG carrying marker (so each is a distinct image), padded with COM
// segments after its frame header as vendortest.SampleJPEGSize does, but
// produced as it is read: nothing of it is held in memory.
func streamedUpload(marker string, total int) (io.Reader, int64) {
	small := vendortest.SampleJPEG(marker)
	cut := endOfSOF(small)
	head, tail := multipartHead("selfie", "selfie.jpg"), multipartEnd
	pad := total - len(head) - len(tail) - len(small)
	parts := []io.Reader{strings.NewReader(head), bytes.NewReader(small[:cut])}
	n := int64(len(head) + len(small) + len(tail))
	if pad > 4 {
		const maxSeg = 4 + 65533
		segs := (pad + maxSeg - 1) / maxSeg
		payload := pad - 4*segs
		for i := 0; i < segs; i++ {
			k := payload / segs
			if i < payload%segs {
				k++
			}
			hdr := []byte{0xFF, 0xFE, 0, 0}
			binary.BigEndian.PutUint16(hdr[2:], uint16(k+2))
			parts = append(parts, bytes.NewReader(hdr), bytes.NewReader(noise[:k]))
			n += int64(4 + k)
		}
	}
	parts = append(parts, bytes.NewReader(small[cut:]), strings.NewReader(tail))
	return io.MultiReader(parts...), n
}

// ---- the vendor, the thief, the upstream ----------------------------------

// hostileVendor is the SpoofSense emulator behind a wrapper that delays
// every call and lets a row answer the attack's images itself (their
// marker holds "attack"); the honest image always gets the emulator's
// answer.
type hostileVendor struct {
	emu   *vendortest.SpoofSense
	srv   *httptest.Server
	delay time.Duration
	// attack, when set, answers a call about an attack image and reports
	// true, or false to let the emulator answer.
	attack      func(w http.ResponseWriter, r *http.Request, call int64) bool
	calls       atomic.Int64
	attackCalls atomic.Int64
	inflight    atomic.Int64
	maxInflight atomic.Int64
}

func newVendor(setup func(*hostileVendor)) *hostileVendor {
	v := &hostileVendor{emu: vendortest.NewSpoofSense(apiKey)}
	v.emu.Keep = 1
	if setup != nil {
		setup(v)
	}
	v.srv = httptest.NewUnstartedServer(v)
	// Caddy's vendor client keeps up to max_concurrent idle connections
	// (90 s): the vendor ends them after a second, so that their
	// goroutines do not read as a leak after a row. (Go's client retries
	// a request on a connection the server closed while idle.)
	v.srv.Config.IdleTimeout = time.Second
	v.srv.Start()
	return v
}

func (v *hostileVendor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := v.inflight.Add(1)
	defer v.inflight.Add(-1)
	for {
		m := v.maxInflight.Load()
		if n <= m || v.maxInflight.CompareAndSwap(m, n) {
			break
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 32<<20))
	if err != nil {
		return
	}
	v.calls.Add(1)
	attack := strings.Contains(markerOf(body), "attack")
	var call int64
	if attack {
		call = v.attackCalls.Add(1)
	}
	if v.delay > 0 {
		t := time.NewTimer(v.delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if attack && v.attack != nil && v.attack(w, r, call) {
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	v.emu.ServeHTTP(w, r)
}

// markerOf reads the emulator marker from the start of a SpoofSense
// request body ({"data":"<base64>"}) without decoding the whole image.
func markerOf(body []byte) string {
	const prefix = `{"data":"`
	b64, ok := bytes.CutPrefix(body, []byte(prefix))
	if !ok {
		return ""
	}
	if i := bytes.IndexByte(b64, '"'); i >= 0 {
		b64 = b64[:i]
	}
	b64 = b64[:min(len(b64), 512)&^3]
	img, err := base64.StdEncoding.DecodeString(string(b64))
	if err != nil {
		return ""
	}
	return vendortest.ParseMarker(img).Raw
}

// thief is "another host" on loopback that a turned vendor client would
// send the credential and the image to; it answers every request with a
// SpoofSense verdict of real.
type thief struct {
	srv     *httptest.Server
	reqs    atomic.Int64
	withKey atomic.Int64
	bytes   atomic.Int64
}

func newThief() (*thief, error) {
	ln, err := net.Listen("tcp", thiefIP+":0")
	if err != nil {
		return nil, err
	}
	th := &thief{}
	th.srv = &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		th.reqs.Add(1)
		if r.Header.Get("X-Api-Key") != "" {
			th.withKey.Add(1)
		}
		n, _ := io.Copy(io.Discard, r.Body)
		th.bytes.Add(n)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"success": true, "message": "Process finished successfully", "model_output": {"pred_idx": "real", "prob_real": 0.99}}`)
	})}}
	th.srv.Start()
	return th, nil
}

// drainingUpstream reads the whole body and answers with its size.
func newUpstream() *httptest.Server {
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.Header().Set("Hostile-Received", strconv.FormatInt(n, 10))
	}))
	s.Start()
	return s
}

// ---- honest load ----------------------------------------------------------

// honestLoad is a few clients uploading the same 500 KB JPEG in a loop
// from their own loopback address. An upload succeeds when it is a 200
// whose upstream received every byte; latencies are of every finished
// attempt, failed ones included.
type honestLoad struct {
	client *http.Client
	url    string
	b      body
	n      int

	mu       sync.Mutex
	ok, fail int
	lat      []time.Duration
	firstErr string
	statuses map[int]int

	stop    chan struct{}
	wg      sync.WaitGroup
	running bool
}

func newHonest(url string, n int) *honestLoad {
	return &honestLoad{client: clientFrom(honestIP, n, 10*time.Second), url: url, b: honestBody, n: n, statuses: map[int]int{}}
}

var honestBody = multipartJPEG(vendortest.SampleJPEGSize("live;honest", 500<<10))

func (h *honestLoad) once() error {
	req, _ := http.NewRequest(http.MethodPost, h.url, bytes.NewReader(h.b.data))
	req.Header.Set("Content-Type", multipartType)
	resp, err := h.client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	h.mu.Lock()
	h.statuses[resp.StatusCode]++
	h.mu.Unlock()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	if got := resp.Header.Get("Hostile-Received"); got != strconv.Itoa(len(h.b.data)) {
		return fmt.Errorf("upstream received %q of %d bytes", got, len(h.b.data))
	}
	return nil
}

// reset forgets the counts (of the warm-up).
func (h *honestLoad) reset() {
	h.mu.Lock()
	h.ok, h.fail, h.lat, h.firstErr, h.statuses = 0, 0, nil, "", map[int]int{}
	h.mu.Unlock()
}

// start runs the clients until halt; it resets the counts.
func (h *honestLoad) start() {
	h.reset()
	h.stop = make(chan struct{})
	h.running = true
	for range h.n {
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			for {
				select {
				case <-h.stop:
					return
				default:
				}
				t0 := time.Now()
				err := h.once()
				took := time.Since(t0)
				h.mu.Lock()
				h.lat = append(h.lat, took)
				if err != nil {
					h.fail++
					if h.firstErr == "" {
						h.firstErr = err.Error()
					}
				} else {
					h.ok++
				}
				h.mu.Unlock()
				if err != nil {
					time.Sleep(20 * time.Millisecond) // no hot loop on a dead Caddy
				}
			}
		}()
	}
}

// halt stops the clients and waits for their uploads in flight (each
// bounded by the client's 10 s timeout).
func (h *honestLoad) halt() {
	if !h.running {
		return
	}
	h.running = false
	close(h.stop)
	h.wg.Wait()
}

type honestStats struct {
	ok, total int
	p50, p99  time.Duration
	firstErr  string
	statuses  map[int]int
}

func (h *honestLoad) stats() honestStats {
	h.mu.Lock()
	defer h.mu.Unlock()
	return honestStats{h.ok, h.ok + h.fail, percentile(h.lat, 50), percentile(h.lat, 99), h.firstErr, copyStatuses(h.statuses)}
}

func copyStatuses(m map[int]int) map[int]int {
	out := make(map[int]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (s honestStats) rate() float64 {
	if s.total == 0 {
		return 0
	}
	return float64(s.ok) / float64(s.total)
}

// ---- attack bookkeeping ---------------------------------------------------

// tally counts what the attack saw.
type tally struct {
	mu       sync.Mutex
	status   map[int]int
	errs     int
	firstErr string
	counts   map[string]int64
	times    map[string][]time.Duration
}

func newTally() *tally {
	return &tally{status: map[int]int{}, counts: map[string]int64{}, times: map[string][]time.Duration{}}
}

func (t *tally) add(name string, n int64) {
	t.mu.Lock()
	t.counts[name] += n
	t.mu.Unlock()
}

func (t *tally) get(name string) int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.counts[name]
}

func (t *tally) time(name string, d time.Duration) {
	t.mu.Lock()
	t.times[name] = append(t.times[name], d)
	t.mu.Unlock()
}

func (t *tally) result(status int, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil {
		t.errs++
		if t.firstErr == "" {
			t.firstErr = err.Error()
		}
		return
	}
	t.status[status]++
}

func (t *tally) statuses() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	keys := make([]int, 0, len(t.status))
	for k := range t.status {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%d×%d ", t.status[k], k)
	}
	if t.errs > 0 {
		fmt.Fprintf(&b, "%d×error (%s)", t.errs, firstLine(t.firstErr, 90))
	}
	return strings.TrimSpace(b.String())
}

func firstLine(s string, n int) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

// post sends one upload and reads the answer.
func post(ctx context.Context, c *http.Client, url string, r io.Reader, n int64) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, r)
	if err != nil {
		return nil, err
	}
	req.ContentLength = n
	req.Header.Set("Content-Type", multipartType)
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return resp, nil
}

// rawConn is an attacker's connection at the TCP level: it sends head,
// then, every second, one byte of body (trickle) or nothing, and notes
// when Caddy answers or closes. It returns true when Caddy ended it and
// false when ctx did.
func rawConn(ctx context.Context, d *net.Dialer, addr string, head []byte, trickle bool, t *tally) bool {
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		if ctx.Err() == nil {
			t.add("dial errors", 1)
			time.Sleep(10 * time.Millisecond)
		}
		return ctx.Err() == nil
	}
	defer c.Close()
	t.add("connections", 1)
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	opened := time.Now()
	if _, err := c.Write(head); err != nil {
		t.add("closed by Caddy", 1)
		return true
	}
	buf := make([]byte, 256)
	for {
		if trickle {
			c.SetWriteDeadline(time.Now().Add(2 * time.Second))
			if _, err := c.Write([]byte{'a'}); err != nil {
				if ctx.Err() != nil {
					t.add("open at the end", 1)
					return false
				}
				t.add("closed by Caddy", 1)
				t.time("closed after", time.Since(opened))
				return true
			}
		}
		c.SetReadDeadline(time.Now().Add(time.Second))
		n, err := c.Read(buf)
		if ctx.Err() != nil {
			t.add("open at the end", 1)
			return false
		}
		if n > 0 || (err != nil && !errors.Is(err, os.ErrDeadlineExceeded)) {
			t.add("closed by Caddy", 1)
			t.time("closed after", time.Since(opened))
			if n > 0 {
				line, _, _ := bytes.Cut(buf[:n], []byte("\r\n"))
				t.add("answered "+string(line), 1)
			}
			return true
		}
	}
}

// ---- Caddy ----------------------------------------------------------------

// adminClient talks to Caddy's admin API without keeping connections,
// so that it adds no goroutine to what it counts.
var adminClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}

func adminGet(base, path string) ([]byte, error) {
	resp, err := adminClient.Get(base + path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// goroutines is Caddy's goroutine count.
func goroutines(admin string) (int, error) {
	b, err := adminGet(admin, "/debug/pprof/goroutine?debug=1")
	if err != nil {
		return 0, err
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	return strconv.Atoi(strings.TrimPrefix(string(line), "goroutine profile: total "))
}

// heapAfterGC is Caddy's HeapAlloc after two forced collections (pooled
// buffers survive the first).
func heapAfterGC(admin string) (uint64, error) {
	for range 2 {
		if _, err := adminGet(admin, "/debug/pprof/heap?gc=1"); err != nil {
			return 0, err
		}
	}
	b, err := adminGet(admin, "/debug/vars")
	if err != nil {
		return 0, err
	}
	var vars struct{ Memstats struct{ HeapAlloc uint64 } }
	err = json.Unmarshal(b, &vars)
	return vars.Memstats.HeapAlloc, err
}

// procStatus returns a "kB" field of /proc/<pid>/status in bytes, 0 when
// the process is gone.
func procStatus(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// sampler polls Caddy's VmRSS every 20 ms, keeps the peak, and kills the
// process the moment it reaches the ceiling: the way a cgroup's
// memory.max would end it, on a machine where no memory cgroup can be
// made (see the package comment).
type sampler struct {
	peak   atomic.Int64
	killed atomic.Bool
	done   chan struct{}
	stop   chan struct{}
}

func startSampler(p *caddyproc.Proc, ceiling int64) *sampler {
	s := &sampler{done: make(chan struct{}), stop: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			rss := procStatus(p.Pid(), "VmRSS")
			if rss > s.peak.Load() {
				s.peak.Store(rss)
			}
			if rss >= ceiling {
				s.killed.Store(true)
				p.Kill()
				return
			}
			select {
			case <-tick.C:
			case <-s.stop:
				return
			case <-p.Exited():
				return
			}
		}
	}()
	return s
}

func (s *sampler) halt() int64 {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
	return s.peak.Load()
}

// waitReady waits until every url answers, the process exits, or 20 s
// pass; unlike caddyproc's WaitReady it does not end the test, so a
// Caddyfile the built Caddy refuses fails one row, not the run.
func waitReady(p *caddyproc.Proc, urls ...string) error {
	deadline := time.Now().Add(20 * time.Second)
	for len(urls) > 0 {
		if resp, err := adminClient.Get(urls[0]); err == nil {
			resp.Body.Close()
			urls = urls[1:]
			continue
		}
		select {
		case <-p.Exited():
			return fmt.Errorf("Caddy exited: %v", p.Err())
		default:
		}
		if time.Now().After(deadline) {
			return errors.New("Caddy did not answer within 20 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// logLines returns the lines of log holding every one of subs.
func logLines(log string, subs ...string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		ok := true
		for _, s := range subs {
			if !strings.Contains(l, s) {
				ok = false
				break
			}
		}
		if ok && l != "" {
			out = append(out, l)
		}
	}
	return out
}

// sizes are the seeded random sizes of row 1's uploads.
func uploadSize(i int64, lo, hi int) int {
	r := rand.New(rand.NewPCG(1, uint64(i)))
	return lo + r.IntN(hi-lo+1)
}

// swarm runs n workers that each take the next index (0, 1, 2, ...) and
// call job with it, until ctx ends or job returns false; it returns when
// all of them have.
func swarm(ctx context.Context, n int, job func(i int) bool) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for ctx.Err() == nil && job(int(next.Add(1))-1) {
			}
		})
	}
	wg.Wait()
}

// status is resp's status code, 0 without a response.
func status(resp *http.Response) int {
	if resp == nil {
		return 0
	}
	return resp.StatusCode
}
