package vendors_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-liveness/caddy-liveness/vendors"
	"github.com/caddy-liveness/caddy-liveness/vendors/vendortest"
)

// hostileVendor is one vendor client with its emulator, for the tests of
// answers that try to turn the client.
type hostileVendor struct {
	name string
	// paths are the calls one check makes, in order (FACIA: token,
	// create, poll).
	paths    []string
	emulator func() http.Handler
	client   func(t *testing.T, baseURL string) vendors.Vendor
}

var hostileVendors = []hostileVendor{
	{
		name: "spoofsense", paths: []string{"/prod/antispoofing"},
		emulator: func() http.Handler { return vendortest.NewSpoofSense(testKey) },
		client: func(t *testing.T, u string) vendors.Vendor {
			return provisionT(t, &vendors.SpoofSense{APIKey: testKey, BaseURL: u})
		},
	},
	{
		name: "videosdk", paths: []string{vendortest.VideoSDKPath},
		emulator: func() http.Handler { return vendortest.NewVideoSDK("key", "secret") },
		client: func(t *testing.T, u string) vendors.Vendor {
			return provisionT(t, &vendors.VideoSDK{APIKey: "key", APISecret: "secret", BaseURL: u})
		},
	},
	{
		name: "facia", paths: []string{"/request-access-token", "/liveness", "/result"},
		emulator: func() http.Handler { return vendortest.NewFACIA("id", "secret") },
		client: func(t *testing.T, u string) vendors.Vendor {
			return provisionT(t, &vendors.FACIA{ClientID: "id", ClientSecret: "secret", BaseURL: u, PollInterval: caddy.Duration(time.Millisecond)})
		},
	},
	{
		name: "verifik", paths: []string{vendortest.VerifikPath},
		emulator: func() http.Handler { return vendortest.NewVerifik("token") },
		client: func(t *testing.T, u string) vendors.Vendor {
			return provisionT(t, &vendors.Verifik{Token: "token", BaseURL: u})
		},
	},
}

func provisionT(t *testing.T, v interface {
	vendors.Vendor
	caddy.Provisioner
}) vendors.Vendor {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
	t.Cleanup(cancel)
	if err := v.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	if c, ok := v.(caddy.CleanerUpper); ok {
		t.Cleanup(func() { c.Cleanup() })
	}
	return v
}

// TestRedirectNotFollowed: a vendor endpoint that answers 3xx towards
// another server, at any of the calls of a check, gets a vendor error of
// kind unavailable that names the other host only; the other server gets
// no request at all, so neither a credential nor an image reaches it, and
// its verdict is never taken.
func TestRedirectNotFollowed(t *testing.T) {
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"success":true,"model_output":{"pred_idx":"real","prob_real":0.99}}`)
	}))
	defer other.Close()
	otherURL, _ := url.Parse(other.URL)
	const secretPath = "/steal/biometric-proof-4242?token=tok-9f8e7d"

	for _, hv := range hostileVendors {
		for _, path := range hv.paths {
			for _, code := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
				t.Run(fmt.Sprintf("%s%s/%d", hv.name, path, code), func(t *testing.T) {
					emu := hv.emulator()
					var turned atomic.Int64
					srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						if r.URL.Path != path {
							emu.ServeHTTP(w, r)
							return
						}
						turned.Add(1)
						http.Redirect(w, r, other.URL+secretPath, code)
					}))
					defer srv.Close()
					v := hv.client(t, srv.URL)
					before := elsewhere.Load()
					res, err := v.Check(t.Context(), jpeg("live"))
					if got := elsewhere.Load() - before; got != 0 {
						t.Fatalf("the other server got %d requests", got)
					}
					if turned.Load() != 1 {
						t.Fatalf("%d redirecting answers, want 1", turned.Load())
					}
					var ve *vendors.Error
					if !errors.As(err, &ve) || ve.Kind != vendors.KindUnavailable || ve.Status != code || ve.Vendor != hv.name {
						t.Fatalf("result %+v, err %#v; want %s unavailable with status %d", res, err, hv.name, code)
					}
					msg := err.Error()
					if !strings.Contains(msg, otherURL.Host) {
						t.Errorf("error %q does not name the Location's host", msg)
					}
					for _, leak := range []string{"://", "steal", "biometric", "tok-9f8e7d", "token="} {
						if strings.Contains(msg, leak) {
							t.Errorf("error %q holds %q of the Location", msg, leak)
						}
					}
				})
			}
		}
	}
}

// TestRedirectWithoutLocation: a 3xx without a usable Location is the
// same vendor error.
func TestRedirectWithoutLocation(t *testing.T) {
	for _, code := range []int{http.StatusFound, http.StatusNotModified} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(code)
		}))
		v := provisionT(t, &vendors.SpoofSense{APIKey: testKey, BaseURL: srv.URL})
		_, err := v.Check(t.Context(), jpeg("live"))
		var ve *vendors.Error
		if !errors.As(err, &ve) || ve.Kind != vendors.KindUnavailable || ve.Status != code || !strings.Contains(err.Error(), "redirect refused") {
			t.Errorf("%d: err %v", code, err)
		}
		srv.Close()
	}
}

// TestDoNeverFollows: Do refuses to follow a redirect even with a client
// of the caller's that would.
func TestDoNeverFollows(t *testing.T) {
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/x", http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL, strings.NewReader("image"))
	req.Header.Set("x-api-key", "secret")
	_, _, err := vendors.Do(&http.Client{}, req) // follows redirects by default
	if vendors.KindOf(err) != vendors.KindUnavailable || elsewhere.Load() != 0 {
		t.Fatalf("err %v, %d requests elsewhere", err, elsewhere.Load())
	}
}

// TestHugeResponseHeaders: an answer with 9 MiB of headers is an error
// (the transport stops reading at 64 KiB), for every vendor; headers well
// over what a vendor sends, 16 KiB, still pass.
func TestHugeResponseHeaders(t *testing.T) {
	pad := strings.Repeat("x", 8<<10)
	for _, hv := range hostileVendors {
		for _, size := range []int{16 << 10, 9 << 20} {
			t.Run(fmt.Sprintf("%s/%d", hv.name, size), func(t *testing.T) {
				emu := hv.emulator()
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					for i := range size / len(pad) {
						w.Header().Add(fmt.Sprintf("X-Pad-%d", i), pad)
					}
					emu.ServeHTTP(w, r)
				}))
				defer srv.Close()
				v := hv.client(t, srv.URL)
				res, err := v.Check(t.Context(), jpeg("live"))
				if size < 64<<10 {
					if err != nil || res.Class != vendors.ClassFace {
						t.Fatalf("16 KiB of headers: %+v, %v", res, err)
					}
					return
				}
				if err == nil || vendors.KindOf(err) != vendors.KindUnavailable || !strings.Contains(err.Error(), "exceeded") {
					t.Fatalf("9 MiB of headers: result %+v, err %v; want unavailable (headers exceeded)", res, err)
				}
			})
		}
	}
}
