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
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	verifikTok     = "eyJhbGciOiJIUzI1NiJ9.verifik.test"
	verifikAuth    = "Bearer " + verifikTok
	verifikUnauth  = `{"message":"Authentication required","code":"UNAUTHORIZED"}`
	verifikExpired = `{"message":"token_expired","code":"FORBIDDEN"}`
	verifikBadJSON = `{"message":"invalid JSON body","code":"InvalidContent"}`
	verifikBadCT   = `{"message":"content type must be application/json","code":"UnsupportedMediaType"}`
	verifikTooBig  = `{"message":"request body too large","code":"PayloadTooLarge"}`
)

// newVerifikServer serves v and reports on done each time ServeHTTP
// returns, which is the only way to see that a hanging handler gave up.
func newVerifikServer(t *testing.T, v *Verifik) (*httptest.Server, <-chan struct{}) {
	t.Helper()
	done := make(chan struct{}, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			select {
			case done <- struct{}{}:
			default:
			}
		}()
		v.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, done
}

// verifikDo sends body with the Authorization and Content-Type given,
// each left out when empty.
func verifikDo(t *testing.T, ctx context.Context, srv *httptest.Server, method, path, auth, ct string, body io.Reader) (response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	return roundTrip(srv, req)
}

// verifikPost sends a well-formed request with body.
func verifikPost(t *testing.T, srv *httptest.Server, body []byte) response {
	t.Helper()
	r, err := verifikDo(t, context.Background(), srv, http.MethodPost, VerifikPath, verifikAuth, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// verifikBody is a valid request for img with extra fields set (a nil
// value deletes the field).
func verifikBody(img []byte, extra map[string]any) []byte {
	m := map[string]any{"os": "DESKTOP", "image": base64.StdEncoding.EncodeToString(img)}
	for k, v := range extra {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

func verifikErr(code, message string) string {
	return `{"message":` + strconv.Quote(message) + `,"code":"` + code + `"}`
}

type verifikOut struct {
	ID   string `json:"id"`
	Data struct {
		Passed        *bool    `json:"passed"`
		MinScore      *float64 `json:"min_score"`
		LivenessScore *float64 `json:"liveness_score"`
	} `json:"data"`
	Signature struct {
		Message  string `json:"message"`
		DateTime string `json:"dateTime"`
	} `json:"signature"`
}

func (r response) verifikSuccess(t *testing.T) verifikOut {
	t.Helper()
	var out verifikOut
	if r.status != 200 || r.header.Get("Content-Type") != jsonCT {
		t.Fatalf("got %d %q %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	if err := json.Unmarshal([]byte(r.body), &out); err != nil {
		t.Fatalf("body %s: %v", r.body, err)
	}
	if out.Data.Passed == nil || out.Data.MinScore == nil || out.Data.LivenessScore == nil {
		t.Fatalf("incomplete body %s", r.body)
	}
	return out
}

func TestVerifikRoutes(t *testing.T) {
	srv, _ := newVerifikServer(t, NewVerifik(verifikTok))
	body := verifikBody(SampleJPEG("live"), nil)
	verifikPost(t, srv, body).verifikSuccess(t)
	for _, path := range []string{"/", "/v2/face-recognition/liveness/", "/v2/face-recognition", "/v1/face-recognition/liveness"} {
		r, err := verifikDo(t, context.Background(), srv, http.MethodPost, path, verifikAuth, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		r.expect(t, 404, jsonCT, `{"message":"`+path+` does not exist","code":"ResourceNotFound"}`)
	}
	for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		r, err := verifikDo(t, context.Background(), srv, method, VerifikPath, verifikAuth, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		r.expect(t, 405, jsonCT, `{"message":"`+method+` is not allowed","code":"MethodNotAllowed"}`)
		if r.header.Get("Allow") != http.MethodPost {
			t.Errorf("Allow = %q", r.header.Get("Allow"))
		}
	}
}

func TestVerifikAuth(t *testing.T) {
	v := NewVerifik(verifikTok)
	srv, _ := newVerifikServer(t, v)
	body := verifikBody(SampleJPEG("live"), nil)
	for _, auth := range []string{
		"", verifikTok, "bearer " + verifikTok, "Bearer  " + verifikTok, "Bearer " + verifikTok + ",x",
		"Bearer wrong", "Basic " + verifikTok, "Bearer " + verifikTok + "x", "Bearer",
	} {
		r, err := verifikDo(t, context.Background(), srv, http.MethodPost, VerifikPath, auth, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		t.Run(auth, func(t *testing.T) { r.expect(t, 401, jsonCT, verifikUnauth) })
	}

	empty, _ := newVerifikServer(t, NewVerifik(""))
	for _, auth := range []string{"", "Bearer ", "Bearer x"} {
		r, err := verifikDo(t, context.Background(), empty, http.MethodPost, VerifikPath, auth, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		r.expect(t, 401, jsonCT, verifikUnauth)
	}

	v.Expire()
	verifikPost(t, srv, body).expect(t, 403, jsonCT, verifikExpired)
	r, err := verifikDo(t, context.Background(), srv, http.MethodPost, VerifikPath, "Bearer wrong", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.expect(t, 401, jsonCT, verifikUnauth)
	v.Reset()
	verifikPost(t, srv, body).expect(t, 403, jsonCT, verifikExpired)
}

func TestVerifikCheckOrder(t *testing.T) {
	v := NewVerifik(verifikTok)
	srv, _ := newVerifikServer(t, v)
	send := func(method, path, auth, ct, body string) response {
		t.Helper()
		r, err := verifikDo(t, context.Background(), srv, method, path, auth, ct, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	// Path before method before token before content type before JSON
	// before fields.
	send(http.MethodGet, "/x", "", "", "").expect(t, 404, jsonCT, `{"message":"/x does not exist","code":"ResourceNotFound"}`)
	send(http.MethodGet, VerifikPath, "", "", "").expect(t, 405, jsonCT, `{"message":"GET is not allowed","code":"MethodNotAllowed"}`)
	send(http.MethodPost, VerifikPath, "", "text/plain", "x").expect(t, 401, jsonCT, verifikUnauth)
	send(http.MethodPost, VerifikPath, verifikAuth, "text/plain", "x").expect(t, 415, jsonCT, verifikBadCT)
	send(http.MethodPost, VerifikPath, verifikAuth, "application/json", "x").expect(t, 400, jsonCT, verifikBadJSON)
	send(http.MethodPost, VerifikPath, verifikAuth, "application/json", "{}").expect(t, 409, jsonCT, verifikErr("MissingParameter", `"os" is required`))
	v.Expire()
	send(http.MethodPost, VerifikPath, verifikAuth, "text/plain", "x").expect(t, 403, jsonCT, verifikExpired)
}

// verifikZeros is an endless body that costs no memory.
type verifikZeros struct{}

func (verifikZeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestVerifikTooLarge(t *testing.T) {
	v := NewVerifik(verifikTok)
	srv, _ := newVerifikServer(t, v)
	const n = VerifikMaxBody + 1
	// With a Content-Length, then chunked.
	for _, body := range []io.Reader{io.LimitReader(verifikZeros{}, n), onlyReader{io.LimitReader(verifikZeros{}, n)}} {
		req, err := http.NewRequest(http.MethodPost, srv.URL+VerifikPath, body)
		if err != nil {
			t.Fatal(err)
		}
		if _, chunked := body.(onlyReader); !chunked {
			req.ContentLength = n
		}
		req.Header.Set("Authorization", verifikAuth)
		req.Header.Set("Content-Type", "text/plain") // the size comes first
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		response{resp.StatusCode, resp.Header, string(b)}.expect(t, 413, jsonCT, verifikTooBig)
	}
	calls := v.Calls()
	if calls[0].ContentLength != n || calls[1].ContentLength != -1 || calls[0].BodySize != n || calls[1].BodySize != n {
		t.Errorf("calls %+v", calls)
	}
	// At the limit exactly the body is read and judged.
	body := verifikBody(SampleJPEG("live"), nil)
	body = append(body, bytes.Repeat([]byte(" "), VerifikMaxBody-len(body))...)
	verifikPost(t, srv, body).verifikSuccess(t)
}

func TestVerifikContentType(t *testing.T) {
	srv, _ := newVerifikServer(t, NewVerifik(verifikTok))
	body := verifikBody(SampleJPEG("live"), nil)
	for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonx", "json"} {
		r, err := verifikDo(t, context.Background(), srv, http.MethodPost, VerifikPath, verifikAuth, ct, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		r.expect(t, 415, jsonCT, verifikBadCT)
	}
	for _, ct := range []string{"application/json; charset=utf-8", "Application/JSON"} {
		r, err := verifikDo(t, context.Background(), srv, http.MethodPost, VerifikPath, verifikAuth, ct, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		r.verifikSuccess(t)
	}
}

func TestVerifikInvalidJSON(t *testing.T) {
	srv, _ := newVerifikServer(t, NewVerifik(verifikTok))
	for _, body := range []string{"", "not json", "[]", "null", `"os"`, "1", `{"os":"DESKTOP"`} {
		verifikPost(t, srv, []byte(body)).expect(t, 400, jsonCT, verifikBadJSON)
	}
}

func TestVerifikValidation(t *testing.T) {
	srv, _ := newVerifikServer(t, NewVerifik(verifikTok))
	img := base64.StdEncoding.EncodeToString(SampleJPEG("live"))
	tests := []struct {
		body, message string
	}{
		{`{}`, `"os" is required`},
		{`{"image":"` + img + `"}`, `"os" is required`},
		{`{"os":null,"image":"` + img + `"}`, `"os" must be a string`},
		{`{"os":1,"image":"` + img + `"}`, `"os" must be a string`},
		{`{"os":"","image":"` + img + `"}`, `"os" is not allowed to be empty`},
		{`{"os":"desktop","image":"` + img + `"}`, `"os" must be one of [DESKTOP, IOS, ANDROID]`},
		{`{"os":"WINDOWS","image":"` + img + `"}`, `"os" must be one of [DESKTOP, IOS, ANDROID]`},
		{`{"os":"IOS"}`, `"image" is required`},
		{`{"os":"IOS","image":["` + img + `"]}`, `"image" must be a string`},
		{`{"os":"IOS","image":""}`, `"image" is not allowed to be empty`},
		{`{"os":"IOS","image":"` + img + `","liveness_min_score":"0.6"}`, `"liveness_min_score" must be a number`},
		{`{"os":"IOS","image":"` + img + `","liveness_min_score":null}`, `"liveness_min_score" must be a number`},
		{`{"os":"IOS","image":"` + img + `","liveness_min_score":-0.1}`, `"liveness_min_score" must be greater than or equal to 0`},
		{`{"os":"IOS","image":"` + img + `","liveness_min_score":1.01}`, `"liveness_min_score" must be less than or equal to 1`},
		{`{"os":"IOS","image":"` + img + `","collection_id":""}`, `"collection_id" is not allowed to be empty`},
		{`{"os":"IOS","image":"` + img + `","collection_id":7}`, `"collection_id" must be a string`},
		{`{"os":"IOS","image":"` + img + `","min_score":0.7}`, `"min_score" is not allowed`},
		{`{"os":"IOS","image":"` + img + `","zz":1,"b":2}`, `"b" is not allowed`},
		// The first failing field in the documented order is reported.
		{`{"x":1,"liveness_min_score":7,"image":""}`, `"os" is required`},
		{`{"os":"IOS","x":1,"liveness_min_score":7}`, `"image" is required`},
	}
	for _, tt := range tests {
		verifikPost(t, srv, []byte(tt.body)).expect(t, 409, jsonCT, verifikErr("MissingParameter", tt.message))
	}
	for _, s := range []string{"0", "1", "0.6", "1e-1"} {
		verifikPost(t, srv, []byte(`{"os":"ANDROID","image":"`+img+`","liveness_min_score":`+s+`}`)).verifikSuccess(t)
	}
}

func TestVerifikImageEncodings(t *testing.T) {
	v := NewVerifik(verifikTok)
	srv, _ := newVerifikServer(t, v)
	img := SampleJPEG("live")
	for len(img)%3 == 0 {
		img = append(img, 0) // unpadded base64 must differ from padded
	}
	b64 := base64.StdEncoding.EncodeToString(img)
	sum := sha256.Sum256(img)
	for _, tt := range []struct {
		image   string
		dataURI bool
	}{
		{b64, false},
		{"data:image/jpeg;base64," + b64, true},
		{"data:image/png;base64," + b64, true},
	} {
		verifikPost(t, srv, verifikBody(nil, map[string]any{"image": tt.image})).verifikSuccess(t)
		c := v.Calls()[v.CallCount()-1]
		if c.DataURI != tt.dataURI || c.DataSHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("%.30s: call %+v", tt.image, c)
		}
	}
	invalid := verifikErr("MissingParameter", `"image" must be a valid base64 string`)
	for _, image := range []string{
		"!!!!",
		base64.RawStdEncoding.EncodeToString(img),
		base64.URLEncoding.EncodeToString([]byte{0xfb, 0xff}),
		b64[:20] + "\n" + b64[20:],
		"data:image/jpeg," + b64,
		"data:image/jpeg;base64;" + b64,
		"data:text/plain;base64," + b64,
		"data:image/;base64," + b64,
		"data:;base64," + b64,
		"data:image/jpeg;base64," + base64.RawStdEncoding.EncodeToString(img),
	} {
		verifikPost(t, srv, verifikBody(nil, map[string]any{"image": image})).expect(t, 409, jsonCT, invalid)
		if c := v.Calls()[v.CallCount()-1]; c.DataSHA256 != "" {
			t.Errorf("DataSHA256 %q for undecodable %.30q", c.DataSHA256, image)
		}
	}
	verifikPost(t, srv, verifikBody(nil, map[string]any{"image": "data:image/jpeg;base64,"})).
		expect(t, 409, jsonCT, verifikErr("MissingParameter", `"image" is not allowed to be empty`))
}

func TestVerifikRefusesURLs(t *testing.T) {
	srv, _ := newVerifikServer(t, NewVerifik(verifikTok))
	want := verifikErr("BadRequest", `"image" URLs are not fetched by the emulator`)
	for _, u := range []string{"https://cdn.example.com/face.jpg", "http://10.0.0.1/x.png", "HTTPS://EXAMPLE.COM/A"} {
		verifikPost(t, srv, verifikBody(nil, map[string]any{"image": u})).expect(t, 400, jsonCT, want)
	}
}

func TestVerifikVerdicts(t *testing.T) {
	srv, _ := newVerifikServer(t, NewVerifik(verifikTok))
	tests := []struct {
		marker   string
		minScore any // nil: not sent
		score    float64
		min      float64
		passed   bool
	}{
		{"live", nil, 0.97, 0.6, true},
		{"spoof", nil, 0.03, 0.6, false},
		{"spoof;live", nil, 0.97, 0.6, true},
		{"live;score=0.2", nil, 0.2, 0.6, false},
		// passed is strictly above min_score.
		{"score=0.6", nil, 0.6, 0.6, false},
		{"score=0.60001", nil, 0.60001, 0.6, true},
		{"score=0.55", 0.5, 0.55, 0.5, true},
		{"score=0.55", 0.55, 0.55, 0.55, false},
		{"live", 0.98, 0.97, 0.98, false},
		{"score=1", 1, 1, 1, false},
		{"score=0", 0, 0, 0, false},
		{"score=0.01", 0, 0.01, 0, true},
		{"no_face", nil, 0, 0.6, false},
		{"no_face", 0, 0, 0, false},
		{"no_face_code", nil, 0, 0.6, false},
		{"small_face", nil, 0, 0.6, false},
		{"invalid", nil, 0, 0.6, false},
		{"score=0.9;no_face", nil, 0, 0.6, false},
		{"status=200;live", nil, 0.97, 0.6, true},
	}
	for _, tt := range tests {
		for _, img := range [][]byte{SampleJPEG(tt.marker), SamplePNG(tt.marker)} {
			t.Run(fmt.Sprintf("%s/%v", tt.marker, tt.minScore), func(t *testing.T) {
				var extra map[string]any
				if tt.minScore != nil {
					extra = map[string]any{"liveness_min_score": tt.minScore}
				}
				out := verifikPost(t, srv, verifikBody(img, extra)).verifikSuccess(t)
				if *out.Data.LivenessScore != tt.score || *out.Data.MinScore != tt.min || *out.Data.Passed != tt.passed {
					t.Errorf("data %+v %v %v, want score %v min %v passed %v",
						*out.Data.Passed, *out.Data.MinScore, *out.Data.LivenessScore, tt.score, tt.min, tt.passed)
				}
			})
		}
	}
}

var verifikIDPattern = regexp.MustCompile(`^[A-HJ-NP-Z2-9]{5}$`)

func TestVerifikSuccessBody(t *testing.T) {
	v := NewVerifik(verifikTok)
	srv, _ := newVerifikServer(t, v)
	before := time.Now().UTC().Truncate(time.Minute)
	r := verifikPost(t, srv, verifikBody(SampleJPEG("live"), map[string]any{"os": "IOS", "collection_id": "c1"}))
	after := time.Now().UTC()
	out := r.verifikSuccess(t)
	c := v.Calls()[0]
	want := `{"id":"` + c.ID + `","data":{"passed":true,"min_score":0.6,"liveness_score":0.97},` +
		`"signature":{"message":"Certified by Verifik.co","dateTime":"` + out.Signature.DateTime + `"}}`
	r.expect(t, 200, jsonCT, want)
	if !verifikIDPattern.MatchString(out.ID) {
		t.Errorf("id %q", out.ID)
	}
	at, err := time.Parse("January 2, 2006 3:04 PM", out.Signature.DateTime)
	if err != nil || at.Before(before) || at.After(after) {
		t.Errorf("dateTime %q (%v) not between %v and %v", out.Signature.DateTime, err, before, after)
	}
	// Numbers as JavaScript writes them.
	r = verifikPost(t, srv, verifikBody(SampleJPEG("score=0.0000001"), map[string]any{"liveness_min_score": 1}))
	if !strings.Contains(r.body, `"data":{"passed":false,"min_score":1,"liveness_score":1e-7}`) {
		t.Errorf("body %s", r.body)
	}
}

func TestVerifikIDs(t *testing.T) {
	seen := map[string]bool{}
	for n := 1; n <= 1<<16; n++ {
		id := verifikID(n)
		if seen[id] || !verifikIDPattern.MatchString(id) {
			t.Fatalf("id %q for call %d: repeated or malformed", id, n)
		}
		seen[id] = true
	}
	v := NewVerifik(verifikTok)
	srv, _ := newVerifikServer(t, v)
	ids := map[string]bool{}
	for i := 0; i < 5; i++ {
		ids[verifikPost(t, srv, verifikBody(SampleJPEG("live"), nil)).verifikSuccess(t).ID] = true
	}
	if len(ids) != 5 {
		t.Errorf("ids %v for five calls", ids)
	}
}

func TestVerifikUnmarkedScore(t *testing.T) {
	srv, _ := newVerifikServer(t, NewVerifik(verifikTok))
	seen := map[float64]bool{}
	for i := 0; i < 20; i++ {
		img := []byte(fmt.Sprintf("not really an image %d", i))
		sum := sha256.Sum256(img)
		want := float64(binary.BigEndian.Uint16(sum[:2])) / 65535
		for j := 0; j < 2; j++ {
			out := verifikPost(t, srv, verifikBody(img, nil)).verifikSuccess(t)
			if got := *out.Data.LivenessScore; got != want || *out.Data.Passed != (got > 0.6) {
				t.Fatalf("liveness_score %v passed %v, want %v", got, *out.Data.Passed, want)
			}
		}
		seen[want] = true
	}
	if len(seen) < 10 {
		t.Errorf("only %d distinct scores over 20 images", len(seen))
	}
}

func TestVerifikStatusDirective(t *testing.T) {
	srv, _ := newVerifikServer(t, NewVerifik(verifikTok))
	tests := []struct {
		status int
		body   string
	}{
		{401, verifikUnauth},
		{403, verifikExpired},
		{409, `{"message":"\"os\" is required","code":"MissingParameter"}`},
		{429, `{"message":"Too many requests","code":"TooManyRequests"}`},
		{500, `{"message":"internal_error","code":"ERROR"}`},
		{502, `{"message":"error","code":"ERROR"}`},
		{404, `{"message":"error","code":"ERROR"}`},
	}
	for _, tt := range tests {
		r := verifikPost(t, srv, verifikBody(SampleJPEG(fmt.Sprintf("live;status=%d", tt.status)), nil))
		r.expect(t, tt.status, jsonCT, tt.body)
		if ra := r.header.Get("Retry-After"); (tt.status == 429) != (ra == "1") {
			t.Errorf("status %d: Retry-After %q", tt.status, ra)
		}
	}
}

func TestVerifikMalformed(t *testing.T) {
	srv, _ := newVerifikServer(t, NewVerifik(verifikTok))
	r := verifikPost(t, srv, verifikBody(SampleJPEG("live;malformed"), nil))
	if r.status != 200 || r.header.Get("Content-Type") != jsonCT {
		t.Fatalf("got %d %q", r.status, r.header.Get("Content-Type"))
	}
	var v any
	if err := json.Unmarshal([]byte(r.body), &v); err == nil {
		t.Errorf("malformed body %q parses", r.body)
	}
	if !strings.HasPrefix(r.body, `{"id":"`) || len(r.body) < 20 {
		t.Errorf("malformed body %q is not a truncated success body", r.body)
	}
}

func TestVerifikDelayDirective(t *testing.T) {
	srv, done := newVerifikServer(t, NewVerifik(verifikTok))
	start := time.Now()
	verifikPost(t, srv, verifikBody(SampleJPEG("live;delay=30ms"), nil)).verifikSuccess(t)
	if el := time.Since(start); el < 30*time.Millisecond {
		t.Errorf("answered after %v, want at least 30ms", el)
	}
	<-done

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := verifikDo(t, ctx, srv, http.MethodPost, VerifikPath, verifikAuth, "application/json",
		bytes.NewReader(verifikBody(SampleJPEG("live;delay=1h"), nil)))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	waitDone(t, done)
}

func TestVerifikCollections(t *testing.T) {
	v := NewVerifik(verifikTok)
	srv, _ := newVerifikServer(t, v)
	img := SampleJPEG("live")
	verifikPost(t, srv, verifikBody(img, map[string]any{"collection_id": "anything"})).verifikSuccess(t)

	owned := NewVerifik(verifikTok)
	owned.Collections = []string{"col-1", "col-2"}
	srv, _ = newVerifikServer(t, owned)
	verifikPost(t, srv, verifikBody(img, map[string]any{"collection_id": "col-2"})).verifikSuccess(t)
	verifikPost(t, srv, verifikBody(img, nil)).verifikSuccess(t)
	verifikPost(t, srv, verifikBody(img, map[string]any{"collection_id": "col-3"})).
		expect(t, 404, jsonCT, `{"message":"collection not found","code":"NotFound"}`)
}

func TestVerifikRecording(t *testing.T) {
	v := NewVerifik(verifikTok)
	srv, _ := newVerifikServer(t, v)
	img := SampleJPEG("spoof")
	body := verifikBody(img, map[string]any{"os": "ANDROID", "liveness_min_score": 0.75, "collection_id": "col-9"})
	req, _ := http.NewRequest(http.MethodPost, srv.URL+VerifikPath, bytes.NewReader(body))
	req.Header.Set("Authorization", verifikAuth)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Other", "kept")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	r, err := verifikDo(t, context.Background(), srv, http.MethodGet, "/elsewhere", "", "", strings.NewReader(`{"os":7}`))
	if err != nil {
		t.Fatal(err)
	}
	r.expect(t, 404, jsonCT, `{"message":"/elsewhere does not exist","code":"ResourceNotFound"}`)

	calls := v.Calls()
	if len(calls) != 2 || v.CallCount() != 2 {
		t.Fatalf("%d calls, count %d", len(calls), v.CallCount())
	}
	c := calls[0]
	sum := sha256.Sum256(img)
	if c.Method != http.MethodPost || c.Path != VerifikPath || c.BodySize != int64(len(body)) ||
		c.ContentLength != int64(len(body)) || c.DataSHA256 != hex.EncodeToString(sum[:]) ||
		c.OS != "ANDROID" || c.MinScore == nil || *c.MinScore != 0.75 || c.CollectionID != "col-9" || c.DataURI ||
		!verifikIDPattern.MatchString(c.ID) {
		t.Errorf("call = %+v", c)
	}
	if c.Header.Get("Authorization") != "[redacted]" || c.Header.Get("X-Other") != "kept" {
		t.Errorf("headers = %v", c.Header)
	}
	if c2 := calls[1]; c2.Path != "/elsewhere" || c2.OS != "" || c2.MinScore != nil || c2.DataSHA256 != "" {
		t.Errorf("second call = %+v", c2)
	}
	dump := fmt.Sprintf("%#v", calls)
	for _, secret := range []string{verifikTok, base64.StdEncoding.EncodeToString(img)[:40]} {
		if strings.Contains(dump, secret) {
			t.Errorf("recorded calls contain %q", secret)
		}
	}

	// Calls hands out copies.
	calls[0].Header.Set("X-Other", "changed")
	*calls[0].MinScore = 0.1
	if c := v.Calls()[0]; c.Header.Get("X-Other") != "kept" || *c.MinScore != 0.75 {
		t.Error("Calls shares state with the recorder")
	}

	v.Script(Fault{Status: 500})
	v.Reset()
	if len(v.Calls()) != 0 || v.CallCount() != 0 {
		t.Error("Reset kept calls")
	}
	out := verifikPost(t, srv, body).verifikSuccess(t)
	if out.ID != verifikID(1) || *out.Data.Passed || *out.Data.MinScore != 0.75 {
		t.Errorf("after Reset: %+v", out)
	}
}

func TestVerifikKeep(t *testing.T) {
	v := NewVerifik(verifikTok)
	v.Keep = 2
	srv, _ := newVerifikServer(t, v)
	for _, p := range []string{"/a", "/b", "/c"} {
		if _, err := verifikDo(t, context.Background(), srv, http.MethodPost, p, "", "", nil); err != nil {
			t.Fatal(err)
		}
	}
	calls := v.Calls()
	if len(calls) != 2 || calls[0].Path != "/b" || calls[1].Path != "/c" || v.CallCount() != 3 {
		t.Errorf("calls %+v, count %d", calls, v.CallCount())
	}
}

func TestVerifikScript(t *testing.T) {
	v := NewVerifik(verifikTok)
	srv, done := newVerifikServer(t, v)
	v.Script(
		Fault{Status: 503, Body: `{"message":"busy","code":"ERROR"}`, Header: http.Header{"Retry-After": {"7"}}},
		Fault{CloseConn: true},
		Fault{Delay: time.Millisecond},
		Fault{Hang: true},
	)
	// Faults come before every check, even the route's.
	r, err := verifikDo(t, context.Background(), srv, http.MethodGet, "/nowhere", "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.expect(t, 503, jsonCT, `{"message":"busy","code":"ERROR"}`)
	if r.header.Get("Retry-After") != "7" {
		t.Errorf("Retry-After = %q", r.header.Get("Retry-After"))
	}
	<-done
	body := verifikBody(SampleJPEG("live"), nil)
	if _, err := verifikDo(t, context.Background(), srv, http.MethodPost, VerifikPath, verifikAuth, "application/json", bytes.NewReader(body)); err == nil {
		t.Error("no error from a closed connection")
	}
	<-done
	// A delay alone lets the normal answer, checks included, follow.
	r, err = verifikDo(t, context.Background(), srv, http.MethodPost, VerifikPath, "Bearer wrong", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.expect(t, 401, jsonCT, verifikUnauth)
	<-done
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := verifikDo(t, ctx, srv, http.MethodPost, VerifikPath, verifikAuth, "application/json", bytes.NewReader(body)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hang: err %v", err)
	}
	waitDone(t, done)
	verifikPost(t, srv, body).verifikSuccess(t)
	if v.CallCount() != 5 {
		t.Errorf("CallCount = %d, want 5", v.CallCount())
	}
}
