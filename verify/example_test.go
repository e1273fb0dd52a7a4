package verify_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/caddy-liveness/caddy-liveness/verify"
)

// requireLiveness is upstream middleware: it passes a request on only if
// the gateway signed its verdict headers within the last minute and the
// verdict is live.
func requireLiveness(key []byte, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := verify.Verify(r, "X-Liveness-", key, time.Minute, time.Now())
		switch {
		case errors.Is(err, verify.ErrMissing):
			http.Error(w, "not sent through the liveness gateway", http.StatusForbidden)
			return
		case err != nil: // ErrMalformed, ErrMismatch, ErrExpired
			http.Error(w, "bad liveness signature", http.StatusForbidden)
			return
		}
		// The headers are now trustworthy.
		if r.Header.Get("X-Liveness-Verdict") != "live" {
			http.Error(w, "liveness check failed", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func ExampleVerify() {
	key := []byte("a shared secret of 32 bytes or more")
	upload := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "stored; checked by", r.Header.Get("X-Liveness-Vendor"))
	})
	h := requireLiveness(key, upload)

	serve := func(r *http.Request) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Print(w.Code, " ", w.Body.String())
	}

	// A request as the gateway forwards it (the gateway side is ExampleSign).
	r := httptest.NewRequest("POST", "/upload", nil)
	r.Header.Set("X-Liveness-Verdict", "live")
	r.Header.Set("X-Liveness-Vendor", "spoofsense")
	f, _ := verify.FromRequest(r, "X-Liveness-") // ErrMissing: not signed yet
	f.Timestamp = time.Now().Unix()
	r.Header.Set("X-Liveness-Signature", verify.Sign(key, f))
	serve(r)

	// A client that reaches the upstream directly and writes its own verdict.
	forged := httptest.NewRequest("POST", "/upload", nil)
	forged.Header.Set("X-Liveness-Verdict", "live")
	serve(forged)

	// The signed request with one of its headers rewritten.
	r.Header.Set("X-Liveness-Vendor", "another")
	serve(r)

	// Output:
	// 200 stored; checked by spoofsense
	// 403 not sent through the liveness gateway
	// 403 bad liveness signature
}

// ExampleSign shows the gateway's side: after setting the verdict headers,
// it signs what it set.
func ExampleSign() {
	key := []byte("test-key")
	r := httptest.NewRequest("POST", "/upload", nil)
	r.Header.Set("X-Liveness-Verdict", "live")
	r.Header.Set("X-Liveness-Score", "0.9700")

	f, err := verify.FromRequest(r, "X-Liveness-")
	if err != nil && !errors.Is(err, verify.ErrMissing) {
		panic(err) // a verdict header given twice
	}
	f.Timestamp = 1700000000 // time.Now().Unix() in the gateway
	r.Header.Set("X-Liveness-Signature", verify.Sign(key, f))

	fmt.Println(verify.Verify(r, "X-Liveness-", key, time.Minute, time.Unix(1700000010, 0)))
	fmt.Println(verify.Verify(r, "X-Liveness-", key, time.Minute, time.Unix(1700000100, 0)) != nil)
	// Output:
	// <nil>
	// true
}
