package vendors_test

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-liveness/caddy-liveness/vendors"
	"github.com/caddy-liveness/caddy-liveness/vendors/vendortest"
)

// fuzzAnswer serves status and body on the vendor's check path; the
// paths before it (FACIA's token and create) answer as documented.
func fuzzAnswer(checkPath string, a *answer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/request-access-token":
			w.Write([]byte(`{"status":true,"result":{"data":{"token":"opaque-token"}}}`))
		case "/liveness":
			if checkPath == "/liveness" {
				break
			}
			w.Write([]byte(`{"status":true,"message":"Transaction Created","result":{"data":{"reference_id":"REF1234567"}}}`))
			return
		}
		if r.URL.Path == checkPath {
			status, body := a.get()
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(status)
			w.Write(body)
		}
	})
}

// answer is what the fuzzed server says next.
type answer struct {
	mu     sync.Mutex
	status int
	body   []byte
}

func (a *answer) set(status int, body []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.status, a.body = status, body
}

func (a *answer) get() (int, []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.status, a.body
}

// fuzzVendor checks one image against answers the fuzzer writes: any
// answer maps to a valid result or a typed error, without a panic, and no
// error holds the FACIA proof link.
func fuzzVendor(f *testing.F, checkPath string, client func(baseURL string) vendors.Vendor, seeds ...string) {
	for _, s := range seeds {
		f.Add(200, []byte(s))
	}
	for _, code := range []int{400, 401, 403, 404, 409, 413, 429, 500, 503, 524} {
		f.Add(code, []byte(`{"message":"x","code":"ERROR","status":false}`))
	}
	a := &answer{}
	srv := httptest.NewServer(fuzzAnswer(checkPath, a))
	f.Cleanup(srv.Close)
	v := client(srv.URL)
	req := &vendors.Request{Media: vendors.Media{Data: vendortest.SampleJPEG("live"), MIME: "image/jpeg"}}
	f.Fuzz(func(t *testing.T, code int, raw []byte) {
		if code < 200 || code > 599 {
			return
		}
		a.set(code, raw)
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		r, err := v.Check(ctx, req)
		if err != nil {
			var ve *vendors.Error
			if !errors.As(err, &ve) || ve.Kind == "" {
				t.Fatalf("untyped error %v", err)
			}
			if strings.Contains(err.Error(), "://") {
				t.Fatalf("error holds a link: %v", err)
			}
			return
		}
		switch r.Class {
		case vendors.ClassFace, vendors.ClassNoFace, vendors.ClassInconclusive:
		default:
			t.Fatalf("class %q", r.Class)
		}
		if r.HasScore && (math.IsNaN(r.Score) || r.Score < 0 || r.Score > 1) {
			t.Fatalf("score %v", r.Score)
		}
		if r.Class == vendors.ClassFace && !r.HasScore && r.Passed == nil {
			t.Fatalf("a face with neither score nor decision: %+v", r)
		}
		if strings.Contains(r.Reason+r.Reference, "://") {
			t.Fatalf("result holds a link: %+v", r)
		}
	})
}

func provisionFuzz(f *testing.F, v interface {
	vendors.Vendor
	caddy.Provisioner
}) vendors.Vendor {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	f.Cleanup(cancel)
	if err := v.Provision(ctx); err != nil {
		f.Fatal(err)
	}
	return v
}

func FuzzVideoSDKResponse(f *testing.F) {
	fuzzVendor(f, vendortest.VideoSDKPath, func(u string) vendors.Vendor {
		return provisionFuzz(f, &vendors.VideoSDK{APIKey: "k", APISecret: "s", BaseURL: u})
	}, `{"spoof_detected": false, "accuracy": 0.97}`, `{"spoof_detected": true, "accuracy": 0.6}`, `{"message":"No face detected"}`)
}

func FuzzVerifikResponse(f *testing.F) {
	fuzzVendor(f, vendortest.VerifikPath, func(u string) vendors.Vendor {
		return provisionFuzz(f, &vendors.Verifik{Token: "t", BaseURL: u})
	}, `{"id":"ABCDE","data":{"passed":true,"min_score":0.6,"liveness_score":0.97},"signature":{"message":"Certified by Verifik.co","dateTime":"January 2, 2006 3:04 PM"}}`,
		`{"message":"token_expired","code":"FORBIDDEN"}`)
}

func FuzzFACIAResult(f *testing.F) {
	fuzzVendor(f, "/result", func(u string) vendors.Vendor {
		return provisionFuzz(f, &vendors.FACIA{ClientID: "c", ClientSecret: "s", BaseURL: u, PollInterval: caddy.Duration(time.Millisecond)})
	}, `{"status":true,"result":{"data":{"status":1,"deepfake_score":0.03}}}`,
		`{"status":true,"result":{"data":{"status":0,"decline_code":"FADR01","decline_reason":"x","declined_proof":"https://proof.invalid/1"}}}`,
		`{"status":true,"result":{"data":{"status":null}}}`)
}

func FuzzFACIACreate(f *testing.F) {
	fuzzVendor(f, "/liveness", func(u string) vendors.Vendor {
		return provisionFuzz(f, &vendors.FACIA{ClientID: "c", ClientSecret: "s", BaseURL: u, PollInterval: caddy.Duration(time.Millisecond)})
	}, `{"status":true,"message":"Transaction Created","result":{"data":{"reference_id":"REF1234567"}}}`)
}
