package vendors_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/golang-jwt/jwt/v5"

	"github.com/caddy-liveness/caddy-liveness/vendors"
	"github.com/caddy-liveness/caddy-liveness/vendors/vendortest"
)

const verifikToken = "verifik-token-3c9e"

// verifikWire is a request as it reached the server, credential
// included, which the emulator's own record redacts.
type verifikWire struct {
	method, path string
	header       http.Header
	body         []byte
}

type verifikEnv struct {
	client *vendors.Verifik
	emu    *vendortest.Verifik
	url    string

	mu   sync.Mutex
	wire []verifikWire
}

func (e *verifikEnv) last(t *testing.T) verifikWire {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.wire) == 0 {
		t.Fatal("no request reached the emulator")
	}
	return e.wire[len(e.wire)-1]
}

// verifikSetup provisions cfg (its BaseURL pointed at a fresh emulator
// accepting emuToken, which prep may configure before it serves) and
// returns it with the emulator.
func verifikSetup(t *testing.T, cfg vendors.Verifik, emuToken string, prep ...func(*vendortest.Verifik)) *verifikEnv {
	t.Helper()
	e := &verifikEnv{emu: vendortest.NewVerifik(emuToken)}
	for _, p := range prep {
		p(e.emu)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		e.mu.Lock()
		e.wire = append(e.wire, verifikWire{r.Method, r.URL.Path, r.Header.Clone(), body})
		e.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		e.emu.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	e.url = srv.URL
	cfg.BaseURL = srv.URL
	e.client = &cfg
	ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
	t.Cleanup(cancel)
	if err := e.client.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.client.Cleanup() })
	return e
}

func verifikJPEG(marker string) *vendors.Request {
	return &vendors.Request{Media: vendors.Media{Data: vendortest.SampleJPEG(marker), MIME: "image/jpeg"}}
}

func verifikFloat(f float64) *float64 { return &f }

func TestVerifikRequest(t *testing.T) {
	e := verifikSetup(t, vendors.Verifik{Token: verifikToken}, verifikToken)
	req := verifikJPEG("live")
	if _, err := e.client.Check(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	w := e.last(t)
	switch {
	case w.method != http.MethodPost || w.path != "/v2/face-recognition/liveness":
		t.Errorf("%s %s", w.method, w.path)
	case w.header.Get("Authorization") != "Bearer "+verifikToken:
		t.Errorf("Authorization %q", w.header.Get("Authorization"))
	case w.header.Get("Content-Type") != "application/json":
		t.Errorf("Content-Type %q", w.header.Get("Content-Type"))
	case w.header.Get("Content-Length") != strconv.Itoa(len(w.body)):
		t.Errorf("Content-Length %q for %d bytes", w.header.Get("Content-Length"), len(w.body))
	}
	var body map[string]any
	if err := json.Unmarshal(w.body, &body); err != nil {
		t.Fatal(err)
	}
	// Raw standard base64, never a data URI or a URL; no parameter the
	// operator did not set.
	want := map[string]any{"os": "DESKTOP", "image": base64.StdEncoding.EncodeToString(req.Data)}
	if len(body) != len(want) || body["os"] != want["os"] || body["image"] != want["image"] {
		t.Errorf("body fields %v", verifikKeys(body))
	}
	c := e.emu.Calls()[0]
	sum := sha256.Sum256(req.Data)
	if c.DataSHA256 != hex.EncodeToString(sum[:]) || c.DataURI || c.MinScore != nil || c.CollectionID != "" {
		t.Errorf("emulator saw %+v", c)
	}
}

func verifikKeys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func TestVerifikRequestParameters(t *testing.T) {
	e := verifikSetup(t, vendors.Verifik{Token: verifikToken, OS: "ANDROID", CollectionID: "col-\"7\""}, verifikToken)
	req := verifikJPEG("live")
	req.Threshold = verifikFloat(0.72)
	req.UserAgent = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)"
	if _, err := e.client.Check(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal(e.last(t).body, &body); err != nil {
		t.Fatal(err)
	}
	if got := verifikKeys(body); !slices.Equal(got, []string{"collection_id", "image", "liveness_min_score", "os"}) {
		t.Errorf("fields %v", got)
	}
	if body["os"] != "ANDROID" || body["liveness_min_score"] != 0.72 || body["collection_id"] != `col-"7"` {
		t.Errorf("body %v %v %v", body["os"], body["liveness_min_score"], body["collection_id"])
	}
	c := e.emu.Calls()[0]
	if c.OS != "ANDROID" || c.MinScore == nil || *c.MinScore != 0.72 || c.CollectionID != `col-"7"` {
		t.Errorf("emulator saw %+v", c)
	}
}

func TestVerifikOS(t *testing.T) {
	tests := []struct {
		configured, userAgent, want string
	}{
		{"", "", "DESKTOP"},
		{"auto", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0", "DESKTOP"},
		{"", "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 Safari/605.1.15", "DESKTOP"},
		{"", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148", "IOS"},
		{"", "Mozilla/5.0 (iPad; CPU OS 16_0 like Mac OS X)", "IOS"},
		{"", "MyApp/2.1 (com.example.app; build:42; iOS 17.4.1) Alamofire/5.9", "IOS"},
		{"auto", "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Mobile Safari/537.36", "ANDROID"},
		{"", "Dalvik/2.1.0 (Linux; U; Android 13; SM-S911B Build/TP1A)", "ANDROID"},
		{"", "KioskBrowser/1.0 (BIOS)", "DESKTOP"},
		{"IOS", "Mozilla/5.0 (Linux; Android 14)", "IOS"},
		{"DESKTOP", "Mozilla/5.0 (iPhone)", "DESKTOP"},
		{"ANDROID", "", "ANDROID"},
	}
	for _, tt := range tests {
		t.Run(tt.configured+"/"+tt.userAgent, func(t *testing.T) {
			e := verifikSetup(t, vendors.Verifik{Token: verifikToken, OS: tt.configured}, verifikToken)
			req := verifikJPEG("live")
			req.UserAgent = tt.userAgent
			if _, err := e.client.Check(t.Context(), req); err != nil {
				t.Fatal(err)
			}
			if got := e.emu.Calls()[0].OS; got != tt.want {
				t.Errorf("os %q, want %q", got, tt.want)
			}
			if p := e.client.Profile(req); !strings.Contains(p, " os="+tt.want+" ") {
				t.Errorf("profile %q does not name os %s", p, tt.want)
			}
		})
	}
}

func TestVerifikAnswers(t *testing.T) {
	tests := []struct {
		marker    string
		threshold *float64 // operator's, sent as liveness_min_score
		score     float64
		passed    bool
		kind      vendors.Kind
		status    int
	}{
		{marker: "live", score: 0.97, passed: true},
		{marker: "spoof", score: 0.03},
		// The vendor's decision is strictly above its 0.6 default.
		{marker: "score=0.6", score: 0.6},
		{marker: "score=0.61", score: 0.61, passed: true},
		{marker: "score=0.65", threshold: verifikFloat(0.7), score: 0.65},
		{marker: "score=0.65", threshold: verifikFloat(0.5), score: 0.65, passed: true},
		// No face is undocumented: the emulator answers a failed check
		// with score 0, which stays a face result that is not live.
		{marker: "no_face", score: 0},
		{marker: "no_face", threshold: verifikFloat(0), score: 0},
		{marker: "status=401", kind: vendors.KindAuth, status: 401},
		{marker: "status=403", kind: vendors.KindAuth, status: 403},
		{marker: "status=409", kind: vendors.KindBadRequest, status: 409},
		{marker: "status=429", kind: vendors.KindRateLimited, status: 429},
		{marker: "status=500", kind: vendors.KindUnavailable, status: 500},
		{marker: "status=502", kind: vendors.KindUnavailable, status: 502},
		{marker: "status=503", kind: vendors.KindUnavailable, status: 503},
		{marker: "status=404", kind: vendors.KindBadRequest, status: 404},
		{marker: "status=413", kind: vendors.KindTooLarge, status: 413},
		{marker: "malformed", kind: vendors.KindUnavailable, status: 200},
	}
	for _, tt := range tests {
		t.Run(tt.marker, func(t *testing.T) {
			e := verifikSetup(t, vendors.Verifik{Token: verifikToken}, verifikToken)
			req := verifikJPEG(tt.marker)
			req.Threshold = tt.threshold
			r, err := e.client.Check(t.Context(), req)
			if tt.kind != "" {
				var ve *vendors.Error
				if !errors.As(err, &ve) || ve.Kind != tt.kind || ve.Status != tt.status || ve.Vendor != "verifik" {
					t.Fatalf("err %v, want %s (HTTP %d)", err, tt.kind, tt.status)
				}
				if tt.kind == vendors.KindRateLimited && ve.RetryAfter != time.Second {
					t.Errorf("RetryAfter %v", ve.RetryAfter)
				}
				if strings.Contains(err.Error(), verifikToken) {
					t.Fatal("error holds the token")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Class != vendors.ClassFace || !r.HasScore || r.Score != tt.score || r.Passed == nil || *r.Passed != tt.passed {
				t.Fatalf("result %+v, want score %v passed %v", r, tt.score, tt.passed)
			}
			if r.Reference != e.emu.Calls()[0].ID || r.Reference == "" {
				t.Errorf("reference %q, emulator id %q", r.Reference, e.emu.Calls()[0].ID)
			}
			// Without an operator threshold the vendor's decision stands;
			// with one, the score is re-decided (as for cached results).
			if r.Live(nil) != tt.passed {
				t.Errorf("Live(nil) = %v", r.Live(nil))
			}
			if tt.threshold != nil && r.Live(tt.threshold) != (tt.score > *tt.threshold) {
				t.Errorf("Live(%v) = %v", *tt.threshold, r.Live(tt.threshold))
			}
		})
	}
}

func TestVerifikBadToken(t *testing.T) {
	e := verifikSetup(t, vendors.Verifik{Token: "wrong-token"}, verifikToken)
	_, err := e.client.Check(t.Context(), verifikJPEG("live"))
	var ve *vendors.Error
	if !errors.As(err, &ve) || ve.Kind != vendors.KindAuth || ve.Status != 401 || !strings.Contains(ve.Msg, "UNAUTHORIZED") {
		t.Fatalf("err %v, want auth 401", err)
	}
	if strings.Contains(err.Error(), "wrong-token") {
		t.Fatal("error holds the token")
	}
}

func TestVerifikExpiredToken(t *testing.T) {
	exp := time.Date(2024, 2, 15, 12, 0, 0, 0, time.UTC)
	jwtToken, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"exp": exp.Unix()}).SignedString([]byte("k"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{verifikToken, jwtToken} {
		e := verifikSetup(t, vendors.Verifik{Token: tok}, tok)
		e.emu.Expire()
		_, err := e.client.Check(t.Context(), verifikJPEG("live"))
		var ve *vendors.Error
		if !errors.As(err, &ve) || ve.Kind != vendors.KindAuth || ve.Status != 403 {
			t.Fatalf("err %v, want auth 403", err)
		}
		if !strings.Contains(ve.Msg, "token expired") || !strings.Contains(ve.Msg, "renew") {
			t.Errorf("message %q does not tell the operator to renew the token", ve.Msg)
		}
		if hasExp := strings.Contains(ve.Msg, "2024-02-15T12:00:00Z"); hasExp != (tok == jwtToken) {
			t.Errorf("message %q: exp shown %v", ve.Msg, hasExp)
		}
		if strings.Contains(err.Error(), tok) {
			t.Fatal("error holds the token")
		}
	}
}

func TestVerifikScriptedFaults(t *testing.T) {
	tests := []struct {
		fault vendortest.Fault
		kind  vendors.Kind
		retry time.Duration
		msg   string // in the error's Msg
	}{
		{fault: vendortest.Fault{Status: 200, Body: `{"id":"A","data":{"passed":true,"min_score":0.6,"liveness_sc`}, kind: vendors.KindUnavailable},
		{fault: vendortest.Fault{Status: 200, Body: `{"data":{"passed":true,"min_score":0.6,"liveness_score":0.9}}`}, kind: vendors.KindUnavailable},
		{fault: vendortest.Fault{Status: 200, Body: `{"id":"","data":{"passed":true,"min_score":0.6,"liveness_score":0.9}}`}, kind: vendors.KindUnavailable},
		{fault: vendortest.Fault{Status: 200, Body: `{"id":7,"data":{"passed":true,"min_score":0.6,"liveness_score":0.9}}`}, kind: vendors.KindUnavailable},
		{fault: vendortest.Fault{Status: 200, Body: `{"id":"A"}`}, kind: vendors.KindUnavailable},
		{fault: vendortest.Fault{Status: 200, Body: `{"id":"A","data":{"min_score":0.6,"liveness_score":0.9}}`}, kind: vendors.KindUnavailable},
		{fault: vendortest.Fault{Status: 200, Body: `{"id":"A","data":{"passed":true,"min_score":0.6}}`}, kind: vendors.KindUnavailable},
		{fault: vendortest.Fault{Status: 200, Body: `{"id":"A","data":{"passed":"yes","min_score":0.6,"liveness_score":0.9}}`}, kind: vendors.KindUnavailable},
		{fault: vendortest.Fault{Status: 200, Body: `{"id":"A","data":{"passed":true,"min_score":0.6,"liveness_score":1.5}}`}, kind: vendors.KindUnavailable},
		{fault: vendortest.Fault{Status: 200, Body: `{"id":"A","data":{"passed":false,"min_score":0.6,"liveness_score":-0.1}}`}, kind: vendors.KindUnavailable},
		{fault: vendortest.Fault{Status: 200, Body: `<html>gateway</html>`, ContentType: "text/html"}, kind: vendors.KindUnavailable},
		{fault: vendortest.Fault{Status: 429, Body: `{"message":"slow down","code":"TooManyRequests"}`, Header: http.Header{"Retry-After": {"3"}}}, kind: vendors.KindRateLimited, retry: 3 * time.Second},
		{fault: vendortest.Fault{Status: 409, Body: `{"message":"\"image\" is required","code":"MissingParameter"}`}, kind: vendors.KindBadRequest, msg: "bug in this client"},
		{fault: vendortest.Fault{Status: 403, Body: `{"message":"no access to this service","code":"FORBIDDEN"}`}, kind: vendors.KindAuth, msg: "no access"},
		{fault: vendortest.Fault{Status: 500, Body: `{"message":"internal_error","code":"ERROR"}`}, kind: vendors.KindUnavailable, msg: "ERROR internal_error"},
		{fault: vendortest.Fault{Status: 504, Body: "upstream timed out", ContentType: "text/plain"}, kind: vendors.KindUnavailable},
		{fault: vendortest.Fault{CloseConn: true}, kind: vendors.KindUnavailable},
	}
	for _, tt := range tests {
		e := verifikSetup(t, vendors.Verifik{Token: verifikToken}, verifikToken)
		e.emu.Script(tt.fault)
		_, err := e.client.Check(t.Context(), verifikJPEG("live"))
		var ve *vendors.Error
		if !errors.As(err, &ve) || ve.Kind != tt.kind || ve.RetryAfter != tt.retry || !strings.Contains(ve.Msg, tt.msg) {
			t.Errorf("fault %+v: err %v, want %s", tt.fault, err, tt.kind)
			continue
		}
		if tt.fault.Status == 403 && strings.Contains(ve.Msg, "renew") {
			t.Errorf("a 403 other than token_expired reads as an expired token: %q", ve.Msg)
		}
	}
}

func TestVerifikReferenceSanitized(t *testing.T) {
	e := verifikSetup(t, vendors.Verifik{Token: verifikToken}, verifikToken)
	e.emu.Script(vendortest.Fault{Status: 200, Body: `{"id":"JQ\n4RM\u0007","data":{"passed":true,"min_score":0.6,"liveness_score":0.98},"signature":{}}`})
	r, err := e.client.Check(t.Context(), verifikJPEG("live"))
	if err != nil || r.Reference != "JQ4RM" || r.Score != 0.98 || !*r.Passed {
		t.Fatalf("result %+v, err %v", r, err)
	}
}

func TestVerifikUnknownCollection(t *testing.T) {
	e := verifikSetup(t, vendors.Verifik{Token: verifikToken, CollectionID: "col-b"}, verifikToken,
		func(v *vendortest.Verifik) { v.Collections = []string{"col-a"} })
	_, err := e.client.Check(t.Context(), verifikJPEG("live"))
	var ve *vendors.Error
	if !errors.As(err, &ve) || ve.Kind != vendors.KindBadRequest || ve.Status != 404 {
		t.Fatalf("err %v, want bad_request 404", err)
	}
}

func TestVerifikDeadline(t *testing.T) {
	e := verifikSetup(t, vendors.Verifik{Token: verifikToken}, verifikToken)
	e.emu.Script(vendortest.Fault{Hang: true})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err := e.client.Check(ctx, verifikJPEG("live"))
	if vendors.KindOf(err) != vendors.KindUnavailable || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want unavailable by deadline", err)
	}
}

func TestVerifikRefusesVideo(t *testing.T) {
	e := verifikSetup(t, vendors.Verifik{Token: verifikToken}, verifikToken)
	_, err := e.client.Check(t.Context(), &vendors.Request{Media: vendors.Media{Data: []byte("...."), MIME: "video/mp4"}})
	if vendors.KindOf(err) != vendors.KindUnsupported || e.emu.CallCount() != 0 {
		t.Fatalf("err %v, calls %d", err, e.emu.CallCount())
	}
}

func TestVerifikPNG(t *testing.T) {
	e := verifikSetup(t, vendors.Verifik{Token: verifikToken}, verifikToken)
	img := vendortest.SamplePNG("spoof")
	r, err := e.client.Check(t.Context(), &vendors.Request{Media: vendors.Media{Data: img, MIME: "image/png"}})
	if err != nil || r.Score != 0.03 || *r.Passed {
		t.Fatalf("result %+v, err %v", r, err)
	}
	sum := sha256.Sum256(img)
	if e.emu.Calls()[0].DataSHA256 != hex.EncodeToString(sum[:]) {
		t.Error("image does not decode to the PNG")
	}
}

func TestVerifikProvision(t *testing.T) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
	defer cancel()
	for _, v := range []*vendors.Verifik{
		{Token: ""},
		{Token: "{env.VERIFIK_TEST_UNSET_TOKEN}"},
		{Token: "t", OS: "ios"},
		{Token: "t", OS: "WINDOWS"},
		{Token: "t", OS: "AUTO"},
		{Token: "t", BaseURL: "ftp://host"},
		{Token: "t", BaseURL: "https://host/?q=1"},
	} {
		err := v.Provision(ctx)
		if err == nil {
			t.Errorf("accepted %+v", v)
		} else if !strings.HasPrefix(err.Error(), "verifik: ") {
			t.Errorf("error %q does not name the vendor", err)
		}
	}
	v := &vendors.Verifik{Token: "t"}
	if err := v.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	if p := v.Profile(nil); !strings.HasPrefix(p, "verifik https://api.verifik.co/v2/face-recognition/liveness ") {
		t.Fatalf("default endpoint: %s", p)
	}

	// An expired JWT still provisions: only Verifik decides, and a reload
	// must not fail because of it.
	expired, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"exp": time.Now().Add(-time.Hour).Unix()}).SignedString([]byte("k"))
	if err := (&vendors.Verifik{Token: expired}).Provision(ctx); err != nil {
		t.Fatal(err)
	}
}

// The token is resolved from its placeholder at provisioning; the
// configuration keeps the placeholder.
func TestVerifikTokenPlaceholder(t *testing.T) {
	t.Setenv("VERIFIK_TEST_TOKEN", verifikToken)
	e := verifikSetup(t, vendors.Verifik{Token: "{env.VERIFIK_TEST_TOKEN}"}, verifikToken)
	if _, err := e.client.Check(t.Context(), verifikJPEG("live")); err != nil {
		t.Fatal(err)
	}
	if got := e.last(t).header.Get("Authorization"); got != "Bearer "+verifikToken {
		t.Errorf("Authorization %q", got)
	}
	cfg, err := json.Marshal(e.client)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(cfg), verifikToken) || !strings.Contains(string(cfg), `"token":"{env.VERIFIK_TEST_TOKEN}"`) {
		t.Errorf("config %s", cfg)
	}
	if p := e.client.Profile(verifikJPEG("live")); strings.Contains(p, verifikToken) {
		t.Errorf("profile %q holds the token", p)
	}
}

func TestVerifikProfile(t *testing.T) {
	auto := verifikSetup(t, vendors.Verifik{Token: verifikToken}, verifikToken).client
	ios := &vendors.Request{UserAgent: "Mozilla/5.0 (iPhone)"}
	android := &vendors.Request{UserAgent: "Mozilla/5.0 (Linux; Android 14)"}
	desktop := &vendors.Request{UserAgent: "curl/8.5"}
	t07 := &vendors.Request{UserAgent: "curl/8.5", Threshold: verifikFloat(0.7)}
	t08 := &vendors.Request{UserAgent: "curl/8.5", Threshold: verifikFloat(0.8)}

	profiles := map[string]bool{}
	for _, req := range []*vendors.Request{ios, android, desktop, t07, t08} {
		profiles[auto.Profile(req)] = true
	}
	if len(profiles) != 5 {
		t.Errorf("os and threshold do not all change the profile: %v", profiles)
	}
	if auto.Profile(desktop) != auto.Profile(nil) || auto.Profile(desktop) != auto.Profile(&vendors.Request{}) {
		t.Error("an empty User-Agent is not DESKTOP")
	}
	if p := auto.Profile(t07); !strings.Contains(p, "liveness_min_score=0.7") {
		t.Errorf("profile %q", p)
	}
	if p := auto.Profile(desktop); !strings.Contains(p, "liveness_min_score=0.6") {
		t.Errorf("profile %q does not name the vendor's default", p)
	}

	fixed := verifikSetup(t, vendors.Verifik{Token: verifikToken, OS: "IOS"}, verifikToken).client
	if fixed.Profile(android) != fixed.Profile(desktop) {
		t.Error("a configured os still depends on the User-Agent")
	}
	col := verifikSetup(t, vendors.Verifik{Token: verifikToken, OS: "IOS", CollectionID: "c1"}, verifikToken).client
	if col.Profile(desktop) == fixed.Profile(desktop) || !strings.Contains(col.Profile(desktop), `collection_id="c1"`) {
		t.Errorf("collection does not change the profile: %q", col.Profile(desktop))
	}
	// Another endpoint, another profile: an emulator never answers for
	// the real API.
	if col.Profile(nil) == (&vendors.Verifik{}).Profile(nil) {
		t.Error("endpoint not in the profile")
	}
}

func TestVerifikCaddyfile(t *testing.T) {
	d := caddyfile.NewTestDispenser(`verifik {
		token {env.VERIFIK_TOKEN}
		os IOS
		collection_id col-1
		base_url http://127.0.0.1:9781
	}`)
	var v vendors.Verifik
	if err := v.UnmarshalCaddyfile(d); err != nil {
		t.Fatal(err)
	}
	want := vendors.Verifik{Token: "{env.VERIFIK_TOKEN}", OS: "IOS", CollectionID: "col-1", BaseURL: "http://127.0.0.1:9781"}
	got, _ := json.Marshal(&v)
	wantJSON, _ := json.Marshal(&want)
	if !bytes.Equal(got, wantJSON) {
		t.Errorf("got %s, want %s", got, wantJSON)
	}
	if !bytes.Contains(got, []byte(`"collection_id":"col-1"`)) || !bytes.Contains(got, []byte(`"base_url":`)) {
		t.Errorf("JSON names %s", got)
	}
	if err := (&vendors.Verifik{}).UnmarshalCaddyfile(caddyfile.NewTestDispenser("verifik")); err != nil {
		t.Errorf("empty block: %v", err)
	}

	for name, input := range map[string]string{
		"unknown option":   "verifik {\n token t\n api_key k\n}",
		"duplicate option": "verifik {\n token t\n token u\n}",
		"missing value":    "verifik {\n token\n}",
		"two values":       "verifik {\n os IOS ANDROID\n}",
		"argument":         "verifik extra {\n token t\n}",
	} {
		if err := (&vendors.Verifik{}).UnmarshalCaddyfile(caddyfile.NewTestDispenser(input)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
