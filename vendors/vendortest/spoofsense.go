package vendortest

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SpoofSenseMaxBody is the API's request body limit, in bytes.
const SpoofSenseMaxBody = 10485760

// SpoofSense paths, as served behind the API's /prod stage.
const (
	SpoofSenseAntispoofing = "/prod/antispoofing"
	SpoofSenseRobust       = "/prod/robust"
)

// SpoofSense emulates SpoofSense's API. Create it with NewSpoofSense and
// serve it with httptest.NewServer or any http.Server. It is safe for
// concurrent use.
type SpoofSense struct {
	// Keep bounds how many of the most recent calls Calls returns; 0
	// keeps all. CallCount still counts every call. Set it before
	// serving; a long-running emulator should.
	Keep int

	log callLog[Call]

	key []byte

	// faultTaken, when set by tests, learns that a fault is about to be
	// served, which a client cannot observe for Hang.
	faultTaken func(Fault)
}

func (c Call) clone() Call {
	c.Header = c.Header.Clone()
	return c
}

// Call is one request as the emulator saw it. It holds neither the key nor
// the image.
type Call struct {
	Method string
	Path   string
	// Header is a copy of the request headers with the values of
	// credential headers (X-Api-Key, Authorization, Proxy-Authorization,
	// Cookie) replaced by "[redacted]", so a test can still see which were
	// sent.
	Header http.Header
	// ContentLength is the request's Content-Length, -1 if it had none
	// (chunked).
	ContentLength int64
	// BodySize is the number of body bytes read.
	BodySize int64
	// DataSHA256 is the hex SHA-256 of the decoded "data" field, "" when
	// the body was too large, not the expected JSON, or not base64.
	DataSHA256 string
}

// Fault overrides the answer to one request; see Script.
type Fault struct {
	// Status, when not 0, is answered with Header, ContentType and Body
	// instead of the normal answer. When 0, the request is answered
	// normally after Delay.
	Status int
	// Body is sent as is.
	Body string
	// ContentType defaults to application/json when Body is not empty.
	ContentType string
	// Header is added to the answer.
	Header http.Header
	// Delay waits before answering, or until the client goes away.
	Delay time.Duration
	// Hang never answers; the handler returns when the client goes away.
	Hang bool
	// CloseConn closes the connection without any answer.
	CloseConn bool
}

// NewSpoofSense returns an emulator accepting apiKey in x-api-key. An
// empty apiKey accepts no request.
func NewSpoofSense(apiKey string) *SpoofSense {
	return &SpoofSense{key: []byte(apiKey)}
}

// spoofSenseRequest is the request body as far as the checks got.
type spoofSenseRequest struct {
	tooLarge bool
	jsonOK   bool   // a JSON object with a string "data"
	image    []byte // nil unless data is standard base64
}

// ServeHTTP answers r as SpoofSense's API does; see SpoofSense in the
// package documentation.
func (s *SpoofSense) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req, n, err := readSpoofSenseBody(r)
	if err != nil {
		return // the client went away while sending
	}
	call := Call{
		Method:        r.Method,
		Path:          r.URL.Path,
		Header:        redactHeader(r.Header),
		ContentLength: r.ContentLength,
		BodySize:      n,
	}
	if req.image != nil {
		sum := sha256.Sum256(req.image)
		call.DataSHA256 = hex.EncodeToString(sum[:])
	}
	if _, f, ok := s.log.record(s.Keep, call, nil); ok {
		if s.faultTaken != nil {
			s.faultTaken(f)
		}
		if !serveFault(w, r, f) {
			return
		}
	}

	if r.Method != http.MethodPost || (r.URL.Path != SpoofSenseAntispoofing && r.URL.Path != SpoofSenseRobust) {
		writeJSON(w, http.StatusForbidden, `{"message":"Missing Authentication Token"}`)
		return
	}
	key := r.Header.Get("X-Api-Key")
	if len(s.key) == 0 || subtle.ConstantTimeCompare([]byte(key), s.key) != 1 {
		writeJSON(w, http.StatusForbidden, `{"message":"Forbidden"}`)
		return
	}
	if req.tooLarge {
		writeTooLarge(w)
		return
	}
	if !req.jsonOK {
		writeJSON(w, http.StatusBadRequest, `{"message":"Invalid request body"}`)
		return
	}
	if req.image == nil {
		writeJSON(w, http.StatusOK, `{"success": false, "message": "Invalid base64 string"}`)
		return
	}
	serveVerdict(w, r, req.image)
}

// readSpoofSenseBody reads the whole body even when it is too large, so
// that the client reads the 413 instead of a connection reset while it is
// still sending.
func readSpoofSenseBody(r *http.Request) (spoofSenseRequest, int64, error) {
	var req spoofSenseRequest
	body, n, tooLarge, err := readBody(r, SpoofSenseMaxBody)
	if err != nil || tooLarge {
		req.tooLarge = tooLarge
		return req, n, err
	}
	var v struct {
		Data *string `json:"data"`
	}
	if json.Unmarshal(body, &v) != nil || v.Data == nil {
		return req, n, nil
	}
	req.jsonOK = true
	// The API is written in Python, whose base64 decoding insists on
	// padding; StdEncoding does too.
	img, err := base64.StdEncoding.DecodeString(*v.Data)
	if err == nil {
		req.image = img
		if req.image == nil {
			req.image = []byte{}
		}
	}
	return req, n, nil
}

// serveFault answers f and reports whether the normal answer should follow.
func serveFault(w http.ResponseWriter, r *http.Request, f Fault) bool {
	if f.Hang {
		<-r.Context().Done()
		return false
	}
	if !wait(r.Context(), f.Delay) {
		return false
	}
	if f.CloseConn {
		closeConn(w)
		return false
	}
	if f.Status == 0 {
		return true
	}
	for k, vs := range f.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	ct := f.ContentType
	if ct == "" && f.Body != "" {
		ct = "application/json"
	}
	if ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(f.Body)))
	w.WriteHeader(f.Status)
	io.WriteString(w, f.Body)
	return false
}

func serveVerdict(w http.ResponseWriter, r *http.Request, image []byte) {
	d := ParseMarker(image)
	if !wait(r.Context(), d.Delay) {
		return
	}
	if d.Status != 0 && d.Status != http.StatusOK {
		writeStatus(w, d.Status)
		return
	}
	if len(image) == 0 {
		d.Verdict = VerdictInvalid
	}
	switch d.Verdict {
	case VerdictNoFace:
		writeJSON(w, http.StatusOK, `{"success": false, "message": "face not detected"}`)
		return
	case VerdictNoFaceCode:
		writeJSON(w, http.StatusOK, `{"success": false, "message": "face not detected", "error_code": "FACE_NOT_DETECTED"}`)
		return
	case VerdictSmallFace:
		writeJSON(w, http.StatusOK, `{"success": false, "message": "face smaller than 128x128", "error_code": "FACE_TOO_SMALL"}`)
		return
	case VerdictInvalid:
		writeJSON(w, http.StatusOK, `{"success": false, "message": "invalid image payload", "error_code": "INVALID_IMAGE_PAYLOAD"}`)
		return
	}
	score := d.ProbReal(image)
	pred := "spoof"
	if score > 0.5 {
		pred = "real"
	}
	body := `{"success": true, "message": "Process finished successfully", "model_output": {"pred_idx": "` +
		pred + `", "prob_real": ` + pythonFloat(score) + `}}`
	if d.Malformed {
		body = body[:len(body)/2]
	}
	writeJSON(w, http.StatusOK, body)
}

// writeStatus answers what API Gateway or the API would for that status.
func writeStatus(w http.ResponseWriter, status int) {
	switch status {
	case http.StatusInternalServerError:
		writeJSON(w, status, `{"message": "Internal server error"}`)
	case http.StatusBadGateway, http.StatusServiceUnavailable:
		writeJSON(w, status, `{"message": "Service Unavailable"}`)
	case http.StatusGatewayTimeout:
		writeJSON(w, status, `{"message": "Endpoint request timed out"}`)
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", "1")
		writeJSON(w, status, `{"message":"Too Many Requests"}`)
	case http.StatusForbidden:
		writeJSON(w, status, `{"message":"Forbidden"}`)
	case http.StatusRequestEntityTooLarge:
		writeTooLarge(w)
	default:
		writeJSON(w, status, `{"message":"error"}`)
	}
}

func writeTooLarge(w http.ResponseWriter) {
	const msg = "HTTP content length exceeded 10485760 bytes."
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Content-Length", strconv.Itoa(len(msg)))
	w.WriteHeader(http.StatusRequestEntityTooLarge)
	io.WriteString(w, msg)
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	io.WriteString(w, body)
}

// pythonFloat formats f as Python's json.dumps does, which the API uses:
// Go's shortest form matches except that Python keeps ".0" on integers.
func pythonFloat(f float64) string {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return s
}

// wait sleeps for d and reports false if ctx ended first.
func wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// closeConn drops the connection without a response. HTTP/2 cannot be
// hijacked; aborting the handler resets the stream there instead.
func closeConn(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	conn.Close()
}

var redacted = []string{"X-Api-Key", "Authorization", "Proxy-Authorization", "Cookie"}

func redactHeader(h http.Header) http.Header {
	c := h.Clone()
	for _, k := range redacted {
		for i := range c[k] {
			c[k][i] = "[redacted]"
		}
	}
	return c
}
