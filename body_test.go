package caddyliveness

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-liveness/caddy-liveness/internal/body"
	"github.com/caddy-liveness/caddy-liveness/vendors/vendortest"
)

// Through the handler: every buffer and byte of budget goes back once
// nothing can read it — at once for a denial, when the upstream has read
// the body for a pass, when the vendor call has ended for a miss.
func TestHandlerRecyclesBodiesOnlyWhenSafe(t *testing.T) {
	v := newFake("fake")
	h, _ := testHandler(t, nil, v)
	live := vendortest.SampleJPEGSize("live", 100_000)
	spoof := vendortest.SampleJPEGSize("spoof", 100_000)

	send := func(img []byte) int {
		ct, body := multipartBody(t, "selfie", img)
		up := &upstream{}
		_, err := serve(h, post(ct, body), up)
		if up.calls == 1 && !bytes.Equal(up.body, body) {
			t.Fatal("upstream body differs")
		}
		return statusOf(err)
	}
	for i, c := range []struct {
		img    []byte
		status int
	}{{live, 0}, {live, 0}, {spoof, http.StatusForbidden}, {spoof, http.StatusForbidden}} {
		if s := send(c.img); s != c.status || h.budget.Held() != 0 {
			t.Fatalf("request %d: status %d, %d bytes still held", i, s, h.budget.Held())
		}
	}

	// The upstream reading on after the handler returned: given back only
	// at its end.
	ct, payload := multipartBody(t, "selfie", live)
	var late *body.Body
	err := h.ServeHTTP(nil, post(ct, payload), caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		late, _ = r.Body.(*body.Body)
		return nil
	}))
	if err != nil || late == nil || h.budget.Held() == 0 {
		t.Fatalf("err %v, pooled %v, %d held", err, late != nil, h.budget.Held())
	}
	if b, _ := io.ReadAll(late); !bytes.Equal(b, payload) || h.budget.Held() != 0 {
		t.Fatalf("late read: %d held", h.budget.Held())
	}
}
