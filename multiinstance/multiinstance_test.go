//go:build multiinstance

// Package multiinstance runs two processes of the built Caddy (the
// ./caddy that make -f xcaddy.mk build writes) against one Redis and one
// SpoofSense emulator, as operators run several instances behind a load
// balancer. Run it with make -f xcaddy.mk multiinstance, which builds
// Caddy and starts a throwaway redis-server (LIVENESS_REDIS_ADDR).
package multiinstance

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-liveness/caddy-liveness/internal/caddyproc"
	"github.com/caddy-liveness/caddy-liveness/internal/redistest"
	"github.com/caddy-liveness/caddy-liveness/vendors/vendortest"
	"github.com/redis/go-redis/v9"
)

const apiKey = "multi-instance-key"

// instance is one running Caddy process.
type instance struct {
	name, admin, listen string
}

func start(t *testing.T, bin, name, caddyfile string, env []string) *instance {
	t.Helper()
	in := &instance{name: name, admin: caddyproc.FreeAddr(t), listen: caddyproc.FreeAddr(t)}
	cfg := strings.NewReplacer("ADMIN", in.admin, "LISTEN", in.listen).Replace(caddyfile)
	// The site is up once it answers (the handler 400s an empty POST).
	caddyproc.Start(t, bin, name, cfg, env...).WaitReady(t, "http://"+in.admin+"/config/", "http://"+in.listen+"/health")
	return in
}

func upload(img []byte) (string, []byte) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	w.WriteField("user", "alice")
	fw, _ := w.CreateFormFile("selfie", "selfie.jpg")
	fw.Write(img)
	w.Close()
	return w.FormDataContentType(), buf.Bytes()
}

// post uploads img to an instance and returns the status and the
// liveness headers the upstream received.
func (in *instance) post(t *testing.T, img []byte) (int, http.Header) {
	ct, body := upload(img)
	resp, err := http.Post("http://"+in.listen+"/upload", ct, bytes.NewReader(body))
	if err != nil {
		t.Error(err)
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil
	}
	var echo vendortest.EchoResponse
	if err := json.Unmarshal(b, &echo); err != nil {
		t.Errorf("%s: upstream answer %q: %v", in.name, b, err)
	}
	return resp.StatusCode, echo.Headers
}

// metric sums a counter's samples with the given label from /metrics.
func (in *instance) metric(t *testing.T, name, label string) float64 {
	resp, err := http.Get("http://" + in.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	total := 0.0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, name+"{") && strings.Contains(line, label) {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			total += v
		}
	}
	return total
}

// Each shape of Redis: one server (reached by URL, as a user of its own
// with a password the configuration holds as a placeholder), a cluster and
// a primary under Sentinels.
func TestTwoInstances(t *testing.T) {
	for _, shape := range redistest.Shapes(t) {
		t.Run(shape.Name, func(t *testing.T) { twoInstances(t, shape) })
	}
}

func twoInstances(t *testing.T, shape redistest.Shape) {
	bin, err := filepath.Abs("../caddy")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("no Caddy binary at ../caddy (make -f xcaddy.mk build): %v", err)
	}
	ctx := context.Background()

	// Keys under a prefix of this run's own.
	var rb [6]byte
	rand.Read(rb[:])
	run := hex.EncodeToString(rb[:])
	password, prefix := "pw-"+run, "mi:"+run+":"
	rdb := shape.Connect(t)
	defer func() {
		for _, k := range redistest.Keys(t, rdb, prefix) {
			rdb.Del(ctx, k)
		}
	}()
	env := []string{"LIVENESS_MI_KEY=" + apiKey}
	var where string
	switch shape.Name {
	case "single":
		// A Redis user of this test's own, with a password the
		// configuration holds as a placeholder.
		user := "mi-" + run
		if err := rdb.Do(ctx, "ACL", "SETUSER", user, "on", ">"+password, "~"+prefix+"*", "+@all").Err(); err != nil {
			t.Fatal(err)
		}
		defer rdb.Do(ctx, "ACL", "DELUSER", user)
		where = "url redis://" + user + "@{env.LIVENESS_REDIS_ADDR}\n\t\t\t\tpassword {env.LIVENESS_MI_REDIS_PW}"
		env = append(env, "LIVENESS_MI_REDIS_PW="+password)
	case "cluster":
		where = "cluster " + strings.Join(shape.Options.Addrs, " ")
	case "sentinel":
		where = "sentinel " + shape.Options.MasterName + " {\n\t\t\t\t\taddresses " + strings.Join(shape.Options.Addrs, " ") + "\n\t\t\t\t}"
	}

	emu := vendortest.NewSpoofSense(apiKey)
	emuSrv := httptest.NewServer(emu)
	defer emuSrv.Close()
	up := &vendortest.Echo{Keep: 10}
	upSrv := httptest.NewServer(up)
	defer upSrv.Close()

	caddyfile := fmt.Sprintf(`{
	admin ADMIN
	persist_config off
	auto_https off
	log {
		level INFO
	}
}
http://LISTEN {
	route /upload {
		liveness {
			vendor spoofsense {
				api_key {env.LIVENESS_MI_KEY}
				base_url %s
			}
			on_duplicate annotate
			duplicate_window 1ms
			cache redis {
				%s
				prefix %s
				ttl 1h
			}
		}
		reverse_proxy %s
	}
	respond /health "ok"
}
`, emuSrv.URL, where, prefix, strings.TrimPrefix(upSrv.URL, "http://"))
	one := start(t, bin, "instance 1", caddyfile, env)
	two := start(t, bin, "instance 2", caddyfile, env)

	// The password stays a placeholder in the running configuration.
	if shape.Name == "single" {
		resp, err := http.Get("http://" + one.admin + "/config/")
		if err != nil {
			t.Fatal(err)
		}
		cfg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if bytes.Contains(cfg, []byte(password)) || !bytes.Contains(cfg, []byte("{env.LIVENESS_MI_REDIS_PW}")) {
			t.Fatalf("/config/ does not keep the password a placeholder:\n%s", cfg)
		}
	}

	// 1. Instance 1 checks a new image: a vendor call.
	a := vendortest.SampleJPEG("live;score=0.93;n=" + run)
	status, h := one.post(t, a)
	if status != 200 || h.Get("X-Liveness-Verdict") != "live" || h.Get("X-Liveness-Cache") != "miss" {
		t.Fatalf("instance 1, new image: %d %v", status, h)
	}
	if n := emu.CallCount(); n != 1 {
		t.Fatalf("%d vendor calls after the first upload, want 1", n)
	}

	// The sighting is in Redis; wait until duplicate_window (1ms) has
	// passed since it, so that the next upload is a replay.
	sum := h.Get("X-Liveness-Image-Sha256")
	f, err := rdb.HGet(ctx, prefix+"seen:{"+sum+"}", "f").Int64()
	if err != nil {
		t.Fatalf("no sighting in Redis under %sseen:{%s}: %v", prefix, sum, err)
	}
	for time.Since(time.Unix(0, f)) <= 5*time.Millisecond {
		time.Sleep(time.Millisecond)
	}

	// 2. Instance 2 gets the same image: a cache hit without a vendor
	// call, and a duplicate (seen once before, by instance 1).
	status, h = two.post(t, a)
	if status != 200 || h.Get("X-Liveness-Cache") != "hit" || h.Get("X-Liveness-Duplicate") != "2" {
		t.Fatalf("instance 2, same image: %d cache %q duplicate %q", status, h.Get("X-Liveness-Cache"), h.Get("X-Liveness-Duplicate"))
	}
	// 3. And back on instance 1: the count includes instance 2's sighting.
	status, h = one.post(t, a)
	if status != 200 || h.Get("X-Liveness-Cache") != "hit" || h.Get("X-Liveness-Duplicate") != "3" {
		t.Fatalf("instance 1, replay: %d cache %q duplicate %q", status, h.Get("X-Liveness-Cache"), h.Get("X-Liveness-Duplicate"))
	}
	if n := emu.CallCount(); n != 1 {
		t.Fatalf("%d vendor calls after three uploads of one image on two instances, want 1", n)
	}

	// 4. A new image sent to both at once, while the vendor takes 500 ms:
	// one vendor call; the other instance waits for its result.
	shared0 := one.metric(t, "caddy_liveness_cache_lookups_total", `result="shared"`) + two.metric(t, "caddy_liveness_cache_lookups_total", `result="shared"`)
	b := vendortest.SampleJPEG("live;score=0.88;delay=500ms;n=" + run)
	var wg sync.WaitGroup
	heads := make([]http.Header, 2)
	statuses := make([]int, 2)
	for i, in := range []*instance{one, two} {
		wg.Go(func() { statuses[i], heads[i] = in.post(t, b) })
	}
	wg.Wait()
	for i := range 2 {
		if statuses[i] != 200 || heads[i].Get("X-Liveness-Verdict") != "live" || heads[i].Get("X-Liveness-Cache") != "miss" {
			t.Fatalf("simultaneous upload to instance %d: %d verdict %q cache %q (both miss: one calls, one waits)",
				i+1, statuses[i], heads[i].Get("X-Liveness-Verdict"), heads[i].Get("X-Liveness-Cache"))
		}
	}
	if n := emu.CallCount(); n != 2 {
		t.Fatalf("%d vendor calls in all, want 2: the simultaneous misses made more than one", n)
	}
	shared := one.metric(t, "caddy_liveness_cache_lookups_total", `result="shared"`) + two.metric(t, "caddy_liveness_cache_lookups_total", `result="shared"`)
	if shared-shared0 != 1 {
		t.Fatalf("cache_lookups_total{result=shared} grew by %v across the instances, want 1", shared-shared0)
	}

	// What Redis holds: two results, two sightings, no lock, no image.
	ks := redistest.Keys(t, rdb, prefix)
	kinds := map[string]int{}
	for _, k := range ks {
		kinds[strings.SplitN(strings.TrimPrefix(k, prefix), ":", 2)[0]]++
		if v, _ := rdb.Dump(ctx, k).Result(); strings.Contains(v, string(a[:64])) || strings.Contains(v, string(b[:64])) {
			t.Fatalf("%s holds image bytes", k)
		}
	}
	if kinds["result"] != 2 || kinds["seen"] != 2 || len(kinds) != 2 {
		t.Fatalf("keys by kind %v, want 2 results and 2 sightings: %q", kinds, ks)
	}
	if errs := one.metric(t, "caddy_liveness_redis_errors_total", "op=") + two.metric(t, "caddy_liveness_redis_errors_total", "op="); errs != 0 {
		t.Fatalf("%v Redis errors", errs)
	}
	t.Logf("vendor calls: %d for 2 images, 3 + 2 uploads on 2 instances; Redis keys %v", emu.CallCount(), kinds)
}

// Two instances on the Sentinel-managed primary while it fails over:
// every upload is answered, the instances stop sharing while Redis is
// unreachable and share again by themselves, and every verdict Redis
// acknowledged (replicas 1) is still there afterwards: an image checked
// before the failover is a hit on the other instance after it, with no
// new vendor call.
func TestTwoInstancesFailover(t *testing.T) {
	shape := redistest.Shapes(t)[2]
	bin, err := filepath.Abs("../caddy")
	if err != nil {
		t.Fatal(err)
	}
	var rb [6]byte
	rand.Read(rb[:])
	run := hex.EncodeToString(rb[:])
	prefix := "mf:" + run + ":"
	rdb := shape.Connect(t)
	defer func() {
		for _, k := range redistest.Keys(t, rdb, prefix) {
			rdb.Del(context.Background(), k)
		}
	}()
	emu := vendortest.NewSpoofSense(apiKey)
	emuSrv := httptest.NewServer(emu)
	defer emuSrv.Close()
	upSrv := httptest.NewServer(&vendortest.Echo{Keep: 1})
	defer upSrv.Close()
	caddyfile := fmt.Sprintf(`{
	admin ADMIN
	persist_config off
	auto_https off
}
http://LISTEN {
	route /upload {
		liveness {
			vendor spoofsense {
				api_key {env.LIVENESS_MI_KEY}
				base_url %s
			}
			cache redis {
				sentinel %s {
					addresses %s
				}
				prefix %s
				replicas 1
			}
		}
		reverse_proxy %s
	}
	respond /health "ok"
}
`, emuSrv.URL, shape.Options.MasterName, strings.Join(shape.Options.Addrs, " "), prefix, strings.TrimPrefix(upSrv.URL, "http://"))
	env := []string{"LIVENESS_MI_KEY=" + apiKey}
	one := start(t, bin, "instance 1", caddyfile, env)
	two := start(t, bin, "instance 2", caddyfile, env)

	// Before: checked on one, a hit on two.
	before := vendortest.SampleJPEG("live;n=before-" + run)
	if s, h := one.post(t, before); s != 200 || h.Get("X-Liveness-Cache") != "miss" {
		t.Fatalf("before the failover, instance 1: %d %v", s, h)
	}
	if s, h := two.post(t, before); s != 200 || h.Get("X-Liveness-Cache") != "hit" {
		t.Fatalf("before the failover, instance 2: %d %v", s, h)
	}

	sentinel := redis.NewSentinelClient(&redis.Options{Addr: shape.Options.Addrs[0]})
	defer sentinel.Close()
	a, err := sentinel.GetMasterAddrByName(t.Context(), shape.Options.MasterName).Result()
	if err != nil {
		t.Fatal(err)
	}
	old := a[0] + ":" + a[1]
	stallClient := redis.NewClient(&redis.Options{Addr: old, ReadTimeout: -1})
	defer stallClient.Close()
	failedAt := time.Now()
	go stallClient.Do(context.Background(), "DEBUG", "SLEEP", "4")

	// Every 50 ms a new image on one, then on two: shared while two's
	// answer is a hit. Until shared again for a second, at most 60 s.
	var uploads, unshared int
	var lastUnshared time.Time
	for i := 0; ; i++ {
		if time.Since(failedAt) > 60*time.Second {
			t.Fatal("the instances did not share again within 60 s")
		}
		img := vendortest.SampleJPEG(fmt.Sprintf("live;n=%s-%d", run, i))
		s1, _ := one.post(t, img)
		s2, h2 := two.post(t, img)
		uploads += 2
		if s1 != 200 || s2 != 200 {
			t.Fatalf("upload %d during the failover: statuses %d and %d", i, s1, s2)
		}
		if h2.Get("X-Liveness-Cache") != "hit" {
			unshared++
			lastUnshared = time.Now()
		} else if !lastUnshared.IsZero() && time.Since(lastUnshared) > time.Second {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if unshared == 0 {
		t.Fatal("the failover did not show: every image was shared")
	}
	// After: the image checked before is still a hit, with no new call.
	calls := emu.CallCount()
	if s, h := two.post(t, before); s != 200 || h.Get("X-Liveness-Cache") != "hit" {
		t.Fatalf("after the failover, the image checked before: %d cache %q", s, h.Get("X-Liveness-Cache"))
	}
	if emu.CallCount() != calls {
		t.Fatal("the verdict stored before the failover was lost: the vendor was asked again")
	}
	if now, _ := sentinel.GetMasterAddrByName(t.Context(), shape.Options.MasterName).Result(); now[0]+":"+now[1] == old {
		t.Fatal("the Sentinels did not fail over")
	}
	t.Logf("%d uploads during the failover, all answered 200; %d images not shared (ran degraded) until %.1f s after the primary stopped answering; "+
		"shared again by themselves; the verdict stored before survived",
		uploads, unshared, lastUnshared.Sub(failedAt).Seconds())
}
