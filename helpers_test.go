package caddyliveness

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"hash/crc32"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddy-liveness/caddy-liveness/internal/body"
	"github.com/caddy-liveness/caddy-liveness/internal/extract"
	"github.com/caddy-liveness/caddy-liveness/internal/store"
	"github.com/caddy-liveness/caddy-liveness/vendors"
	"github.com/caddy-liveness/caddy-liveness/vendors/vendortest"
)

// fakeVendor answers from a function and counts its calls. gate, when
// set, holds every call until it is closed.
type fakeVendor struct {
	name    string
	answer  func(m vendors.Media) (vendors.Result, error)
	calls   atomic.Int64
	gate    chan struct{}
	started chan struct{}
}

func (f *fakeVendor) Name() string                    { return f.name }
func (f *fakeVendor) Profile(*vendors.Request) string { return f.name + " test" }
func (f *fakeVendor) Check(ctx context.Context, req *vendors.Request) (vendors.Result, error) {
	f.calls.Add(1)
	m := req.Media
	if f.started != nil {
		f.started <- struct{}{}
	}
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return vendors.Result{}, &vendors.Error{Vendor: f.name, Kind: vendors.KindUnavailable, Err: ctx.Err()}
		}
	}
	return f.answer(m)
}

// byMarker answers as the emulators do: the image's marker decides.
func byMarker(m vendors.Media) (vendors.Result, error) {
	d := vendortest.ParseMarker(m.Data)
	switch d.Verdict {
	case vendortest.VerdictNoFace:
		return vendors.Result{Class: vendors.ClassNoFace, Reason: "face_not_detected"}, nil
	}
	if d.Status != 0 {
		return vendors.Result{}, &vendors.Error{Vendor: "fake", Kind: vendors.KindUnavailable, Status: d.Status}
	}
	return vendors.Result{Class: vendors.ClassFace, Score: d.ProbReal(m.Data), HasScore: true, DefaultThreshold: 0.55}, nil
}

func newFake(name string) *fakeVendor { return &fakeVendor{name: name, answer: byMarker} }

// testHandler is a provisioned Handler without a Caddy context.
func testHandler(t testing.TB, configure func(*Handler), vs ...vendors.Vendor) (*Handler, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zap.DebugLevel)
	h := &Handler{}
	if configure != nil {
		configure(h)
	}
	if h.Name == "" {
		h.Name, _ = h.configName() // as Provision does
	}
	h.setDefaults()
	if err := h.validate(); err != nil {
		t.Fatal(err)
	}
	h.logger = zap.New(core)
	h.vendors = vs
	for _, v := range vs {
		h.guards = append(h.guards, newGuard(h.Name, v, h.MaxConcurrent, *h.Retries, *h.Breaker))
	}
	h.x = &extract.Extractor{Sources: h.Sources, MaxPixels: h.MaxPixels, MaxImages: h.MaxImages}
	h.budget = body.NewBudget(h.MaxBuffered)
	h.shared = newShared(store.Config[vendors.Result]{TTL: time.Duration(h.Cache.TTL), MaxEntries: h.Cache.MaxEntries})
	h.shared.addUser(h.Name)
	s := h.shared
	t.Cleanup(func() { _ = s.Destruct() })
	return h, logs
}

// upstream records what next received.
type upstream struct {
	mu     sync.Mutex
	calls  int
	header http.Header
	body   []byte
	cl     int64
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) error {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.calls++
	u.header, u.body, u.cl = r.Header.Clone(), b, r.ContentLength
	w.WriteHeader(http.StatusOK)
	return nil
}

// serve runs one request through h and returns the replacer and the
// handler error.
func serve(h *Handler, req *http.Request, up *upstream) (*caddy.Replacer, error) {
	repl := caddy.NewReplacer()
	ctx := context.WithValue(req.Context(), caddy.ReplacerCtxKey, repl)
	req = req.WithContext(ctx)
	return repl, h.ServeHTTP(httptest.NewRecorder(), req, caddyhttp.HandlerFunc(up.ServeHTTP))
}

func statusOf(err error) int {
	if he, ok := err.(caddyhttp.HandlerError); ok {
		return he.StatusCode
	}
	if err != nil {
		return -1
	}
	return 0
}

// multipartBody builds a multipart form with file parts (name → bytes)
// in the given order, plus a text field.
func multipartBody(t testing.TB, files ...any) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	if err := w.WriteField("user", "alice"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(files); i += 2 {
		fw, err := w.CreateFormFile(files[i].(string), files[i].(string)+".jpg")
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(files[i+1].([]byte))
	}
	w.Close()
	return w.FormDataContentType(), buf.Bytes()
}

func post(contentType string, body []byte) *http.Request {
	req := httptest.NewRequest(http.MethodPost, "/upload", bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	return req
}

func logHas(logs *observer.ObservedLogs, s string) bool {
	for _, e := range logs.All() {
		for k, v := range e.ContextMap() {
			if strings.Contains(k, s) || strings.Contains(toString(v), s) {
				return true
			}
		}
		if strings.Contains(e.Message, s) {
			return true
		}
	}
	return false
}

func toString(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case []any:
		var b strings.Builder
		for _, e := range t {
			b.WriteString(toString(e))
		}
		return b.String()
	}
	return ""
}

func fieldString(k, v string) zap.Field { return zap.String(k, v) }

func newCaddyContext(t *testing.T) caddy.Context {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
	t.Cleanup(cancel)
	return ctx
}

func dataURI(mime string, b []byte) string {
	return "data:" + mime + ";base64," + base64.StdEncoding.EncodeToString(b)
}

// hugePNG is a PNG signature and IHDR declaring w x h pixels, and nothing
// else: DecodeConfig reads it, a full decode would allocate w*h*4 bytes.
func hugePNG(w, h uint32) []byte {
	b := []byte("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6 // 8-bit RGBA
	b = binary.BigEndian.AppendUint32(b, 13)
	chunk := append([]byte("IHDR"), ihdr...)
	b = append(b, chunk...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(chunk))
}

// hugeJPEG is a JFIF header and a SOF0 declaring w x h pixels.
func hugeJPEG(w, h uint16) []byte {
	b := []byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0}
	b = append(b, 0xFF, 0xC0, 0, 11, 8)
	b = binary.BigEndian.AppendUint16(b, h)
	b = binary.BigEndian.AppendUint16(b, w)
	return append(b, 1, 1, 0x11, 0)
}
