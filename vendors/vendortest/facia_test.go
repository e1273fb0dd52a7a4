package vendortest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	faciaTestID     = "client-id-1"
	faciaTestSecret = "client-secret-9d2e"
	faciaJSONCT     = "application/json"
	faciaBad        = `{"status":false,"message":"Bad Request: One or more parameters are invalid or missing"}`
	faciaUnauth     = `{"status":false,"message":"Unauthorized: Invalid signature key provided in the request"}`
	faciaNotFound   = `{"status":false,"message":"Resource not found"}`
)

type faciaResp response

func (r faciaResp) expect(t *testing.T, status int, contentType, body string) {
	t.Helper()
	if r.status != status || r.header.Get("Content-Type") != contentType || r.body != body {
		t.Errorf("got %d %q %s\nwant %d %q %s", r.status, r.header.Get("Content-Type"), r.body, status, contentType, body)
	}
}

// invalidField returns the field a 400 answer names.
func (r faciaResp) invalidField(t *testing.T) string {
	t.Helper()
	var v struct {
		Status  bool              `json:"status"`
		Message string            `json:"message"`
		Errors  map[string]string `json:"errors"`
	}
	if r.status != 400 || json.Unmarshal([]byte(r.body), &v) != nil || v.Status || len(v.Errors) != 1 ||
		v.Message != "Bad Request: One or more parameters are invalid or missing" {
		t.Fatalf("not a validation answer: %d %s", r.status, r.body)
	}
	for k := range v.Errors {
		return k
	}
	return ""
}

func faciaServe(t *testing.T, s *FACIA) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv
}

func faciaDo(t *testing.T, ctx context.Context, srv *httptest.Server, method, path, auth, contentType string, body []byte) (faciaResp, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	r, err := roundTrip(srv, req)
	return faciaResp(r), err
}

func faciaPost(t *testing.T, srv *httptest.Server, path, token, contentType string, body []byte) faciaResp {
	t.Helper()
	auth := ""
	if token != "" {
		auth = "Bearer " + token
	}
	r, err := faciaDo(t, context.Background(), srv, http.MethodPost, path, auth, contentType, body)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func faciaGetToken(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	r := faciaPost(t, srv, "/request-access-token", "", faciaJSONCT,
		[]byte(`{"client_id":"`+faciaTestID+`","client_secret":"`+faciaTestSecret+`"}`))
	var v struct {
		Result struct {
			Data struct {
				Token string `json:"token"`
			} `json:"data"`
		} `json:"result"`
	}
	if r.status != 200 || json.Unmarshal([]byte(r.body), &v) != nil || v.Result.Data.Token == "" {
		t.Fatalf("token: %d %s", r.status, r.body)
	}
	return v.Result.Data.Token
}

// faciaTestMP4 is the start of an MP4 (an ftyp box) carrying a marker.
func faciaTestMP4(marker string) []byte {
	return []byte("\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2 liveness-emulator:" + marker + "\n")
}

// faciaFile is the file part of a test form; a nil data sends none.
type faciaFile struct {
	data        []byte
	name, ctype string
	plainField  bool // sent as a field without a filename
}

// faciaForm builds a /liveness form: the documented fields for an image,
// changed by over (an empty value deletes the field).
func faciaForm(file faciaFile, over map[string]string) ([]byte, string) {
	fields := map[string]string{"type": "liveness", "offsite_liveness": "1", "detect_deepfake": "1"}
	for k, v := range over {
		if v == "" {
			delete(fields, k)
		} else {
			fields[k] = v
		}
	}
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	if file.data != nil {
		if file.plainField {
			mw.WriteField("file", string(file.data))
		} else {
			h := make(map[string][]string)
			h["Content-Disposition"] = []string{`form-data; name="file"; filename="` + file.name + `"`}
			if file.ctype != "" {
				h["Content-Type"] = []string{file.ctype}
			}
			p, _ := mw.CreatePart(h)
			p.Write(file.data)
		}
	}
	mw.Close()
	return b.Bytes(), mw.FormDataContentType()
}

func faciaJPEGFile(marker string) faciaFile {
	return faciaFile{data: SampleJPEG(marker), name: "image.jpg", ctype: "image/jpeg"}
}

// faciaCreate creates a transaction and returns its reference_id.
func faciaCreate(t *testing.T, srv *httptest.Server, token string, file faciaFile, over map[string]string) string {
	t.Helper()
	body, ct := faciaForm(file, over)
	r := faciaPost(t, srv, "/liveness", token, ct, body)
	var v struct {
		Status  bool   `json:"status"`
		Message string `json:"message"`
		Result  struct {
			Data struct {
				ReferenceID string `json:"reference_id"`
			} `json:"data"`
		} `json:"result"`
	}
	if r.status != 200 || json.Unmarshal([]byte(r.body), &v) != nil || !v.Status || v.Message != "Transaction Created" ||
		len(v.Result.Data.ReferenceID) != 15 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	return v.Result.Data.ReferenceID
}

func faciaResult(t *testing.T, srv *httptest.Server, token, ref string) faciaResp {
	t.Helper()
	return faciaPost(t, srv, "/result", token, faciaJSONCT, []byte(`{"reference_id":"`+ref+`"}`))
}

// faciaVerdictBody is the documented verdict body.
func faciaVerdictBody(ref, clientRef string, status int, score, code, reason string) string {
	cr := "null"
	if clientRef != "" {
		cr = `"` + clientRef + `"`
	}
	decl := `"decline_code":null,"decline_reason":null,"declined_proof":null`
	if code != "" {
		decl = `"decline_code":"` + code + `","decline_reason":"` + reason +
			`","declined_proof":"https://proof.invalid/api/image-url/` + ref + `?expires=1234567890&signature=emulated"`
	}
	return fmt.Sprintf(`{"status":true,"message":"success","result":{"data":{"type":"deepfake","reference_id":"%s","client_reference":%s,"status":%d,"deepfake_score":%s,%s}}}`,
		ref, cr, status, score, decl)
}

func faciaPendingBody(ref string) string {
	return `{"status":true,"message":"success","result":{"data":{"type":"deepfake","reference_id":"` + ref +
		`","client_reference":null,"status":null,"deepfake_score":null,"decline_code":null,"decline_reason":null,"declined_proof":null}}}`
}

func TestFACIAToken(t *testing.T) {
	s := NewFACIA(faciaTestID, faciaTestSecret)
	srv := faciaServe(t, s)
	before := time.Now()
	tok := faciaGetToken(t, srv)
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(tok, claims); err != nil {
		t.Fatalf("token is not a JWT: %v", err)
	}
	exp, err := claims.GetExpirationTime()
	if err != nil || exp == nil || exp.Sub(before) < 8*time.Hour-2*time.Second || exp.Sub(before) > 8*time.Hour+2*time.Second {
		t.Fatalf("exp %v, want 8h from now", exp)
	}
	if tok2 := faciaGetToken(t, srv); tok2 == tok {
		t.Error("two token requests got the same token")
	}

	creds := func(id, secret string) []byte {
		b, _ := json.Marshal(map[string]string{"client_id": id, "client_secret": secret})
		return b
	}
	for _, body := range [][]byte{
		creds(faciaTestID, "wrong"),
		creds("other", faciaTestSecret),
		creds(faciaTestID, strings.ToUpper(faciaTestSecret)),
	} {
		faciaPost(t, srv, "/request-access-token", "", faciaJSONCT, body).expect(t, 401, faciaJSONCT, faciaUnauth)
	}
	for _, body := range []string{`{}`, `{"client_id":"` + faciaTestID + `"}`, `{"client_id":"","client_secret":""}`, `not json`} {
		faciaPost(t, srv, "/request-access-token", "", faciaJSONCT, []byte(body)).expect(t, 400, faciaJSONCT, faciaBad)
	}
	// The API reads forms as well as JSON.
	form := url.Values{"client_id": {faciaTestID}, "client_secret": {faciaTestSecret}}.Encode()
	if r := faciaPost(t, srv, "/request-access-token", "", "application/x-www-form-urlencoded", []byte(form)); r.status != 200 {
		t.Errorf("form credentials: %d %s", r.status, r.body)
	}

	empty := faciaServe(t, NewFACIA("", ""))
	faciaPost(t, empty, "/request-access-token", "", faciaJSONCT, creds("x", "y")).expect(t, 401, faciaJSONCT, faciaUnauth)
}

func TestFACIATokenTTLAndOpaque(t *testing.T) {
	s := NewFACIA(faciaTestID, faciaTestSecret)
	s.TokenTTL = time.Hour
	srv := faciaServe(t, s)
	claims := jwt.MapClaims{}
	jwt.NewParser().ParseUnverified(faciaGetToken(t, srv), claims)
	if exp, _ := claims.GetExpirationTime(); exp == nil || time.Until(exp.Time) > time.Hour+time.Second || time.Until(exp.Time) < time.Hour-2*time.Second {
		t.Errorf("exp %v, want 1h from now", exp)
	}

	s.TokenTTL = -time.Second
	expired := faciaGetToken(t, srv)
	body, ct := faciaForm(faciaJPEGFile("live"), nil)
	faciaPost(t, srv, "/liveness", expired, ct, body).expect(t, 401, faciaJSONCT, faciaUnauth)

	o := NewFACIA(faciaTestID, faciaTestSecret)
	o.OpaqueTokens = true
	osrv := faciaServe(t, o)
	tok := faciaGetToken(t, osrv)
	if _, _, err := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{}); err == nil {
		t.Error("opaque token parses as a JWT")
	}
	faciaCreate(t, osrv, tok, faciaJPEGFile("live"), nil)
}

func TestFACIARoutes(t *testing.T) {
	srv := faciaServe(t, NewFACIA(faciaTestID, faciaTestSecret))
	tok := faciaGetToken(t, srv)
	for _, path := range []string{"/request-access-token", "/liveness", "/result"} {
		r, err := faciaDo(t, context.Background(), srv, http.MethodGet, path, "Bearer "+tok, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		r.expect(t, 405, faciaJSONCT, `{"status":false,"message":"Method not allowed"}`)
	}
	for _, path := range []string{"/", "/liveness/", "/api/liveness", "/results"} {
		faciaPost(t, srv, path, tok, faciaJSONCT, []byte(`{}`)).expect(t, 404, faciaJSONCT, faciaNotFound)
	}
}

func TestFACIABearer(t *testing.T) {
	s := NewFACIA(faciaTestID, faciaTestSecret)
	srv := faciaServe(t, s)
	tok := faciaGetToken(t, srv)
	body, ct := faciaForm(faciaJPEGFile("live"), nil)
	for _, auth := range []string{"", tok, "bearer " + tok, "Bearer  " + tok, "Token " + tok, "Bearer " + tok + "x", "Bearer " + faciaTestSecret} {
		for _, path := range []string{"/liveness", "/result"} {
			r, err := faciaDo(t, context.Background(), srv, http.MethodPost, path, auth, ct, body)
			if err != nil {
				t.Fatal(err)
			}
			r.expect(t, 401, faciaJSONCT, faciaUnauth)
		}
	}
	ref := faciaCreate(t, srv, tok, faciaJPEGFile("live"), nil)
	s.ExpireTokens()
	faciaResult(t, srv, tok, ref).expect(t, 401, faciaJSONCT, faciaUnauth)
	// A new token sees the transactions made with the old one.
	if r := faciaResult(t, srv, faciaGetToken(t, srv), ref); r.status != 200 {
		t.Errorf("after renewal: %d %s", r.status, r.body)
	}
}

func TestFACIACreateValidation(t *testing.T) {
	srv := faciaServe(t, NewFACIA(faciaTestID, faciaTestSecret))
	tok := faciaGetToken(t, srv)
	jpg := faciaJPEGFile("live")
	png := faciaFile{data: SamplePNG("live"), name: "image.png", ctype: "image/png"}
	mp4 := faciaFile{data: faciaTestMP4("live"), name: "video.mp4", ctype: "video/mp4"}
	gif := faciaFile{data: []byte("GIF89a\x01\x00\x01\x00 liveness-emulator:live"), name: "image.gif", ctype: "image/gif"}
	tests := []struct {
		name  string
		file  faciaFile
		over  map[string]string
		field string // "" when accepted
	}{
		{"jpeg", jpg, nil, ""},
		{"png", png, nil, ""},
		{"mp4 with file_type", mp4, map[string]string{"file_type": "video"}, ""},
		{"booleans as true", jpg, map[string]string{"offsite_liveness": "true", "detect_deepfake": "true"}, ""},
		{"client_reference 5", jpg, map[string]string{"client_reference": "abcde"}, ""},
		{"client_reference 255", jpg, map[string]string{"client_reference": strings.Repeat("é", 255)}, ""},
		{"image with other file_type", jpg, map[string]string{"file_type": "image"}, ""},
		{"no type", jpg, map[string]string{"type": ""}, "type"},
		{"wrong type", jpg, map[string]string{"type": "deepfake"}, "type"},
		{"no file", faciaFile{}, nil, "file"},
		{"file as a plain field", faciaFile{data: SampleJPEG("live"), plainField: true}, nil, "file"},
		{"gif", gif, nil, "file"},
		{"mp4 without file_type", mp4, nil, "file_type"},
		{"mp4 with file_type image", mp4, map[string]string{"file_type": "image"}, "file_type"},
		{"jpeg with file_type video", jpg, map[string]string{"file_type": "video"}, "file_type"},
		{"no offsite_liveness", jpg, map[string]string{"offsite_liveness": ""}, "offsite_liveness"},
		{"offsite_liveness 0", jpg, map[string]string{"offsite_liveness": "0"}, "offsite_liveness"},
		{"no detect_deepfake", jpg, map[string]string{"detect_deepfake": ""}, "detect_deepfake"},
		{"detect_deepfake false", jpg, map[string]string{"detect_deepfake": "false"}, "detect_deepfake"},
		{"client_reference 4", jpg, map[string]string{"client_reference": "abcd"}, "client_reference"},
		{"client_reference 256", jpg, map[string]string{"client_reference": strings.Repeat("a", 256)}, "client_reference"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, ct := faciaForm(tt.file, tt.over)
			r := faciaPost(t, srv, "/liveness", tok, ct, body)
			if tt.field == "" {
				if r.status != 200 {
					t.Fatalf("refused: %d %s", r.status, r.body)
				}
				return
			}
			if got := r.invalidField(t); got != tt.field {
				t.Errorf("names %q, want %q", got, tt.field)
			}
		})
	}

	// Neither JSON nor a form: no fields at all.
	if f := faciaPost(t, srv, "/liveness", tok, "text/plain", SampleJPEG("live")).invalidField(t); f != "type" {
		t.Errorf("plain body names %q", f)
	}
}

func TestFACIACreateJSON(t *testing.T) {
	srv := faciaServe(t, NewFACIA(faciaTestID, faciaTestSecret))
	tok := faciaGetToken(t, srv)
	img := base64.StdEncoding.EncodeToString(SampleJPEG("spoof"))
	for _, tc := range []struct {
		body  string
		field string
	}{
		{`{"type":"liveness","file":"` + img + `","detect_deepfake":1,"offsite_liveness":1}`, ""},
		{`{"type":"liveness","file":"data:image/jpeg;base64,` + img + `","detect_deepfake":true,"offsite_liveness":"1","client_reference":null}`, ""},
		{`{"type":"liveness","file":"` + base64.StdEncoding.EncodeToString(faciaTestMP4("live")) + `","file_type":"video","detect_deepfake":1,"offsite_liveness":1}`, ""},
		{`{"type":"liveness","file":"not base64!","detect_deepfake":1,"offsite_liveness":1}`, "file"},
		{`{"type":"liveness","file":"","detect_deepfake":1,"offsite_liveness":1}`, "file"},
		{`{"type":"liveness","file":"` + img + `","detect_deepfake":0,"offsite_liveness":1}`, "detect_deepfake"},
	} {
		r := faciaPost(t, srv, "/liveness", tok, faciaJSONCT, []byte(tc.body))
		if tc.field == "" {
			if r.status != 200 {
				t.Errorf("refused %.80s: %d %s", tc.body, r.status, r.body)
			}
			continue
		}
		if got := r.invalidField(t); got != tc.field {
			t.Errorf("%.80s names %q, want %q", tc.body, got, tc.field)
		}
	}
}

func TestFACIAVerdicts(t *testing.T) {
	s := NewFACIA(faciaTestID, faciaTestSecret)
	srv := faciaServe(t, s)
	tok := faciaGetToken(t, srv)
	unmarked := SampleJPEG("")
	derived := 1 - (Directive{}).ProbReal(unmarked)
	unmarkedStatus, unmarkedCode, unmarkedReason := 1, "", ""
	if derived >= 0.5 {
		unmarkedStatus, unmarkedCode, unmarkedReason = 0, "FADR25", "Deepfake Detected."
	}
	tests := []struct {
		marker string
		file   faciaFile
		status int
		score  string
		code   string
		reason string
	}{
		{marker: "live", status: 1, score: "0.03"},
		{marker: "spoof", status: 0, score: "0.97", code: "FADR25", reason: "Deepfake Detected."},
		{marker: "no_face", status: 0, score: fmt.Sprint(1 - (Directive{}).ProbReal(SampleJPEG("no_face"))), code: "FADR11", reason: "Face not detected."},
		{marker: "no_face_code;score=0.4", status: 0, score: "0.4", code: "FADR11", reason: "Face not detected."},
		{marker: "small_face;score=0.4", status: 0, score: "0.4", code: "FADR12", reason: "Face too small."},
		{marker: "live;decline=FADR22", status: 0, score: "0.03", code: "FADR22", reason: "Declined."},
		{marker: "spoof;decline=FADR2", status: 0, score: "0.97", code: "FADR25", reason: "Deepfake Detected."},
		{marker: "score=0.8", status: 0, score: "0.8", code: "FADR25", reason: "Deepfake Detected."},
		{marker: "score=0.2", status: 1, score: "0.2"},
		{marker: "score=0.5", status: 0, score: "0.5", code: "FADR25", reason: "Deepfake Detected."},
		{marker: "live;score=0.9", status: 1, score: "0.9"},
		{marker: "", file: faciaFile{data: unmarked, name: "a.jpg"}, status: unmarkedStatus, score: fmt.Sprint(derived), code: unmarkedCode, reason: unmarkedReason},
		{marker: "spoof", file: faciaFile{data: SamplePNG("spoof"), name: "a.png"}, status: 0, score: "0.97", code: "FADR25", reason: "Deepfake Detected."},
		{marker: "live", file: faciaFile{data: faciaTestMP4("live"), name: "v.mp4"}, status: 1, score: "0.03"},
	}
	for _, tt := range tests {
		t.Run(tt.marker+tt.file.name, func(t *testing.T) {
			file := tt.file
			var over map[string]string
			if file.data == nil {
				file = faciaJPEGFile(tt.marker)
			}
			if strings.HasSuffix(file.name, ".mp4") {
				over = map[string]string{"file_type": "video"}
			}
			ref := faciaCreate(t, srv, tok, file, over)
			want := faciaVerdictBody(ref, "", tt.status, tt.score, tt.code, tt.reason)
			faciaResult(t, srv, tok, ref).expect(t, 200, faciaJSONCT, want)
			// The verdict stays available.
			faciaResult(t, srv, tok, ref).expect(t, 200, faciaJSONCT, want)
		})
	}

	ref := faciaCreate(t, srv, tok, faciaJPEGFile("live"), map[string]string{"client_reference": "order-42"})
	faciaResult(t, srv, tok, ref).expect(t, 200, faciaJSONCT, faciaVerdictBody(ref, "order-42", 1, "0.03", "", ""))
}

func TestFACIAPending(t *testing.T) {
	s := NewFACIA(faciaTestID, faciaTestSecret)
	s.PendingPolls = 2
	srv := faciaServe(t, s)
	tok := faciaGetToken(t, srv)
	ref := faciaCreate(t, srv, tok, faciaJPEGFile("live"), nil)
	for range 2 {
		faciaResult(t, srv, tok, ref).expect(t, 200, faciaJSONCT, faciaPendingBody(ref))
	}
	faciaResult(t, srv, tok, ref).expect(t, 200, faciaJSONCT, faciaVerdictBody(ref, "", 1, "0.03", "", ""))

	// The marker overrides PendingPolls, both ways.
	ref = faciaCreate(t, srv, tok, faciaJPEGFile("spoof;pending=0"), nil)
	faciaResult(t, srv, tok, ref).expect(t, 200, faciaJSONCT, faciaVerdictBody(ref, "", 0, "0.97", "FADR25", "Deepfake Detected."))
	ref = faciaCreate(t, srv, tok, faciaJPEGFile("live;pending=3"), nil)
	for range 3 {
		faciaResult(t, srv, tok, ref).expect(t, 200, faciaJSONCT, faciaPendingBody(ref))
	}
	faciaResult(t, srv, tok, ref).expect(t, 200, faciaJSONCT, faciaVerdictBody(ref, "", 1, "0.03", "", ""))
	// Polls count per transaction.
	other := faciaCreate(t, srv, tok, faciaJPEGFile("live"), nil)
	faciaResult(t, srv, tok, other).expect(t, 200, faciaJSONCT, faciaPendingBody(other))
}

func TestFACIAResultErrors(t *testing.T) {
	srv := faciaServe(t, NewFACIA(faciaTestID, faciaTestSecret))
	tok := faciaGetToken(t, srv)
	for _, body := range []string{`{}`, `{"reference_id":""}`, `{"reference_id":null}`, `[]`} {
		if f := faciaPost(t, srv, "/result", tok, faciaJSONCT, []byte(body)).invalidField(t); f != "reference_id" {
			t.Errorf("%s names %q", body, f)
		}
	}
	faciaResult(t, srv, tok, "W4437KIWN0KDM13").expect(t, 404, faciaJSONCT, faciaNotFound)
}

func TestFACIAStatusDirective(t *testing.T) {
	srv := faciaServe(t, NewFACIA(faciaTestID, faciaTestSecret))
	tok := faciaGetToken(t, srv)
	for _, tc := range []struct {
		code int
		ct   string
		body string
	}{
		{400, faciaJSONCT, faciaBad},
		{401, faciaJSONCT, faciaUnauth},
		{402, faciaJSONCT, `{"status":false,"message":"Invalid request data: missing required parameters"}`},
		{403, faciaJSONCT, `{"status":false,"message":"Forbidden: Service not allowed"}`},
		{404, faciaJSONCT, faciaNotFound},
		{413, faciaJSONCT, `{"status":false,"message":"Request Entity Too Large"}`},
		{429, faciaJSONCT, `{"status":false,"message":"Too Many Attempts."}`},
		{500, faciaJSONCT, `{"status":false,"message":"Internal Server Error"}`},
		{504, faciaJSONCT, `{"status":false,"message":"Server error"}`},
		{524, "text/plain", "error code: 524"},
		{503, faciaJSONCT, `{"status":false,"message":"error"}`},
	} {
		body, ct := faciaForm(faciaJPEGFile(fmt.Sprintf("live;status=%d", tc.code)), nil)
		r := faciaPost(t, srv, "/liveness", tok, ct, body)
		r.expect(t, tc.code, tc.ct, tc.body)
		if ra := r.header.Get("Retry-After"); (tc.code == 429) != (ra == "1") {
			t.Errorf("%d: Retry-After %q", tc.code, ra)
		}
	}
	faciaCreate(t, srv, tok, faciaJPEGFile("live;status=200"), nil)
	// Validation comes first.
	body, ct := faciaForm(faciaJPEGFile("status=500"), map[string]string{"type": ""})
	if f := faciaPost(t, srv, "/liveness", tok, ct, body).invalidField(t); f != "type" {
		t.Errorf("names %q", f)
	}
	body, ct = faciaForm(faciaJPEGFile("invalid"), nil)
	if f := faciaPost(t, srv, "/liveness", tok, ct, body).invalidField(t); f != "file" {
		t.Errorf("invalid marker names %q", f)
	}
}

func TestFACIAMalformed(t *testing.T) {
	s := NewFACIA(faciaTestID, faciaTestSecret)
	s.PendingPolls = 1
	srv := faciaServe(t, s)
	tok := faciaGetToken(t, srv)
	ref := faciaCreate(t, srv, tok, faciaJPEGFile("live;malformed"), nil)
	faciaResult(t, srv, tok, ref).expect(t, 200, faciaJSONCT, faciaPendingBody(ref))
	full := faciaVerdictBody(ref, "", 1, "0.03", "", "")
	faciaResult(t, srv, tok, ref).expect(t, 200, faciaJSONCT, full[:len(full)/2])
}

func TestFACIADelay(t *testing.T) {
	srv := faciaServe(t, NewFACIA(faciaTestID, faciaTestSecret))
	tok := faciaGetToken(t, srv)
	body, ct := faciaForm(faciaJPEGFile("live;delay=80ms"), nil)
	start := time.Now()
	if r := faciaPost(t, srv, "/liveness", tok, ct, body); r.status != 200 || time.Since(start) < 80*time.Millisecond {
		t.Errorf("%d after %v", r.status, time.Since(start))
	}
	body, ct = faciaForm(faciaJPEGFile("live;delay=1h"), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := faciaDo(t, ctx, srv, http.MethodPost, "/liveness", "Bearer "+tok, ct, body); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err %v, want the client's deadline", err)
	}
}

func TestFACIARecording(t *testing.T) {
	s := NewFACIA(faciaTestID, faciaTestSecret)
	srv := faciaServe(t, s)
	tok := faciaGetToken(t, srv)
	img := SampleJPEG("live")
	ref := faciaCreate(t, srv, tok, faciaJPEGFile("live"), map[string]string{"client_reference": "order-42"})
	faciaResult(t, srv, tok, ref)

	calls := s.Calls()
	if len(calls) != 3 || s.CallCount() != 3 {
		t.Fatalf("%d calls, count %d", len(calls), s.CallCount())
	}
	want := map[string]string{"client_id": faciaTestID, "client_secret": "[redacted]"}
	if c := calls[0]; c.Path != "/request-access-token" || fmt.Sprint(c.Fields) != fmt.Sprint(want) || c.FileSHA256 != "" {
		t.Errorf("token call %+v", c)
	}
	c := calls[1]
	sum := sha256.Sum256(img)
	want = map[string]string{"type": "liveness", "offsite_liveness": "1", "detect_deepfake": "1", "client_reference": "order-42"}
	if c.Method != http.MethodPost || c.Path != "/liveness" || fmt.Sprint(c.Fields) != fmt.Sprint(want) ||
		c.FileName != "image.jpg" || c.FileContentType != "image/jpeg" || c.FileSize != int64(len(img)) ||
		c.FileSHA256 != hex.EncodeToString(sum[:]) || c.BodySize != c.ContentLength || c.BodySize <= int64(len(img)) {
		t.Errorf("create call %+v", c)
	}
	if c.Header.Get("Authorization") != "[redacted]" {
		t.Errorf("Authorization %q", c.Header.Get("Authorization"))
	}
	if c := calls[2]; c.Path != "/result" || fmt.Sprint(c.Fields) != fmt.Sprint(map[string]string{"reference_id": ref}) {
		t.Errorf("result call %+v", c)
	}
	dump := fmt.Sprintf("%#v", calls)
	for _, secret := range []string{faciaTestSecret, tok, string(img[:64])} {
		if strings.Contains(dump, secret) {
			t.Errorf("recorded calls contain %.20q", secret)
		}
	}

	calls[1].Fields["type"] = "changed"
	calls[1].Header.Set("X-Other", "changed")
	if c := s.Calls()[1]; c.Fields["type"] != "liveness" || c.Header.Get("X-Other") != "" {
		t.Error("Calls shares maps with the recorder")
	}

	s.Script(Fault{Status: 500})
	s.Reset()
	if len(s.Calls()) != 0 || s.CallCount() != 0 {
		t.Error("Reset kept calls")
	}
	// Tokens and transactions survive Reset; the fault does not.
	faciaResult(t, srv, tok, ref).expect(t, 200, faciaJSONCT, faciaVerdictBody(ref, "order-42", 1, "0.03", "", ""))

	s.Keep = 2
	for range 3 {
		faciaResult(t, srv, tok, ref)
	}
	if len(s.Calls()) != 2 || s.CallCount() != 4 {
		t.Errorf("Keep: %d calls, count %d", len(s.Calls()), s.CallCount())
	}
}

func TestFACIAScript(t *testing.T) {
	s := NewFACIA(faciaTestID, faciaTestSecret)
	srv := faciaServe(t, s)
	s.Script(
		Fault{Status: 429, Body: `{"status":false,"message":"Too Many Attempts."}`, Header: http.Header{"Retry-After": {"5"}}},
		Fault{Delay: time.Millisecond},
	)
	// Faults come before every check, even the route's.
	r := faciaPost(t, srv, "/nowhere", "", "", nil)
	r.expect(t, 429, faciaJSONCT, `{"status":false,"message":"Too Many Attempts."}`)
	if r.header.Get("Retry-After") != "5" {
		t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
	}
	faciaPost(t, srv, "/nowhere", "", "", nil).expect(t, 404, faciaJSONCT, faciaNotFound)

	tok := faciaGetToken(t, srv)
	s.Script(Fault{CloseConn: true})
	body, ct := faciaForm(faciaJPEGFile("live"), nil)
	if _, err := faciaDo(t, context.Background(), srv, http.MethodPost, "/liveness", "Bearer "+tok, ct, body); err == nil {
		t.Error("no error from a closed connection")
	}
}

func TestFACIATooLarge(t *testing.T) {
	srv := faciaServe(t, NewFACIA(faciaTestID, faciaTestSecret))
	tok := faciaGetToken(t, srv)
	huge := make([]byte, faciaMaxBody+1)
	copy(huge, SampleJPEG("live"))
	faciaPost(t, srv, "/liveness", tok, "multipart/form-data; boundary=x", huge).
		expect(t, 413, faciaJSONCT, `{"status":false,"message":"Request Entity Too Large"}`)
}
