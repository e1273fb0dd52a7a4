// These tests are in package vendors, not vendors_test, because proving
// token renewal without waiting a day needs the unexported clock.
package vendors

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
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
	videosdkTestKey    = "videosdk-key-51c2"
	videosdkTestSecret = "videosdk-secret-9e0d4b"
)

// videosdkSeen is a request as it reached the emulator, unredacted, so a
// test can check the exact token and body the client sent.
type videosdkSeen struct {
	auth, contentType string
	contentLength     int64
	body              []byte
}

type videosdkEnv struct {
	v   *VideoSDK
	emu *vendortest.VideoSDK

	mu   sync.Mutex
	seen []videosdkSeen
}

func (e *videosdkEnv) requests() []videosdkSeen {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.seen)
}

// videosdkNewEnv provisions v against an emulator that knows the test key
// and secret.
func videosdkNewEnv(t *testing.T, v *VideoSDK) *videosdkEnv {
	t.Helper()
	e := &videosdkEnv{v: v, emu: vendortest.NewVideoSDK(videosdkTestKey, videosdkTestSecret)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		e.mu.Lock()
		e.seen = append(e.seen, videosdkSeen{r.Header.Get("Authorization"), r.Header.Get("Content-Type"), r.ContentLength, body})
		e.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		e.emu.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	v.BaseURL = srv.URL
	ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
	t.Cleanup(cancel)
	if err := v.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Cleanup() })
	return e
}

func videosdkMinting(t *testing.T) *videosdkEnv {
	return videosdkNewEnv(t, &VideoSDK{APIKey: videosdkTestKey, APISecret: videosdkTestSecret})
}

func videosdkJPEG(marker string) *Request {
	return &Request{Media: Media{Data: vendortest.SampleJPEG(marker), MIME: "image/jpeg"}}
}

// videosdkMint signs claims as a VideoSDK dashboard or backend would.
func videosdkMint(t *testing.T, secret string, claims jwt.MapClaims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// videosdkParse verifies tok with the test secret and returns its claims.
func videosdkParse(t *testing.T, tok string) jwt.MapClaims {
	t.Helper()
	claims := jwt.MapClaims{}
	parsed, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return []byte(videosdkTestSecret), nil },
		jwt.WithValidMethods([]string{"HS256"}))
	if err != nil || !parsed.Valid {
		t.Fatalf("token does not verify with the secret: %v", err)
	}
	if parsed.Header["typ"] != "JWT" {
		t.Errorf("JWT header %v", parsed.Header)
	}
	return claims
}

func TestVideoSDKRequest(t *testing.T) {
	e := videosdkMinting(t)
	for _, m := range []Media{
		{Data: vendortest.SampleJPEG("live"), MIME: "image/jpeg"},
		{Data: vendortest.SamplePNG("live"), MIME: "image/png"},
	} {
		if _, err := e.v.Check(t.Context(), &Request{Media: m}); err != nil {
			t.Fatal(err)
		}
	}
	calls, seen := e.emu.Calls(), e.requests()
	if len(calls) != 2 || len(seen) != 2 {
		t.Fatalf("%d calls", len(calls))
	}
	for i, want := range []struct {
		mime string
		data []byte
	}{{"image/jpeg", vendortest.SampleJPEG("live")}, {"image/png", vendortest.SamplePNG("live")}} {
		c, s := calls[i], seen[i]
		sum := sha256.Sum256(want.data)
		wantBody := `{"img":"data:` + want.mime + `;base64,` + base64.StdEncoding.EncodeToString(want.data) + `"}`
		switch {
		case c.Method != http.MethodPost || c.Path != "/ai/v1/face-verification/detect-spoof":
			t.Errorf("%s %s", c.Method, c.Path)
		case s.contentType != "application/json":
			t.Errorf("content type %q", s.contentType)
		case strings.ContainsAny(s.auth, " \t") || s.auth == "":
			t.Errorf("Authorization %q is not a bare token", s.auth)
		case string(s.body) != wantBody:
			t.Errorf("body %.80q..., want %.80q...", s.body, wantBody)
		case s.contentLength != int64(len(wantBody)):
			t.Errorf("Content-Length %d, body %d bytes", s.contentLength, len(wantBody))
		case c.ImageMIME != want.mime || c.DataSHA256 != hex.EncodeToString(sum[:]):
			t.Errorf("emulator saw %q %s", c.ImageMIME, c.DataSHA256)
		}
	}
	if seen[0].auth != seen[1].auth {
		t.Error("the minted token was not reused")
	}
}

func TestVideoSDKMintedToken(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	e := videosdkNewEnv(t, &VideoSDK{APIKey: videosdkTestKey, APISecret: videosdkTestSecret, now: func() time.Time { return now }})
	if _, err := e.v.Check(t.Context(), videosdkJPEG("live")); err != nil {
		t.Fatal(err)
	}
	tok := e.requests()[0].auth
	parser := jwt.NewParser(jwt.WithTimeFunc(func() time.Time { return now }))
	claims := jwt.MapClaims{}
	parsed, err := parser.ParseWithClaims(tok, claims, func(tk *jwt.Token) (any, error) {
		if tk.Method != jwt.SigningMethodHS256 {
			t.Errorf("signed with %v", tk.Method.Alg())
		}
		return []byte(videosdkTestSecret), nil
	})
	if err != nil || !parsed.Valid {
		t.Fatalf("token does not verify with the secret: %v", err)
	}
	want := map[string]any{
		"apikey":      videosdkTestKey,
		"permissions": []any{"allow_join"},
		"version":     float64(2),
		"roles":       []any{"crawler"},
		"iat":         float64(now.Unix()),
		"exp":         float64(now.Add(24 * time.Hour).Unix()),
	}
	if len(claims) != len(want) {
		t.Errorf("claims %v, want exactly %v", claims, want)
	}
	for k, w := range want {
		got, ok := claims[k]
		if !ok || !videosdkEqualJSON(got, w) {
			t.Errorf("claim %s = %#v, want %#v", k, got, w)
		}
	}
}

func videosdkEqualJSON(a, b any) bool {
	as, aok := a.([]any)
	bs, bok := b.([]any)
	if aok && bok {
		return slices.Equal(as, bs)
	}
	return !aok && !bok && a == b
}

func TestVideoSDKTokenRenewal(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }
	start := now

	e := videosdkNewEnv(t, &VideoSDK{APIKey: videosdkTestKey, APISecret: videosdkTestSecret, now: clock})
	check := func() string {
		t.Helper()
		if _, err := e.v.Check(t.Context(), videosdkJPEG("live")); err != nil {
			t.Fatal(err)
		}
		seen := e.requests()
		return seen[len(seen)-1].auth
	}
	first := check()
	advance(23*time.Hour + 49*time.Minute) // 11 minutes left: reuse
	if check() != first {
		t.Fatal("token renewed with 11 minutes left")
	}
	advance(2 * time.Minute) // 9 minutes left: renew
	second := check()
	if second == first {
		t.Fatal("token not renewed with 9 minutes left")
	}
	if iat := videosdkParse(t, second)["iat"]; iat != float64(start.Add(23*time.Hour+51*time.Minute).Unix()) {
		t.Errorf("renewed token iat %v", iat)
	}
	if check() != second {
		t.Error("renewed token not reused")
	}
}

// A short lifetime renews when a tenth of it is left, not 10 minutes.
func TestVideoSDKShortLifetime(t *testing.T) {
	now := time.Now()
	var mu sync.Mutex
	e := videosdkNewEnv(t, &VideoSDK{APIKey: videosdkTestKey, APISecret: videosdkTestSecret, lifetime: time.Hour,
		now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }})
	a, err := e.v.authToken()
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(53 * time.Minute)
	mu.Unlock()
	if b, _ := e.v.authToken(); b != a {
		t.Error("renewed with 7 of 60 minutes left")
	}
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	b, _ := e.v.authToken()
	if b == a {
		t.Error("not renewed with 5 of 60 minutes left")
	}
	if exp := videosdkParse(t, b)["exp"]; exp != float64(now.Add(time.Hour).Unix()) {
		t.Errorf("exp %v, want an hour after now", exp)
	}
}

func TestVideoSDKConcurrentChecksShareOneToken(t *testing.T) {
	e := videosdkMinting(t)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if _, err := e.v.Check(t.Context(), videosdkJPEG("live")); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	seen := e.requests()
	for _, s := range seen {
		if s.auth != seen[0].auth {
			t.Fatal("concurrent checks minted different tokens")
		}
	}
}

func TestVideoSDKConfiguredToken(t *testing.T) {
	good := videosdkMint(t, videosdkTestSecret, jwt.MapClaims{
		"apikey": videosdkTestKey, "permissions": []string{"allow_join"}, "version": 2, "roles": []string{"crawler"},
		"exp": time.Now().Add(time.Hour).Unix(),
	})
	t.Setenv("VIDEOSDK_TEST_TOKEN", good+"\n")
	e := videosdkNewEnv(t, &VideoSDK{Token: "{env.VIDEOSDK_TEST_TOKEN}"})
	r, err := e.v.Check(t.Context(), videosdkJPEG("live"))
	if err != nil || r.Class != ClassFace {
		t.Fatalf("%+v %v", r, err)
	}
	if got := e.requests()[0].auth; got != good {
		t.Errorf("sent %q, want the configured token verbatim", got)
	}
	if e.v.Token != "{env.VIDEOSDK_TEST_TOKEN}" {
		t.Error("the config lost its placeholder")
	}

	expired := videosdkMint(t, videosdkTestSecret, jwt.MapClaims{
		"apikey": videosdkTestKey, "permissions": []string{"allow_join"}, "exp": time.Now().Add(-time.Minute).Unix(),
	})
	e = videosdkNewEnv(t, &VideoSDK{Token: expired})
	_, err = e.v.Check(t.Context(), videosdkJPEG("live"))
	var ve *Error
	if !errors.As(err, &ve) || ve.Kind != KindAuth || ve.Status != 401 || !strings.Contains(ve.Msg, "Token expired") {
		t.Fatalf("err %v, want auth 401 token expired", err)
	}
	if strings.Contains(err.Error(), expired) {
		t.Error("error holds the token")
	}
}

func TestVideoSDKWrongCredentials(t *testing.T) {
	for name, v := range map[string]*VideoSDK{
		"secret":     {APIKey: videosdkTestKey, APISecret: "not-the-secret"},
		"key":        {APIKey: "not-the-key", APISecret: videosdkTestSecret},
		"permission": {Token: videosdkMint(t, videosdkTestSecret, jwt.MapClaims{"apikey": videosdkTestKey, "exp": time.Now().Add(time.Hour).Unix()})},
	} {
		t.Run(name, func(t *testing.T) {
			e := videosdkNewEnv(t, v)
			_, err := e.v.Check(t.Context(), videosdkJPEG("live"))
			var ve *Error
			if !errors.As(err, &ve) || ve.Kind != KindAuth || (ve.Status != 401 && ve.Status != 403) {
				t.Fatalf("err %v, want auth", err)
			}
			for _, secret := range []string{"not-the-secret", videosdkTestSecret, e.requests()[0].auth} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q holds a credential", err)
				}
			}
		})
	}
}

func TestVideoSDKAnswers(t *testing.T) {
	half := 0.5
	tests := []struct {
		marker  string
		class   Class
		score   float64
		passed  bool
		live050 bool // decision at an operator threshold of 0.5
		kind    Kind
		status  int
	}{
		{marker: "live", class: ClassFace, score: 0.97, passed: true, live050: true},
		{marker: "spoof", class: ClassFace, score: 0.03},
		{marker: "score=0.8", class: ClassFace, score: 0.8, passed: true, live050: true},
		{marker: "score=0.3", class: ClassFace, score: 0.3},
		{marker: "score=0.5", class: ClassFace, score: 0.5},
		{marker: "score=0.51", class: ClassFace, score: 0.51, passed: true, live050: true},
		{marker: "score=1", class: ClassFace, score: 1, passed: true, live050: true},
		{marker: "score=0", class: ClassFace, score: 0},
		{marker: "no_face", class: ClassNoFace},
		{marker: "invalid", kind: KindBadRequest, status: 400},
		{marker: "status=400", kind: KindBadRequest, status: 400},
		{marker: "status=401", kind: KindAuth, status: 401},
		{marker: "status=403", kind: KindAuth, status: 403},
		{marker: "status=404", kind: KindBadRequest, status: 404},
		{marker: "status=413", kind: KindTooLarge, status: 413},
		{marker: "status=429", kind: KindRateLimited, status: 429},
		{marker: "status=500", kind: KindUnavailable, status: 500},
		{marker: "status=502", kind: KindUnavailable, status: 502},
		{marker: "status=503", kind: KindUnavailable, status: 503},
		{marker: "status=504", kind: KindUnavailable, status: 504},
		{marker: "status=204", kind: KindUnavailable, status: 204},
		{marker: "malformed", kind: KindUnavailable, status: 200},
	}
	e := videosdkMinting(t)
	for _, tt := range tests {
		t.Run(tt.marker, func(t *testing.T) {
			r, err := e.v.Check(t.Context(), videosdkJPEG(tt.marker))
			if tt.kind != "" {
				var ve *Error
				if !errors.As(err, &ve) || ve.Kind != tt.kind || ve.Status != tt.status {
					t.Fatalf("err %v, want kind %s status %d", err, tt.kind, tt.status)
				}
				if (tt.kind == KindRateLimited) != (ve.RetryAfter == time.Second) {
					t.Errorf("RetryAfter %v", ve.RetryAfter)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Class != tt.class {
				t.Fatalf("result %+v, want %s", r, tt.class)
			}
			if tt.class == ClassNoFace {
				if r.Reason != "face_not_detected" || r.HasScore || r.Passed != nil || r.Live(nil) {
					t.Errorf("result %+v", r)
				}
				return
			}
			if !r.HasScore || math.Abs(r.Score-tt.score) > 1e-9 || r.Passed == nil || *r.Passed != tt.passed {
				t.Fatalf("result %+v, want score %v passed %v", r, tt.score, tt.passed)
			}
			if r.Live(nil) != tt.passed || r.Live(&half) != tt.live050 {
				t.Errorf("live %v / at 0.5 %v", r.Live(nil), r.Live(&half))
			}
		})
	}
}

func TestVideoSDKScriptedAnswers(t *testing.T) {
	tests := []struct {
		fault vendortest.Fault
		kind  Kind
		retry time.Duration
		class Class
		score float64
	}{
		// Undocumented shapes of "no face".
		{fault: vendortest.Fault{Status: 400, Body: `{"message":"No face detected"}`}, class: ClassNoFace},
		{fault: vendortest.Fault{Status: 422, Body: `{"message":"Face not detected in image"}`}, class: ClassNoFace},
		{fault: vendortest.Fault{Status: 200, Body: `{"message":"no face found"}`}, class: ClassNoFace},
		// A 5xx saying so is still an outage.
		{fault: vendortest.Fault{Status: 500, Body: `{"message":"No face detected"}`}, kind: KindUnavailable},
		{fault: vendortest.Fault{Status: 201, Body: `{"spoof_detected": false, "accuracy": 0.9}`}, class: ClassFace, score: 0.9},
		{fault: vendortest.Fault{Status: 200, Body: `{"spoof_detected": true, "accuracy": 0.9899068176746368}`}, class: ClassFace, score: 1 - 0.9899068176746368},
		{fault: vendortest.Fault{Status: 200, Body: `{"spoof_detected": true, "accuracy": 1}`}, class: ClassFace, score: 0},
		{fault: vendortest.Fault{Status: 429, Body: `{"message":"Too Many Requests"}`, Header: http.Header{"Retry-After": {"3"}}}, kind: KindRateLimited, retry: 3 * time.Second},
		{fault: vendortest.Fault{Status: 413, Body: "request entity too large", ContentType: "text/plain"}, kind: KindTooLarge},
		{fault: vendortest.Fault{Status: 400, Body: `{"message":"Invalid image"}`}, kind: KindBadRequest},
		{fault: vendortest.Fault{Status: 200, Body: `{"spoof_detected": false, "accur`}, kind: KindUnavailable},
		{fault: vendortest.Fault{Status: 200, Body: `{"spoof_detected": false, "accuracy": 1.7}`}, kind: KindUnavailable},
		{fault: vendortest.Fault{Status: 200, Body: `{"spoof_detected": false, "accuracy": -0.1}`}, kind: KindUnavailable},
		{fault: vendortest.Fault{Status: 200, Body: `{"spoof_detected": false}`}, kind: KindUnavailable},
		{fault: vendortest.Fault{Status: 200, Body: `{"accuracy": 0.9}`}, kind: KindUnavailable},
		{fault: vendortest.Fault{Status: 200, Body: `{"spoof_detected": "false", "accuracy": 0.9}`}, kind: KindUnavailable},
		{fault: vendortest.Fault{Status: 200, Body: `<html>gateway</html>`, ContentType: "text/html"}, kind: KindUnavailable},
		{fault: vendortest.Fault{Status: 200}, kind: KindUnavailable},
		{fault: vendortest.Fault{CloseConn: true}, kind: KindUnavailable},
	}
	for _, tt := range tests {
		e := videosdkMinting(t)
		e.emu.Script(tt.fault)
		r, err := e.v.Check(t.Context(), videosdkJPEG("live"))
		if tt.kind != "" {
			var ve *Error
			if !errors.As(err, &ve) || ve.Kind != tt.kind || ve.RetryAfter != tt.retry {
				t.Errorf("fault %+v: err %v, want %s retry %v", tt.fault, err, tt.kind, tt.retry)
			}
			continue
		}
		if err != nil || r.Class != tt.class || (tt.class == ClassFace && math.Abs(r.Score-tt.score) > 1e-12) {
			t.Errorf("fault %+v: %+v %v", tt.fault, r, err)
		}
	}
}

func TestVideoSDKDeadline(t *testing.T) {
	e := videosdkMinting(t)
	e.emu.Script(vendortest.Fault{Hang: true})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err := e.v.Check(ctx, videosdkJPEG("live"))
	if KindOf(err) != KindUnavailable || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want unavailable by deadline", err)
	}
}

func TestVideoSDKRefusesVideo(t *testing.T) {
	e := videosdkMinting(t)
	for _, mt := range []string{"video/mp4", "", "application/octet-stream", `image/x"y`} {
		_, err := e.v.Check(t.Context(), &Request{Media: Media{Data: []byte("...."), MIME: mt}})
		if KindOf(err) != KindUnsupported {
			t.Errorf("%q: err %v", mt, err)
		}
	}
	if e.emu.CallCount() != 0 {
		t.Fatalf("%d calls", e.emu.CallCount())
	}
}

func TestVideoSDKProvision(t *testing.T) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
	defer cancel()
	t.Setenv("VIDEOSDK_TEST_EMPTY", "")
	for _, v := range []*VideoSDK{
		{},
		{APIKey: "k"},
		{APISecret: "s"},
		{Token: "t", APIKey: "k"},
		{Token: "t", APISecret: "s"},
		{Token: "t", APIKey: "k", APISecret: "s"},
		{Token: "{env.VIDEOSDK_TEST_EMPTY}"},
		{APIKey: "{env.VIDEOSDK_TEST_EMPTY}", APISecret: "s"},
		{APIKey: "k", APISecret: "{env.VIDEOSDK_TEST_EMPTY}"},
		{Token: "Bearer abc.def.ghi"},
		{APIKey: "k", APISecret: "s", BaseURL: "ftp://host"},
		{APIKey: "k", APISecret: "s", BaseURL: "https://host/?q=1"},
	} {
		if err := v.Provision(ctx); err == nil {
			t.Errorf("accepted %+v", v)
		} else if strings.Contains(err.Error(), "abc.def") {
			t.Errorf("error %q holds the token", err)
		}
	}
	t.Setenv("VIDEOSDK_TEST_SECRET", "s3cr3t")
	v := &VideoSDK{APIKey: "k", APISecret: "{env.VIDEOSDK_TEST_SECRET}"}
	if err := v.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	if string(v.secret) != "s3cr3t" || v.APISecret != "{env.VIDEOSDK_TEST_SECRET}" {
		t.Error("placeholder not resolved, or resolved into the config")
	}
	if got := v.Profile(nil); got != "videosdk https://api.videosdk.live/ai/v1/face-verification/detect-spoof" {
		t.Errorf("profile %q", got)
	}
	if v.lifetime != 24*time.Hour {
		t.Errorf("lifetime %v", v.lifetime)
	}
	v = &VideoSDK{Token: "abc.def.ghi", BaseURL: "http://127.0.0.1:8080/"}
	if err := v.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	if got := v.Profile(&Request{}); got != "videosdk http://127.0.0.1:8080/ai/v1/face-verification/detect-spoof" {
		t.Errorf("profile %q", got)
	}
}

func TestVideoSDKCaddyfile(t *testing.T) {
	d := caddyfile.NewTestDispenser(`videosdk {
		api_key {env.VIDEOSDK_KEY}
		api_secret {file./run/secrets/videosdk}
		base_url http://localhost:9000
	}`)
	var v VideoSDK
	if err := v.UnmarshalCaddyfile(d); err != nil {
		t.Fatal(err)
	}
	if v.APIKey != "{env.VIDEOSDK_KEY}" || v.APISecret != "{file./run/secrets/videosdk}" || v.BaseURL != "http://localhost:9000" || v.Token != "" {
		t.Errorf("%+v", v)
	}
	d = caddyfile.NewTestDispenser(`videosdk {
		token {env.VIDEOSDK_TOKEN}
	}`)
	v = VideoSDK{}
	if err := v.UnmarshalCaddyfile(d); err != nil || v.Token != "{env.VIDEOSDK_TOKEN}" {
		t.Fatalf("%+v %v", v, err)
	}
	for _, bad := range []string{
		"videosdk extra",
		"videosdk {\n api_key a\n api_key b\n}",
		"videosdk {\n model x\n}",
		"videosdk {\n api_key\n}",
		"videosdk {\n api_key a b\n}",
		"videosdk {\n token a b\n}",
	} {
		v := VideoSDK{}
		if err := v.UnmarshalCaddyfile(caddyfile.NewTestDispenser(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestVideoSDKModule(t *testing.T) {
	info := VideoSDK{}.CaddyModule()
	if info.ID != "http.handlers.liveness.vendors.videosdk" {
		t.Errorf("ID %s", info.ID)
	}
	if _, ok := info.New().(*VideoSDK); !ok {
		t.Error("New does not return *VideoSDK")
	}
	if (&VideoSDK{}).Name() != "videosdk" {
		t.Error("name")
	}
}
