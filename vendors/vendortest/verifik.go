// # Verifik
//
// Verifik serves POST /v2/face-recognition/liveness. Every error body has
// the documented shape {"message": ..., "code": ...}, compact, as the
// vendor's Node.js API writes it. It checks, in this order:
//
//  1. Path and method. Another path gets 404
//     {"message":"<path> does not exist","code":"ResourceNotFound"},
//     another method on the path 405
//     {"message":"<METHOD> is not allowed","code":"MethodNotAllowed"} with
//     Allow: POST. Undocumented: these are restify's answers, which the
//     documented error shapes and codes (MissingParameter at 409) suggest.
//  2. Authorization must be exactly "Bearer <token>". Missing, malformed
//     or another token: 401
//     {"message":"Authentication required","code":"UNAUTHORIZED"}. After
//     Expire, the right token gets 403
//     {"message":"token_expired","code":"FORBIDDEN"}. An emulator created
//     with an empty token accepts no request.
//  3. The body size: over VerifikMaxBody (32 MiB, the emulator's own
//     bound: Verifik documents none) gets 413
//     {"message":"request body too large","code":"PayloadTooLarge"}.
//  4. Content-Type must be application/json (parameters such as charset
//     allowed), else 415
//     {"message":"content type must be application/json","code":"UnsupportedMediaType"}.
//  5. The body must be a JSON object, else 400
//     {"message":"invalid JSON body","code":"InvalidContent"}.
//  6. The fields, in the order os, image, liveness_min_score,
//     collection_id, then any other field. The first failure gets 409
//     with code MissingParameter and a message in the style of the
//     documented one ("os" is required; shown here without JSON escaping):
//
//     "<field>" is required
//     "<field>" must be a string
//     "<field>" is not allowed to be empty
//     "os" must be one of [DESKTOP, IOS, ANDROID]
//     "image" must be a valid base64 string
//     "liveness_min_score" must be a number
//     "liveness_min_score" must be greater than or equal to 0
//     "liveness_min_score" must be less than or equal to 1
//     "<field>" is not allowed            (any undocumented field)
//
//     Only the missing os is documented; the emulator gives every
//     validation failure the documented code. os must be one of the three
//     suggested values. image is raw standard base64 with padding and no
//     line breaks, or a data URI data:image/<type>;base64,<base64>. An
//     image that is an http:// or https:// URL (any case) gets 400
//     {"message":"\"image\" URLs are not fetched by the emulator","code":"BadRequest"}:
//     Verifik would download it, but our client only ever sends the bytes
//     it checked, so a URL here is a bug to catch.
//  7. collection_id, when Collections is not nil, must be one of them,
//     else 404 {"message":"collection not found","code":"NotFound"}
//     (undocumented: Verifik only says it is validated for the client).
//  8. The marker in the decoded image decides.
//
// The answer, 200 application/json:
//
//	{"id":"JQ4RM","data":{"passed":true,"min_score":0.6,"liveness_score":0.97},
//	 "signature":{"message":"Certified by Verifik.co","dateTime":"January 16, 2024 3:44 PM"}}
//
// min_score is the liveness_min_score sent, 0.6 when none was, and passed
// is liveness_score > min_score, strictly. liveness_score comes from the
// marker as for SpoofSense (live 0.97, spoof 0.03, score=, else derived
// from the image's SHA-256). Verifik documents no answer for an image
// without a face: no_face, no_face_code, small_face and invalid all answer
// 200 with liveness_score 0 and passed false, what a liveness score means
// when there is no face, so a client reads them as a failed check. id is
// five characters of [A-Z2-9] (no I, O, 0, 1), distinct for each call
// until Reset; dateTime is the time of the answer, in UTC. Numbers are
// written as JavaScript does (1, 0.6, 1e-7).
//
// status= answers:
//
//	401           {"message":"Authentication required","code":"UNAUTHORIZED"}
//	403           {"message":"token_expired","code":"FORBIDDEN"}
//	409           {"message":"\"os\" is required","code":"MissingParameter"}
//	429           {"message":"Too many requests","code":"TooManyRequests"} with Retry-After: 1
//	500           {"message":"internal_error","code":"ERROR"}
//	200           ignored: the normal answer
//	anything else {"message":"error","code":"ERROR"}
//
// delay= applies first, then status=, then the verdict; malformed
// truncates the success body. Script, Keep, CallCount and Reset work as
// for SpoofSense. Calls returns VerifikCalls: a Call (headers redacted,
// DataSHA256 the SHA-256 of the decoded image) plus the os,
// liveness_min_score and collection_id sent, whether the image was a data
// URI, and the id the call answers if it succeeds.

package vendortest

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"mime"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// VerifikPath is the liveness endpoint's path.
const VerifikPath = "/v2/face-recognition/liveness"

// VerifikMaxBody bounds the request body the emulator reads. Verifik
// documents no limit; this is the emulator's own.
const VerifikMaxBody = 32 << 20

// VerifikDefaultMinScore is the threshold when a request sends no
// liveness_min_score.
const VerifikDefaultMinScore = 0.6

// verifikOSes are the os values Verifik suggests, in its order.
var verifikOSes = []string{"DESKTOP", "IOS", "ANDROID"}

// Verifik emulates Verifik's liveness API. Create it with NewVerifik and
// serve it with httptest.NewServer or any http.Server. It is safe for
// concurrent use.
type Verifik struct {
	// Keep bounds how many of the most recent calls Calls returns; 0
	// keeps all. CallCount still counts every call. Set it before
	// serving; a long-running emulator should.
	Keep int

	log callLog[VerifikCall]

	// Collections, when not nil, are the collection ids the token's
	// account owns; any other collection_id gets 404. Nil accepts any.
	// Set it before serving.
	Collections []string

	token []byte

	mu      sync.Mutex
	expired bool
}

// VerifikCall is one request as the Verifik emulator saw it. It holds
// neither the token nor the image.
type VerifikCall struct {
	// Call holds the method, path, redacted headers, sizes and, in
	// DataSHA256, the SHA-256 of the decoded "image" ("" when it did not
	// decode).
	Call
	// OS is "os" as sent, "" when absent or not a string.
	OS string
	// MinScore is liveness_min_score as sent, nil when absent or not a
	// number.
	MinScore *float64
	// CollectionID is collection_id as sent, "" when absent or not a
	// string.
	CollectionID string
	// DataURI reports whether the image came as a data URI rather than
	// raw base64.
	DataURI bool
	// ID is the id this call is answered with if it gets a verdict.
	ID string
}

func (c VerifikCall) clone() VerifikCall {
	c.Call = c.Call.clone()
	if c.MinScore != nil {
		s := *c.MinScore
		c.MinScore = &s
	}
	return c
}

// NewVerifik returns an emulator accepting "Authorization: Bearer
// <token>". An empty token accepts no request.
func NewVerifik(token string) *Verifik {
	return &Verifik{token: []byte(token)}
}

// Expire makes the emulator answer the right token with 403
// token_expired from now on, as Verifik does once the 30-day token is
// past its date.
func (v *Verifik) Expire() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.expired = true
}

func (v *Verifik) isExpired() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.expired
}

// verifikIDAlphabet leaves out the look-alikes I, O, 0 and 1.
const verifikIDAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// verifikID spreads n over five characters of 5 bits: multiplying by an
// odd constant is a bijection modulo 2^25, so ids look random yet do not
// repeat within 2^25 calls.
func verifikID(n int) string {
	x := uint32(n) * 0x9E3779B1 & (1<<25 - 1)
	b := make([]byte, 5)
	for i := range b {
		b[i] = verifikIDAlphabet[x>>(5*(4-i))&31]
	}
	return string(b)
}

// verifikRequest is the request body as far as the checks got.
type verifikRequest struct {
	os           string
	minScore     *float64
	collectionID string
	dataURI      bool
	image        []byte // nil unless it decoded

	// The first failed check's answer, 0 when the body is valid.
	status        int
	code, message string
}

// ServeHTTP answers r as Verifik's API does; see Verifik in the package
// documentation.
func (v *Verifik) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, n, tooLarge, err := readBody(r, VerifikMaxBody)
	if err != nil {
		return // the client went away while sending
	}
	var req verifikRequest
	if !tooLarge {
		req = verifikParse(body)
	}
	call := VerifikCall{
		Call: Call{
			Method:        r.Method,
			Path:          r.URL.Path,
			Header:        redactHeader(r.Header),
			ContentLength: r.ContentLength,
			BodySize:      n,
		},
		OS:           req.os,
		MinScore:     req.minScore,
		CollectionID: req.collectionID,
		DataURI:      req.dataURI,
	}
	if req.image != nil {
		sum := sha256.Sum256(req.image)
		call.DataSHA256 = hex.EncodeToString(sum[:])
	}
	call, f, faulted := v.log.record(v.Keep, call, func(c *VerifikCall, n int) { c.ID = verifikID(n) })
	if faulted {
		if !serveFault(w, r, f) {
			return
		}
	}

	if r.URL.Path != VerifikPath {
		verifikError(w, http.StatusNotFound, "ResourceNotFound", r.URL.Path+" does not exist")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		verifikError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", r.Method+" is not allowed")
		return
	}
	auth := r.Header.Get("Authorization")
	if len(v.token) == 0 || subtle.ConstantTimeCompare([]byte(auth), append([]byte("Bearer "), v.token...)) != 1 {
		verifikError(w, http.StatusUnauthorized, "UNAUTHORIZED", "Authentication required")
		return
	}
	if v.isExpired() {
		verifikError(w, http.StatusForbidden, "FORBIDDEN", "token_expired")
		return
	}
	if tooLarge {
		verifikError(w, http.StatusRequestEntityTooLarge, "PayloadTooLarge", "request body too large")
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		verifikError(w, http.StatusUnsupportedMediaType, "UnsupportedMediaType", "content type must be application/json")
		return
	}
	if req.status != 0 {
		verifikError(w, req.status, req.code, req.message)
		return
	}
	if req.collectionID != "" && v.Collections != nil && !slices.Contains(v.Collections, req.collectionID) {
		verifikError(w, http.StatusNotFound, "NotFound", "collection not found")
		return
	}
	verifikVerdict(w, r, req, call.ID)
}

// verifikParse validates the body field by field, in the order of the
// documented parameters, and keeps what it learnt for the call record.
func verifikParse(body []byte) verifikRequest {
	var req verifikRequest
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) != nil || fields == nil {
		req.fail(http.StatusBadRequest, "InvalidContent", "invalid JSON body")
		return req
	}
	os, ok := verifikString(&req, fields, "os", true)
	if ok && !slices.Contains(verifikOSes, os) {
		req.fail(http.StatusConflict, "MissingParameter", `"os" must be one of [`+strings.Join(verifikOSes, ", ")+`]`)
	}
	req.os = os

	img, ok := verifikString(&req, fields, "image", true)
	if ok {
		verifikImage(&req, img)
	}

	if raw, present := fields["liveness_min_score"]; present {
		var s float64
		switch {
		case json.Unmarshal(raw, &s) != nil || string(raw) == "null":
			req.fail(http.StatusConflict, "MissingParameter", `"liveness_min_score" must be a number`)
		default:
			req.minScore = &s
			if s < 0 {
				req.fail(http.StatusConflict, "MissingParameter", `"liveness_min_score" must be greater than or equal to 0`)
			} else if s > 1 {
				req.fail(http.StatusConflict, "MissingParameter", `"liveness_min_score" must be less than or equal to 1`)
			}
		}
	}

	req.collectionID, _ = verifikString(&req, fields, "collection_id", false)

	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch k {
		case "os", "image", "liveness_min_score", "collection_id":
		default:
			req.fail(http.StatusConflict, "MissingParameter", `"`+k+`" is not allowed`)
		}
	}
	return req
}

// fail keeps the first failure: later fields are still read for the call
// record.
func (req *verifikRequest) fail(status int, code, message string) {
	if req.status == 0 {
		req.status, req.code, req.message = status, code, message
	}
}

// verifikString reads a non-empty string field and reports whether it
// is one.
func verifikString(req *verifikRequest, fields map[string]json.RawMessage, name string, required bool) (string, bool) {
	raw, present := fields[name]
	if !present {
		if required {
			req.fail(http.StatusConflict, "MissingParameter", `"`+name+`" is required`)
		}
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil || string(raw) == "null" {
		req.fail(http.StatusConflict, "MissingParameter", `"`+name+`" must be a string`)
		return "", false
	}
	if s == "" {
		req.fail(http.StatusConflict, "MissingParameter", `"`+name+`" is not allowed to be empty`)
		return "", false
	}
	return s, true
}

// verifikImage decodes image, raw base64 or a data URI. The API is
// Node.js, whose base64 is lenient; the emulator insists on standard
// base64 with padding and without line breaks, so that a sloppy client
// shows up here first.
func verifikImage(req *verifikRequest, img string) {
	lower := strings.ToLower(img)
	if strings.HasPrefix(lower, "http://") || strings.HasPrefix(lower, "https://") {
		req.fail(http.StatusBadRequest, "BadRequest", `"image" URLs are not fetched by the emulator`)
		return
	}
	b64 := img
	if strings.HasPrefix(img, "data:") {
		req.dataURI = true
		meta, payload, ok := strings.Cut(img[len("data:"):], ",")
		mt, enc, _ := strings.Cut(meta, ";")
		if !ok || enc != "base64" || !strings.HasPrefix(mt, "image/") || len(mt) == len("image/") {
			req.fail(http.StatusConflict, "MissingParameter", `"image" must be a valid base64 string`)
			return
		}
		b64 = payload
	}
	data, err := base64.StdEncoding.DecodeString(b64)
	switch {
	case err != nil, strings.ContainsAny(b64, "\r\n"): // DecodeString skips line breaks
		req.fail(http.StatusConflict, "MissingParameter", `"image" must be a valid base64 string`)
	case len(data) == 0:
		req.fail(http.StatusConflict, "MissingParameter", `"image" is not allowed to be empty`)
	default:
		req.image = data
	}
}

type verifikSuccess struct {
	ID   string `json:"id"`
	Data struct {
		Passed        bool    `json:"passed"`
		MinScore      float64 `json:"min_score"`
		LivenessScore float64 `json:"liveness_score"`
	} `json:"data"`
	Signature struct {
		Message  string `json:"message"`
		DateTime string `json:"dateTime"`
	} `json:"signature"`
}

func verifikVerdict(w http.ResponseWriter, r *http.Request, req verifikRequest, id string) {
	d := ParseMarker(req.image)
	if !wait(r.Context(), d.Delay) {
		return
	}
	if d.Status != 0 && d.Status != http.StatusOK {
		verifikStatus(w, d.Status)
		return
	}
	score := d.ProbReal(req.image)
	switch d.Verdict {
	case VerdictNoFace, VerdictNoFaceCode, VerdictSmallFace, VerdictInvalid:
		score = 0
	}
	var out verifikSuccess
	out.ID = id
	out.Data.MinScore = VerifikDefaultMinScore
	if req.minScore != nil {
		out.Data.MinScore = *req.minScore
	}
	out.Data.LivenessScore = score
	out.Data.Passed = score > out.Data.MinScore
	out.Signature.Message = "Certified by Verifik.co"
	out.Signature.DateTime = time.Now().UTC().Format("January 2, 2006 3:04 PM")
	// encoding/json writes floats as JavaScript does, as the API would.
	body, err := json.Marshal(out)
	if err != nil {
		panic(err) // the scores are finite by construction
	}
	if d.Malformed {
		body = body[:len(body)/2]
	}
	writeJSON(w, http.StatusOK, string(body))
}

// verifikStatus answers the documented body for that status.
func verifikStatus(w http.ResponseWriter, status int) {
	switch status {
	case http.StatusUnauthorized:
		verifikError(w, status, "UNAUTHORIZED", "Authentication required")
	case http.StatusForbidden:
		verifikError(w, status, "FORBIDDEN", "token_expired")
	case http.StatusConflict:
		verifikError(w, status, "MissingParameter", `"os" is required`)
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", "1")
		verifikError(w, status, "TooManyRequests", "Too many requests")
	case http.StatusInternalServerError:
		verifikError(w, status, "ERROR", "internal_error")
	default:
		verifikError(w, status, "ERROR", "error")
	}
}

func verifikError(w http.ResponseWriter, status int, code, message string) {
	b, _ := json.Marshal(struct {
		Message string `json:"message"`
		Code    string `json:"code"`
	}{message, code})
	writeJSON(w, status, string(b))
}
