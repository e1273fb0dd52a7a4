package caddyliveness

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-liveness/caddy-liveness/internal/body"
	"github.com/caddy-liveness/caddy-liveness/vendors"
	"github.com/caddy-liveness/caddy-liveness/vendors/vendortest"
)

// rawServer serves h on a loopback listener, as Caddy would (a replacer in
// the context), with next as the handler after it.
func rawServer(t *testing.T, h *Handler, next caddyhttp.Handler) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer()))
		if err := h.ServeHTTP(w, r, next); err != nil {
			var he caddyhttp.HandlerError
			if ok := asHandlerError(err, &he); ok {
				w.WriteHeader(he.StatusCode)
				return
			}
			w.WriteHeader(500)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

func asHandlerError(err error, he *caddyhttp.HandlerError) bool {
	e, ok := err.(caddyhttp.HandlerError)
	if ok {
		*he = e
	}
	return ok
}

// A client that declares a large body and sends little holds only what it
// sent (buffers grow as bytes arrive), and one slower than body_min_rate
// is cut with 408, its budget given back.
func TestSlowBodyHoldsWhatItSentAndIsCut(t *testing.T) {
	h, _ := testHandler(t, func(h *Handler) { h.MaxSize = 10 << 20; h.BodyMinRate = 1 << 20 }, newFake("fake"))
	h.bodyGrace = 300 * time.Millisecond
	addr := rawServer(t, h, caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error { return nil }))
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n", 10<<20)
	conn.Write(bytes.Repeat([]byte{0xFF}, 1000))
	for deadline := time.Now().Add(5 * time.Second); h.budget.Held() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the handler never started on the body")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if held := h.budget.Held(); held > firstBuffer {
		t.Fatalf("%d bytes held for a client that sent 1000 of 10 MiB", held)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("status %d, want 408", resp.StatusCode)
	}
	if h.budget.Held() != 0 {
		t.Fatalf("%d bytes still held after the cut", h.budget.Held())
	}
}

// With no budget left: 503 with Retry-After in enforce; in annotate the
// request passes whole, verdict error, reason overloaded, no vendor call.
func TestNoBudgetIs503OrPassesUnchecked(t *testing.T) {
	img := vendortest.SampleJPEGSize("live", 200_000)
	ct, payload := multipartBody(t, "selfie", img)
	for _, mode := range []string{"enforce", "annotate"} {
		t.Run(mode, func(t *testing.T) {
			v := newFake("fake")
			h, _ := testHandler(t, func(h *Handler) { h.Mode = mode; h.MaxSize = 100_000; h.MaxBuffered = 1_200_000 }, v)
			// Another client holds all but 100 KB of it.
			share := h.MaxBuffered / body.ClientShares
			if err := body.NewLease(h.budget, "other").Take(t.Context(), share); err != nil {
				t.Fatal(err)
			}
			for _, c := range []string{"x", "y"} {
				body.NewLease(h.budget, c).Take(t.Context(), share)
			}
			body.NewLease(h.budget, "z").Take(t.Context(), share-100_000)
			h.MaxSize = 1 << 20 // the request itself is allowed, only the budget is short
			var up *http.Request
			var got []byte
			addr := rawServer(t, h, caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
				up = r
				got, _ = io.ReadAll(r.Body)
				return nil
			}))
			resp, err := http.Post("http://"+addr+"/upload", ct, bytes.NewReader(payload))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if v.calls.Load() != 0 {
				t.Fatalf("%d vendor calls", v.calls.Load())
			}
			if mode == "enforce" {
				if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || up != nil {
					t.Fatalf("status %d, Retry-After %q, upstream reached %v", resp.StatusCode, resp.Header.Get("Retry-After"), up != nil)
				}
				return
			}
			if resp.StatusCode != 200 || up == nil || !bytes.Equal(got, payload) {
				t.Fatalf("status %d, upstream payload %d of %d bytes", resp.StatusCode, len(got), len(payload))
			}
			if up.Header.Get("X-Liveness-Verdict") != "error" || up.Header.Get("X-Liveness-Reason") != "overloaded" {
				t.Fatalf("headers %v", up.Header)
			}
		})
	}
}

// More images than max_images is 413 before any vendor call, in every
// mode; annotate passes it with verdict error.
func TestMaxImages(t *testing.T) {
	var parts []any
	for i := range 5 {
		parts = append(parts, fmt.Sprintf("img%d", i), vendortest.SampleJPEG(fmt.Sprintf("score=0.6%d", i)))
	}
	ct, body := multipartBody(t, parts...)
	for _, mode := range []string{"enforce", "annotate", "shadow"} {
		v := newFake("fake")
		h, _ := testHandler(t, func(h *Handler) { h.Mode = mode }, v)
		up := &upstream{}
		_, err := serve(h, post(ct, body), up)
		if v.calls.Load() != 0 {
			t.Fatalf("%s: %d vendor calls for 5 images over max_images 4", mode, v.calls.Load())
		}
		if mode == "enforce" && statusOf(err) != http.StatusRequestEntityTooLarge {
			t.Fatalf("enforce: %v", err)
		}
		if mode == "annotate" && (err != nil || up.header.Get("X-Liveness-Verdict") != "error" || up.header.Get("X-Liveness-Reason") != "too_large") {
			t.Fatalf("annotate: %v %v", err, up.header)
		}
	}
	// Four are fine.
	ct, body = multipartBody(t, parts[:8]...)
	v := newFake("fake")
	h, _ := testHandler(t, nil, v)
	if _, err := serve(h, post(ct, body), &upstream{}); err != nil || v.calls.Load() != 4 {
		t.Fatalf("four images: %v, %d calls", err, v.calls.Load())
	}
}

// slowVendor answers once release is closed and records the SHA-256 of
// what it was sent, read only then: after the request that asked is gone.
type slowVendor struct {
	release chan struct{}
	sums    chan [32]byte
	calls   atomic.Int32
}

func (v *slowVendor) Name() string                    { return "slow" }
func (v *slowVendor) Profile(*vendors.Request) string { return "slow" }
func (v *slowVendor) Check(ctx context.Context, r *vendors.Request) (vendors.Result, error) {
	v.calls.Add(1)
	<-v.release
	v.sums <- sha256.Sum256(r.Media.Data)
	return vendors.Result{Class: vendors.ClassFace, Score: 0.9, HasScore: true}, nil
}

// A vendor call that outlives its request keeps the image's buffers (and
// their budget) until it ends: the bytes it reads are intact, and then all
// is given back.
func TestVendorCallOutlivingItsRequestKeepsTheImage(t *testing.T) {
	v := &slowVendor{release: make(chan struct{}), sums: make(chan [32]byte, 1)}
	h, _ := testHandler(t, func(h *Handler) { h.Timeout = caddy.Duration(50 * time.Millisecond) }, v)
	img := vendortest.SampleJPEGSize("live", 200_000)
	ct, body := multipartBody(t, "selfie", img)
	if _, err := serve(h, post(ct, body), &upstream{}); statusOf(err) != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503 (timeout)", statusOf(err))
	}
	if h.budget.Held() == 0 {
		t.Fatal("the image's budget went back while the vendor call runs")
	}
	// Other requests reuse pooled buffers meanwhile; the call's must stay.
	for range 5 {
		ct2, body2 := multipartBody(t, "selfie", bytes.Repeat([]byte{1}, 200_000))
		serve(h, post(ct2, body2), &upstream{})
	}
	close(v.release)
	if got := <-v.sums; got != sha256.Sum256(img) {
		t.Fatal("the vendor read an image overwritten after its request ended")
	}
	for deadline := time.Now().Add(5 * time.Second); h.budget.Held() != 0; {
		if time.Now().After(deadline) {
			t.Fatalf("%d bytes still held after the call ended", h.budget.Held())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// max_buffered must leave one client room for one upload.
func TestMaxBufferedMustFitUploads(t *testing.T) {
	h := &Handler{MaxBuffered: 100 << 20, MaxSize: 10 << 20}
	h.setDefaults()
	if err := h.validate(); err == nil || !strings.Contains(err.Error(), "max_buffered") {
		t.Fatalf("max_buffered 100 MiB with max_size 10 MiB: %v", err)
	}
	h = &Handler{MaxBuffered: 120 << 20, MaxSize: 10 << 20}
	h.setDefaults()
	if err := h.validate(); err != nil {
		t.Fatal(err)
	}
}
