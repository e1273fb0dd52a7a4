package caddyliveness

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/caddy-liveness/caddy-liveness/vendors"
	"github.com/caddy-liveness/caddy-liveness/vendors/vendortest"
)

// The Go benchmarks of the handler alone and of the work it cannot avoid
// (the floor). make -f xcaddy.mk bench runs them next to the load test in
// ./bench; see BENCHMARKS.md.
//
//	go test -run '^$' -bench . -benchmem -benchtime 2s .
//
// Sizes are image sizes; b.SetBytes is the image size, so MB/s compares
// with the floor benchmarks directly. "img-B/op" is B/op divided by the
// image size.

var benchSizes = []struct {
	name string
	n    int
}{
	{"64KB", 64 << 10},
	{"512KB", 512 << 10},
	{"4MB", 4 << 20},
}

// benchHandler is testHandler with a logger that encodes each decision
// line as Caddy's would and writes it to io.Discard, so the cost of the log
// line is counted and nothing accumulates.
func benchHandler(tb testing.TB, vs ...vendors.Vendor) *Handler {
	tb.Helper()
	h, _ := testHandler(tb, nil, vs...)
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	h.logger = zap.New(zapcore.NewCore(enc, zapcore.AddSync(io.Discard), zapcore.InfoLevel))
	return h
}

// benchDrain is the next handler: it reads the body as reverse_proxy would and
// keeps nothing (the test helper upstream keeps a copy of the body, which
// would count as the handler's allocation).
var benchDrain = caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
	if _, err := io.Copy(io.Discard, r.Body); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
})

// benchServe runs one request through h as Caddy would (with a replacer).
func benchServe(h *Handler, contentType string, body []byte) error {
	req := httptest.NewRequest(http.MethodPost, "/upload", bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	repl := caddy.NewReplacer()
	req = req.WithContext(context.WithValue(req.Context(), caddy.ReplacerCtxKey, repl))
	return h.ServeHTTP(httptest.NewRecorder(), req, benchDrain)
}

// benchJSONBody is {"user": "alice", "image": "data:image/jpeg;base64,..."}.
func benchJSONBody(img []byte) []byte {
	var b bytes.Buffer
	b.WriteString(`{"user": "alice", "image": "data:image/jpeg;base64,`)
	b.WriteString(base64.StdEncoding.EncodeToString(img))
	b.WriteString(`"}`)
	return b.Bytes()
}

// BenchmarkServeHTTP is the handler alone on a cache hit: buffer, find,
// hash, look up, decide, log, hand the body on.
func BenchmarkServeHTTP(b *testing.B) {
	type bcase struct {
		name        string
		img         []byte
		contentType string
		body        []byte
	}
	var cases []bcase
	for _, s := range benchSizes {
		img := vendortest.SampleJPEGSize("live", s.n)
		ct, body := multipartBody(b, "selfie", img)
		cases = append(cases, bcase{s.name, img, ct, body})
	}
	img := vendortest.SampleJPEGSize("live", 512<<10)
	cases = append(cases, bcase{"json-base64-512KB", img, "application/json", benchJSONBody(img)})

	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			fake := newFake("fake")
			h := benchHandler(b, fake)
			if err := benchServe(h, c.contentType, c.body); err != nil { // warms the cache
				b.Fatal(err)
			}
			b.SetBytes(int64(len(c.img)))
			b.ReportAllocs()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			b.ResetTimer()
			for range b.N {
				if err := benchServe(h, c.contentType, c.body); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			runtime.ReadMemStats(&after)
			if n := fake.calls.Load(); n != 1 {
				b.Fatalf("vendor called %d times: not a cache hit", n)
			}
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/float64(len(c.img)), "img-B/op")
		})
	}
}

// BenchmarkSHA256 is the floor: hashing the image once.
func BenchmarkSHA256(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			buf := vendortest.SampleJPEGSize("live", s.n)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				sha256.Sum256(buf)
			}
		})
	}
}

// BenchmarkBase64Decode is the other floor of a JSON upload: decoding the
// base64 once, into a buffer that already exists.
func BenchmarkBase64Decode(b *testing.B) {
	b.Run("512KB", func(b *testing.B) {
		img := vendortest.SampleJPEGSize("live", 512<<10)
		enc := []byte(base64.StdEncoding.EncodeToString(img))
		dst := make([]byte, base64.StdEncoding.DecodedLen(len(enc)))
		b.SetBytes(int64(len(img)))
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if _, err := base64.StdEncoding.Decode(dst, enc); err != nil {
				b.Fatal(err)
			}
		}
	})
}
