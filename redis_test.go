package caddyliveness

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddy-liveness/caddy-liveness/internal/redistest"
	"github.com/caddy-liveness/caddy-liveness/internal/store"
	"github.com/caddy-liveness/caddy-liveness/vendors"
	"github.com/caddy-liveness/caddy-liveness/vendors/vendortest"
)

// recv waits for a value on ch, at most 10 seconds.
func recv[T any](t *testing.T, ch <-chan T, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("gave up waiting for %s", what)
	}
}

// redisHandler is a test handler on the test Redis under prefix (one per
// call: one "instance").
func redisHandler(t *testing.T, addr, prefix string, configure func(*Handler), vs ...vendors.Vendor) (*Handler, *observer.ObservedLogs) {
	t.Helper()
	h, logs := testHandler(t, configure, vs...)
	useRedis(t, h, addr, prefix, 2*time.Second, 0)
	return h, logs
}

// useRedis puts h's store on the test Redis under prefix, with this
// timeout per operation and retry interval after a failure (0: the
// default).
func useRedis(t *testing.T, h *Handler, addr, prefix string, timeout, retryAfter time.Duration) {
	t.Helper()
	useRedisConfig(t, h, &RedisConfig{Address: addr}, prefix, timeout, retryAfter)
}

// useRedisConfig is useRedis on the deployment rc describes.
func useRedisConfig(t *testing.T, h *Handler, rc *RedisConfig, prefix string, timeout, retryAfter time.Duration) {
	t.Helper()
	old := h.shared
	opts, err := rc.options()
	if err != nil {
		t.Fatal(err)
	}
	h.shared = newShared(store.Config[vendors.Result]{TTL: time.Duration(h.Cache.TTL), MaxEntries: h.Cache.MaxEntries,
		Redis: opts, Prefix: prefix, RedisTimeout: timeout, RetryAfter: retryAfter})
	h.shared.store.SetLogger(h.logger)
	h.shared.addUser(h.Name)
	s := h.shared
	t.Cleanup(func() { s.Destruct() })
	old.Destruct() // the memory-only store testHandler made
}

// connect opens h's Redis connection now: a first connection made inside
// a short request deadline on a busy machine could miss it, and the
// handler would rightly go degraded.
func connect(t *testing.T, h *Handler) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.shared.store.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

func cleanPrefix(t *testing.T, prefix string) {
	cleanShape(t, redistest.Shapes(t)[0], prefix)
}

// cleanShape deletes the keys under prefix on shape's deployment when the
// test ends, one DEL each (on a cluster they lie in many slots).
func cleanShape(t *testing.T, shape redistest.Shape, prefix string) {
	c := shape.Connect(t)
	t.Cleanup(func() {
		for _, k := range redistest.Keys(t, c, prefix) {
			c.Del(context.Background(), k)
		}
	})
}

// shapeConfig is the cache redis configuration of a test deployment.
func shapeConfig(shape redistest.Shape) *RedisConfig {
	switch o := shape.Options; {
	case o.IsClusterMode:
		return &RedisConfig{Cluster: o.Addrs}
	case o.MasterName != "":
		return &RedisConfig{Sentinel: &SentinelConfig{MasterName: o.MasterName, Addresses: o.Addrs}}
	}
	return &RedisConfig{Address: shape.Options.Addrs[0]}
}

// Two instances on one Redis (each shape: one server, a cluster, a primary
// under Sentinels): the second's upload of an image is a cache
// hit without a vendor call, and a replay seen by one is a duplicate on
// the other.
func TestRedisSharedByInstances(t *testing.T) {
	for _, shape := range redistest.Shapes(t) {
		t.Run(shape.Name, func(t *testing.T) { testSharedByInstances(t, shape) })
	}
}

func testSharedByInstances(t *testing.T, shape redistest.Shape) {
	prefix := redistest.Prefix(t)
	cleanShape(t, shape, prefix)
	v := newFake("shared")
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	instance := func() *Handler {
		h, _ := testHandler(t, func(h *Handler) { h.OnDuplicate = "annotate" }, v)
		useRedisConfig(t, h, shapeConfig(shape), prefix, 2*time.Second, 0)
		return h
	}
	h1, h2 := instance(), instance()
	h1.now, h2.now = c.now, c.now
	img := vendortest.SampleJPEG("live;score=0.91")
	start := c.t
	steps := []struct {
		h        *Handler
		after    time.Duration
		cache    string
		dup      string
		vendorCt int64
	}{
		{h1, 0, "miss", "", 1},
		{h2, 10 * time.Second, "hit", "", 1},        // within duplicate_window: a retry
		{h2, 2 * time.Minute, "hit", "3", 1},        // a replay, first seen by h1
		{h1, 3 * time.Minute, "hit", "4", 1},        // seen by h2 last
		{h2, 4 * time.Minute, "hit", "5", int64(1)}, // still one vendor call
	}
	for i, s := range steps {
		c.t = start.Add(s.after)
		ct, body := multipartBody(t, "selfie", img)
		up := &upstream{}
		if _, err := serve(s.h, post(ct, body), up); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got := up.header.Get("X-Liveness-Cache"); got != s.cache {
			t.Fatalf("step %d: X-Liveness-Cache %q, want %q", i, got, s.cache)
		}
		if got := up.header.Get("X-Liveness-Duplicate"); got != s.dup {
			t.Fatalf("step %d: X-Liveness-Duplicate %q, want %q", i, got, s.dup)
		}
		if got := v.calls.Load(); got != s.vendorCt {
			t.Fatalf("step %d: %d vendor calls, want %d", i, got, s.vendorCt)
		}
	}
	// Nothing in this process's memory: Redis held it all.
	if r, _ := h1.shared.store.Memory(); r != 0 {
		t.Fatal("a result went to local memory")
	}
	if _, s := h2.shared.store.Memory(); s != 0 {
		t.Fatal("results or sightings went to local memory while Redis answered")
	}
}

// Two instances missing the same new image at once make one vendor call:
// one takes the lock, the other waits for its result.
func TestRedisLockSharesTheCall(t *testing.T) {
	addr, prefix := redistest.Addr(t), redistest.Prefix(t)
	cleanPrefix(t, prefix)
	v := newFake("locked")
	v.gate, v.started = make(chan struct{}), make(chan struct{}, 2)
	h1, _ := redisHandler(t, addr, prefix, nil, v)
	h2, _ := redisHandler(t, addr, prefix, nil, v)
	waiting := make(chan struct{}, 1)
	h2.shared.store.OnWait = func() { waiting <- struct{}{} }
	release := sync.OnceFunc(func() { close(v.gate) })
	defer release()
	shared0 := testutil.ToFloat64(metrics.cache.WithLabelValues(h2.Name, "shared"))

	img := vendortest.SampleJPEG("live;score=0.88")
	ups := []*upstream{{}, {}}
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, h := range []*Handler{h1, h2} {
		ct, body := multipartBody(t, "selfie", img)
		wg.Go(func() { _, errs[i] = serve(h, post(ct, body), ups[i]) })
		if i == 0 {
			recv(t, v.started, "instance 1's vendor call") // h1 holds the lock and is calling
		}
	}
	recv(t, waiting, "instance 2 to wait for instance 1's call") // h2 missed, found the lock, and polls
	release()
	wg.Wait()
	for i := range 2 {
		if errs[i] != nil {
			t.Fatalf("instance %d: %v", i+1, errs[i])
		}
		if got := ups[i].header.Get("X-Liveness-Verdict"); got != "live" {
			t.Fatalf("instance %d: verdict %q", i+1, got)
		}
		if got := ups[i].header.Get("X-Liveness-Cache"); got != "miss" {
			t.Fatalf("instance %d: X-Liveness-Cache %q: both missed, one waited", i+1, got)
		}
	}
	if n := v.calls.Load(); n != 1 {
		t.Fatalf("%d vendor calls, want 1", n)
	}
	if d := testutil.ToFloat64(metrics.cache.WithLabelValues(h2.Name, "shared")) - shared0; d != 1 {
		t.Fatalf("cache_lookups_total{result=shared} grew by %v, want 1", d)
	}
	if ks := redistest.Keys(t, redistest.Client(t), prefix+"lock:"); len(ks) != 0 {
		t.Fatalf("the lock stayed: %q", ks)
	}
}

// A holder whose vendor call fails releases the lock without a result;
// the waiter then calls the vendor itself.
func TestRedisLockReleasedOnFailure(t *testing.T) {
	addr, prefix := redistest.Addr(t), redistest.Prefix(t)
	cleanPrefix(t, prefix)
	var calls atomic.Int64
	gate, started := make(chan struct{}), make(chan struct{}, 2)
	v := newFake("failing-first")
	v.started = started
	v.answer = func(m vendors.Media) (vendors.Result, error) {
		if calls.Add(1) == 1 {
			<-gate
			return vendors.Result{}, &vendors.Error{Vendor: "f", Kind: vendors.KindBadRequest, Status: 400}
		}
		return byMarker(m)
	}
	cfg := func(h *Handler) { h.OnError = "allow" }
	h1, _ := redisHandler(t, addr, prefix, cfg, v)
	h2, _ := redisHandler(t, addr, prefix, cfg, v)
	waiting := make(chan struct{}, 1)
	h2.shared.store.OnWait = func() { waiting <- struct{}{} }
	release := sync.OnceFunc(func() { close(gate) })
	defer release()
	img := vendortest.SampleJPEG("live;score=0.81")
	ups := []*upstream{{}, {}}
	var wg sync.WaitGroup
	for i, h := range []*Handler{h1, h2} {
		ct, body := multipartBody(t, "selfie", img)
		wg.Go(func() { serve(h, post(ct, body), ups[i]) })
		if i == 0 {
			recv(t, started, "instance 1's vendor call")
		}
	}
	recv(t, waiting, "instance 2 to wait for instance 1's call")
	release()
	wg.Wait()
	if got := ups[0].header.Get("X-Liveness-Verdict"); got != "error" {
		t.Fatalf("instance 1: verdict %q, want error", got)
	}
	if got := ups[1].header.Get("X-Liveness-Verdict"); got != "live" {
		t.Fatalf("instance 2: verdict %q, want live from its own call", got)
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("%d vendor calls, want 2", n)
	}
}

// A waiter whose deadline passes while another instance calls gets the
// usual timeout error.
func TestRedisLockWaitEndsAtTheDeadline(t *testing.T) {
	addr, prefix := redistest.Addr(t), redistest.Prefix(t)
	cleanPrefix(t, prefix)
	opts, err := (&RedisConfig{Address: addr}).options()
	if err != nil {
		t.Fatal(err)
	}
	other := store.New(store.Config[vendors.Result]{TTL: time.Hour, MaxEntries: 10, Redis: opts, Prefix: prefix, RedisTimeout: 2 * time.Second})
	defer other.Close()
	img := vendortest.SampleJPEG("live")
	v := newFake("held")
	h, logs := redisHandler(t, addr, prefix, func(h *Handler) { h.Timeout = caddy.Duration(time.Second) }, v)
	connect(t, h)
	// Another instance holds the lock for longer than the deadline.
	m, ierr := h.x.Medium(img, "file")
	if ierr != nil {
		t.Fatal(ierr)
	}
	profile := v.Profile(nil)
	lctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if _, found, _, err := other.Claim(lctx, profile, m.Sum); found || err != nil || other.Degraded() {
		t.Fatalf("the other instance's claim: found %v, err %v", found, err)
	}
	ct, body := multipartBody(t, "selfie", img)
	start := time.Now()
	repl, err := serve(h, post(ct, body), &upstream{})
	if statusOf(err) != http.StatusServiceUnavailable {
		for _, e := range logs.All() {
			t.Log(e.Message, e.ContextMap())
		}
		t.Fatalf("status %d, want 503 (%d vendor calls, redis down: %v)", statusOf(err), v.calls.Load(), h.shared.store.Degraded())
	}
	if r, _ := repl.GetString("http.liveness.reason"); r != "timeout" {
		t.Fatalf("reason %q, want timeout", r)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("took %v past a 1s deadline", took)
	}
	if v.calls.Load() != 0 {
		t.Fatal("called the vendor while another instance held the lock")
	}
}

// proxy is a TCP proxy in front of Redis that can refuse connections
// (Redis down) or swallow them (Redis hanging), and come back.
type proxy struct {
	ln     net.Listener
	target string
	mode   atomic.Int32 // 0 forward, 1 refuse, 2 hang
	mu     sync.Mutex
	conns  map[net.Conn]bool
	wg     sync.WaitGroup
}

const (
	proxyForward = iota
	proxyRefuse
	proxyHang
)

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	p.wg.Go(p.serve)
	t.Cleanup(func() {
		ln.Close()
		p.dropAll()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) track(c net.Conn) {
	p.mu.Lock()
	p.conns[c] = true
	p.mu.Unlock()
}

func (p *proxy) dropAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

func (p *proxy) set(mode int32) {
	p.mode.Store(mode)
	p.dropAll()
}

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		switch p.mode.Load() {
		case proxyRefuse:
			c.Close()
			continue
		case proxyHang:
			p.track(c)
			p.wg.Go(func() { io.Copy(io.Discard, c) })
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.track(c)
		p.track(up)
		p.wg.Go(func() { io.Copy(up, c); up.Close() })
		p.wg.Go(func() { io.Copy(c, up); c.Close() })
	}
}

func warnings(logs *observer.ObservedLogs) int {
	return logs.FilterLevelExact(zapcore.WarnLevel).FilterMessageSnippet("redis unavailable").Len()
}

// redisErrorsTotal sums caddy_liveness_redis_errors_total over every
// handler and operation.
func redisErrorsTotal() float64 {
	registerMetrics(nil)
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.redisErrors)
	mfs, _ := reg.Gather()
	total := 0.0
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			total += m.GetCounter().GetValue()
		}
	}
	return total
}

// uploadLive sends a new live image (or img again) through h and checks
// that it passed with the verdict.
func uploadLive(t *testing.T, h *Handler, img []byte) http.Header {
	t.Helper()
	ct, body := multipartBody(t, "selfie", img)
	up := &upstream{}
	_, err := serve(h, post(ct, body), up)
	if err != nil {
		t.Fatalf("the handler failed while the vendor answers: %v", err)
	}
	if got := up.header.Get("X-Liveness-Verdict"); got != "live" {
		t.Fatalf("verdict %q, want live", got)
	}
	return up.header
}

// Nothing listens at the Redis address: every request is answered from
// the vendor and local memory, one warning is logged, errors are counted.
func TestRedisDownAtStart(t *testing.T) {
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := dead.Addr().String()
	dead.Close()
	v := newFake("nolink")
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	h, logs := redisHandler(t, addr, redistest.Prefix(t), func(h *Handler) { h.OnDuplicate = "annotate" }, v)
	h.now = c.now
	useRedis(t, h, addr, redistest.Prefix(t), 2*time.Second, time.Nanosecond) // try Redis on every operation: the worst case
	errs0 := redisErrorsTotal()
	img := vendortest.SampleJPEG("live;score=0.9")
	if got := uploadLive(t, h, img).Get("X-Liveness-Cache"); got != "miss" {
		t.Fatalf("first upload: cache %q", got)
	}
	c.t = c.t.Add(5 * time.Minute)
	hdr := uploadLive(t, h, img)
	if hdr.Get("X-Liveness-Cache") != "hit" || hdr.Get("X-Liveness-Duplicate") != "2" {
		t.Fatalf("second upload: cache %q duplicate %q: local memory should stand in", hdr.Get("X-Liveness-Cache"), hdr.Get("X-Liveness-Duplicate"))
	}
	for i := range 5 {
		uploadLive(t, h, vendortest.SampleJPEG("live;n="+string(rune('a'+i))))
	}
	if n := v.calls.Load(); n != 6 {
		t.Fatalf("%d vendor calls, want 6", n)
	}
	if n := warnings(logs); n != 1 {
		t.Fatalf("%d warnings, want 1 per interval", n)
	}
	if d := redisErrorsTotal() - errs0; d < 7 {
		t.Fatalf("redis_errors_total grew by %v, want one or more per request", d)
	}
	if !logHas(logs, "connection refused") {
		t.Fatal("the warning does not say why")
	}
}

// Redis goes away mid-test and comes back: requests keep being answered,
// one warning, errors counted, and once Redis answers again results are
// stored there again and shared.
func TestRedisStopsAndRecovers(t *testing.T) {
	prefix := redistest.Prefix(t)
	cleanPrefix(t, prefix)
	p := newProxy(t, redistest.Addr(t))
	v := newFake("flaky")
	h, logs := redisHandler(t, p.addr(), prefix, nil, v)
	useRedis(t, h, p.addr(), prefix, 2*time.Second, 20*time.Millisecond)
	other, _ := redisHandler(t, redistest.Addr(t), prefix, nil, v) // another instance, on Redis directly
	errs0 := redisErrorsTotal()

	a := vendortest.SampleJPEG("live;n=a")
	uploadLive(t, h, a)
	if got := uploadLive(t, other, a).Get("X-Liveness-Cache"); got != "hit" {
		t.Fatalf("before the outage: the other instance got %q, want a hit from Redis", got)
	}

	p.set(proxyRefuse)
	b := vendortest.SampleJPEG("live;n=b")
	for range 5 {
		uploadLive(t, h, b) // from the vendor, then local memory
	}
	if n := v.calls.Load(); n != 2 {
		t.Fatalf("%d vendor calls during the outage, want 2 (a, then b once)", n)
	}
	if n := warnings(logs); n != 1 {
		t.Fatalf("%d warnings, want 1", n)
	}
	if redisErrorsTotal() == errs0 {
		t.Fatal("redis_errors_total did not grow")
	}

	p.set(proxyForward)
	c := vendortest.SampleJPEG("live;n=c")
	redistest.WaitFor(t, 10*time.Second, "Redis to be used again", func() bool {
		uploadLive(t, h, c)
		_, ok := other.shared.store.Get(t.Context(), v.Profile(nil), sha256.Sum256(c))
		return ok
	})
	if got := uploadLive(t, other, c).Get("X-Liveness-Cache"); got != "hit" {
		t.Fatalf("after recovery: the other instance got %q, want a hit", got)
	}
	if !logHas(logs, "redis answers again") {
		t.Fatal("no recovery log line")
	}
	if n := warnings(logs); n != 1 {
		t.Fatalf("%d warnings in all, want 1", n)
	}
}

// A Redis that accepts connections but never answers costs each request
// at most the operation timeouts; requests are answered from the vendor.
func TestRedisHangs(t *testing.T) {
	prefix := redistest.Prefix(t)
	p := newProxy(t, redistest.Addr(t))
	p.set(proxyHang)
	v := newFake("slow-redis")
	h, logs := redisHandler(t, p.addr(), prefix, nil, v)
	useRedis(t, h, p.addr(), prefix, store.DefaultRedisTimeout, 0)
	img := vendortest.SampleJPEG("live;n=hang")
	start := time.Now()
	uploadLive(t, h, img)
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("took %v with Redis hanging", took)
	}
	// Redis is now left alone for a while: the next request is quick.
	start = time.Now()
	if got := uploadLive(t, h, img).Get("X-Liveness-Cache"); got != "hit" {
		t.Fatalf("second upload: cache %q, want a hit from local memory", got)
	}
	if took := time.Since(start); took > store.DefaultRedisTimeout {
		t.Fatalf("the second request took %v: Redis was not skipped", took)
	}
	if warnings(logs) != 1 {
		t.Fatalf("%d warnings, want 1", warnings(logs))
	}
	if !logHas(logs, "sight") {
		t.Fatal("the warning does not name the operation")
	}
}

// The Caddyfile block, its errors, and the password staying a placeholder
// in the configuration.
func TestRedisCaddyfile(t *testing.T) {
	h, err := parse("liveness {\n vendor spoofsense {\n api_key k\n }\n cache redis {\n address {env.LV_REDIS}\n password {env.LV_REDIS_PW}\n db 3\n prefix app1:\n ttl 2h\n }\n}")
	if err != nil {
		t.Fatal(err)
	}
	want := CacheConfig{Backend: "redis", TTL: caddy.Duration(2 * time.Hour), Redis: &RedisConfig{Address: "{env.LV_REDIS}", Password: "{env.LV_REDIS_PW}", DB: 3, Prefix: "app1:"}}
	if !reflect.DeepEqual(*h.Cache, want) {
		t.Fatalf("cache %+v, want %+v", *h.Cache, want)
	}
	js, _ := json.Marshal(h.Cache)
	if !strings.Contains(string(js), `"password":"{env.LV_REDIS_PW}"`) || !strings.Contains(string(js), `"backend":"redis"`) {
		t.Fatalf("JSON %s", js)
	}
	if _, err := parse("liveness {\n vendor spoofsense {\n api_key k\n }\n cache redis {\n url redis://127.0.0.1:1/2\n }\n}"); err != nil {
		t.Fatal(err)
	}
	// max_entries bounds the memory that stands in while Redis fails, as
	// in JSON; a database in url goes with no db option (or db 0).
	if h, err := parse("liveness {\n vendor spoofsense {\n api_key k\n }\n cache redis {\n url redis://127.0.0.1:1/2\n max_entries 5\n }\n}"); err != nil || h.Cache.MaxEntries != 5 {
		t.Fatalf("max_entries with redis: %v", err)
	}
	if _, err := parse("liveness {\n vendor spoofsense {\n api_key k\n }\n cache redis {\n url redis://127.0.0.1:1\n db 2\n }\n}"); err != nil {
		t.Fatal(err)
	}
	if h, err := parse("liveness {\n vendor spoofsense {\n api_key k\n }\n cache memory {\n ttl 1h\n }\n}"); err != nil || h.Cache.Backend != "memory" {
		t.Fatal(err)
	}
	if h, err := parse("liveness {\n vendor spoofsense {\n api_key k\n }\n cache redis {\n address a:1\n replicas 1\n }\n}"); err != nil || h.Cache.Redis.Replicas != 1 {
		t.Fatalf("replicas: %v", err)
	}
	// A cluster by its seeds; a primary under Sentinels.
	h, err = parse("liveness {\n vendor spoofsense {\n api_key k\n }\n cache redis {\n cluster 10.0.0.1:7000 {env.LV_SEED}\n password {env.LV_PW}\n }\n}")
	if err != nil || !reflect.DeepEqual(h.Cache.Redis, &RedisConfig{Cluster: []string{"10.0.0.1:7000", "{env.LV_SEED}"}, Password: "{env.LV_PW}"}) {
		t.Fatalf("cluster: %+v %v", h.Cache.Redis, err)
	}
	h, err = parse("liveness {\n vendor spoofsense {\n api_key k\n }\n cache redis {\n sentinel lvprimary {\n addresses s1:26379 s2:26379\n password {env.LV_SPW}\n }\n db 2\n }\n}")
	if err != nil || !reflect.DeepEqual(h.Cache.Redis, &RedisConfig{DB: 2, Sentinel: &SentinelConfig{MasterName: "lvprimary", Addresses: []string{"s1:26379", "s2:26379"}, Password: "{env.LV_SPW}"}}) {
		t.Fatalf("sentinel: %+v %v", h.Cache.Redis, err)
	}
	if js, _ := json.Marshal(h.Cache.Redis); string(js) != `{"sentinel":{"master_name":"lvprimary","addresses":["s1:26379","s2:26379"],"password":"{env.LV_SPW}"},"db":2}` {
		t.Fatalf("sentinel JSON %s", js)
	}
	for name, block := range map[string]string{
		"cluster without seeds":      "cache redis {\n cluster\n}",
		"cluster and address":        "cache redis {\n cluster a:1 b:1\n address a:1\n}",
		"cluster with db":            "cache redis {\n cluster a:1\n db 1\n}",
		"sentinel without a name":    "cache redis {\n sentinel {\n addresses s:1\n }\n}",
		"sentinel with two names":    "cache redis {\n sentinel a b {\n addresses s:1\n }\n}",
		"sentinel without addresses": "cache redis {\n sentinel m {\n password p\n }\n}",
		"sentinel empty addresses":   "cache redis {\n sentinel m {\n addresses\n }\n}",
		"sentinel unknown option":    "cache redis {\n sentinel m {\n addresses s:1\n db 1\n }\n}",
		"sentinel and url":           "cache redis {\n sentinel m {\n addresses s:1\n }\n url redis://a:1\n}",
		"prefix with a hash tag":     "cache redis {\n address a:1\n prefix app{1}:\n}",
		"negative replicas":          "cache redis {\n address a:1\n replicas -1\n}",
	} {
		if _, err := parse("liveness {\n vendor spoofsense {\n api_key k\n }\n " + block + "\n}"); err == nil {
			t.Errorf("%s: accepted", name)
		} else if !strings.Contains(err.Error(), "Testfile:") {
			t.Errorf("%s: %v, without the file and line", name, err)
		}
	}
	for name, block := range map[string]string{
		"no address":        "cache redis {\n db 1\n}",
		"address and url":   "cache redis {\n address a:1\n url redis://a:1\n}",
		"unknown backend":   "cache memcached {\n}",
		"extra argument":    "cache redis x {\n address a:1\n}",
		"bad db":            "cache redis {\n address a:1\n db -1\n}",
		"unknown option":    "cache redis {\n address a:1\n entries 5\n}",
		"bad max_entries":   "cache redis {\n address a:1\n max_entries 0\n}",
		"db twice":          "cache redis {\n url redis://a:1/2\n db 1\n}",
		"duplicate option":  "cache redis {\n address a:1\n prefix a\n prefix b\n}",
		"bad ttl":           "cache redis {\n address a:1\n ttl soon\n}",
		"memory with redis": "cache memory {\n address a:1\n}",
	} {
		if _, err := parse("liveness {\n vendor spoofsense {\n api_key k\n }\n " + block + "\n}"); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// Provisioning resolves the placeholders, refuses an empty password, and
// authenticates with it.
func TestRedisProvision(t *testing.T) {
	addr := redistest.Addr(t)
	prefix := redistest.Prefix(t)
	cleanPrefix(t, prefix)
	c := redistest.Client(t)
	user := "lv-" + hex.EncodeToString([]byte(prefix))[:12]
	const pw = "s3cret-for-test"
	if err := c.Do(t.Context(), "ACL", "SETUSER", user, "on", ">"+pw, "~*", "+@all").Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Do(context.Background(), "ACL", "DELUSER", user) })

	provision := func(block string) (*Handler, error) {
		h, err := parse("liveness {\n vendor spoofsense {\n api_key k\n }\n cache redis {\n" + block + "\n }\n}")
		if err != nil {
			t.Fatal(err)
		}
		err = h.Provision(newCaddyContext(t))
		if err == nil {
			t.Cleanup(func() { h.Cleanup() })
		}
		return h, err
	}
	t.Setenv("LV_TEST_REDIS_PW", "")
	if _, err := provision("url redis://" + user + "@" + addr + "\n password {env.LV_TEST_REDIS_PW}"); err == nil || !strings.Contains(err.Error(), "{env.LV_TEST_REDIS_PW}") {
		t.Fatalf("an empty password: %v", err)
	}
	if _, err := provision("url redis://" + user + ":" + pw + "@[::1\n"); err == nil || strings.Contains(err.Error(), pw) {
		t.Fatalf("a bad URL: %v (must not echo the password)", err)
	}
	// A database in a URL known only at provisioning, and db as well.
	t.Setenv("LV_TEST_REDIS_URL", "redis://"+addr+"/2")
	if _, err := provision("url {env.LV_TEST_REDIS_URL}\n db 1"); err == nil || !strings.Contains(err.Error(), "database is given twice") {
		t.Fatalf("url with /2 and db 1: %v", err)
	}
	t.Setenv("LV_TEST_REDIS_PW", pw)
	h, err := provision("url redis://" + user + "@" + addr + "\n password {env.LV_TEST_REDIS_PW}\n prefix " + prefix)
	if err != nil {
		t.Fatal(err)
	}
	if h.Cache.Redis.Password != "{env.LV_TEST_REDIS_PW}" {
		t.Fatalf("the configuration holds %q", h.Cache.Redis.Password)
	}
	sum := sha256.Sum256([]byte("provisioned"))
	h.shared.store.Set(t.Context(), "p", sum, vendors.Result{Class: vendors.ClassFace})
	if h.shared.store.Degraded() {
		t.Fatal("Redis refused the credentials")
	}
	if n := len(redistest.Keys(t, c, prefix)); n != 1 {
		t.Fatalf("%d keys under the prefix, want 1", n)
	}
	// A wrong password is Redis failing, not the handler: degraded.
	t.Setenv("LV_TEST_REDIS_PW", "wrong")
	h2, err := provision("url redis://" + user + "@" + addr + "\n password {env.LV_TEST_REDIS_PW}\n prefix " + prefix)
	if err != nil {
		t.Fatal(err)
	}
	if h2.shared == h.shared {
		t.Fatal("another password shares the connection")
	}
	h2.shared.store.Set(t.Context(), "p", sha256.Sum256([]byte("other")), vendors.Result{Class: vendors.ClassFace})
	if !h2.shared.store.Degraded() || memResults(h2) != 1 {
		t.Fatal("with refused credentials the result should go to local memory")
	}
}

// The admin API counts and purges the verdicts in Redis.
func TestRedisAdmin(t *testing.T) {
	addr, prefix := redistest.Addr(t), redistest.Prefix(t)
	cleanPrefix(t, prefix)
	v := newFake("adminv")
	h, _ := redisHandler(t, addr, prefix, nil, v)
	handlerSet.Store(h, struct{}{})
	defer handlerSet.Delete(h)
	imgs := [][]byte{vendortest.SampleJPEG("live;n=1"), vendortest.SampleJPEG("live;n=2")}
	for _, img := range imgs {
		uploadLive(t, h, img)
	}
	var st Stats
	rec := httptest.NewRecorder()
	if err := (adminAPI{}).stats(rec, httptest.NewRequest(http.MethodGet, "/liveness/stats", nil)); err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(rec.Body.Bytes(), &st)
	if st.Cache.Backend != "redis" && st.Cache.Backend != "both" {
		t.Fatalf("backend %q", st.Cache.Backend)
	}
	if st.Cache.Entries < 2 {
		t.Fatalf("entries %d, want at least this test's 2", st.Cache.Entries)
	}
	sum := sha256.Sum256(imgs[0])
	rec = httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/liveness/cache/purge", strings.NewReader(`{"image_sha256": "`+hex.EncodeToString(sum[:])+`"}`))
	if err := (adminAPI{}).purge(rec, req); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rec.Body.String(), `"purged":1`) {
		t.Fatalf("purge answered %s", rec.Body.String())
	}
	if n, degraded := h.shared.store.Entries(t.Context()); n != 1 || degraded {
		t.Fatalf("%d results left under the prefix, want 1", n)
	}
}

// memResults counts the results h holds in local memory.
func memResults(h *Handler) int {
	n, _ := h.shared.store.Memory()
	return n
}
