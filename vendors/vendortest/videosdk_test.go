package vendortest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	videosdkKey    = "vsdk-key"
	videosdkSecret = "vsdk-secret"

	videosdkLive   = `{"spoof_detected": false, "accuracy": 0.97}`
	videosdkSpoof  = `{"spoof_detected": true, "accuracy": 0.97}`
	videosdkNoFace = `{"message":"No face detected"}`
)

// videosdkClaimsOK are the claims our client mints.
func videosdkClaimsOK() jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"apikey": videosdkKey, "permissions": []string{"allow_join"}, "version": 2, "roles": []string{"crawler"},
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

func videosdkToken(t *testing.T, method jwt.SigningMethod, secret string, claims jwt.MapClaims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(method, claims).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// videosdkServe serves s and reports on done each time ServeHTTP returns.
func videosdkServe(t *testing.T, s *VideoSDK) (*httptest.Server, <-chan struct{}) {
	t.Helper()
	done := make(chan struct{}, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			select {
			case done <- struct{}{}:
			default:
			}
		}()
		s.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, done
}

type videosdkReq struct {
	method, path, auth, contentType string
	body                            io.Reader
}

func videosdkDo(t *testing.T, ctx context.Context, srv *httptest.Server, q videosdkReq) (response, error) {
	t.Helper()
	if q.method == "" {
		q.method = http.MethodPost
	}
	if q.path == "" {
		q.path = VideoSDKPath
	}
	req, err := http.NewRequestWithContext(ctx, q.method, srv.URL+q.path, q.body)
	if err != nil {
		t.Fatal(err)
	}
	if q.auth != "" {
		req.Header.Set("Authorization", q.auth)
	}
	if q.contentType != "" {
		req.Header.Set("Content-Type", q.contentType)
	}
	return roundTrip(srv, req)
}

// videosdkPost sends body with a good token and content type.
func videosdkPost(t *testing.T, srv *httptest.Server, body []byte) response {
	t.Helper()
	return videosdkSend(t, srv, videosdkReq{body: bytes.NewReader(body)})
}

// videosdkSend fills in a good token and content type where q has none.
func videosdkSend(t *testing.T, srv *httptest.Server, q videosdkReq) response {
	t.Helper()
	if q.auth == "" {
		q.auth = videosdkToken(t, jwt.SigningMethodHS256, videosdkSecret, videosdkClaimsOK())
	}
	if q.contentType == "" {
		q.contentType = "application/json"
	}
	r, err := videosdkDo(t, context.Background(), srv, q)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func videosdkImage(mime string, img []byte) []byte {
	return []byte(`{"img":"data:` + mime + `;base64,` + base64.StdEncoding.EncodeToString(img) + `"}`)
}

func videosdkExpectMessage(t *testing.T, r response, status int, msg string) {
	t.Helper()
	want, _ := json.Marshal(map[string]string{"message": msg})
	r.expect(t, status, jsonCT, string(want))
}

func TestVideoSDKRoutes(t *testing.T) {
	srv, _ := videosdkServe(t, NewVideoSDK(videosdkKey, videosdkSecret))
	body := videosdkImage("image/jpeg", SampleJPEG("live"))
	videosdkPost(t, srv, body).expect(t, 200, jsonCT, videosdkLive)
	for _, q := range []videosdkReq{
		{method: http.MethodGet},
		{method: http.MethodPut},
		{path: "/ai/v1/face-verification/detect-spoof/"},
		{path: "/v1/face-verification/detect-spoof"},
		{path: "/ai/v2/face-verification/detect-spoof"},
		{path: "/"},
	} {
		q.body = bytes.NewReader(body)
		videosdkExpectMessage(t, videosdkSend(t, srv, q), 404, "Not Found")
	}
}

func TestVideoSDKToken(t *testing.T) {
	srv, _ := videosdkServe(t, NewVideoSDK(videosdkKey, videosdkSecret))
	body := videosdkImage("image/png", SamplePNG("live"))
	good := videosdkToken(t, jwt.SigningMethodHS256, videosdkSecret, videosdkClaimsOK())
	with := func(change func(jwt.MapClaims)) string {
		c := videosdkClaimsOK()
		change(c)
		return videosdkToken(t, jwt.SigningMethodHS256, videosdkSecret, c)
	}
	const invalid, expired, denied = "Invalid token", "Token expired", "Permission denied"
	tests := []struct {
		name, auth string
		status     int
		msg        string
	}{
		{"good", good, 200, ""},
		{"without version and roles", with(func(c jwt.MapClaims) { delete(c, "version"); delete(c, "roles") }), 200, ""},
		{"more permissions", with(func(c jwt.MapClaims) { c["permissions"] = []string{"ask_join", "allow_join"} }), 200, ""},
		{"missing", "", 401, "Authorization token is required"},
		{"bearer", "Bearer " + good, 401, "Invalid token: send the token without any prefix"},
		{"basic", "Basic " + good, 401, "Invalid token: send the token without any prefix"},
		{"wrong secret", videosdkToken(t, jwt.SigningMethodHS256, "other", videosdkClaimsOK()), 401, invalid},
		{"HS512", videosdkToken(t, jwt.SigningMethodHS512, videosdkSecret, videosdkClaimsOK()), 401, invalid},
		{"alg none", func() string {
			tok, _ := jwt.NewWithClaims(jwt.SigningMethodNone, videosdkClaimsOK()).SignedString(jwt.UnsafeAllowNoneSignatureType)
			return tok
		}(), 401, invalid},
		{"garbage", "not.a.jwt", 401, invalid},
		{"tampered", good[:len(good)-2] + "xx", 401, invalid},
		{"other apikey", with(func(c jwt.MapClaims) { c["apikey"] = "other" }), 401, invalid},
		{"no apikey", with(func(c jwt.MapClaims) { delete(c, "apikey") }), 401, invalid},
		{"no exp", with(func(c jwt.MapClaims) { delete(c, "exp") }), 401, invalid},
		{"expired", with(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Second).Unix() }), 401, expired},
		{"no permissions", with(func(c jwt.MapClaims) { delete(c, "permissions") }), 403, denied},
		{"other permissions", with(func(c jwt.MapClaims) { c["permissions"] = []string{"ask_join"} }), 403, denied},
		{"permissions not a list", with(func(c jwt.MapClaims) { c["permissions"] = "allow_join" }), 401, invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := videosdkDo(t, context.Background(), srv, videosdkReq{auth: tt.auth, contentType: "application/json", body: bytes.NewReader(body)})
			if err != nil {
				t.Fatal(err)
			}
			if tt.status == 200 {
				r.expect(t, 200, jsonCT, videosdkLive)
				return
			}
			videosdkExpectMessage(t, r, tt.status, tt.msg)
		})
	}

	empty, _ := videosdkServe(t, NewVideoSDK(videosdkKey, ""))
	unsigned := videosdkToken(t, jwt.SigningMethodHS256, "", videosdkClaimsOK())
	for _, auth := range []string{good, unsigned} {
		r, err := videosdkDo(t, context.Background(), empty, videosdkReq{auth: auth, contentType: "application/json", body: bytes.NewReader(body)})
		if err != nil {
			t.Fatal(err)
		}
		videosdkExpectMessage(t, r, 401, invalid)
	}
}

func TestVideoSDKCheckOrder(t *testing.T) {
	srv, _ := videosdkServe(t, NewVideoSDK(videosdkKey, videosdkSecret))
	huge := bytes.Repeat([]byte("x"), videosdkMaxBody+1)
	// The route comes before the token, the token before the content
	// type, the content type before the size, the size before the JSON.
	videosdkExpectMessage(t, videosdkSend(t, srv, videosdkReq{path: "/nope", auth: "Bearer x", contentType: "text/plain", body: bytes.NewReader(huge)}), 404, "Not Found")
	videosdkExpectMessage(t, videosdkSend(t, srv, videosdkReq{auth: "Bearer x", contentType: "text/plain", body: bytes.NewReader(huge)}), 401, "Invalid token: send the token without any prefix")
	videosdkExpectMessage(t, videosdkSend(t, srv, videosdkReq{contentType: "text/plain", body: bytes.NewReader(huge)}), 415, "Content-Type must be application/json")
	videosdkExpectMessage(t, videosdkSend(t, srv, videosdkReq{body: bytes.NewReader(huge)}), 413, "Payload Too Large")
	videosdkExpectMessage(t, videosdkSend(t, srv, videosdkReq{body: strings.NewReader("x")}), 400, "img is required")
}

func TestVideoSDKContentType(t *testing.T) {
	srv, _ := videosdkServe(t, NewVideoSDK(videosdkKey, videosdkSecret))
	body := videosdkImage("image/jpeg", SampleJPEG("live"))
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON"} {
		videosdkSend(t, srv, videosdkReq{contentType: ct, body: bytes.NewReader(body)}).expect(t, 200, jsonCT, videosdkLive)
	}
	for _, ct := range []string{"text/plain", "multipart/form-data; boundary=x", "application/jsonx", "application/x-www-form-urlencoded", ";"} {
		videosdkExpectMessage(t, videosdkSend(t, srv, videosdkReq{contentType: ct, body: bytes.NewReader(body)}), 415, "Content-Type must be application/json")
	}
	tok := videosdkToken(t, jwt.SigningMethodHS256, videosdkSecret, videosdkClaimsOK())
	r, err := videosdkDo(t, context.Background(), srv, videosdkReq{auth: tok, body: bytes.NewReader(body)})
	if err != nil {
		t.Fatal(err)
	}
	videosdkExpectMessage(t, r, 415, "Content-Type must be application/json")
}

func TestVideoSDKTooLarge(t *testing.T) {
	s := NewVideoSDK(videosdkKey, videosdkSecret)
	srv, _ := videosdkServe(t, s)
	body := videosdkImage("image/jpeg", SampleJPEGSize("live", videosdkMaxBody))
	videosdkExpectMessage(t, videosdkPost(t, srv, body), 413, "Payload Too Large")
	chunked := make([]byte, videosdkMaxBody+1)
	videosdkExpectMessage(t, videosdkSend(t, srv, videosdkReq{body: onlyReader{bytes.NewReader(chunked)}}), 413, "Payload Too Large")
	calls := s.Calls()
	if c := calls[0]; c.ContentLength != int64(len(body)) || c.BodySize != int64(len(body)) || c.DataSHA256 != "" {
		t.Errorf("call = CL %d size %d sha %q", c.ContentLength, c.BodySize, c.DataSHA256)
	}
	if c := calls[1]; c.ContentLength != -1 || c.BodySize != int64(len(chunked)) {
		t.Errorf("chunked call = CL %d size %d", c.ContentLength, c.BodySize)
	}

	// The limit is inclusive.
	exact := videosdkImage("image/jpeg", SampleJPEG("live"))
	exact = append(exact, bytes.Repeat([]byte(" "), videosdkMaxBody-len(exact))...)
	videosdkPost(t, srv, exact).expect(t, 200, jsonCT, videosdkLive)
}

func TestVideoSDKInvalidBody(t *testing.T) {
	s := NewVideoSDK(videosdkKey, videosdkSecret)
	srv, _ := videosdkServe(t, s)
	jpg, png := SampleJPEG("live"), SamplePNG("live")
	b64 := base64.StdEncoding.EncodeToString(jpg)
	odd := append(SampleJPEG("live"), 0)
	for len(odd)%3 == 0 {
		odd = append(odd, 0) // unpadded base64 must differ from padded
	}
	const (
		required = "img is required"
		notURI   = "img must be a data URI: data:image/<type>;base64,<data>"
		badB64   = "img is not valid base64"
		invalid  = "Invalid image"
		mismatch = "Image type does not match its content"
	)
	tests := []struct {
		body, msg string
	}{
		{"", required}, {"not json", required}, {"[]", required}, {"null", required}, {"{}", required},
		{`{"img":1}`, required}, {`{"img":null}`, required}, {`{"image":"data:image/jpeg;base64,` + b64 + `"}`, required},
		{`{"img":"data:image/jpeg;base64,` + b64 + `"`, required},
		{`{"img":"` + b64 + `"}`, notURI},
		{`{"img":"data:image/jpeg,` + b64 + `"}`, notURI},
		{`{"img":"data:;base64,` + b64 + `"}`, notURI},
		{`{"img":"data:image/;base64,` + b64 + `"}`, notURI},
		{`{"img":"data:text/plain;base64,` + b64 + `"}`, notURI},
		{`{"img":"data:image/jpeg;charset=utf-8;base64,` + b64 + `"}`, notURI},
		{`{"img":"DATA:image/jpeg;base64,` + b64 + `"}`, notURI},
		{`{"img":"data:image/jpeg;base64,!!!!"}`, badB64},
		{`{"img":"data:image/jpeg;base64,` + base64.RawStdEncoding.EncodeToString(odd) + `"}`, badB64},
		{`{"img":"data:image/jpeg;base64,` + base64.URLEncoding.EncodeToString([]byte{0xfb, 0xff}) + `"}`, badB64},
		{`{"img":"data:image/jpeg;base64,"}`, invalid},
		{string(videosdkImage("image/png", jpg)), mismatch},
		{string(videosdkImage("image/jpeg", png)), mismatch},
		{string(videosdkImage("image/jpg", jpg)), mismatch},
		{string(videosdkImage("image/jpeg", []byte("just text"))), mismatch},
	}
	for _, tt := range tests {
		videosdkExpectMessage(t, videosdkPost(t, srv, []byte(tt.body)), 400, tt.msg)
	}
	calls := s.Calls()
	sum := sha256.Sum256(jpg)
	if c := calls[20]; c.ImageMIME != "image/png" || c.DataSHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("mismatched call recorded as %q %s", c.ImageMIME, c.DataSHA256)
	}
	if c := calls[16]; c.ImageMIME != "image/jpeg" || c.DataSHA256 != "" {
		t.Errorf("undecodable call recorded as %q %q", c.ImageMIME, c.DataSHA256)
	}
	// The declared type is compared case-insensitively.
	videosdkPost(t, srv, videosdkImage("image/JPEG", jpg)).expect(t, 200, jsonCT, videosdkLive)
}

func TestVideoSDKVerdicts(t *testing.T) {
	srv, _ := videosdkServe(t, NewVideoSDK(videosdkKey, videosdkSecret))
	answer := func(spoof bool, acc string) string {
		return fmt.Sprintf(`{"spoof_detected": %v, "accuracy": %s}`, spoof, acc)
	}
	tests := []struct {
		marker string
		status int
		body   string
	}{
		{"live", 200, videosdkLive},
		{"spoof", 200, videosdkSpoof},
		{"spoof;live", 200, videosdkLive},
		{"live;score=0.2", 200, answer(true, "0.8")},
		{"score=0.8", 200, answer(false, "0.8")},
		{"score=0.5", 200, answer(true, "0.5")},
		{"score=0.50001", 200, answer(false, "0.50001")},
		{"score=1", 200, answer(false, "1")},
		{"score=0", 200, answer(true, "1")},
		{"score=0.9999999", 200, answer(false, "0.9999999")},
		{"no_face", 400, videosdkNoFace},
		{"no_face_code", 400, videosdkNoFace},
		{"small_face", 400, videosdkNoFace},
		{"score=0.9;no_face", 400, videosdkNoFace},
		{"invalid", 400, `{"message":"Invalid image"}`},
		{"status=200;spoof", 200, videosdkSpoof},
	}
	for _, tt := range tests {
		for _, img := range []struct {
			mime string
			data []byte
		}{{"image/jpeg", SampleJPEG(tt.marker)}, {"image/png", SamplePNG(tt.marker)}} {
			t.Run(tt.marker+"/"+img.mime, func(t *testing.T) {
				videosdkPost(t, srv, videosdkImage(img.mime, img.data)).expect(t, tt.status, jsonCT, tt.body)
			})
		}
	}
}

func TestVideoSDKNumber(t *testing.T) {
	for f, want := range map[float64]string{
		0: "0", 1: "1", 0.97: "0.97", 0.9899068176746368: "0.9899068176746368",
		0.000001: "0.000001", 0.0000001: "1e-7", 1.5e-10: "1.5e-10",
	} {
		if got := videosdkNumber(f); got != want {
			t.Errorf("videosdkNumber(%v) = %s, want %s", f, got, want)
		}
	}
}

func TestVideoSDKUnmarkedScore(t *testing.T) {
	srv, _ := videosdkServe(t, NewVideoSDK(videosdkKey, videosdkSecret))
	seen := map[float64]bool{}
	for i := 0; len(seen) < 20 && i < 200; i++ {
		// Sniffed as JPEG, and carrying no marker.
		img := append([]byte{0xFF, 0xD8, 0xFF}, fmt.Sprintf("unmarked %d", i)...)
		sum := sha256.Sum256(img)
		p := float64(binary.BigEndian.Uint16(sum[:2])) / 65535
		r := videosdkPost(t, srv, videosdkImage("image/jpeg", img))
		var out struct {
			SpoofDetected *bool    `json:"spoof_detected"`
			Accuracy      *float64 `json:"accuracy"`
		}
		if err := json.Unmarshal([]byte(r.body), &out); err != nil || r.status != 200 || out.SpoofDetected == nil || out.Accuracy == nil {
			t.Fatalf("%d %s: %v", r.status, r.body, err)
		}
		if *out.SpoofDetected != (p <= 0.5) || *out.Accuracy != max(p, 1-p) {
			t.Errorf("got %s for derived score %v", r.body, p)
		}
		if again := videosdkPost(t, srv, videosdkImage("image/jpeg", img)); again.body != r.body {
			t.Errorf("not deterministic: %s then %s", r.body, again.body)
		}
		seen[p] = true
	}
	if len(seen) < 20 {
		t.Errorf("only %d distinct scores", len(seen))
	}
}

func TestVideoSDKStatusDirective(t *testing.T) {
	srv, _ := videosdkServe(t, NewVideoSDK(videosdkKey, videosdkSecret))
	for status, msg := range map[int]string{
		400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 413: "Request Entity Too Large",
		429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
		504: "Gateway Timeout", 599: "error", 201: "Created",
	} {
		r := videosdkPost(t, srv, videosdkImage("image/jpeg", SampleJPEG(fmt.Sprintf("live;status=%d", status))))
		videosdkExpectMessage(t, r, status, msg)
		if ra := r.header.Get("Retry-After"); (status == 429) != (ra == "1") {
			t.Errorf("status %d: Retry-After %q", status, ra)
		}
	}
	for _, status := range []int{204, 304} {
		videosdkPost(t, srv, videosdkImage("image/jpeg", SampleJPEG(fmt.Sprintf("live;status=%d", status)))).expect(t, status, "", "")
	}
}

func TestVideoSDKMalformed(t *testing.T) {
	srv, _ := videosdkServe(t, NewVideoSDK(videosdkKey, videosdkSecret))
	r := videosdkPost(t, srv, videosdkImage("image/jpeg", SampleJPEG("spoof;malformed")))
	if r.status != 200 || r.header.Get("Content-Type") != jsonCT {
		t.Fatalf("got %d %q", r.status, r.header.Get("Content-Type"))
	}
	var v any
	if err := json.Unmarshal([]byte(r.body), &v); err == nil {
		t.Errorf("malformed body %q parses", r.body)
	}
	if r.body == "" || !strings.HasPrefix(videosdkSpoof, r.body) {
		t.Errorf("malformed body %q is not a truncated success body", r.body)
	}
}

func TestVideoSDKDelay(t *testing.T) {
	srv, done := videosdkServe(t, NewVideoSDK(videosdkKey, videosdkSecret))
	start := time.Now()
	videosdkPost(t, srv, videosdkImage("image/jpeg", SampleJPEG("live;delay=30ms"))).expect(t, 200, jsonCT, videosdkLive)
	if el := time.Since(start); el < 30*time.Millisecond {
		t.Errorf("answered after %v, want at least 30ms", el)
	}
	<-done

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	tok := videosdkToken(t, jwt.SigningMethodHS256, videosdkSecret, videosdkClaimsOK())
	_, err := videosdkDo(t, ctx, srv, videosdkReq{auth: tok, contentType: "application/json",
		body: bytes.NewReader(videosdkImage("image/jpeg", SampleJPEG("live;delay=1h")))})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	waitDone(t, done)
}

func TestVideoSDKRecording(t *testing.T) {
	s := NewVideoSDK(videosdkKey, videosdkSecret)
	srv, _ := videosdkServe(t, s)
	img := SamplePNG("spoof")
	body := videosdkImage("image/png", img)
	tok := videosdkToken(t, jwt.SigningMethodHS256, videosdkSecret, videosdkClaimsOK())
	req, _ := http.NewRequest(http.MethodPost, srv.URL+VideoSDKPath, bytes.NewReader(body))
	req.Header.Set("Authorization", tok)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Other", "kept")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	videosdkSend(t, srv, videosdkReq{path: "/elsewhere", body: strings.NewReader("{}")})

	calls := s.Calls()
	if len(calls) != 2 || s.CallCount() != 2 {
		t.Fatalf("%d calls, count %d", len(calls), s.CallCount())
	}
	c := calls[0]
	sum := sha256.Sum256(img)
	if c.Method != http.MethodPost || c.Path != VideoSDKPath || c.BodySize != int64(len(body)) ||
		c.ContentLength != int64(len(body)) || c.DataSHA256 != hex.EncodeToString(sum[:]) || c.ImageMIME != "image/png" {
		t.Errorf("call = %+v", c)
	}
	if c.Header.Get("Authorization") != "[redacted]" || c.Header.Get("X-Other") != "kept" {
		t.Errorf("headers = %v", c.Header)
	}
	dump := fmt.Sprintf("%#v", calls)
	for _, secret := range []string{tok, videosdkSecret, base64.StdEncoding.EncodeToString(img)[:40]} {
		if strings.Contains(dump, secret) {
			t.Errorf("recorded calls contain %q", secret)
		}
	}
	if calls[1].Path != "/elsewhere" || calls[1].DataSHA256 != "" || calls[1].ImageMIME != "" {
		t.Errorf("second call = %+v", calls[1])
	}
	calls[0].Header.Set("X-Other", "changed")
	if s.Calls()[0].Header.Get("X-Other") != "kept" {
		t.Error("Calls shares headers with the recorder")
	}

	s.Script(Fault{Status: 500})
	s.Reset()
	if len(s.Calls()) != 0 || s.CallCount() != 0 {
		t.Error("Reset kept calls")
	}
	videosdkPost(t, srv, body).expect(t, 200, jsonCT, videosdkSpoof)

	s.Reset()
	s.Keep = 2
	for _, p := range []string{"/a", "/b", "/c"} {
		videosdkSend(t, srv, videosdkReq{path: p, body: strings.NewReader("{}")})
	}
	if calls := s.Calls(); len(calls) != 2 || calls[0].Path != "/b" || calls[1].Path != "/c" || s.CallCount() != 3 {
		t.Errorf("calls %+v, count %d", calls, s.CallCount())
	}
}

func TestVideoSDKScript(t *testing.T) {
	s := NewVideoSDK(videosdkKey, videosdkSecret)
	srv, _ := videosdkServe(t, s)
	s.Script(
		Fault{Status: 503, Body: `{"message":"busy"}`, Header: http.Header{"Retry-After": {"7"}}},
		Fault{Status: 400, Body: videosdkNoFace},
		Fault{Delay: time.Millisecond},
		Fault{CloseConn: true},
	)
	// Faults come before every check, even the route's.
	r := videosdkSend(t, srv, videosdkReq{path: "/not/a/route", auth: "Bearer x"})
	r.expect(t, 503, jsonCT, `{"message":"busy"}`)
	if r.header.Get("Retry-After") != "7" {
		t.Errorf("Retry-After = %q", r.header.Get("Retry-After"))
	}
	body := videosdkImage("image/jpeg", SampleJPEG("live"))
	videosdkPost(t, srv, body).expect(t, 400, jsonCT, videosdkNoFace)
	// A delay alone lets the normal answer, checks included, follow.
	videosdkExpectMessage(t, videosdkSend(t, srv, videosdkReq{auth: "Bearer x", body: bytes.NewReader(body)}), 401, "Invalid token: send the token without any prefix")
	tok := videosdkToken(t, jwt.SigningMethodHS256, videosdkSecret, videosdkClaimsOK())
	_, err := videosdkDo(t, context.Background(), srv, videosdkReq{auth: tok, contentType: "application/json", body: bytes.NewReader(body)})
	if err == nil || errors.Is(err, context.Canceled) {
		t.Errorf("closed connection: err = %v", err)
	}
	videosdkPost(t, srv, body).expect(t, 200, jsonCT, videosdkLive)
	if s.CallCount() != 5 {
		t.Errorf("CallCount = %d, want 5", s.CallCount())
	}
}

func TestVideoSDKHang(t *testing.T) {
	s := NewVideoSDK(videosdkKey, videosdkSecret)
	taken := make(chan Fault, 1)
	s.faultTaken = func(f Fault) { taken <- f }
	srv, done := videosdkServe(t, s)
	s.Script(Fault{Hang: true})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res := make(chan error, 1)
	tok := videosdkToken(t, jwt.SigningMethodHS256, videosdkSecret, videosdkClaimsOK())
	go func() {
		_, err := videosdkDo(t, ctx, srv, videosdkReq{auth: tok, contentType: "application/json",
			body: bytes.NewReader(videosdkImage("image/jpeg", SampleJPEG("live")))})
		res <- err
	}()
	select {
	case <-taken:
	case err := <-res:
		t.Fatalf("request ended before the fault: %v", err)
	}
	select {
	case err := <-res:
		t.Fatalf("answered while hanging: %v", err)
	case <-done:
		t.Fatal("handler returned while the client waits")
	default:
	}
	cancel()
	if err := <-res; !errors.Is(err, context.Canceled) {
		t.Errorf("client err = %v, want canceled", err)
	}
	waitDone(t, done)
}

func TestVideoSDKConcurrentScript(t *testing.T) {
	s := NewVideoSDK(videosdkKey, videosdkSecret)
	srv, _ := videosdkServe(t, s)
	const faults, requests = 10, 30
	for range faults {
		s.Script(Fault{Status: 503})
	}
	body := videosdkImage("image/jpeg", SampleJPEG("live"))
	tok := videosdkToken(t, jwt.SigningMethodHS256, videosdkSecret, videosdkClaimsOK())
	count := concurrentStatuses(t, requests, func() (response, error) {
		return videosdkDo(t, context.Background(), srv, videosdkReq{auth: tok, contentType: "application/json", body: bytes.NewReader(body)})
	})
	if count[503] != faults || count[200] != requests-faults {
		t.Errorf("statuses %v, want %d×503 and %d×200", count, faults, requests-faults)
	}
	if len(s.Calls()) != requests {
		t.Errorf("%d calls recorded", len(s.Calls()))
	}
}
