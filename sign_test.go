package caddyliveness

import (
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddy-liveness/caddy-liveness/verify"
)

// What the handler signs, an upstream verifies with package verify; any
// change to the forwarded verdict breaks it.
func TestSignedVerdicts(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	h, _ := testHandler(t, func(h *Handler) { h.Mode = "annotate" }, newFake("fake"))
	h.signKey, h.now = []byte("sign-key-1"), c.now
	ct, body := multipartBody(t, "selfie", spoofJPEG)
	req := post(ct, body)
	req.Header.Set("X-Liveness-Signature", "t=1,v1=forged")
	up := &upstream{}
	if _, err := serve(h, req, up); err != nil {
		t.Fatal(err)
	}
	sig := up.header.Get("X-Liveness-Signature")
	if sig == "" || sig == "t=1,v1=forged" {
		t.Fatalf("signature %q", sig)
	}
	upstreamReq := httptest.NewRequest("POST", "/upload", nil)
	upstreamReq.Header = up.header.Clone()
	if err := verify.Verify(upstreamReq, "X-Liveness-", []byte("sign-key-1"), time.Minute, c.t); err != nil {
		t.Fatalf("upstream could not verify: %v", err)
	}
	upstreamReq.Header.Set("X-Liveness-Verdict", "live")
	if err := verify.Verify(upstreamReq, "X-Liveness-", []byte("sign-key-1"), time.Minute, c.t); !errors.Is(err, verify.ErrMismatch) {
		t.Fatalf("a forged verdict verified: %v", err)
	}
	// Without sign_key no signature is added.
	h.signKey = nil
	up = &upstream{}
	ct, body = multipartBody(t, "selfie", liveJPEG)
	serve(h, post(ct, body), up)
	if up.header.Get("X-Liveness-Signature") != "" {
		t.Fatal("signed without a key")
	}
}
