package vendors

// These contract tests are in package vendors, not vendors_test, because
// token renewal is proven with FACIA's unexported clock instead of sleeping.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/golang-jwt/jwt/v5"

	"github.com/caddy-liveness/caddy-liveness/vendors/vendortest"
)

const (
	faciaTestID     = "facia-client-7"
	faciaTestSecret = "facia-secret-51c0"
	faciaTestProof  = "proof.invalid"
)

// faciaSeen records what the test needs beyond the emulator's calls: the
// raw Authorization values (the emulator redacts them) and when each
// /result call arrived.
type faciaSeen struct {
	mu       sync.Mutex
	auth     []string
	resultAt []time.Time
}

func (s *faciaSeen) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.auth = append(s.auth, r.Header.Get("Authorization"))
		if r.URL.Path == "/result" {
			s.resultAt = append(s.resultAt, time.Now())
		}
		s.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

type faciaEnv struct {
	f    *FACIA
	emu  *vendortest.FACIA
	seen *faciaSeen
}

// faciaSetup provisions a client against a fresh emulator; configure may
// change the client before provisioning.
func faciaSetup(t *testing.T, configure func(*FACIA)) faciaEnv {
	t.Helper()
	emu := vendortest.NewFACIA(faciaTestID, faciaTestSecret)
	seen := &faciaSeen{}
	srv := httptest.NewServer(seen.wrap(emu))
	t.Cleanup(srv.Close)
	f := &FACIA{
		ClientID:     faciaTestID,
		ClientSecret: faciaTestSecret,
		BaseURL:      srv.URL,
		PollInterval: caddy.Duration(5 * time.Millisecond),
	}
	if configure != nil {
		configure(f)
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
	t.Cleanup(cancel)
	if err := f.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Cleanup() })
	return faciaEnv{f, emu, seen}
}

func faciaJPEG(marker string) *Request {
	return &Request{Media: Media{Data: vendortest.SampleJPEG(marker), MIME: "image/jpeg"}}
}

// faciaMP4 is the start of an MP4 (an ftyp box) carrying a marker.
func faciaMP4(marker string) *Request {
	data := []byte("\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2 liveness-emulator:" + marker + "\n")
	return &Request{Media: Media{Data: data, MIME: "video/mp4"}}
}

func (e faciaEnv) paths() []string {
	var p []string
	for _, c := range e.emu.Calls() {
		p = append(p, c.Path)
	}
	return p
}

func (e faciaEnv) count(path string) int {
	n := 0
	for _, p := range e.paths() {
		if p == path {
			n++
		}
	}
	return n
}

func faciaKind(t *testing.T, err error, kind Kind) *Error {
	t.Helper()
	var ve *Error
	if !errors.As(err, &ve) || ve.Kind != kind {
		t.Fatalf("err %v, want kind %s", err, kind)
	}
	for _, s := range []string{faciaTestSecret, faciaTestProof, "eyJ"} {
		if strings.Contains(err.Error(), s) {
			t.Fatalf("error %q holds %q", err, s)
		}
	}
	return ve
}

func TestFACIARequest(t *testing.T) {
	for _, tc := range []struct {
		req      *Request
		filename string
		fields   map[string]string
	}{
		{faciaJPEG("live"), "image.jpg", map[string]string{"type": "liveness", "offsite_liveness": "1", "detect_deepfake": "1"}},
		{&Request{Media: Media{Data: vendortest.SamplePNG("live"), MIME: "image/png"}}, "image.png", map[string]string{"type": "liveness", "offsite_liveness": "1", "detect_deepfake": "1"}},
		{faciaMP4("live"), "video.mp4", map[string]string{"type": "liveness", "offsite_liveness": "1", "detect_deepfake": "1", "file_type": "video"}},
	} {
		t.Run(tc.req.MIME, func(t *testing.T) {
			e := faciaSetup(t, nil)
			r, err := e.f.Check(t.Context(), tc.req)
			if err != nil {
				t.Fatal(err)
			}
			calls := e.emu.Calls()
			if got := e.paths(); !reflect.DeepEqual(got, []string{"/request-access-token", "/liveness", "/result"}) {
				t.Fatalf("calls %v", got)
			}
			tok, create, result := calls[0], calls[1], calls[2]
			if tok.Method != http.MethodPost || tok.Header.Get("Content-Type") != "application/json" ||
				!reflect.DeepEqual(tok.Fields, map[string]string{"client_id": faciaTestID, "client_secret": "[redacted]"}) ||
				tok.Header.Get("Authorization") != "" {
				t.Errorf("token call %+v", tok)
			}
			sum := sha256.Sum256(tc.req.Data)
			if create.Method != http.MethodPost || !strings.HasPrefix(create.Header.Get("Content-Type"), "multipart/form-data; boundary=") ||
				!reflect.DeepEqual(create.Fields, tc.fields) || create.FileName != tc.filename ||
				create.FileContentType != tc.req.MIME || create.FileSHA256 != hex.EncodeToString(sum[:]) ||
				create.ContentLength != create.BodySize {
				t.Errorf("create call %+v", create)
			}
			if result.Method != http.MethodPost || result.Header.Get("Content-Type") != "application/json" ||
				!reflect.DeepEqual(result.Fields, map[string]string{"reference_id": r.Reference}) {
				t.Errorf("result call %+v", result)
			}
			// The same Bearer token, a JWT from the token call, on both calls.
			auth := e.seen.auth
			bearer, ok := strings.CutPrefix(auth[1], "Bearer ")
			if _, _, err := jwt.NewParser().ParseUnverified(bearer, jwt.MapClaims{}); !ok || err != nil || auth[2] != auth[1] || auth[0] != "" {
				t.Errorf("Authorization %q", auth)
			}
			if r.Class != ClassFace || r.Passed == nil || !*r.Passed || r.HasScore || len(r.Reference) != 15 {
				t.Errorf("result %+v", r)
			}
		})
	}
}

func TestFACIAUnsupportedMedia(t *testing.T) {
	e := faciaSetup(t, nil)
	for _, mime := range []string{"image/gif", "image/webp", "image/bmp", "video/webm", ""} {
		_, err := e.f.Check(t.Context(), &Request{Media: Media{Data: []byte("...."), MIME: mime}})
		faciaKind(t, err, KindUnsupported)
	}
	if e.emu.CallCount() != 0 {
		t.Fatal("unsupported media reached the vendor")
	}
}

func TestFACIADecisions(t *testing.T) {
	yes, no := new(true), new(false)
	tests := []struct {
		marker string
		class  Class
		passed *bool
		reason string
		raw    float64 // deepfake_score the emulator sends
	}{
		{"live", ClassFace, yes, "", 0.03},
		{"spoof", ClassFace, no, "decline_fadr25", 0.97},
		{"live;score=0.9", ClassFace, yes, "", 0.9}, // status decides, not the score
		{"score=0.2", ClassFace, yes, "", 0.2},
		{"score=0.8", ClassFace, no, "decline_fadr25", 0.8},
		{"no_face", ClassNoFace, nil, "decline_fadr11", -1},
		{"small_face", ClassNoFace, nil, "decline_fadr12", -1},
		{"live;decline=FADR01", ClassFace, no, "decline_fadr01", 0.03},
		{"live;decline=FADR08", ClassFace, no, "decline_fadr08", 0.03},
		{"live;decline=FADR09", ClassNoFace, nil, "decline_fadr09", -1},
		{"live;decline=FADR20", ClassNoFace, nil, "decline_fadr20", -1},
		{"live;decline=FADR21", ClassFace, no, "decline_fadr21", 0.03},
		{"live;decline=FADR22", ClassFace, no, "decline_fadr22", 0.03},
		{"live;decline=FADR23", ClassNoFace, nil, "decline_fadr23", -1},
		{"live;decline=FADR24", ClassNoFace, nil, "decline_fadr24", -1},
		{"live;decline=FADR26", ClassFace, no, "decline_fadr26", 0.03},
	}
	for _, dir := range []string{"", "fake_high", "live_high"} {
		e := faciaSetup(t, func(f *FACIA) { f.ScoreDirection = dir })
		for _, tt := range tests {
			t.Run(dir+"/"+tt.marker, func(t *testing.T) {
				r, err := e.f.Check(t.Context(), faciaJPEG(tt.marker))
				if err != nil {
					t.Fatal(err)
				}
				if r.Class != tt.class || r.Reason != tt.reason || len(r.Reference) != 15 ||
					(r.Passed == nil) != (tt.passed == nil) || (r.Passed != nil && *r.Passed != *tt.passed) {
					t.Fatalf("result %+v", r)
				}
				if tt.class != ClassFace || dir == "" {
					if r.HasScore {
						t.Fatalf("score %v without a direction or a face", r.Score)
					}
					if tt.class == ClassFace && r.Live(new(0.5)) != *tt.passed {
						t.Error("a threshold overrode FACIA's decision without a score")
					}
					return
				}
				want := tt.raw
				if dir == "fake_high" {
					want = 1 - tt.raw
				}
				if !r.HasScore || math.Abs(r.Score-want) > 1e-9 {
					t.Fatalf("score %v (has %v), want %v", r.Score, r.HasScore, want)
				}
				if got := r.Live(nil); got != *tt.passed {
					t.Errorf("without a threshold: live %v, want FACIA's %v", got, *tt.passed)
				}
				// A threshold re-decides a pass from the score; a decline stands.
				if got := r.Live(new(0.5)); got != (*tt.passed && want > 0.5) {
					t.Errorf("threshold 0.5: live %v for score %v, FACIA passed %v", got, want, *tt.passed)
				}
			})
		}
	}
}

// TestFACIADeclineTable is vendor-notes' decline code table.
func TestFACIADeclineTable(t *testing.T) {
	for n := 1; n <= 25; n++ {
		code := fmt.Sprintf("FADR%02d", n)
		class, reason := faciaDecline(code)
		want := ClassFace // 01–08, 21, 25 attacks; 22 duplicate
		if (n >= 9 && n <= 20) || n == 23 || n == 24 {
			want = ClassNoFace
		}
		if class != want || reason != "decline_"+strings.ToLower(code) {
			t.Errorf("%s: %s %s", code, class, reason)
		}
	}
	for _, code := range []string{"", "fadr01", "FADR1", "FADRxx", "FADR-1", "FADR1234", "XYZ", "FADR01 <script>"} {
		if class, reason := faciaDecline(code); class != ClassFace || reason != "declined" {
			t.Errorf("%q: %s %s", code, class, reason)
		}
	}
	if class, reason := faciaDecline("FADR101"); class != ClassFace || reason != "decline_fadr101" {
		t.Errorf("FADR101: %s %s", class, reason)
	}
}

func TestFACIAResultShapes(t *testing.T) {
	env := func(data string) string {
		return `{"status":true,"message":"success","result":{"data":` + data + `}}`
	}
	pending := vendortest.Fault{Status: 200, Body: env(`{"reference_id":"X","status":null}`)}
	tests := []struct {
		name   string
		faults []vendortest.Fault // for the /result calls
		class  Class
		passed bool
		score  float64
		kind   Kind
	}{
		{name: "status missing means pending", faults: []vendortest.Fault{{Status: 200, Body: env(`{"reference_id":"X"}`)}}, class: ClassFace, passed: true, score: 0.97},
		{name: "status empty string means pending", faults: []vendortest.Fault{{Status: 200, Body: env(`{"status":""}`)}, pending}, class: ClassFace, passed: true, score: 0.97},
		{name: "string status and score", faults: []vendortest.Fault{{Status: 200, Body: env(`{"status":"0","deepfake_score":"0.75","decline_code":"FADR03"}`)}}, class: ClassFace, score: 0.25},
		{name: "score out of range", faults: []vendortest.Fault{{Status: 200, Body: env(`{"status":1,"deepfake_score":7}`)}}, class: ClassFace, passed: true, score: -1},
		{name: "score missing", faults: []vendortest.Fault{{Status: 200, Body: env(`{"status":1}`)}}, class: ClassFace, passed: true, score: -1},
		{name: "status 0 without a code", faults: []vendortest.Fault{{Status: 200, Body: env(`{"status":0,"deepfake_score":0.5}`)}}, class: ClassFace, score: 0.5},
		{name: "unknown status", faults: []vendortest.Fault{{Status: 200, Body: env(`{"status":2}`)}}, kind: KindUnavailable},
		{name: "status not a number", faults: []vendortest.Fault{{Status: 200, Body: env(`{"status":{"x":1}}`)}}, kind: KindUnavailable},
		{name: "no data", faults: []vendortest.Fault{{Status: 200, Body: `{"status":true,"message":"success","result":{}}`}}, kind: KindUnavailable},
		{name: "html", faults: []vendortest.Fault{{Status: 200, Body: `<html>`, ContentType: "text/html"}}, kind: KindUnavailable},
		{name: "status false, not found", faults: []vendortest.Fault{{Status: 200, Body: `{"status":false,"message":"Resource not found"}`}}, kind: KindUnavailable},
		{name: "status false, other", faults: []vendortest.Fault{{Status: 200, Body: `{"status":false,"message":"Invalid reference"}`}}, kind: KindBadRequest},
		{name: "status false, forbidden", faults: []vendortest.Fault{{Status: 200, Body: `{"status":false,"message":"Forbidden: Service not allowed"}`}}, kind: KindAuth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := faciaSetup(t, func(f *FACIA) { f.ScoreDirection = "fake_high" })
			e.emu.Script(append([]vendortest.Fault{{}, {}}, tt.faults...)...) // token and create pass
			r, err := e.f.Check(t.Context(), faciaJPEG("live"))
			if tt.kind != "" {
				faciaKind(t, err, tt.kind)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Class != tt.class || r.Passed == nil || *r.Passed != tt.passed || r.HasScore != (tt.score >= 0) ||
				(tt.score >= 0 && math.Abs(r.Score-tt.score) > 1e-9) {
				t.Fatalf("result %+v", r)
			}
		})
	}
}

func TestFACIAPollingBackoff(t *testing.T) {
	e := faciaSetup(t, func(f *FACIA) { f.PollInterval = caddy.Duration(10 * time.Millisecond) })
	e.emu.PendingPolls = 4
	start := time.Now()
	r, err := e.f.Check(t.Context(), faciaJPEG("spoof"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Class != ClassFace || r.Passed == nil || *r.Passed || r.Reason != "decline_fadr25" {
		t.Fatalf("result %+v", r)
	}
	at := e.seen.resultAt
	if len(at) != 5 || e.count("/request-access-token") != 1 {
		t.Fatalf("%d polls, calls %v", len(at), e.paths())
	}
	// Waits of 10, 20, 40, 80, 160ms: each at least its due.
	prev, want := start, 10*time.Millisecond
	for i, a := range at {
		if a.Sub(prev) < want {
			t.Errorf("poll %d after %v, want at least %v", i, a.Sub(prev), want)
		}
		prev, want = a, 2*want
	}
	for wait, next := range map[time.Duration]time.Duration{
		500 * time.Millisecond: time.Second, time.Second: 2 * time.Second, 2 * time.Second: 4 * time.Second, 4 * time.Second: 4 * time.Second, 3 * time.Second: 4 * time.Second,
	} {
		if got := faciaNextWait(wait); got != next {
			t.Errorf("after %v: %v, want %v", wait, got, next)
		}
	}
}

func TestFACIADeadlinePending(t *testing.T) {
	tests := map[string]func(faciaEnv){
		"always pending": func(e faciaEnv) { e.emu.PendingPolls = 1 << 30 },
		// A poll that never answers is cut off before the deadline too.
		"result hangs": func(e faciaEnv) { e.emu.Script(vendortest.Fault{}, vendortest.Fault{}, vendortest.Fault{Hang: true}) },
		// Transient failures are polled through; the pending answer last
		// seen decides.
		"pending after a 503": func(e faciaEnv) {
			e.emu.PendingPolls = 1 << 30
			e.emu.Script(vendortest.Fault{}, vendortest.Fault{}, vendortest.Fault{Status: 503, Body: `{"status":false,"message":"busy"}`})
		},
	}
	for name, setup := range tests {
		t.Run(name, func(t *testing.T) {
			e := faciaSetup(t, func(f *FACIA) { f.PollInterval = caddy.Duration(20 * time.Millisecond) })
			setup(e)
			ctx, cancel := context.WithTimeout(t.Context(), 400*time.Millisecond)
			defer cancel()
			deadline, _ := ctx.Deadline()
			r, err := e.f.Check(ctx, faciaJPEG("live"))
			if !time.Now().Before(deadline) {
				t.Error("returned after the deadline")
			}
			if err != nil {
				t.Fatal(err)
			}
			created := e.emu.Calls()[1]
			if r.Class != ClassInconclusive || r.Reason != "pending" || r.Reference == "" || created.Path != "/liveness" {
				t.Fatalf("result %+v", r)
			}
			if e.count("/result") < 1 {
				t.Errorf("never polled: %v", e.paths())
			}
		})
	}
}

// A poll interval longer than the time left is shortened, so that the
// verdict is still asked for once before the deadline.
func TestFACIALastPollBeforeDeadline(t *testing.T) {
	e := faciaSetup(t, func(f *FACIA) { f.PollInterval = caddy.Duration(time.Hour) })
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	r, err := e.f.Check(ctx, faciaJPEG("live"))
	if err != nil || r.Class != ClassFace || r.Passed == nil || !*r.Passed {
		t.Fatalf("result %+v, err %v", r, err)
	}
}

func TestFACIATransientPolls(t *testing.T) {
	e := faciaSetup(t, nil)
	e.emu.Script(vendortest.Fault{}, vendortest.Fault{},
		vendortest.Fault{Status: 500, Body: `{"status":false,"message":"Internal Server Error"}`},
		vendortest.Fault{Status: 429, Body: `{"status":false,"message":"Too Many Attempts."}`, Header: http.Header{"Retry-After": {"0"}}},
		vendortest.Fault{CloseConn: true},
		vendortest.Fault{Status: 524, Body: "error code: 524", ContentType: "text/plain"},
	)
	r, err := e.f.Check(t.Context(), faciaJPEG("live"))
	if err != nil || r.Class != ClassFace || !*r.Passed {
		t.Fatalf("result %+v, err %v", r, err)
	}
	if n := e.count("/result"); n != 5 || e.count("/liveness") != 1 {
		t.Errorf("calls %v: a transient failure started a new transaction or stopped polling", e.paths())
	}

	// Still failing at the deadline: the failure is reported, not pending.
	e = faciaSetup(t, nil)
	faults := []vendortest.Fault{{}, {}}
	for range 1000 {
		faults = append(faults, vendortest.Fault{Status: 500, Body: `{"status":false,"message":"Internal Server Error"}`})
	}
	e.emu.Script(faults...)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, err = e.f.Check(ctx, faciaJPEG("live"))
	if ve := faciaKind(t, err, KindUnavailable); ve.Status != 500 {
		t.Errorf("err %v", err)
	}
}

func TestFACIAErrors(t *testing.T) {
	tests := []struct {
		marker string
		kind   Kind
		status int
		retry  time.Duration
	}{
		{"status=400", KindBadRequest, 400, 0},
		{"status=402", KindBadRequest, 402, 0},
		{"status=403", KindAuth, 403, 0},
		{"status=404", KindBadRequest, 404, 0}, // /liveness missing: a wrong base_url
		{"status=413", KindTooLarge, 413, 0},
		{"status=429", KindRateLimited, 429, time.Second},
		{"status=500", KindUnavailable, 500, 0},
		{"status=503", KindUnavailable, 503, 0},
		{"status=504", KindUnavailable, 504, 0},
		{"status=524", KindUnavailable, 524, 0},
		{"invalid", KindBadRequest, 400, 0},
		{"live;malformed", KindUnavailable, 200, 0},
	}
	for _, tt := range tests {
		t.Run(tt.marker, func(t *testing.T) {
			e := faciaSetup(t, nil)
			_, err := e.f.Check(t.Context(), faciaJPEG(tt.marker))
			ve := faciaKind(t, err, tt.kind)
			if ve.Status != tt.status || ve.RetryAfter != tt.retry {
				t.Errorf("err %v (retry %v)", err, ve.RetryAfter)
			}
			// Only a 401 is sent again.
			if n := e.count("/liveness"); n != 1 {
				t.Errorf("%d creates", n)
			}
		})
	}
}

func TestFACIAUnknownReference(t *testing.T) {
	e := faciaSetup(t, nil)
	e.emu.Script(vendortest.Fault{}, vendortest.Fault{}, vendortest.Fault{Status: 404, Body: `{"status":false,"message":"Resource not found"}`})
	_, err := e.f.Check(t.Context(), faciaJPEG("live"))
	if ve := faciaKind(t, err, KindUnavailable); ve.Status != 404 || !strings.Contains(err.Error(), "unknown reference_id") {
		t.Errorf("err %v", err)
	}
	if n := e.count("/result"); n != 1 {
		t.Errorf("%d polls of an unknown reference", n)
	}
}

func TestFACIAMalformedCreate(t *testing.T) {
	for _, body := range []string{
		`{"status":true,"message":"Transaction Created","result":{"data":{}}}`,
		`{"status":true,"message":"Transaction Created","result":{"data":{"reference_id":"a\nb"}}}`,
		`{"status":true,"message":"Transaction Created"`,
	} {
		e := faciaSetup(t, nil)
		e.emu.Script(vendortest.Fault{}, vendortest.Fault{Status: 200, Body: body})
		_, err := e.f.Check(t.Context(), faciaJPEG("live"))
		faciaKind(t, err, KindUnavailable)
	}
	e := faciaSetup(t, nil)
	e.emu.Script(vendortest.Fault{}, vendortest.Fault{CloseConn: true})
	_, err := e.f.Check(t.Context(), faciaJPEG("live"))
	faciaKind(t, err, KindUnavailable)
}

func TestFACIATokenErrors(t *testing.T) {
	tests := []struct {
		name  string
		fault vendortest.Fault
		kind  Kind
	}{
		{"500", vendortest.Fault{Status: 500, Body: `{"status":false,"message":"Internal Server Error"}`}, KindUnavailable},
		{"429", vendortest.Fault{Status: 429, Body: `{"status":false,"message":"Too Many Attempts."}`}, KindRateLimited},
		{"no token", vendortest.Fault{Status: 200, Body: `{"status":true,"message":"token","result":{"data":{}}}`}, KindUnavailable},
		{"token with a newline", vendortest.Fault{Status: 200, Body: `{"status":true,"message":"token","result":{"data":{"token":"a\nb"}}}`}, KindUnavailable},
		{"status false", vendortest.Fault{Status: 200, Body: `{"status":false,"message":"Unauthorized"}`}, KindAuth},
		{"closed", vendortest.Fault{CloseConn: true}, KindUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := faciaSetup(t, nil)
			e.emu.Script(tt.fault)
			_, err := e.f.Check(t.Context(), faciaJPEG("live"))
			faciaKind(t, err, tt.kind)
			if e.count("/liveness") != 0 {
				t.Error("created a transaction without a token")
			}
		})
	}
}

func TestFACIABadCredentials(t *testing.T) {
	e := faciaSetup(t, func(f *FACIA) { f.ClientSecret = "wrong-secret-3e1f" })
	_, err := e.f.Check(t.Context(), faciaJPEG("live"))
	if ve := faciaKind(t, err, KindAuth); ve.Status != 401 || strings.Contains(err.Error(), "wrong-secret-3e1f") {
		t.Fatalf("err %v", err)
	}
	if got := e.paths(); !reflect.DeepEqual(got, []string{"/request-access-token"}) {
		t.Errorf("calls %v", got)
	}
}

func TestFACIATokenCached(t *testing.T) {
	e := faciaSetup(t, nil)
	for range 5 {
		if _, err := e.f.Check(t.Context(), faciaJPEG("live")); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.count("/request-access-token"); n != 1 {
		t.Errorf("%d token requests for 5 checks", n)
	}

	// Concurrent checks share one token request, slowed down so that they
	// all wait for it.
	e = faciaSetup(t, nil)
	e.emu.Script(vendortest.Fault{Delay: 50 * time.Millisecond})
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := e.f.Check(t.Context(), faciaJPEG("live")); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := e.count("/request-access-token"); n != 1 || e.count("/liveness") != 20 {
		t.Errorf("calls %v", e.paths())
	}
}

// A caller waiting for another's token request gives up at its own
// deadline.
func TestFACIATokenWaitDeadline(t *testing.T) {
	e := faciaSetup(t, nil)
	e.emu.Script(vendortest.Fault{Hang: true})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err := e.f.Check(ctx, faciaJPEG("live"))
	if faciaKind(t, err, KindUnavailable); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v", err)
	}
}

type faciaClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *faciaClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *faciaClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestFACIATokenRenewal(t *testing.T) {
	tests := []struct {
		name      string
		opaque    bool
		ttl       time.Duration
		keep, new time.Duration // clock offsets at which the token is kept, renewed
	}{
		// exp of a 1h JWT: renewed 5 minutes before it.
		{"jwt exp", false, time.Hour, 54 * time.Minute, 56 * time.Minute},
		// A 10-minute JWT: renewed a tenth of its life (1 minute) before.
		{"short jwt", false, 10 * time.Minute, 8*time.Minute + 30*time.Second, 9*time.Minute + 30*time.Second},
		// No exp to read: the documented 8 hours.
		{"opaque", true, 0, 7*time.Hour + 54*time.Minute, 7*time.Hour + 56*time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &faciaClock{t: time.Now()}
			e := faciaSetup(t, func(f *FACIA) { f.now = clock.now })
			e.emu.TokenTTL, e.emu.OpaqueTokens = tt.ttl, tt.opaque
			check := func() {
				t.Helper()
				if _, err := e.f.Check(t.Context(), faciaJPEG("live")); err != nil {
					t.Fatal(err)
				}
			}
			check()
			clock.add(tt.keep)
			check()
			if n := e.count("/request-access-token"); n != 1 {
				t.Fatalf("%d token requests before renewal is due", n)
			}
			clock.add(tt.new - tt.keep)
			check()
			if n := e.count("/request-access-token"); n != 2 {
				t.Fatalf("%d token requests after renewal is due", n)
			}
			if e.seen.auth[len(e.seen.auth)-1] == e.seen.auth[2] {
				t.Error("the renewed token is not used")
			}
		})
	}
}

func TestFACIARefreshOn401(t *testing.T) {
	e := faciaSetup(t, nil)
	if _, err := e.f.Check(t.Context(), faciaJPEG("live")); err != nil {
		t.Fatal(err)
	}
	e.emu.ExpireTokens()
	if _, err := e.f.Check(t.Context(), faciaJPEG("live")); err != nil {
		t.Fatal(err)
	}
	want := []string{"/request-access-token", "/liveness", "/result", "/liveness", "/request-access-token", "/liveness", "/result"}
	if got := e.paths(); !reflect.DeepEqual(got, want) {
		t.Fatalf("calls %v", got)
	}
	// The retry sends the same form again.
	calls := e.emu.Calls()
	if calls[5].FileSHA256 != calls[3].FileSHA256 || calls[5].BodySize != calls[3].BodySize || calls[5].FileSHA256 == "" {
		t.Error("the retried create differs")
	}

	// A 401 while polling: refresh, then poll again.
	e.emu.Reset()
	e.emu.Script(vendortest.Fault{}, vendortest.Fault{Status: 401, Body: `{"status":false,"message":"Unauthorized: Invalid signature key provided in the request"}`})
	if _, err := e.f.Check(t.Context(), faciaJPEG("live")); err != nil {
		t.Fatal(err)
	}
	want = []string{"/liveness", "/result", "/request-access-token", "/result"}
	if got := e.paths(); !reflect.DeepEqual(got, want) {
		t.Fatalf("calls %v", got)
	}
}

func TestFACIASecond401(t *testing.T) {
	e := faciaSetup(t, nil)
	_, err := e.f.Check(t.Context(), faciaJPEG("live;status=401"))
	if ve := faciaKind(t, err, KindAuth); ve.Status != 401 {
		t.Fatalf("err %v", err)
	}
	want := []string{"/request-access-token", "/liveness", "/request-access-token", "/liveness"}
	if got := e.paths(); !reflect.DeepEqual(got, want) {
		t.Fatalf("calls %v", got)
	}
	// A 200 with "status": false and an auth message counts as a 401.
	e = faciaSetup(t, nil)
	unauth := vendortest.Fault{Status: 200, Body: `{"status":false,"message":"Token has expired"}`}
	e.emu.Script(vendortest.Fault{}, unauth, vendortest.Fault{}, unauth)
	_, err = e.f.Check(t.Context(), faciaJPEG("live"))
	faciaKind(t, err, KindAuth)
	if got := e.paths(); !reflect.DeepEqual(got, want) {
		t.Fatalf("calls %v", got)
	}
}

func TestFACIAClientReference(t *testing.T) {
	repl := caddy.NewReplacer()
	repl.Set("http.request.uuid", "0b0c8a1e-5d6f-4c1a-9d2b-3e4f5a6b7c8d")
	repl.Set("http.vars.short", "abc")
	repl.Set("http.vars.long", strings.Repeat("x", 256))
	tests := []struct {
		configured string
		repl       *caddy.Replacer
		want       string // "" when not sent
	}{
		{"{http.request.uuid}", repl, "0b0c8a1e-5d6f-4c1a-9d2b-3e4f5a6b7c8d"},
		{"kyc-{http.vars.short}", repl, "kyc-abc"},
		{"{http.vars.short}", repl, ""},
		{"{http.vars.long}", repl, ""},
		{"{http.request.uuid}", nil, ""}, // outside a request
		{"static-ref", nil, "static-ref"},
		{"", repl, ""},
	}
	for _, tt := range tests {
		e := faciaSetup(t, func(f *FACIA) { f.ClientReference = tt.configured })
		req := faciaJPEG("live")
		req.Replacer = tt.repl
		if _, err := e.f.Check(t.Context(), req); err != nil {
			t.Fatalf("%q: %v", tt.configured, err)
		}
		got, sent := e.emu.Calls()[1].Fields["client_reference"]
		if got != tt.want || sent != (tt.want != "") {
			t.Errorf("%q: sent %v %q, want %q", tt.configured, sent, got, tt.want)
		}
	}
}

// declined_proof links to biometric imagery: it must not reach a Result
// (which is cached and turned into headers) or an error.
func TestFACIANoProofLeak(t *testing.T) {
	e := faciaSetup(t, func(f *FACIA) { f.ScoreDirection = "fake_high" })
	for _, m := range []string{"spoof", "no_face", "live;decline=FADR22"} {
		r, err := e.f.Check(t.Context(), faciaJPEG(m))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(r)
		if strings.Contains(string(b), faciaTestProof) || strings.Contains(fmt.Sprintf("%+v", r), faciaTestProof) {
			t.Errorf("%s: result %s holds the proof URL", m, b)
		}
	}
	proof := `"declined_proof":"https://` + faciaTestProof + `/x?signature=s"`
	for _, body := range []string{
		`{"status":true,"message":"success","result":{"data":{"status":7,` + proof + `}}}`,
		`{"status":true,"message":"success","result":{"data":{"status":[0],` + proof + `}}}`,
		`{"status":false,"message":"https://` + faciaTestProof + `/leak",` + proof + `}`,
	} {
		e.emu.Script(vendortest.Fault{}, vendortest.Fault{Status: 200, Body: body})
		_, err := e.f.Check(t.Context(), faciaJPEG("live"))
		if err == nil {
			t.Fatalf("no error for %s", body)
		}
		if strings.Contains(err.Error(), "signature=s") {
			t.Errorf("error %q holds the proof URL", err)
		}
	}
}

func TestFACIAProfile(t *testing.T) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
	defer cancel()
	profiles := map[string]bool{}
	for _, f := range []*FACIA{
		{ClientID: "i", ClientSecret: "s"},
		{ClientID: "i", ClientSecret: "s", ScoreDirection: "fake_high"},
		{ClientID: "i", ClientSecret: "s", ScoreDirection: "live_high"},
		{ClientID: "i", ClientSecret: "s", BaseURL: "http://127.0.0.1:9781/"},
	} {
		if err := f.Provision(ctx); err != nil {
			t.Fatal(err)
		}
		profiles[f.Profile(nil)] = true
	}
	for _, want := range []string{"facia https://api.facia.ai", "facia https://api.facia.ai fake_high", "facia https://api.facia.ai live_high", "facia http://127.0.0.1:9781"} {
		if !profiles[want] {
			t.Errorf("no profile %q in %v", want, profiles)
		}
	}
	f := &FACIA{ClientID: "i", ClientSecret: "s", ClientReference: "{http.request.uuid}"}
	f.Provision(ctx)
	if f.Profile(faciaJPEG("live")) != "facia https://api.facia.ai" {
		t.Error("client_reference changes the profile")
	}
	if f.PollInterval != caddy.Duration(500*time.Millisecond) {
		t.Errorf("default poll_interval %v", f.PollInterval)
	}
}

func TestFACIAProvision(t *testing.T) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
	defer cancel()
	t.Setenv("FACIA_TEST_EMPTY", "")
	t.Setenv("FACIA_TEST_SECRET", "from-env-2b7d")
	for _, f := range []*FACIA{
		{ClientSecret: "s"},
		{ClientID: "i"},
		{ClientID: "i", ClientSecret: "{env.FACIA_TEST_EMPTY}"},
		{ClientID: "{env.FACIA_TEST_EMPTY}", ClientSecret: "s"},
		{ClientID: "i", ClientSecret: "s", ScoreDirection: "higher"},
		{ClientID: "i", ClientSecret: "s", PollInterval: -1},
		{ClientID: "i", ClientSecret: "s", BaseURL: "ftp://host"},
		{ClientID: "i", ClientSecret: "s", BaseURL: "https://host/?q=1"},
		{ClientID: "i", ClientSecret: "s", ClientReference: "abcd"},
		{ClientID: "i", ClientSecret: "s", ClientReference: strings.Repeat("a", 256)},
	} {
		err := f.Provision(ctx)
		if err == nil {
			t.Errorf("accepted %+v", f)
		} else if strings.Contains(err.Error(), "from-env") {
			t.Errorf("error %q holds a secret", err)
		}
	}
	f := &FACIA{ClientID: "i", ClientSecret: "{env.FACIA_TEST_SECRET}", ClientReference: "{http.vars.x}"}
	if err := f.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	if f.secret != "from-env-2b7d" || f.ClientSecret != "{env.FACIA_TEST_SECRET}" {
		t.Error("secret not resolved, or the placeholder not kept")
	}
	b, _ := json.Marshal(f)
	if strings.Contains(string(b), "from-env") {
		t.Errorf("config %s holds the secret", b)
	}
}

func TestFACIACaddyfile(t *testing.T) {
	var f FACIA
	in := `facia {
		client_id {env.FACIA_CLIENT_ID}
		client_secret {env.FACIA_CLIENT_SECRET}
		base_url http://127.0.0.1:9782
		poll_interval 250ms
		score_direction fake_high
		client_reference {http.request.uuid}
	}`
	if err := f.UnmarshalCaddyfile(caddyfile.NewTestDispenser(in)); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(&f)
	want := `{"client_id":"{env.FACIA_CLIENT_ID}","client_secret":"{env.FACIA_CLIENT_SECRET}","base_url":"http://127.0.0.1:9782","poll_interval":250000000,"score_direction":"fake_high","client_reference":"{http.request.uuid}"}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	for name, in := range map[string]string{
		"unknown option":   "facia {\n client_id i\n region eu\n}",
		"duplicate option": "facia {\n client_id i\n client_id j\n}",
		"missing value":    "facia {\n client_id\n}",
		"two values":       "facia {\n client_id i j\n}",
		"argument":         "facia extra {\n client_id i\n}",
		"bad duration":     "facia {\n poll_interval soon\n}",
		"zero duration":    "facia {\n poll_interval 0s\n}",
	} {
		var f FACIA
		if err := f.UnmarshalCaddyfile(caddyfile.NewTestDispenser(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	var empty FACIA
	if b, _ := json.Marshal(&empty); string(b) != "{}" {
		t.Errorf("zero config marshals to %s", b)
	}
}

func TestFACIAModule(t *testing.T) {
	m, err := caddy.GetModule("http.handlers.liveness.vendors.facia")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.New().(*FACIA); !ok {
		t.Fatalf("module is %T", m.New())
	}
}
