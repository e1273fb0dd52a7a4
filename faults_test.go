package caddyliveness

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap/zapcore"

	"github.com/caddy-liveness/caddy-liveness/vendors"
	"github.com/caddy-liveness/caddy-liveness/vendors/vendortest"
)

// matrixVendor is one vendor of the fault matrix: its emulator, the path
// of its check call (the one faults are injected into), and a client.
type matrixVendor struct {
	name      string
	checkPath string
	// calls overrides the vendor calls a fault leads to, where the
	// vendor's own contract adds some (FACIA renews its token and resends
	// once on a 401).
	calls    map[string]int64
	emulator func() http.Handler
	client   func(t *testing.T, baseURL string) vendors.Vendor
}

func provisioned[V interface {
	vendors.Vendor
	caddy.Provisioner
}](t *testing.T, v V) vendors.Vendor {
	t.Helper()
	if err := v.Provision(newCaddyContext(t)); err != nil {
		t.Fatal(err)
	}
	if c, ok := any(v).(caddy.CleanerUpper); ok {
		t.Cleanup(func() { c.Cleanup() })
	}
	return v
}

var matrixVendors = []matrixVendor{
	{
		name: "spoofsense", checkPath: "/prod/antispoofing",
		emulator: func() http.Handler { return vendortest.NewSpoofSense("k") },
		client: func(t *testing.T, u string) vendors.Vendor {
			return provisioned(t, &vendors.SpoofSense{APIKey: "k", BaseURL: u})
		},
	},
	{
		name: "videosdk", checkPath: "/ai/v1/face-verification/detect-spoof",
		emulator: func() http.Handler { return vendortest.NewVideoSDK("key", "secret") },
		client: func(t *testing.T, u string) vendors.Vendor {
			return provisioned(t, &vendors.VideoSDK{APIKey: "key", APISecret: "secret", BaseURL: u})
		},
	},
	{
		name: "facia", checkPath: "/liveness", calls: map[string]int64{"auth failure": 2},
		emulator: func() http.Handler { return vendortest.NewFACIA("id", "secret") },
		client: func(t *testing.T, u string) vendors.Vendor {
			return provisioned(t, &vendors.FACIA{ClientID: "id", ClientSecret: "secret", BaseURL: u})
		},
	},
	{
		name: "verifik", checkPath: vendortest.VerifikPath,
		emulator: func() http.Handler { return vendortest.NewVerifik("token") },
		client: func(t *testing.T, u string) vendors.Vendor {
			return provisioned(t, &vendors.Verifik{Token: "token", BaseURL: u})
		},
	},
}

// fault is what the vendor does to the check call.
type fault struct {
	name    string
	serve   func(w http.ResponseWriter, r *http.Request)
	calls   int64  // vendor check calls the handler makes (retries included)
	reason  string // the Reason of the error verdict
	errorLv bool   // logged at error level (operator action), else warn
}

func jsonBody(status int, body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "60")
		}
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}
}

var faults = []fault{
	{"timeout", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }, 1, "timeout", false},
	{"slow body", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		fmt.Fprint(w, `{"success": tr`)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}, 1, "timeout", false},
	{"connection reset", func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}, 3, "unavailable", false},
	{"500", jsonBody(500, `{"message": "Internal server error"}`), 3, "unavailable", false},
	{"503", jsonBody(503, `{"message": "Service Unavailable"}`), 3, "unavailable", false},
	{"429 with Retry-After past the deadline", jsonBody(429, `{"message": "Too Many Requests"}`), 1, "rate_limited", false},
	{"malformed JSON", jsonBody(200, `{not json at all`), 1, "unavailable", false},
	{"truncated JSON", jsonBody(200, `{"success": true, "spoof_detected": false, "data": {"passed": tr`), 1, "unavailable", false},
	{"wrong content type", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<html><body>Bad gateway</body></html>")
	}, 1, "unavailable", false},
	{"auth failure", jsonBody(401, `{"message": "Unauthorized"}`), 1, "auth", true},
}

// faulty puts f in front of the emulator's check path and counts the
// check calls. It reads the request body first: only then does the server
// notice a client that hangs up, and end the request's context.
func faulty(emu http.Handler, checkPath string, f fault, calls *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != checkPath {
			emu.ServeHTTP(w, r)
			return
		}
		calls.Add(1)
		io.Copy(io.Discard, r.Body)
		f.serve(w, r)
	})
}

// TestFaultMatrix: for each vendor, fault and on_error policy, the exact
// status, verdict header, log line and number of vendor calls.
func TestFaultMatrix(t *testing.T) {
	img := vendortest.SampleJPEG("live")
	for _, mv := range matrixVendors {
		for _, f := range faults {
			for _, policy := range []string{"deny", "allow"} {
				t.Run(mv.name+"/"+f.name+"/"+policy, func(t *testing.T) {
					t.Parallel()
					var calls atomic.Int64
					srv := httptest.NewServer(faulty(mv.emulator(), mv.checkPath, f, &calls))
					defer srv.Close()
					h, logs := testHandler(t, func(h *Handler) {
						h.OnError = policy
						h.Timeout = caddy.Duration(2 * time.Second)
					}, mv.client(t, srv.URL))
					up := &upstream{}
					repl, err := serve(h, post("image/jpeg", img), up)

					wantStatus := 0
					if policy == "deny" {
						wantStatus = http.StatusServiceUnavailable
					}
					if got := statusOf(err); got != wantStatus {
						t.Fatalf("status %d, want %d (%v)", got, wantStatus, err)
					}
					wantCalls := f.calls
					if n, ok := mv.calls[f.name]; ok {
						wantCalls = n
					}
					if n := calls.Load(); n != wantCalls {
						t.Errorf("%d vendor calls, want %d", n, wantCalls)
					}
					if v, _ := repl.GetString("http.liveness.verdict"); v != "error" {
						t.Errorf("verdict %q, want error", v)
					}
					if r, _ := repl.GetString("http.liveness.reason"); r != f.reason {
						t.Errorf("reason %q, want %q", r, f.reason)
					}
					if policy == "allow" {
						if up.calls != 1 || up.header.Get("X-Liveness-Verdict") != "error" || up.header.Get("X-Liveness-Reason") != f.reason {
							t.Errorf("upstream calls %d, headers %v", up.calls, up.header)
						}
					} else if up.calls != 0 {
						t.Error("a denied request reached the upstream")
					}
					entries := logs.FilterMessage("liveness decision").All()
					if len(entries) != 1 {
						t.Fatalf("%d decision lines", len(entries))
					}
					e := entries[0]
					wantLevel := zapcore.WarnLevel
					if f.errorLv {
						wantLevel = zapcore.ErrorLevel
					}
					wantAction := map[string]string{"deny": "deny", "allow": "pass"}[policy]
					ctx := e.ContextMap()
					if e.Level != wantLevel || ctx["action"] != wantAction || ctx["vendor"] != mv.name || ctx["vendor_error_kind"] == "" {
						t.Errorf("log line %v %v", e.Level, ctx)
					}
					if strings.Contains(fmt.Sprint(ctx), "base64") {
						t.Error("log line mentions image data")
					}
				})
			}
		}
	}
}
