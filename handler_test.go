package caddyliveness

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-liveness/caddy-liveness/vendors"
	"github.com/caddy-liveness/caddy-liveness/vendors/vendortest"
)

var (
	liveJPEG  = vendortest.SampleJPEG("live")
	spoofJPEG = vendortest.SampleJPEG("spoof")
	noFaceJPG = vendortest.SampleJPEG("no_face")
	downJPEG  = vendortest.SampleJPEG("status=503")
)

func hexSum(b []byte) string { return fmt.Sprintf("%x", sha256.Sum256(b)) }

func TestEnforceDecisions(t *testing.T) {
	tests := []struct {
		name      string
		img       []byte
		configure func(*Handler)
		status    int
		verdict   string
		reason    string
	}{
		{"live passes", liveJPEG, nil, 0, "live", ""},
		{"spoof is 403", spoofJPEG, nil, 403, "spoof", "presentation_attack"},
		{"no face is 422", noFaceJPG, nil, 422, "no_face", "face_not_detected"},
		{"no face allowed", noFaceJPG, func(h *Handler) { h.OnNoFace = "allow" }, 0, "no_face", "face_not_detected"},
		{"vendor down is 503", downJPEG, nil, 503, "error", "unavailable"},
		{"vendor down allowed", downJPEG, func(h *Handler) { h.OnError = "allow" }, 0, "error", "unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := testHandler(t, tt.configure, newFake("fake"))
			ct, body := multipartBody(t, "selfie", tt.img)
			up := &upstream{}
			repl, err := serve(h, post(ct, body), up)
			if got := statusOf(err); got != tt.status {
				t.Fatalf("status %d, want %d (err %v)", got, tt.status, err)
			}
			if v, _ := repl.GetString("http.liveness.verdict"); v != tt.verdict {
				t.Errorf("verdict placeholder %q, want %q", v, tt.verdict)
			}
			if v, _ := repl.GetString("http.liveness.reason"); v != tt.reason {
				t.Errorf("reason placeholder %q, want %q", v, tt.reason)
			}
			if tt.status != 0 {
				if up.calls != 0 {
					t.Fatal("upstream called for a denied request")
				}
				return
			}
			if up.calls != 1 {
				t.Fatalf("upstream called %d times", up.calls)
			}
			if !bytes.Equal(up.body, body) || up.cl != int64(len(body)) {
				t.Fatal("upstream body differs from what the client sent")
			}
			if got := up.header.Get("X-Liveness-Verdict"); got != tt.verdict {
				t.Errorf("Verdict header %q, want %q", got, tt.verdict)
			}
			if got := up.header.Get("X-Liveness-Image-Sha256"); got != hexSum(tt.img) {
				t.Errorf("Image-Sha256 header %q", got)
			}
		})
	}
}

func TestLiveHeadersAndForgedHeadersStripped(t *testing.T) {
	h, logs := testHandler(t, nil, newFake("fake"))
	ct, body := multipartBody(t, "selfie", liveJPEG)
	req := post(ct, body)
	req.Header.Set("X-Liveness-Verdict", "live")
	req.Header.Set("x-liveness-score", "1")
	req.Header.Set("X-Liveness-Anything", "forged")
	for _, name := range []string{"X_Liveness_Verdict", "X.Liveness.Verdict", "x-LIVENESS_reason", "X_liveness-Image.Sha256"} {
		req.Header[name] = []string{"live"} // as sent, not canonicalised
	}
	up := &upstream{}
	if _, err := serve(h, req, up); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"X-Liveness-Verdict":      "live",
		"X-Liveness-Score":        "0.9700",
		"X-Liveness-Vendor":       "fake",
		"X-Liveness-Cache":        "miss",
		"X-Liveness-Image-Sha256": hexSum(liveJPEG),
		"X-Liveness-Anything":     "",
		"X-Liveness-Reason":       "",
	}
	for k, v := range want {
		if got := up.header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	for name := range up.header {
		if n := strings.NewReplacer("_", "-", ".", "-").Replace(strings.ToLower(name)); strings.HasPrefix(n, "x-liveness-") && (name != http.CanonicalHeaderKey(n) || want[name] == "") {
			t.Errorf("forged header %s reached the upstream", name)
		}
	}
	if n := len(logs.FilterMessage("liveness decision").All()); n != 1 {
		t.Fatalf("%d decision log lines, want 1", n)
	}
	// A spoofed request is denied even when it claims to be live.
	ct, body = multipartBody(t, "selfie", spoofJPEG)
	req = post(ct, body)
	req.Header.Set("X-Liveness-Verdict", "live")
	if _, err := serve(h, req, up); statusOf(err) != 403 {
		t.Fatalf("forged live header let a spoof through: %v", err)
	}
}

func TestCacheHitAndThresholdChange(t *testing.T) {
	v := newFake("fake")
	h, _ := testHandler(t, nil, v)
	img := vendortest.SampleJPEG("score=0.60")
	for i, wantCache := range []string{"miss", "hit"} {
		ct, body := multipartBody(t, "selfie", img)
		up := &upstream{}
		if _, err := serve(h, post(ct, body), up); err != nil {
			t.Fatal(err)
		}
		if got := up.header.Get("X-Liveness-Cache"); got != wantCache {
			t.Fatalf("request %d: Cache %q, want %q", i, got, wantCache)
		}
		if !bytes.Equal(up.body, body) {
			t.Fatal("body altered")
		}
	}
	if v.calls.Load() != 1 {
		t.Fatalf("vendor called %d times, want 1", v.calls.Load())
	}
	// Raising the threshold re-decides the cached score without a call.
	t65 := 0.65
	h.Threshold = &t65
	ct, body := multipartBody(t, "selfie", img)
	repl, err := serve(h, post(ct, body), &upstream{})
	if statusOf(err) != 403 {
		t.Fatalf("threshold 0.65 on score 0.60: %v, want 403", err)
	}
	if c, _ := repl.GetString("http.liveness.cache"); c != "hit" || v.calls.Load() != 1 {
		t.Fatalf("cache %q, calls %d: the threshold change flushed the cache", c, v.calls.Load())
	}
}

func TestErrorsAreNotCached(t *testing.T) {
	v := newFake("fake")
	fail := true
	v.answer = func(m vendors.Media) (vendors.Result, error) {
		if fail {
			return vendors.Result{}, &vendors.Error{Vendor: "fake", Kind: vendors.KindUnavailable, Status: 500}
		}
		return byMarker(m)
	}
	h, _ := testHandler(t, nil, v)
	ct, body := multipartBody(t, "selfie", liveJPEG)
	if _, err := serve(h, post(ct, body), &upstream{}); statusOf(err) != 503 {
		t.Fatalf("got %v, want 503", err)
	}
	fail = false
	if _, err := serve(h, post(ct, body), &upstream{}); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
	// 1 + 2 retries for the 500, then 1 for the recovered vendor.
	if v.calls.Load() != 4 {
		t.Fatalf("calls %d, want 4", v.calls.Load())
	}
}

func TestSeveralImagesWorstWins(t *testing.T) {
	h, _ := testHandler(t, func(h *Handler) { h.Mode = "annotate" }, newFake("fake"))
	ct, body := multipartBody(t, "front", liveJPEG, "back", vendortest.SampleJPEG("score=0.8"), "third", spoofJPEG)
	up := &upstream{}
	if _, err := serve(h, post(ct, body), up); err != nil {
		t.Fatal(err)
	}
	if got := up.header.Get("X-Liveness-Verdict"); got != "spoof" {
		t.Errorf("Verdict %q, want spoof", got)
	}
	if got := up.header.Get("X-Liveness-Score"); got != "0.0300" {
		t.Errorf("Score %q, want the lowest 0.0300", got)
	}
	want := strings.Join([]string{hexSum(liveJPEG), hexSum(vendortest.SampleJPEG("score=0.8")), hexSum(spoofJPEG)}, ",")
	if got := up.header.Get("X-Liveness-Image-Sha256"); got != want {
		t.Errorf("Image-Sha256 %q, want %q", got, want)
	}
	// Cache is hit only when every image was.
	ct, body = multipartBody(t, "a", liveJPEG, "b", vendortest.SampleJPEG("score=0.9"))
	if _, _ = serve(h, post(ct, body), up); up.header.Get("X-Liveness-Cache") != "miss" {
		t.Errorf("Cache %q with one new image, want miss", up.header.Get("X-Liveness-Cache"))
	}
}

func TestModes(t *testing.T) {
	for _, mode := range []string{"annotate", "shadow"} {
		t.Run(mode, func(t *testing.T) {
			h, logs := testHandler(t, func(h *Handler) { h.Mode = mode }, newFake("fake"))
			cases := map[string]*http.Request{}
			ct, body := multipartBody(t, "selfie", spoofJPEG)
			cases["spoof"] = post(ct, body)
			cases["error"] = post("image/jpeg", []byte("\xff\xd8\xff not really a jpeg"))
			for name, req := range cases {
				sent := bodyOf(t, req)
				req.Header.Set("X-Liveness-Verdict", "live")
				up := &upstream{}
				repl, err := serve(h, req, up)
				if err != nil || up.calls != 1 {
					t.Fatalf("%s: %s must pass: err %v, upstream calls %d", name, mode, err, up.calls)
				}
				if !bytes.Equal(up.body, sent) {
					t.Fatalf("%s: body altered", name)
				}
				got := up.header.Get("X-Liveness-Verdict")
				if mode == "shadow" && got != "" {
					t.Fatalf("%s: shadow added a verdict header %q", name, got)
				}
				if mode == "annotate" && got != name {
					t.Fatalf("%s: annotate verdict header %q", name, got)
				}
				if v, _ := repl.GetString("http.liveness.verdict"); v != name {
					t.Fatalf("%s: placeholder %q", name, v)
				}
			}
			if n := len(logs.FilterField(fieldString("action", "would_deny")).All()); n != 2 {
				t.Fatalf("%d would_deny log lines, want 2", n)
			}
		})
	}
}

// The bad input corpus: each request gets its 4xx with a clear message,
// never a 5xx or a panic, and neither the vendor nor the upstream sees it.
func TestBadInputCorpus(t *testing.T) {
	big := vendortest.SampleJPEGSize("live", 300_000)
	truncated := func() (string, []byte) {
		ct, b := multipartBody(t, "selfie", liveJPEG)
		return ct, b[:len(b)/2]
	}
	chunked := func(r *http.Request) *http.Request { r.ContentLength = -1; return r }
	dup := `{"selfie":"` + dataURI("image/jpeg", liveJPEG) + `","selfie":"` + dataURI("image/jpeg", spoofJPEG) + `"}`
	tests := []struct {
		name    string
		sources []Source
		req     func() *http.Request
		status  int
		msg     string
	}{
		{"no image", nil, func() *http.Request { return post("application/json", []byte(`{"name":"x"}`)) }, 400, "no image found"},
		{"empty body", nil, func() *http.Request { return post("application/octet-stream", nil) }, 400, "no image found"},
		{"truncated multipart", nil, func() *http.Request { return post(truncated()) }, 400, "without its close delimiter"},
		{"multipart without boundary", nil, func() *http.Request { return post("multipart/form-data", []byte("--x\r\n")) }, 400, "without a boundary"},
		{"duplicate JSON fields", nil, func() *http.Request { return post("application/json", []byte(dup)) }, 400, "two keys of one JSON object"},
		{"invalid base64", []Source{{Type: "json", Fields: []string{"/img"}}}, func() *http.Request {
			return post("application/json", []byte(`{"img":"%%%not base64%%%"}`))
		}, 415, "not an image, a data URI or base64 of one"},
		{"data URI with a non-image type", nil, func() *http.Request {
			return post("application/json", []byte(`{"img":"`+dataURI("image/png", []byte("<html>hello</html>"))+`"}`))
		}, 415, "not an image"},
		{"bytes that claim PNG but are not", []Source{{Type: "body"}}, func() *http.Request {
			return post("image/png", []byte("\x89PNG but then nothing of the kind"))
		}, 415, "not an image"},
		{"PNG header declaring 100000x100000", nil, func() *http.Request { return post("image/png", hugePNG(100000, 100000)) }, 413, "pixels"},
		{"JPEG header declaring 65000x65000", nil, func() *http.Request { return post("image/jpeg", hugeJPEG(65000, 65000)) }, 413, "pixels"},
		{"zero-length image", nil, func() *http.Request { return post("application/json", []byte(`{"img":"data:image/jpeg;base64,"}`)) }, 415, "empty image"},
		{"zero-length file part is no image", []Source{{Type: "multipart", Fields: []string{"selfie"}}}, func() *http.Request {
			return post(multipartBody(t, "selfie", []byte{}))
		}, 400, "no image found"},
		{"deeply nested JSON", nil, func() *http.Request {
			return post("application/json", []byte(strings.Repeat(`{"a":`, 10000)+`1`+strings.Repeat(`}`, 10000)))
		}, 400, "nested deeper"},
		{"JSON over max_size", nil, func() *http.Request {
			return post("application/json", []byte(`{"img":"`+dataURI("image/jpeg", big)+`"}`))
		}, 413, "over the limit"},
		{"wrong Content-Type for a JSON body", nil, func() *http.Request {
			return post("multipart/form-data; boundary=xyz", []byte(`{"img":"`+dataURI("image/jpeg", liveJPEG)+`"}`))
		}, 400, "does not start with its boundary"},
		{"chunked body over max_size", nil, func() *http.Request { return chunked(post("image/jpeg", big)) }, 413, "over the limit"},
		{"body over max_size by Content-Length", nil, func() *http.Request { return post("image/jpeg", big) }, 413, "over the limit"},
		{"GIF without pixels", nil, func() *http.Request { return post("image/gif", []byte("GIF89a\x00\x00\x00\x00\x00\x00\x00")) }, 415, "no pixels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newFake("fake")
			h, logs := testHandler(t, func(h *Handler) { h.MaxSize = 200_000; h.Sources = tt.sources }, v)
			up := &upstream{}
			_, err := serve(h, tt.req(), up)
			if got := statusOf(err); got != tt.status {
				t.Fatalf("status %d, want %d (%v)", got, tt.status, err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("message %q, want it to say %q", err.Error(), tt.msg)
			}
			if up.calls != 0 || v.calls.Load() != 0 {
				t.Fatalf("upstream %d / vendor %d calls for bad input", up.calls, v.calls.Load())
			}
			if len(logs.FilterField(fieldString("action", "deny")).All()) != 1 {
				t.Fatal("no deny log line")
			}
		})
	}
}

// Over max_size in annotate mode the request passes with every byte,
// including those past the limit that were never buffered.
func TestOversizedPassesWholeInAnnotate(t *testing.T) {
	h, _ := testHandler(t, func(h *Handler) { h.Mode = "annotate"; h.MaxSize = 1000 }, newFake("fake"))
	body := vendortest.SampleJPEGSize("live", 5000)
	for _, chunked := range []bool{false, true} {
		req := post("image/jpeg", body)
		if chunked {
			req.ContentLength = -1
		}
		up := &upstream{}
		if _, err := serve(h, req, up); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(up.body, body) {
			t.Fatalf("chunked=%v: upstream got %d bytes, want %d", chunked, len(up.body), len(body))
		}
		if up.header.Get("X-Liveness-Verdict") != "error" || up.header.Get("X-Liveness-Reason") != "too_large" {
			t.Fatalf("chunked=%v: headers %v", chunked, up.header)
		}
	}
}

func TestMissingAllowed(t *testing.T) {
	h, _ := testHandler(t, func(h *Handler) { h.OnMissing = "allow" }, newFake("fake"))
	up := &upstream{}
	body := []byte(`{"name":"x"}`)
	if _, err := serve(h, post("application/json", body), up); err != nil {
		t.Fatal(err)
	}
	if up.header.Get("X-Liveness-Verdict") != "" || up.header.Get("X-Liveness-Reason") != "missing_image" {
		t.Fatalf("headers %v", up.header)
	}
	if !bytes.Equal(up.body, body) {
		t.Fatal("body altered")
	}
}

func TestFallbackOnVendorError(t *testing.T) {
	primary := newFake("first")
	primary.answer = func(vendors.Media) (vendors.Result, error) {
		return vendors.Result{}, &vendors.Error{Vendor: "first", Kind: vendors.KindUnavailable, Status: 502}
	}
	second := newFake("second")
	h, _ := testHandler(t, nil, primary, second)
	ct, body := multipartBody(t, "selfie", spoofJPEG)
	repl, err := serve(h, post(ct, body), &upstream{})
	if statusOf(err) != 403 {
		t.Fatalf("got %v, want the second vendor's spoof (403)", err)
	}
	if v, _ := repl.GetString("http.liveness.vendor"); v != "second" {
		t.Fatalf("vendor %q, want second", v)
	}
	// A verdict never falls back.
	primary.answer = byMarker
	second.calls.Store(0)
	ct, body = multipartBody(t, "selfie", vendortest.SampleJPEG("score=0.1"))
	if _, err := serve(h, post(ct, body), &upstream{}); statusOf(err) != 403 || second.calls.Load() != 0 {
		t.Fatalf("spoof from the primary fell back: %v, second calls %d", err, second.calls.Load())
	}
}

// A vendor that hangs gets its share of the timeout, not all of it: the
// fallback still answers in time.
func TestFallbackAfterAHang(t *testing.T) {
	hung := newFake("hung")
	hung.gate = make(chan struct{}) // never opens
	second := newFake("second")
	h, _ := testHandler(t, func(h *Handler) { h.Timeout = caddy.Duration(time.Second) }, hung, second)
	ct, body := multipartBody(t, "selfie", liveJPEG)
	up := &upstream{}
	repl, err := serve(h, post(ct, body), up)
	if err != nil || up.calls != 1 {
		t.Fatalf("err %v, upstream calls %d", err, up.calls)
	}
	if v, _ := repl.GetString("http.liveness.vendor"); v != "second" || hung.calls.Load() != 1 {
		t.Fatalf("vendor %q, hung vendor calls %d", v, hung.calls.Load())
	}
}

// Identical images at once make one vendor call.
func TestSingleflight(t *testing.T) {
	v := newFake("fake")
	v.gate = make(chan struct{})
	v.started = make(chan struct{}, 100)
	h, _ := testHandler(t, nil, v)
	const n = 20
	ct, body := multipartBody(t, "selfie", liveJPEG)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	ups := make([]*upstream, n)
	for i := range n {
		ups[i] = &upstream{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := serve(h, post(ct, body), ups[i])
			errs <- err
		}()
	}
	<-v.started // the one call is in flight; the rest join it or hit the cache
	close(v.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if c := v.calls.Load(); c != 1 {
		t.Fatalf("%d vendor calls for %d identical images, want 1", c, n)
	}
	for _, u := range ups {
		if !bytes.Equal(u.body, body) {
			t.Fatal("body altered")
		}
	}
}

func bodyOf(t *testing.T, r *http.Request) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(r.Body); err != nil {
		t.Fatal(err)
	}
	r.Body = httptest.NewRequest("POST", "/", bytes.NewReader(buf.Bytes())).Body
	return buf.Bytes()
}

// An ambiguous request is 400 ambiguous_request in enforce, passes with
// verdict error and that reason in annotate, is only logged in shadow;
// every mode logs the rule it broke, and nothing reaches the vendor.
func TestAmbiguousRequestInEachMode(t *testing.T) {
	for _, mode := range []string{"enforce", "annotate", "shadow"} {
		t.Run(mode, func(t *testing.T) {
			v := newFake("fake")
			h, logs := testHandler(t, func(h *Handler) { h.Mode = mode }, v)
			ct, body := multipartBody(t, "selfie", liveJPEG)
			req := post(ct, body)
			req.Header.Add("Content-Type", "text/plain")
			up := &upstream{}
			repl, err := serve(h, req, up)
			if mode == "enforce" {
				if statusOf(err) != http.StatusBadRequest || !strings.Contains(err.Error(), "ambiguous request") || up.calls != 0 {
					t.Fatalf("err %v, upstream calls %d", err, up.calls)
				}
			} else {
				if err != nil || up.calls != 1 || !bytes.Equal(up.body, body) {
					t.Fatalf("err %v, upstream calls %d", err, up.calls)
				}
				want := map[string]string{"annotate": "error", "shadow": ""}[mode]
				if got := up.header.Get("X-Liveness-Verdict"); got != want {
					t.Fatalf("verdict header %q, want %q", got, want)
				}
				if want != "" && up.header.Get("X-Liveness-Reason") != "ambiguous_request" {
					t.Fatalf("reason header %q", up.header.Get("X-Liveness-Reason"))
				}
			}
			if r, _ := repl.GetString("http.liveness.reason"); r != "ambiguous_request" {
				t.Errorf("reason placeholder %q", r)
			}
			if v.calls.Load() != 0 {
				t.Errorf("%d vendor calls", v.calls.Load())
			}
			if n := len(logs.FilterField(fieldString("rule", "content-type-twice")).All()); n != 1 {
				t.Errorf("%d log lines naming the rule, want 1", n)
			}
		})
	}
}

// The decision log gives the size of a body refused by its Content-Length
// (unread) as that Content-Length, and of a body read as the bytes read.
func TestDecisionLogSize(t *testing.T) {
	h, logs := testHandler(t, func(h *Handler) { h.MaxSize = 4000 }, newFake("size"))
	ct, payload := multipartBody(t, "selfie", vendortest.SampleJPEGSize("live", 8000))
	if _, err := serve(h, post(ct, payload), &upstream{}); statusOf(err) != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413", statusOf(err))
	}
	ct, small := multipartBody(t, "selfie", vendortest.SampleJPEGSize("live", 600))
	if _, err := serve(h, post(ct, small), &upstream{}); err != nil {
		t.Fatal(err)
	}
	var sizes []int64
	for _, e := range logs.FilterMessage("liveness decision").All() {
		sizes = append(sizes, e.ContextMap()["size"].(int64))
	}
	if want := []int64{int64(len(payload)), int64(len(small))}; !slices.Equal(sizes, want) {
		t.Fatalf("logged sizes %v, want %v", sizes, want)
	}
}
