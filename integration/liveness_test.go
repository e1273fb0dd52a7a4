// Package integration runs the liveness handler inside a real Caddy (one
// per process, admin API on localhost:2999), with the SpoofSense emulator
// as the vendor and a recording upstream.
package integration

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"

	_ "github.com/caddy-liveness/caddy-liveness"
	"github.com/caddy-liveness/caddy-liveness/vendors/vendortest"
)

const apiKey = "integration-key-5d1c"

type env struct {
	tester  *caddytest.Tester
	config  func(shadowExtra string) string // the Caddyfile, with a line added to the /shadow handler
	logFile string                          // Caddy's log, every level
	emu     *vendortest.SpoofSense
	facia   *vendortest.FACIA
	verifik *vendortest.Verifik
	up      *vendortest.Echo
	upSrv   *httptest.Server
}

func start(t *testing.T) *env {
	t.Helper()
	t.Setenv("LIVENESS_IT_KEY", apiKey)
	t.Setenv("LIVENESS_IT_FACIA_SECRET", "it-secret")
	emu := vendortest.NewSpoofSense(apiKey)
	emuSrv := httptest.NewServer(emu)
	t.Cleanup(emuSrv.Close)
	up := &vendortest.Echo{}
	upSrv := httptest.NewServer(up)
	t.Cleanup(upSrv.Close)
	facia := vendortest.NewFACIA("it-client", "it-secret")
	facia.PendingPolls = 2
	faciaSrv := httptest.NewServer(facia)
	t.Cleanup(faciaSrv.Close)
	verifik := vendortest.NewVerifik("it-token")
	verifikSrv := httptest.NewServer(verifik)
	t.Cleanup(verifikSrv.Close)
	// A vendor that is down: nothing listens at its address any more.
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()

	// caddytest skips when Caddy cannot start; here that is a failure.
	t.Cleanup(func() {
		if t.Skipped() {
			t.Error("Caddy could not be started for the integration tests")
		}
	})
	tester := caddytest.NewTester(t)
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	config := func(shadowExtra string) string {
		return fmt.Sprintf(`
	{
		skip_install_trust
		log {
			output file %[7]s
			level DEBUG
		}
		admin localhost:2999
		http_port 9080
		https_port 9443
		grace_period 1ns
	}
	http://localhost:9080 {
		route /upload {
			liveness {
				vendor spoofsense {
					api_key {env.LIVENESS_IT_KEY}
					base_url %[1]s
				}
				max_size 300KB
			}
			reverse_proxy %[2]s
		}
		route /annotate {
			liveness {
				vendor spoofsense {
					api_key {env.LIVENESS_IT_KEY}
					base_url %[1]s
				}
				mode annotate
			}
			reverse_proxy %[2]s
		}
		route /shadow {
			liveness {
				vendor spoofsense {
					api_key {env.LIVENESS_IT_KEY}
					base_url %[1]s
				}
				mode shadow
				%[6]s
			}
			reverse_proxy %[2]s
		}
		route /raw {
			liveness {
				vendor spoofsense {
					api_key {env.LIVENESS_IT_KEY}
					base_url %[1]s
				}
				source body
			}
			reverse_proxy %[2]s
		}
		route /video {
			liveness {
				vendor spoofsense {
					api_key {env.LIVENESS_IT_KEY}
					base_url %[1]s
				}
				vendor facia {
					client_id it-client
					client_secret {env.LIVENESS_IT_FACIA_SECRET}
					base_url %[3]s
					poll_interval 10ms
				}
			}
			reverse_proxy %[2]s
		}
		route /fallback {
			liveness {
				vendor videosdk {
					api_key k
					api_secret s
					base_url %[5]s
				}
				vendor verifik {
					token it-token
					base_url %[4]s
				}
				retries 0
			}
			reverse_proxy %[2]s
		}
		route /local {
			liveness {
				vendor local
			}
			reverse_proxy %[2]s
		}
		route /prescreen {
			liveness {
				vendor spoofsense {
					api_key {env.LIVENESS_IT_KEY}
					base_url %[1]s
				}
				prescreen
			}
			reverse_proxy %[2]s
		}
		handle_errors {
			header Content-Type application/json
			respond `+"`"+`{"error": "{err.message}", "status": {err.status_code}, "id": "{err.id}"}`+"`"+`
		}
	}`, emuSrv.URL, strings.TrimPrefix(upSrv.URL, "http://"), faciaSrv.URL, verifikSrv.URL, dead.URL, shadowExtra, logFile)
	}
	tester.InitServer(config(""), "caddyfile")
	return &env{tester: tester, config: config, logFile: logFile, emu: emu, facia: facia, verifik: verifik, up: up, upSrv: upSrv}
}

func multipartUpload(t *testing.T, img []byte) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	w.WriteField("user", "alice")
	fw, _ := w.CreateFormFile("selfie", "selfie.jpg")
	fw.Write(img)
	w.Close()
	return w.FormDataContentType(), buf.Bytes()
}

func (e *env) post(t *testing.T, path, contentType string, body []byte, header ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://localhost:9080"+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := e.tester.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func adminPost(t *testing.T, path, body string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Post("http://localhost:2999"+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestLiveness(t *testing.T) {
	e := start(t)

	t.Run("live passes with headers and the identical body", func(t *testing.T) {
		img := vendortest.SampleJPEG("live")
		ct, body := multipartUpload(t, img)
		e.up.Reset()
		resp, _ := e.post(t, "/upload", ct, body, "X-Liveness-Verdict", "spoof", "X-Liveness-Extra", "forged")
		if resp.StatusCode != 200 || e.up.Count() != 1 {
			t.Fatalf("status %d, upstream requests %d", resp.StatusCode, e.up.Count())
		}
		got := e.up.Requests()[0]
		if !bytes.Equal(got.Body, body) || got.ContentLength != int64(len(body)) {
			t.Fatalf("upstream got %d bytes (Content-Length %d), client sent %d", len(got.Body), got.ContentLength, len(body))
		}
		want := map[string]string{
			"X-Liveness-Verdict": "live", "X-Liveness-Score": "0.9700", "X-Liveness-Vendor": "spoofsense",
			"X-Liveness-Cache": "miss", "X-Liveness-Image-Sha256": sum(img), "X-Liveness-Extra": "",
		}
		for k, v := range want {
			if g := got.Header.Get(k); g != v {
				t.Errorf("upstream %s = %q, want %q", k, g, v)
			}
		}
		if resp.Header.Get("X-Liveness-Score") != "" {
			t.Error("the client saw a score")
		}
	})

	t.Run("vendor local judges real faces", func(t *testing.T) {
		for _, c := range []struct {
			face   string
			status int
		}{{"T1", 200}, {"F1", 403}, {"F2", 403}} {
			img, err := os.ReadFile(filepath.Join("..", "vendors", "local", "preproc", "testdata", "local-model", "faces", "minivision_image_"+c.face+".jpg"))
			if err != nil {
				t.Fatal(err)
			}
			ct, body := multipartUpload(t, img)
			e.up.Reset()
			resp, _ := e.post(t, "/local", ct, body)
			if resp.StatusCode != c.status {
				t.Fatalf("%s: status %d, want %d", c.face, resp.StatusCode, c.status)
			}
			if c.status == 200 {
				got := e.up.Requests()[0]
				if !bytes.Equal(got.Body, body) || got.Header.Get("X-Liveness-Vendor") != "local" || got.Header.Get("X-Liveness-Verdict") != "live" {
					t.Fatalf("%s: upstream got headers %v", c.face, got.Header)
				}
			} else if e.up.Count() != 0 {
				t.Fatalf("%s reached the upstream", c.face)
			}
		}
	})

	t.Run("the prescreen refuses a faceless image without a vendor call", func(t *testing.T) {
		calls := e.emu.CallCount()
		ct, body := multipartUpload(t, vendortest.FacelessPNG(320, 240))
		resp, _ := e.post(t, "/prescreen", ct, body)
		if resp.StatusCode != 422 || e.emu.CallCount() != calls {
			t.Fatalf("status %d, vendor calls %d -> %d", resp.StatusCode, calls, e.emu.CallCount())
		}
		img, err := os.ReadFile(filepath.Join("..", "vendors", "local", "preproc", "testdata", "local-model", "faces", "minivision_image_T1.jpg"))
		if err != nil {
			t.Fatal(err)
		}
		ct, body = multipartUpload(t, img)
		e.post(t, "/prescreen", ct, body)
		if e.emu.CallCount() != calls+1 {
			t.Fatalf("a face was not sent to the vendor: calls %d -> %d", calls, e.emu.CallCount())
		}
	})

	t.Run("a repeat is a cache hit without a vendor call", func(t *testing.T) {
		img := vendortest.SampleJPEG("score=0.91")
		ct, body := multipartUpload(t, img)
		e.post(t, "/upload", ct, body)
		calls := e.emu.CallCount()
		e.up.Reset()
		ct, body = multipartUpload(t, img) // another boundary, same image
		resp, _ := e.post(t, "/upload", ct, body)
		if resp.StatusCode != 200 || e.emu.CallCount() != calls {
			t.Fatalf("status %d, vendor calls %d -> %d", resp.StatusCode, calls, e.emu.CallCount())
		}
		got := e.up.Requests()[0]
		if got.Header.Get("X-Liveness-Cache") != "hit" || !bytes.Equal(got.Body, body) {
			t.Fatalf("Cache %q, body equal %v", got.Header.Get("X-Liveness-Cache"), bytes.Equal(got.Body, body))
		}
	})

	t.Run("spoof is 403 and never reaches the upstream", func(t *testing.T) {
		ct, body := multipartUpload(t, vendortest.SampleJPEG("spoof"))
		e.up.Reset()
		resp, respBody := e.post(t, "/upload", ct, body, "X-Liveness-Verdict", "live")
		if resp.StatusCode != 403 || e.up.Count() != 0 {
			t.Fatalf("status %d, upstream requests %d", resp.StatusCode, e.up.Count())
		}
		if !strings.Contains(respBody, `"error": "liveness check failed"`) || strings.Contains(respBody, "0.03") {
			t.Fatalf("error body %s", respBody)
		}
	})

	for _, tc := range []struct {
		name, path, ct string
		body           []byte
		status         int
	}{
		{"no image is 400", "/upload", "application/json", []byte(`{"name":"alice"}`), 400},
		{"over max_size is 413", "/upload", "image/jpeg", vendortest.SampleJPEGSize("live", 400_000), 413},
		{"not an image is 415", "/raw", "image/png", []byte("this is not a png"), 415},
		{"no face is 422", "/upload", "image/jpeg", vendortest.SampleJPEG("no_face"), 422},
		{"vendor down is 503", "/upload", "image/jpeg", vendortest.SampleJPEG("status=503"), 503},
		{"video to an image-only vendor is 415", "/upload", "application/octet-stream", vendortest.SampleMP4("live"), 415},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.up.Reset()
			resp, respBody := e.post(t, tc.path, tc.ct, tc.body)
			if resp.StatusCode != tc.status || e.up.Count() != 0 {
				t.Fatalf("status %d, want %d; upstream requests %d; body %s", resp.StatusCode, tc.status, e.up.Count(), respBody)
			}
			if !strings.Contains(respBody, fmt.Sprintf(`"status": %d`, tc.status)) {
				t.Fatalf("handle_errors body %s", respBody)
			}
		})
	}

	t.Run("annotate passes a spoof with headers", func(t *testing.T) {
		ct, body := multipartUpload(t, vendortest.SampleJPEG("spoof"))
		e.up.Reset()
		resp, _ := e.post(t, "/annotate", ct, body)
		if resp.StatusCode != 200 || e.up.Count() != 1 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		got := e.up.Requests()[0]
		if got.Header.Get("X-Liveness-Verdict") != "spoof" || !bytes.Equal(got.Body, body) {
			t.Fatalf("verdict %q", got.Header.Get("X-Liveness-Verdict"))
		}
	})

	t.Run("shadow passes a spoof without headers", func(t *testing.T) {
		ct, body := multipartUpload(t, vendortest.SampleJPEG("score=0.2"))
		e.up.Reset()
		calls := e.emu.CallCount()
		resp, _ := e.post(t, "/shadow", ct, body, "X-Liveness-Verdict", "live")
		if resp.StatusCode != 200 || e.up.Count() != 1 || e.emu.CallCount() != calls+1 {
			t.Fatalf("status %d, vendor calls %d", resp.StatusCode, e.emu.CallCount()-calls)
		}
		got := e.up.Requests()[0]
		for k := range got.Header {
			if strings.HasPrefix(k, "X-Liveness-") {
				t.Fatalf("shadow forwarded %s", k)
			}
		}
		if !bytes.Equal(got.Body, body) {
			t.Fatal("body altered")
		}
	})

	t.Run("a video goes to FACIA, which takes video, and polls to a verdict", func(t *testing.T) {
		for _, tc := range []struct {
			marker, verdict string
			status          int
		}{{"live", "live", 200}, {"spoof", "spoof", 403}} {
			video := vendortest.SampleMP4(tc.marker)
			ct, body := multipartUpload(t, video)
			e.up.Reset()
			ssCalls := e.emu.CallCount()
			resp, _ := e.post(t, "/video", ct, body)
			if resp.StatusCode != tc.status {
				t.Fatalf("%s: status %d, want %d", tc.marker, resp.StatusCode, tc.status)
			}
			if e.emu.CallCount() != ssCalls {
				t.Fatal("the video was sent to SpoofSense, which takes images only")
			}
			if tc.status != 200 {
				continue
			}
			got := e.up.Requests()[0]
			if got.Header.Get("X-Liveness-Vendor") != "facia" || got.Header.Get("X-Liveness-Verdict") != tc.verdict ||
				got.Header.Get("X-Liveness-Reference") == "" || !bytes.Equal(got.Body, body) {
				t.Fatalf("upstream headers %v", got.Header)
			}
		}
		var sawVideo bool
		for _, c := range e.facia.Calls() {
			sawVideo = sawVideo || (c.Path == "/liveness" && c.Fields["file_type"] == "video")
		}
		if !sawVideo {
			t.Fatal("FACIA never got file_type=video")
		}
	})

	t.Run("an image falls back from a dead vendor to the next", func(t *testing.T) {
		img := vendortest.SampleJPEG("live")
		ct, body := multipartUpload(t, img)
		e.up.Reset()
		resp, _ := e.post(t, "/fallback", ct, body, "User-Agent", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)")
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		got := e.up.Requests()[0]
		if got.Header.Get("X-Liveness-Vendor") != "verifik" || got.Header.Get("X-Liveness-Reference") == "" {
			t.Fatalf("upstream headers %v", got.Header)
		}
		calls := e.verifik.Calls()
		if len(calls) != 1 || calls[0].OS != "IOS" {
			t.Fatalf("verifik calls %+v", calls)
		}
		// A spoof from the fallback vendor is final.
		ct, body = multipartUpload(t, vendortest.SampleJPEG("spoof"))
		if resp, _ := e.post(t, "/fallback", ct, body); resp.StatusCode != 403 {
			t.Fatalf("spoof via fallback: %d", resp.StatusCode)
		}
	})

	t.Run("reloads keep an unchanged handler's cache and leak no goroutines", func(t *testing.T) {
		img := vendortest.SampleJPEG("score=0.88")
		upload := func() *vendortest.EchoRequest {
			ct, body := multipartUpload(t, img)
			e.up.Reset()
			if resp, _ := e.post(t, "/upload", ct, body); resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			r := e.up.Requests()[0]
			return &r
		}
		upload()
		settle := func() int {
			e.tester.Client.CloseIdleConnections()
			// reverse_proxy keeps idle connections of unloaded configurations
			// until they time out; that is Caddy's, not this module's.
			e.upSrv.CloseClientConnections()
			runtime.GC()
			return runtime.NumGoroutine()
		}
		calls := e.emu.CallCount()
		reload := func(i int) {
			// Another handler gets a new cache each time (and so a new janitor
			// that must end with its configuration); /upload's is unchanged.
			e.tester.InitServer(e.config(fmt.Sprintf("cache {\n ttl %dh\n }", i+1)), "caddyfile")
			if got := upload(); got.Header.Get("X-Liveness-Cache") != "hit" {
				t.Fatalf("reload %d dropped the cache: Cache %q", i, got.Header.Get("X-Liveness-Cache"))
			}
		}
		// Two reloads first, so that the connection pools of a reloaded
		// configuration are in the count; then growth over ten more is a leak.
		reload(0)
		reload(1)
		before := settle()
		for i := range 10 {
			reload(i + 2)
		}
		if e.emu.CallCount() != calls {
			t.Fatalf("%d vendor calls after reloads, want none", e.emu.CallCount()-calls)
		}
		// Servers of old configurations end asynchronously; give them a
		// moment, then compare.
		after := settle()
		for deadline := time.Now().Add(3 * time.Second); after > before+2 && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
			after = settle()
		}
		if after > before+2 {
			pprof.Lookup("goroutine").WriteTo(os.Stderr, 1)
			t.Fatalf("goroutines %d before ten reloads, %d after", before, after)
		}
		t.Logf("goroutines %d before ten reloads, %d after", before, after)
	})

	t.Run("admin API: stats and purge", func(t *testing.T) {
		img := vendortest.SampleJPEG("score=0.81")
		ct, body := multipartUpload(t, img)
		e.post(t, "/upload", ct, body)
		e.post(t, "/upload", ct, body)
		ct, down := multipartUpload(t, vendortest.SampleJPEG("status=500"))
		e.post(t, "/upload", ct, down)
		var st struct {
			Cache struct {
				Entries int     `json:"entries"`
				Hits    int64   `json:"hits"`
				HitRate float64 `json:"hit_rate"`
			} `json:"cache"`
			Vendors []struct {
				Vendor, Breaker string
				Errors          map[string]int64
			} `json:"vendors"`
			Handlers []struct {
				Name   string `json:"name"`
				Misses int64  `json:"misses"`
			} `json:"handlers"`
		}
		getJSON(t, "http://localhost:2999/liveness/stats", &st)
		if st.Cache.Entries == 0 || st.Cache.Hits == 0 || st.Cache.HitRate <= 0 || st.Cache.HitRate >= 1 {
			t.Fatalf("cache stats %+v", st.Cache)
		}
		// Each handler by its default name: the site's address, then
		// numbered in the order of the Caddyfile (/upload is the first).
		names := map[string]int64{}
		for _, h := range st.Handlers {
			names[h.Name] = h.Misses
		}
		if len(st.Handlers) != 8 || len(names) != 8 || names["localhost:9080"] == 0 {
			t.Fatalf("handlers %+v, want 8 by name, localhost:9080 with misses", st.Handlers)
		}
		var sawSpoofSense, sawErrors bool
		for _, v := range st.Vendors {
			sawSpoofSense = sawSpoofSense || (v.Vendor == "spoofsense" && v.Breaker == "closed")
			sawErrors = sawErrors || v.Errors["unavailable"] > 0
		}
		if !sawSpoofSense || !sawErrors {
			t.Fatalf("vendor stats %+v", st.Vendors)
		}

		// One image: its next upload asks the vendor again.
		resp, out := adminPost(t, "/liveness/cache/purge", `{"image_sha256": "`+sum(img)+`"}`)
		if resp.StatusCode != 200 || !strings.Contains(out, `"purged":1`) {
			t.Fatalf("purge one: %d %s", resp.StatusCode, out)
		}
		calls := e.emu.CallCount()
		e.up.Reset()
		ct, body = multipartUpload(t, img)
		e.post(t, "/upload", ct, body)
		if e.emu.CallCount() != calls+1 || e.up.Requests()[0].Header.Get("X-Liveness-Cache") != "miss" {
			t.Fatal("the purged image was still cached")
		}
		if resp, _ := adminPost(t, "/liveness/cache/purge", `{"image_sha256": "nothex"}`); resp.StatusCode != 400 {
			t.Fatalf("bad hash: %d", resp.StatusCode)
		}
		// Everything.
		if resp, out := adminPost(t, "/liveness/cache/purge", ""); resp.StatusCode != 200 || strings.Contains(out, `"purged":0`) {
			t.Fatalf("purge all: %d %s", resp.StatusCode, out)
		}
		getJSON(t, "http://localhost:2999/liveness/stats", &st)
		if st.Cache.Entries != 0 {
			t.Fatalf("%d entries after purging all", st.Cache.Entries)
		}
	})

	t.Run("metrics on Caddy's /metrics", func(t *testing.T) {
		resp, err := http.Get("http://localhost:2999/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		// Every series names its handler: by default the site's address,
		// numbered (the paths are the route blocks', not the directives').
		const handler = `handler="localhost:9080(-[0-9])?"`
		for _, want := range []string{
			`caddy_liveness_checks_total\{` + handler + `,vendor="spoofsense",verdict="live"\}`,
			`caddy_liveness_checks_total\{` + handler + `,vendor="spoofsense",verdict="spoof"\}`,
			`caddy_liveness_cache_lookups_total\{` + handler + `,result="hit"\}`,
			`caddy_liveness_vendor_call_duration_seconds_bucket\{` + handler + `,outcome="ok",vendor="facia"`,
			`caddy_liveness_vendor_errors_total\{` + handler + `,kind="unavailable",vendor="videosdk"\}`,
			`caddy_liveness_breaker_state\{` + handler + `,vendor="verifik"\} 0`,
		} {
			if !regexp.MustCompile(want).Match(b) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "caddy_liveness_") && !strings.Contains(line, `handler="`) {
				t.Errorf("a series without the handler label: %s", line)
			}
		}
	})

	t.Run("no secret, image data or proof link in logs, errors or /config/", func(t *testing.T) {
		// A FACIA decline carries a proof link; it must stay inside.
		ct, body := multipartUpload(t, vendortest.SampleMP4("spoof"))
		if resp, respBody := e.post(t, "/video", ct, body); resp.StatusCode != 403 || strings.Contains(respBody, "proof") {
			t.Fatalf("%d %s", resp.StatusCode, respBody)
		}
		logs, err := os.ReadFile(e.logFile)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(logs), "liveness decision") {
			t.Fatal("the log file holds no decision lines")
		}
		resp, err := http.Get("http://localhost:2999/config/")
		if err != nil {
			t.Fatal(err)
		}
		cfg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		img := vendortest.SampleJPEG("live")
		forbidden := []string{
			apiKey, "it-secret", "it-token", // secrets (it-token is a literal: not in the logs)
			"proof.invalid",                                 // FACIA's proof links
			vendortest.MarkerPrefix,                         // image bytes
			base64.StdEncoding.EncodeToString(img)[:48],     // base64 of an image
			base64.StdEncoding.EncodeToString(img)[100:148], // ... from its middle
		}
		for _, s := range forbidden {
			if strings.Contains(string(logs), s) {
				t.Errorf("the log holds %q", s)
			}
		}
		for _, s := range []string{apiKey, "it-secret"} {
			if strings.Contains(string(cfg), s) {
				t.Errorf("/config/ holds %q", s)
			}
		}
	})

	t.Run("the secret stays a placeholder in /config/", func(t *testing.T) {
		resp, err := http.Get("http://localhost:2999/config/")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		cfg, _ := io.ReadAll(resp.Body)
		if strings.Contains(string(cfg), apiKey) || !strings.Contains(string(cfg), "{env.LIVENESS_IT_KEY}") {
			t.Fatal("/config/ shows the resolved key or lost the placeholder")
		}
	})

	t.Run("the key reaches the vendor", func(t *testing.T) {
		if n := e.emu.CallCount(); n == 0 {
			t.Fatal("no vendor calls")
		}
		for _, c := range e.emu.Calls() {
			if c.Header.Get("X-Api-Key") == "" {
				t.Fatal("a call without x-api-key")
			}
		}
	})
}
