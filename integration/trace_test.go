package integration

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/caddy-liveness/caddy-liveness/internal/redistest"
	"github.com/caddy-liveness/caddy-liveness/vendors/vendortest"
)

// otlpReceiver is an OTLP/HTTP trace receiver on loopback: what Caddy's
// tracing exporter sends, decoded.
type otlpReceiver struct {
	mu    sync.Mutex
	spans []*tracepb.Span
	srv   *httptest.Server
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	o := &otlpReceiver{}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		if err != nil || r.URL.Path != "/v1/traces" || proto.Unmarshal(b, &req) != nil {
			t.Errorf("receiver: %s %s: %v", r.Method, r.URL.Path, err)
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		o.mu.Lock()
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				o.spans = append(o.spans, ss.Spans...)
			}
		}
		o.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		b, _ = proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Write(b)
	}))
	t.Cleanup(o.srv.Close)
	return o
}

// trace waits, up to 10 s, until spans of each of names have arrived, and
// returns every span received.
func (o *otlpReceiver) trace(t *testing.T, names ...string) []*tracepb.Span {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		o.mu.Lock()
		all := slices.Clone(o.spans)
		o.mu.Unlock()
		have := map[string]bool{}
		for _, s := range all {
			have[s.Name] = true
		}
		complete := true
		for _, n := range names {
			complete = complete && have[n]
		}
		if complete {
			return all
		}
		if time.Now().After(deadline) {
			var got []string
			for _, s := range all {
				got = append(got, s.Name)
			}
			t.Fatalf("spans %q, want at least %q", got, names)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func attr(s *tracepb.Span, key string) string {
	for _, a := range s.Attributes {
		if a.Key == key {
			if v := a.Value.GetStringValue(); v != "" {
				return v
			}
			return fmt.Sprint(a.Value.GetIntValue())
		}
	}
	return ""
}

// With Caddy's tracing directive on the route, the handler's lookup, each
// vendor attempt and the Redis calls are spans of the request's trace,
// children of the request's span; without it, nothing is sent. No span
// holds image data, the image's hash or a secret.
func TestTraces(t *testing.T) {
	recv := newOTLPReceiver(t)
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", recv.srv.URL+"/v1/traces")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
	t.Setenv("LIVENESS_IT_KEY", apiKey)
	emu := vendortest.NewSpoofSense(apiKey)
	emuSrv := httptest.NewServer(emu)
	t.Cleanup(emuSrv.Close)
	upSrv := httptest.NewServer(&vendortest.Echo{})
	t.Cleanup(upSrv.Close)
	prefix := redistest.Prefix(t)
	t.Cleanup(func() {
		c := redistest.Client(t)
		for _, k := range redistest.Keys(t, c, prefix) {
			c.Del(t.Context(), k)
		}
	})
	t.Cleanup(func() {
		if t.Skipped() {
			t.Error("Caddy could not be started for the integration tests")
		}
	})
	tester := caddytest.NewTester(t)
	tester.InitServer(fmt.Sprintf(`
	{
		skip_install_trust
		admin localhost:2999
		http_port 9080
		https_port 9443
		grace_period 1ns
	}
	http://localhost:9080 {
		route /traced {
			tracing {
				span upload
			}
			liveness {
				vendor spoofsense {
					api_key {env.LIVENESS_IT_KEY}
					base_url %[1]s
				}
				cache redis {
					address %[3]s
					prefix %[4]s
				}
			}
			reverse_proxy %[2]s
		}
		route /untraced {
			liveness {
				vendor spoofsense {
					api_key {env.LIVENESS_IT_KEY}
					base_url %[1]s
				}
			}
			reverse_proxy %[2]s
		}
	}`, emuSrv.URL, strings.TrimPrefix(upSrv.URL, "http://"), redistest.Addr(t), prefix), "caddyfile")

	send := func(path string, img []byte) {
		t.Helper()
		ct, body := multipartUpload(t, img)
		resp, err := http.Post("http://localhost:9080"+path, ct, strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d", path, resp.StatusCode)
		}
	}
	// (Checked below: the spans are exported in order, so any of this
	// request's would be among those collected for the traced one.)
	send("/untraced", vendortest.SampleJPEG("live;n=untraced"))

	// Traced: the vendor fails once (503), then answers.
	img := vendortest.SampleJPEG("live;n=traced")
	emu.Script(vendortest.Fault{Status: http.StatusServiceUnavailable})
	send("/traced", img)
	spans := recv.trace(t, "upload", "liveness.lookup", "liveness.vendor", "liveness.redis")

	var root *tracepb.Span
	byID := map[string]*tracepb.Span{}
	for _, s := range spans {
		byID[string(s.SpanId)] = s
		if s.Name == "upload" {
			root = s
		}
	}
	// Without tracing nothing reaches the receiver: every span is the
	// traced request's.
	for _, s := range spans {
		if string(s.TraceId) != string(root.TraceId) {
			t.Fatalf("span %s of another trace: the route without tracing sent spans", s.Name)
		}
	}
	var attempts []string
	ops := map[string]bool{}
	for _, s := range spans {
		if !strings.HasPrefix(s.Name, "liveness.") {
			continue
		}
		// Its ancestors lead to the request's span.
		p := s
		for p != nil && p != root {
			p = byID[string(p.ParentSpanId)]
		}
		if p != root {
			t.Fatalf("%s is not below the request's span", s.Name)
		}
		switch s.Name {
		case "liveness.vendor":
			if attr(s, "liveness.vendor") != "spoofsense" {
				t.Fatalf("vendor span attributes %v", s.Attributes)
			}
			attempts = append(attempts, attr(s, "liveness.attempt")+":"+attr(s, "liveness.outcome"))
		case "liveness.redis":
			ops[attr(s, "db.operation")] = true
		case "liveness.lookup":
			if attr(s, "liveness.outcome") != "miss" {
				t.Fatalf("lookup outcome %q, want miss", attr(s, "liveness.outcome"))
			}
		}
		for _, a := range s.Attributes {
			v := a.Value.String()
			for _, secret := range []string{apiKey, sum(img), base64.StdEncoding.EncodeToString(img[:48])} {
				if strings.Contains(v, secret) {
					t.Fatalf("%s attribute %s holds a secret or the image", s.Name, a.Key)
				}
			}
		}
	}
	slices.Sort(attempts)
	if want := []string{"1:unavailable", "2:face"}; !slices.Equal(attempts, want) {
		t.Fatalf("vendor attempts %q, want %q", attempts, want)
	}
	for _, op := range []string{"get", "lock", "set", "unlock", "sight"} {
		if !ops[op] {
			t.Fatalf("no span for the Redis %s; spans for %v", op, ops)
		}
	}
}
