// # VideoSDK
//
// VideoSDK serves POST /ai/v1/face-verification/detect-spoof (VideoSDKPath).
// VideoSDK documents the request and the success answer only; every error
// answer below is this emulator's choice, all application/json
// {"message": "..."}. It checks, in this order:
//
//  1. Method and path. Anything else gets 404 {"message":"Not Found"}.
//  2. The Authorization header: the bare JWT, without any prefix.
//     Missing: 401 {"message":"Authorization token is required"}. With a
//     prefix such as "Bearer " or "Basic " (any space in the value): 401
//     {"message":"Invalid token: send the token without any prefix"}.
//     The token must be signed with HS256 and the emulator's secret, carry
//     an exp claim and the emulator's API key in its apikey claim, else
//     401 {"message":"Invalid token"}; past its exp (no leeway) it gets
//     401 {"message":"Token expired"}; without "allow_join" in its
//     permissions claim, 403 {"message":"Permission denied"}. Other claims
//     (version, roles, iat) are not checked. An emulator created with an
//     empty secret accepts no token.
//  3. Content-Type must be application/json (parameters such as charset
//     are allowed), else 415 {"message":"Content-Type must be application/json"}.
//  4. The body size: over 16 MiB (by Content-Length, or counted while
//     reading a chunked body) gets 413 {"message":"Payload Too Large"},
//     after the body has been read (up to 64 MiB) so that the client
//     reads the answer. VideoSDK documents no limit.
//  5. The body must be a JSON object with a string field "img", else 400
//     {"message":"img is required"}.
//  6. img must be a data URI data:image/<type>;base64,<data> with nothing
//     else between the type and ";base64,", else 400
//     {"message":"img must be a data URI: data:image/<type>;base64,<data>"}.
//  7. <data> must be standard base64 with padding, else 400
//     {"message":"img is not valid base64"}; an empty image gets 400
//     {"message":"Invalid image"}.
//  8. The declared type must match the type sniffed from the decoded bytes
//     (net/http's DetectContentType, case-insensitive), else 400
//     {"message":"Image type does not match its content"}.
//  9. The marker in the decoded image decides.
//
// The answers to markers, with p the score the marker asks for (live 0.97,
// spoof 0.03, score=, or the one derived from the image):
//
//	live, spoof, score  200 {"spoof_detected": <p <= 0.5>, "accuracy": <max(p, 1-p)>}
//	                    so live is {"spoof_detected": false, "accuracy": 0.97}
//	                    and spoof is {"spoof_detected": true, "accuracy": 0.97}
//	no_face, no_face_code, small_face
//	                    400 {"message":"No face detected"}
//	invalid             400 {"message":"Invalid image"}
//	status=<code>       that status with {"message": "<its status text>"}
//	                    ("error" for codes without one), 429 with
//	                    Retry-After: 1; 204 and 304 without a body;
//	                    1xx as an interim answer followed by an empty
//	                    200; 200 is ignored
//	malformed           the success body cut in half
//	delay=<dur>         as for every emulator
//
// accuracy is the confidence in spoof_detected, so a client's live score
// is accuracy when spoof_detected is false, 1 - accuracy when true.
// Numbers are written as JavaScript's JSON.stringify does (0.97, 1, 0).
//
// Script, Keep, Reset, CallCount behave as SpoofSense's. Calls returns
// VideoSDKCall records: a Call (Authorization redacted; DataSHA256 is the
// SHA-256 of the image decoded from img) plus the type declared in the
// data URI.

package vendortest

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// VideoSDKPath is the path of VideoSDK's Face Spoof Detection API.
const VideoSDKPath = "/ai/v1/face-verification/detect-spoof"

// videosdkMaxBody is the emulator's own limit: VideoSDK documents none,
// but an emulator serving the public must bound what it holds in memory.
const videosdkMaxBody = 16 << 20

// VideoSDK emulates VideoSDK's Face Spoof Detection API. Create it with
// NewVideoSDK and serve it with httptest.NewServer or any http.Server. It
// is safe for concurrent use.
type VideoSDK struct {
	// Keep bounds how many of the most recent calls Calls returns; 0
	// keeps all. CallCount still counts every call. Set it before
	// serving; a long-running emulator should.
	Keep int

	log callLog[VideoSDKCall]

	apiKey []byte
	secret []byte

	// faultTaken, when set by tests, learns that a fault is about to be
	// served, which a client cannot observe for Hang.
	faultTaken func(Fault)
}

// VideoSDKCall is one request as the VideoSDK emulator saw it. It holds
// neither the token nor the image.
type VideoSDKCall struct {
	Call
	// ImageMIME is the type declared in the img data URI, "" when the
	// body held no such URI.
	ImageMIME string
}

func (c VideoSDKCall) clone() VideoSDKCall {
	c.Call = c.Call.clone()
	return c
}

// NewVideoSDK returns an emulator accepting tokens signed (HS256) with
// secret whose apikey claim is apiKey. An empty secret accepts no token.
func NewVideoSDK(apiKey, secret string) *VideoSDK {
	return &VideoSDK{apiKey: []byte(apiKey), secret: []byte(secret)}
}

// videosdkBody is the request body as far as its checks got; problem is
// the 400 message of the first that failed, "" when all passed.
type videosdkBody struct {
	tooLarge bool
	problem  string
	mime     string // declared in the data URI
	image    []byte // nil unless img decoded
}

// ServeHTTP answers r as VideoSDK's API does; see VideoSDK in the package
// documentation.
func (s *VideoSDK) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, n, err := videosdkRead(r)
	if err != nil {
		return // the client went away while sending
	}
	call := VideoSDKCall{
		Call: Call{
			Method:        r.Method,
			Path:          r.URL.Path,
			Header:        redactHeader(r.Header),
			ContentLength: r.ContentLength,
			BodySize:      n,
		},
		ImageMIME: body.mime,
	}
	if body.image != nil {
		sum := sha256.Sum256(body.image)
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

	if r.Method != http.MethodPost || r.URL.Path != VideoSDKPath {
		videosdkMessage(w, http.StatusNotFound, "Not Found")
		return
	}
	if status, msg := s.checkToken(r.Header.Get("Authorization")); status != 0 {
		videosdkMessage(w, status, msg)
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		videosdkMessage(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
		return
	}
	if body.tooLarge {
		videosdkMessage(w, http.StatusRequestEntityTooLarge, "Payload Too Large")
		return
	}
	if body.problem != "" {
		videosdkMessage(w, http.StatusBadRequest, body.problem)
		return
	}
	videosdkVerdict(w, r, body.image)
}

// videosdkClaims are the claims the emulator checks.
type videosdkClaims struct {
	APIKey      string   `json:"apikey"`
	Permissions []string `json:"permissions"`
	jwt.RegisteredClaims
}

// checkToken returns the status and message refusing header, 0 if the
// token is good.
func (s *VideoSDK) checkToken(header string) (int, string) {
	if header == "" {
		return http.StatusUnauthorized, "Authorization token is required"
	}
	if strings.ContainsAny(header, " \t") {
		return http.StatusUnauthorized, "Invalid token: send the token without any prefix"
	}
	if len(s.secret) == 0 {
		return http.StatusUnauthorized, "Invalid token"
	}
	var c videosdkClaims
	_, err := jwt.ParseWithClaims(header, &c, func(*jwt.Token) (any, error) { return s.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithExpirationRequired())
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return http.StatusUnauthorized, "Token expired"
	case err != nil || subtle.ConstantTimeCompare([]byte(c.APIKey), s.apiKey) != 1:
		return http.StatusUnauthorized, "Invalid token"
	case !slices.Contains(c.Permissions, "allow_join"):
		return http.StatusForbidden, "Permission denied"
	}
	return 0, ""
}

// videosdkRead reads the whole body even when it is too large, so that
// the client reads the 413 instead of a connection reset while it is still
// sending.
func videosdkRead(r *http.Request) (videosdkBody, int64, error) {
	var b videosdkBody
	raw, n, tooLarge, err := readBody(r, videosdkMaxBody)
	if err != nil || tooLarge {
		b.tooLarge = tooLarge
		return b, n, err
	}
	var v struct {
		Img *string `json:"img"`
	}
	if json.Unmarshal(raw, &v) != nil || v.Img == nil {
		b.problem = "img is required"
		return b, n, nil
	}
	rest, ok := strings.CutPrefix(*v.Img, "data:")
	declared, data, ok2 := strings.Cut(rest, ";base64,")
	sub, ok3 := strings.CutPrefix(declared, "image/")
	if !ok || !ok2 || !ok3 || sub == "" || strings.ContainsAny(sub, ";,/") {
		b.problem = "img must be a data URI: data:image/<type>;base64,<data>"
		return b, n, nil
	}
	b.mime = declared
	img, err := base64.StdEncoding.DecodeString(data)
	switch {
	case err != nil:
		b.problem = "img is not valid base64"
	case len(img) == 0:
		b.problem = "Invalid image"
	default:
		b.image = img
		if sniffed, _, _ := strings.Cut(http.DetectContentType(img), ";"); !strings.EqualFold(sniffed, declared) {
			b.problem = "Image type does not match its content"
		}
	}
	return b, n, nil
}

func videosdkVerdict(w http.ResponseWriter, r *http.Request, image []byte) {
	d := ParseMarker(image)
	if !wait(r.Context(), d.Delay) {
		return
	}
	if d.Status != 0 && d.Status != http.StatusOK {
		videosdkStatus(w, d.Status)
		return
	}
	switch d.Verdict {
	case VerdictNoFace, VerdictNoFaceCode, VerdictSmallFace:
		videosdkMessage(w, http.StatusBadRequest, "No face detected")
		return
	case VerdictInvalid:
		videosdkMessage(w, http.StatusBadRequest, "Invalid image")
		return
	}
	p := d.ProbReal(image)
	body := `{"spoof_detected": ` + strconv.FormatBool(p <= 0.5) + `, "accuracy": ` + videosdkNumber(max(p, 1-p)) + `}`
	if d.Malformed {
		body = body[:len(body)/2]
	}
	writeJSON(w, http.StatusOK, body)
}

func videosdkStatus(w http.ResponseWriter, status int) {
	if status < 200 || status == http.StatusNoContent || status == http.StatusNotModified {
		w.WriteHeader(status)
		return
	}
	if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	msg := http.StatusText(status)
	if msg == "" {
		msg = "error"
	}
	videosdkMessage(w, status, msg)
}

func videosdkMessage(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(struct {
		Message string `json:"message"`
	}{msg})
	writeJSON(w, status, string(b))
}

// videosdkNumber formats f in [0,1] as JavaScript's JSON.stringify, which
// the API's Node.js server uses: the shortest decimal that round-trips,
// with an exponent only below 1e-6.
func videosdkNumber(f float64) string {
	if f != 0 && f < 1e-6 {
		s := strconv.FormatFloat(f, 'e', -1, 64) // 1e-07
		mant, exp, _ := strings.Cut(s, "e")
		return mant + "e-" + strings.TrimLeft(exp[1:], "0")
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}
