package caddyliveness

import (
	"bytes"
	"context"
	"image"
	"image/draw"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/caddy-liveness/caddy-liveness/vendors"
	"github.com/caddy-liveness/caddy-liveness/vendors/vendortest"
)

// The sample faces of minivision's Silent-Face-Anti-Spoofing (Apache-2.0):
// T1 is a live face, F1 a printed photo, F2 a screen replay.
func sampleFace(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("vendors", "local", "preproc", "testdata", "local-model", "faces", "minivision_image_"+name+".jpg"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// localVendor is vendor local as the Caddyfile sets it up.
func localVendor(t testing.TB, block string) *vendors.Local {
	t.Helper()
	l := new(vendors.Local)
	if err := l.UnmarshalCaddyfile(caddyfile.NewTestDispenser(block)); err != nil {
		t.Fatal(err)
	}
	if err := l.Provision(newCaddyContext(t.(*testing.T))); err != nil {
		t.Fatal(err)
	}
	return l
}

// The offline check judges the sample faces with no account and no
// network: the live one passes with its score, the spoofs are refused,
// a picture without a face is 422, a video 415.
func TestLocalVendorJudgesSampleFaces(t *testing.T) {
	h, logs := testHandler(t, nil, localVendor(t, "local"))
	for _, c := range []struct {
		name, field string
		data        []byte
		status      int
		verdict     string
		reason      string
	}{
		{"live", "selfie", sampleFace(t, "T1"), 0, "live", ""},
		{"print", "selfie", sampleFace(t, "F1"), 403, "spoof", ""},
		{"replay", "selfie", sampleFace(t, "F2"), 403, "spoof", ""},
		{"no face", "selfie", vendortest.FacelessPNG(320, 240), 422, "no_face", "face_not_detected"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ct, body := multipartBody(t, c.field, c.data)
			up := &upstream{}
			repl, err := serve(h, post(ct, body), up)
			if got := statusOf(err); got != c.status {
				t.Fatalf("status %d, want %d (%v)", got, c.status, err)
			}
			if v, _ := repl.Get("http.liveness.verdict"); toString(v) != c.verdict {
				t.Errorf("verdict %v, want %s", v, c.verdict)
			}
			if c.reason != "" && !logHas(logs, c.reason) {
				t.Errorf("no log line with reason %s", c.reason)
			}
			if c.status != 0 {
				if up.calls != 0 {
					t.Fatal("a refused upload reached the upstream")
				}
				return
			}
			if up.calls != 1 || !bytes.Equal(up.body, body) {
				t.Fatal("the upstream did not get the body unchanged")
			}
			if up.header.Get("X-Liveness-Vendor") != "local" || up.header.Get("X-Liveness-Verdict") != "live" {
				t.Errorf("verdict headers %v", up.header)
			}
		})
	}
}

func TestLocalVendorRefusesVideo(t *testing.T) {
	l := localVendor(t, "local")
	_, err := l.Check(context.Background(), &vendors.Request{Media: vendors.Media{Data: []byte("\x00\x00\x00\x18ftypmp42"), MIME: "video/mp4"}})
	if vendors.KindOf(err) != vendors.KindUnsupported {
		t.Fatalf("video: %v, want unsupported_media", err)
	}
	_, err = l.Check(context.Background(), &vendors.Request{Media: vendors.Media{Data: []byte("\xff\xd8\xff\xe0 not a jpeg"), MIME: "image/jpeg"}})
	if vendors.KindOf(err) != vendors.KindInvalidMedia {
		t.Fatalf("broken JPEG: %v, want invalid_media", err)
	}
}

func TestLocalVendorCaddyfileErrors(t *testing.T) {
	for _, in := range []string{
		"local {\n max_concurrent 0\n}",
		"local {\n max_concurrent two\n}",
		"local {\n model big\n}",
		"local extra",
	} {
		if err := new(vendors.Local).UnmarshalCaddyfile(caddyfile.NewTestDispenser(in)); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

// The cache key of a local verdict holds the weights' digests.
func TestLocalVendorProfileHoldsWeightDigests(t *testing.T) {
	p := localVendor(t, "local").Profile(nil)
	for _, d := range []string{"4eed38f0bde33c9b805942a5f25e42ce1161e2bda545254be622be957727794e", "d819a69bac6b9ade2a0f4d9b60b618e1260f7bf3ba1fddff6c5d82131cb1083f", "c41026aa6899965d4e926d5e562fc2c714d2528b4d532936b5b880a97e75785b"} {
		if !strings.Contains(p, d) {
			t.Errorf("profile %q lacks %s", p, d)
		}
	}
}

// Several faces give a 422 that says so, and no vendor call with the
// prescreen; the upstream never sees the request.
func TestLocalSeveralFaces(t *testing.T) {
	two := sideBySide(t, "T1", "F2")
	paid := newFake("paid")
	for _, c := range []struct {
		name string
		h    *Handler
	}{
		{"local", func() *Handler { h, _ := testHandler(t, nil, localVendor(t, "local")); return h }()},
		{"prescreen", func() *Handler {
			h, _ := testHandler(t, func(h *Handler) { h.Prescreen = true }, paid)
			var err error
			if h.prescreen, err = vendors.NewPrescreen(1); err != nil {
				t.Fatal(err)
			}
			return h
		}()},
	} {
		ct, body := multipartBody(t, "selfie", two)
		up := &upstream{}
		repl, err := serve(c.h, post(ct, body), up)
		he, _ := err.(caddyhttp.HandlerError)
		if he.StatusCode != 422 || !strings.Contains(he.Err.Error(), "more than one face") || up.calls != 0 {
			t.Fatalf("%s: %v, upstream calls %d", c.name, err, up.calls)
		}
		if r, _ := repl.Get("http.liveness.reason"); toString(r) != "several_faces" {
			t.Errorf("%s: reason %v", c.name, r)
		}
	}
	if paid.calls.Load() != 0 {
		t.Fatalf("the vendor was called %d times", paid.calls.Load())
	}
}

// sideBySide puts two sample faces (upright: as decoded with their EXIF
// orientation applied) side by side in one PNG.
func sideBySide(t testing.TB, a, b string) []byte {
	t.Helper()
	var imgs []image.Image
	for _, n := range []string{a, b} {
		f, err := os.Open(filepath.Join("vendors", "local", "preproc", "testdata", "local-model", "golden_retinaface", "minivision_image_"+n+".oriented.png"))
		if err != nil {
			t.Fatal(err)
		}
		m, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, m)
	}
	w, h := imgs[0].Bounds().Dx()+imgs[1].Bounds().Dx(), max(imgs[0].Bounds().Dy(), imgs[1].Bounds().Dy())
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(out, imgs[0].Bounds(), imgs[0], image.Point{}, draw.Src)
	draw.Draw(out, imgs[1].Bounds().Add(image.Pt(imgs[0].Bounds().Dx(), 0)), imgs[1], image.Point{}, draw.Src)
	var buf bytes.Buffer
	if err := png.Encode(&buf, out); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// A paid vendor first, vendor local when it is down.
func TestLocalVendorAsFallback(t *testing.T) {
	down := &fakeVendor{name: "paid", answer: func(vendors.Media) (vendors.Result, error) {
		return vendors.Result{}, &vendors.Error{Vendor: "paid", Kind: vendors.KindUnavailable, Status: 502}
	}}
	h, _ := testHandler(t, func(h *Handler) { r := 0; h.Retries = &r }, down, localVendor(t, "local"))
	ct, body := multipartBody(t, "selfie", sampleFace(t, "T1"))
	up := &upstream{}
	_, err := serve(h, post(ct, body), up)
	if err != nil || up.calls != 1 {
		t.Fatalf("err %v, upstream calls %d", err, up.calls)
	}
	if down.calls.Load() != 1 || up.header.Get("X-Liveness-Vendor") != "local" {
		t.Fatalf("paid calls %d, vendor header %q", down.calls.Load(), up.header.Get("X-Liveness-Vendor"))
	}
	ct, body = multipartBody(t, "selfie", sampleFace(t, "F2"))
	if _, err := serve(h, post(ct, body), &upstream{}); statusOf(err) != 403 {
		t.Fatalf("spoof through the fallback: %v", err)
	}
}

// The prescreen refuses a faceless image without a vendor call, counts
// the call saved, caches its answer, and lets a face through to the vendor.
func TestPrescreenSavesVendorCalls(t *testing.T) {
	paid := &fakeVendor{name: "paid", answer: func(vendors.Media) (vendors.Result, error) {
		return vendors.Result{Class: vendors.ClassFace, Score: 0.9, HasScore: true, DefaultThreshold: 0.5}, nil
	}}
	h, logs := testHandler(t, func(h *Handler) { h.Prescreen = true }, paid)
	var err error
	if h.prescreen, err = vendors.NewPrescreen(2); err != nil {
		t.Fatal(err)
	}
	saved := func() float64 {
		return testutil.ToFloat64(metrics.prescreened.WithLabelValues(h.Name, "face_not_detected"))
	}
	before := saved()
	grey := vendortest.FacelessPNG(320, 240)
	for i := range 2 {
		ct, body := multipartBody(t, "selfie", grey)
		repl, err := serve(h, post(ct, body), &upstream{})
		if statusOf(err) != 422 {
			t.Fatalf("faceless image %d: %v, want 422", i, err)
		}
		if v, _ := repl.Get("http.liveness.vendor"); toString(v) != "prescreen" {
			t.Errorf("decided by %v, want prescreen", v)
		}
	}
	if paid.calls.Load() != 0 {
		t.Fatalf("the vendor was called %d times for a faceless image", paid.calls.Load())
	}
	if d := saved() - before; d != 2 {
		t.Fatalf("calls saved counted %v, want 2", d)
	}
	if !logHas(logs, "face_not_detected") {
		t.Error("no log line with the reason")
	}
	ct, body := multipartBody(t, "selfie", sampleFace(t, "F1"))
	up := &upstream{}
	if _, err := serve(h, post(ct, body), up); err != nil || up.calls != 1 {
		t.Fatalf("a face did not reach the vendor: %v", err)
	}
	if paid.calls.Load() != 1 {
		t.Fatalf("vendor calls %d, want 1", paid.calls.Load())
	}
}

// An image the prescreen cannot read (here a JPEG cut short: its header
// is whole, its pixels are not) is left to the vendor, which judges it as
// it would have without the prescreen.
func TestPrescreenFailureLeavesTheImageToTheVendor(t *testing.T) {
	paid := newFake("paid")
	h, _ := testHandler(t, func(h *Handler) { h.Prescreen = true }, paid)
	var err error
	if h.prescreen, err = vendors.NewPrescreen(1); err != nil {
		t.Fatal(err)
	}
	face := sampleFace(t, "T1")
	ct, body := multipartBody(t, "selfie", face[:len(face)/2])
	serve(h, post(ct, body), &upstream{})
	if paid.calls.Load() != 1 {
		t.Fatalf("vendor calls %d, want 1", paid.calls.Load())
	}
}

// A prescreen that waits for a slot leaves most of the deadline to the
// vendor.
func TestPrescreenWaitIsAQuarterOfTheDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	if d := prescreenWait(ctx); d > time.Second || d < 900*time.Millisecond {
		t.Fatalf("wait %v of a 4s deadline, want about 1s", d)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), time.Minute)
	defer cancel2()
	if d := prescreenWait(ctx2); d != 2*time.Second {
		t.Fatalf("wait %v of a minute, want 2s", d)
	}
}

// In annotate mode a spoof reaches the upstream with its verdict; in
// shadow mode with no verdict header at all.
func TestLocalVendorInEveryMode(t *testing.T) {
	for _, mode := range []string{"annotate", "shadow"} {
		h, _ := testHandler(t, func(h *Handler) { h.Mode = mode }, localVendor(t, "local"))
		ct, body := multipartBody(t, "selfie", sampleFace(t, "F2"))
		up := &upstream{}
		repl, err := serve(h, post(ct, body), up)
		if err != nil || up.calls != 1 || !bytes.Equal(up.body, body) {
			t.Fatalf("%s: %v, upstream calls %d", mode, err, up.calls)
		}
		if v, _ := repl.Get("http.liveness.verdict"); toString(v) != "spoof" {
			t.Errorf("%s: verdict %v", mode, v)
		}
		want := map[string]string{"annotate": "spoof", "shadow": ""}[mode]
		if got := up.header.Get("X-Liveness-Verdict"); got != want {
			t.Errorf("%s: upstream verdict header %q, want %q", mode, got, want)
		}
	}
}
