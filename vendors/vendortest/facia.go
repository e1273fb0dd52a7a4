// # FACIA
//
// FACIA serves FACIA's three calls: POST /request-access-token, POST
// /liveness (create a deepfake liveness transaction) and POST /result (poll
// it). Bodies may be JSON, multipart/form-data or
// application/x-www-form-urlencoded, as the API (Laravel) reads all three;
// the file of /liveness is a multipart file part or, in JSON, base64 (a
// data: URI prefix is accepted). Error bodies are
// {"status": false, "message": "<the documented message>"}. After any
// Scripted fault, the checks, in this order:
//
//  1. A method other than POST on a known path gets 405 "Method not
//     allowed"; an unknown path gets 404 "Resource not found".
//  2. A body over 64 MiB gets 413 "Request Entity Too Large" (the vendor
//     documents no limit: this bound is the emulator's).
//  3. /request-access-token: client_id and client_secret are required (400
//     "Bad Request: One or more parameters are invalid or missing") and must
//     match (401 "Unauthorized: Invalid signature key provided in the
//     request"; an emulator created with an empty id or secret accepts
//     none). The answer is 200 {"status": true, "message": "token",
//     "result": {"data": {"token": "<token>"}}}. Tokens are HS256 JWTs with
//     iat and exp (TokenTTL, default 8 h), or random opaque strings when
//     OpaqueTokens is set.
//  4. /liveness and /result need exactly "Authorization: Bearer <token>"
//     with a token this emulator issued, not expired and not revoked by
//     ExpireTokens; otherwise 401 as above.
//  5. /liveness validates its fields; any failure is 400 with the message
//     above and "errors": {"<field>": "<why>"}: type must be "liveness";
//     file is required and must be JPEG, PNG or MP4 (sniffed from its bytes,
//     MP4 by "ftyp" at offset 4); file_type must be "video" for an MP4 and
//     must not be "video" for an image; offsite_liveness and
//     detect_deepfake must be 1 or true; client_reference, when not empty,
//     must be 5 to 255 characters (empty counts as absent, as Laravel
//     converts it to null). Then delay= waits, status= answers that status
//     (below), and the marker invalid answers 400 as an unreadable file.
//     Otherwise 200 {"status": true, "message": "Transaction Created",
//     "result": {"data": {"reference_id": "<15 characters>"}}}.
//  6. /result needs a reference_id (400) that this emulator created (404
//     "Resource not found"). The first PendingPolls answers for a
//     transaction (pending=<n> in the marker overrides it) are "still
//     processing": result.data with "status": null and null score and
//     decline fields. Then the verdict:
//
//	{"status": true, "message": "success", "result": {"data": {
//	  "type": "deepfake", "reference_id": "...", "client_reference": null|"...",
//	  "status": 1|0, "deepfake_score": 0.03, "decline_code": null|"FADR25",
//	  "decline_reason": null|"Deepfake Detected.",
//	  "declined_proof": null|"https://proof.invalid/..."}}}
//
// The marker decides the verdict:
//
//	live             status 1, deepfake_score 0.03
//	spoof            status 0, FADR25 "Deepfake Detected.", deepfake_score 0.97
//	no_face          status 0, FADR11 "Face not detected." (no_face_code too)
//	small_face       status 0, FADR12 "Face too small."
//	invalid          400 from /liveness (the file cannot be read)
//	decline=FADRnn   status 0 with that code, whatever else the marker says
//	score=<float>    the raw deepfake_score (probability of a deepfake);
//	                 without live or spoof, status is 1 below 0.5, else 0
//	                 with FADR25
//	pending=<n>      n "still processing" answers before the verdict
//	status=<code>    /liveness answers this status (below)
//	delay=<dur>      /liveness waits this long first
//	malformed        the verdict body of /result is truncated
//
// Without live, spoof or score=, deepfake_score is 1 minus the score derived
// from the image's SHA-256 (see Markers). A declined verdict carries a fake
// declined_proof URL under https://proof.invalid/, so that tests can prove a
// client never forwards or logs it.
//
// status= answers: 400, 401, 402 ("Invalid request data: missing required
// parameters"), 403 ("Forbidden: Service not allowed"), 404, 413, 429 ("Too
// Many Attempts." with Retry-After: 1), 500 ("Internal Server Error"), 504
// ("Server error") with the documented messages; 524 is Cloudflare's
// text/plain "error code: 524"; 200 is ignored; anything else is
// {"status": false, "message": "error"}.
//
// Script, Keep, CallCount and Reset work as for SpoofSense; Reset keeps the
// issued tokens and the transactions. Calls returns FACIACalls: the
// headers with credentials redacted, every field but the file (client_secret
// redacted), and the file's name, part Content-Type, size and SHA-256 —
// never a token, a secret or the file itself.

package vendortest

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

const (
	faciaTokenPath    = "/request-access-token"
	faciaLivenessPath = "/liveness"
	faciaResultPath   = "/result"
	faciaMaxBody      = 64 << 20
	faciaDefaultTTL   = 8 * time.Hour
	// faciaMaxTransactions bounds the memory of a long-running emulator;
	// the oldest transactions are forgotten first.
	faciaMaxTransactions = 10000
	faciaProofURL        = "https://proof.invalid/api/image-url/"
)

// The documented messages of FACIA's error answers.
const (
	faciaMsgBadRequest   = "Bad Request: One or more parameters are invalid or missing"
	faciaMsgUnauthorized = "Unauthorized: Invalid signature key provided in the request"
	faciaMsgNotFound     = "Resource not found"
)

// faciaDeclineReasons are the decline_reason texts the emulator sends;
// only FADR25's is documented.
var faciaDeclineReasons = map[string]string{
	"FADR25": "Deepfake Detected.",
	"FADR11": "Face not detected.",
	"FADR12": "Face too small.",
}

// FACIA emulates FACIA's deepfake liveness API. Create it with NewFACIA and
// serve it with httptest.NewServer or any http.Server. It is safe for
// concurrent use; set the exported fields before serving.
type FACIA struct {
	// Keep bounds how many of the most recent calls Calls returns; 0
	// keeps all. CallCount still counts every call. Set it before
	// serving; a long-running emulator should.
	Keep int

	log callLog[FACIACall]

	// PendingPolls is how many /result calls per transaction answer "still
	// processing" before the verdict. A marker's pending=<n> overrides it.
	PendingPolls int
	// TokenTTL is the lifetime of issued tokens (their exp claim); 0 means
	// the documented 8 hours. A negative TTL issues expired tokens.
	TokenTTL time.Duration
	// OpaqueTokens issues random tokens that are not JWTs, so that a
	// client cannot read their expiry.
	OpaqueTokens bool

	clientID, secret []byte
	key              []byte // signs the JWTs

	mu     sync.Mutex
	tokens map[string]time.Time // issued token → expiry
	txns   map[string]*faciaTxn
	order  []string // transaction ids, oldest first
	seq    int
}

// FACIACall is one request as the FACIA emulator saw it. It holds no
// credential and not the file.
type FACIACall struct {
	Method string
	Path   string
	// Header is a copy of the request headers with credential values
	// (Authorization, X-Api-Key, Proxy-Authorization, Cookie) replaced by
	// "[redacted]".
	Header http.Header
	// ContentLength is the request's Content-Length, -1 if it had none.
	ContentLength int64
	// BodySize is the number of body bytes read.
	BodySize int64
	// Fields holds the JSON or form fields other than file, as strings
	// (JSON numbers and booleans as written); client_secret is
	// "[redacted]". Nil when the body was not read as fields.
	Fields map[string]string
	// FileName and FileContentType are the file part's filename and
	// Content-Type ("" for a base64 file in JSON).
	FileName        string
	FileContentType string
	// FileSize and FileSHA256 describe the decoded file; FileSHA256 is ""
	// when no file was sent.
	FileSize   int64
	FileSHA256 string
}

func (c FACIACall) clone() FACIACall {
	c.Header = c.Header.Clone()
	c.Fields = maps.Clone(c.Fields)
	return c
}

type faciaTxn struct {
	d         Directive
	image     []byte
	clientRef *string
	pending   int
	polls     int
}

// faciaBody is a request body as the emulator read it.
type faciaBody struct {
	tooLarge bool
	fields   map[string]string // nil when the body is neither JSON nor a form
	file     []byte            // nil when no file was sent or it did not decode
	fileSent bool
	fileName string
	fileCT   string
}

// NewFACIA returns an emulator that issues tokens for this client_id and
// client_secret. An empty id or secret accepts no token request.
func NewFACIA(clientID, clientSecret string) *FACIA {
	key := make([]byte, 32)
	rand.Read(key)
	return &FACIA{
		clientID: []byte(clientID),
		secret:   []byte(clientSecret),
		key:      key,
		tokens:   map[string]time.Time{},
		txns:     map[string]*faciaTxn{},
	}
}

// ExpireTokens revokes every token issued so far: their next use is
// answered 401, as when a token expires at the vendor.
func (s *FACIA) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

// ServeHTTP answers r as FACIA's API does; see FACIA in the package
// documentation.
func (s *FACIA) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, n, err := faciaReadBody(r)
	if err != nil {
		return // the client went away while sending
	}
	call := FACIACall{
		Method:          r.Method,
		Path:            r.URL.Path,
		Header:          redactHeader(r.Header),
		ContentLength:   r.ContentLength,
		BodySize:        n,
		FileName:        b.fileName,
		FileContentType: b.fileCT,
		FileSize:        int64(len(b.file)),
	}
	if b.fields != nil {
		call.Fields = make(map[string]string, len(b.fields))
		for k, v := range b.fields {
			if k == "client_secret" || k == "password" {
				v = "[redacted]"
			}
			call.Fields[k] = v
		}
	}
	if b.file != nil {
		sum := sha256.Sum256(b.file)
		call.FileSHA256 = hex.EncodeToString(sum[:])
	}
	if _, f, ok := s.log.record(s.Keep, call, nil); ok {
		if !serveFault(w, r, f) {
			return
		}
	}

	switch r.URL.Path {
	case faciaTokenPath, faciaLivenessPath, faciaResultPath:
		if r.Method != http.MethodPost {
			faciaError(w, http.StatusMethodNotAllowed, "Method not allowed")
			return
		}
	default:
		faciaError(w, http.StatusNotFound, faciaMsgNotFound)
		return
	}
	if b.tooLarge {
		faciaError(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
		return
	}
	if r.URL.Path == faciaTokenPath {
		s.serveToken(w, b)
		return
	}
	auth, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || !s.valid(auth) {
		faciaError(w, http.StatusUnauthorized, faciaMsgUnauthorized)
		return
	}
	if r.URL.Path == faciaLivenessPath {
		s.serveCreate(w, r, b)
		return
	}
	s.serveResult(w, b)
}

func (s *FACIA) serveToken(w http.ResponseWriter, b faciaBody) {
	id, hasID := b.fields["client_id"]
	secret, hasSecret := b.fields["client_secret"]
	if !hasID || !hasSecret || id == "" || secret == "" {
		faciaError(w, http.StatusBadRequest, faciaMsgBadRequest)
		return
	}
	idOK := subtle.ConstantTimeCompare([]byte(id), s.clientID) == 1
	secretOK := subtle.ConstantTimeCompare([]byte(secret), s.secret) == 1
	if len(s.clientID) == 0 || len(s.secret) == 0 || !idOK || !secretOK {
		faciaError(w, http.StatusUnauthorized, faciaMsgUnauthorized)
		return
	}
	tok, err := s.issue()
	if err != nil {
		faciaError(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	writeJSON(w, http.StatusOK, faciaJSON(faciaEnvelope{
		Status:  true,
		Message: "token",
		Result:  map[string]any{"data": map[string]string{"token": tok}},
	}))
}

func (s *FACIA) issue() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	ttl := s.TokenTTL
	if ttl == 0 {
		ttl = faciaDefaultTTL
	}
	// JWT times have whole seconds; the emulator enforces what the token says.
	exp := time.Unix(now.Add(ttl).Unix(), 0)
	s.seq++
	var tok string
	if s.OpaqueTokens {
		b := make([]byte, 24)
		rand.Read(b)
		tok = hex.EncodeToString(b)
	} else {
		var err error
		tok, err = jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"iss": "facia-emulator",
			"sub": string(s.clientID),
			"iat": now.Unix(),
			"exp": exp.Unix(),
			"jti": strconv.Itoa(s.seq),
		}).SignedString(s.key)
		if err != nil {
			return "", err
		}
	}
	for t, e := range s.tokens {
		if !now.Before(e) {
			delete(s.tokens, t)
		}
	}
	s.tokens[tok] = exp
	return tok, nil
}

func (s *FACIA) valid(tok string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.tokens[tok]
	return ok && time.Now().Before(exp)
}

func (s *FACIA) serveCreate(w http.ResponseWriter, r *http.Request, b faciaBody) {
	if field, why := faciaValidate(b); field != "" {
		faciaInvalid(w, field, why)
		return
	}
	d := ParseMarker(b.file)
	if !wait(r.Context(), d.Delay) {
		return
	}
	if d.Status != 0 && d.Status != http.StatusOK {
		faciaWriteStatus(w, d.Status)
		return
	}
	if d.Verdict == VerdictInvalid {
		faciaInvalid(w, "file", "The file could not be read.")
		return
	}
	pending := s.PendingPolls
	if n, ok := faciaDirective(d, "pending"); ok {
		if p, err := strconv.Atoi(n); err == nil && p >= 0 {
			pending = p
		}
	}
	t := &faciaTxn{d: d, image: b.file, pending: pending}
	if ref := b.fields["client_reference"]; ref != "" {
		t.clientRef = &ref
	}
	id := s.store(t)
	writeJSON(w, http.StatusOK, faciaJSON(faciaEnvelope{
		Status:  true,
		Message: "Transaction Created",
		Result:  map[string]any{"data": map[string]string{"reference_id": id}},
	}))
}

// faciaValidate returns the first field that fails the documented rules
// and why, or "".
func faciaValidate(b faciaBody) (field, why string) {
	f := b.fields
	if f["type"] != "liveness" {
		return "type", `The type must be "liveness".`
	}
	if !b.fileSent {
		return "file", "The file field is required."
	}
	kind := faciaSniff(b.file)
	if kind == "" {
		return "file", "The file must be a file of type: jpeg, jpg, png, mp4."
	}
	if kind == "mp4" && f["file_type"] != "video" {
		return "file_type", `The file_type must be "video" for an mp4 file.`
	}
	if kind != "mp4" && f["file_type"] == "video" {
		return "file_type", `The file_type "video" needs an mp4 file.`
	}
	for _, k := range []string{"offsite_liveness", "detect_deepfake"} {
		if v := f[k]; v != "1" && v != "true" {
			return k, "The " + k + " field must be true or 1."
		}
	}
	if ref := f["client_reference"]; ref != "" {
		if n := utf8.RuneCountInString(ref); n < 5 || n > 255 {
			return "client_reference", "The client_reference must be between 5 and 255 characters."
		}
	}
	return "", ""
}

// faciaSniff tells the documented file types apart by their bytes.
func faciaSniff(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}):
		return "jpeg"
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return "png"
	case len(b) >= 12 && string(b[4:8]) == "ftyp":
		return "mp4"
	}
	return ""
}

// faciaDirective returns the value of a key=value directive that
// ParseMarker does not know; the last one wins, as for verdicts.
func faciaDirective(d Directive, key string) (string, bool) {
	var val string
	var found bool
	for _, part := range strings.Split(d.Raw, ";") {
		if k, v, ok := strings.Cut(part, "="); ok && k == key {
			val, found = v, true
		}
	}
	return val, found
}

func (s *FACIA) store(t *faciaTxn) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	id := fmt.Sprintf("EM%013X", s.seq)
	s.txns[id] = t
	s.order = append(s.order, id)
	if len(s.order) > faciaMaxTransactions {
		delete(s.txns, s.order[0])
		s.order = s.order[1:]
	}
	return id
}

func (s *FACIA) serveResult(w http.ResponseWriter, b faciaBody) {
	id := b.fields["reference_id"]
	if id == "" {
		faciaInvalid(w, "reference_id", "The reference_id field is required.")
		return
	}
	s.mu.Lock()
	t, ok := s.txns[id]
	var polls int
	if ok {
		t.polls++
		polls = t.polls
	}
	s.mu.Unlock()
	if !ok {
		faciaError(w, http.StatusNotFound, faciaMsgNotFound)
		return
	}

	data := faciaResultData{Type: "deepfake", ReferenceID: id, ClientReference: t.clientRef}
	pending := polls <= t.pending
	if !pending {
		status, score, code := faciaVerdict(t.d, t.image)
		data.Status, data.DeepfakeScore = &status, &score
		if status == 0 {
			reason, ok := faciaDeclineReasons[code]
			if !ok {
				reason = "Declined."
			}
			proof := faciaProofURL + id + "?expires=1234567890&signature=emulated"
			data.DeclineCode, data.DeclineReason, data.DeclinedProof = &code, &reason, &proof
		}
	}
	body := faciaJSON(faciaEnvelope{Status: true, Message: "success", Result: map[string]any{"data": data}})
	if !pending && t.d.Malformed {
		body = body[:len(body)/2]
	}
	writeJSON(w, http.StatusOK, body)
}

type faciaResultData struct {
	Type            string   `json:"type"`
	ReferenceID     string   `json:"reference_id"`
	ClientReference *string  `json:"client_reference"`
	Status          *int     `json:"status"`
	DeepfakeScore   *float64 `json:"deepfake_score"`
	DeclineCode     *string  `json:"decline_code"`
	DeclineReason   *string  `json:"decline_reason"`
	DeclinedProof   *string  `json:"declined_proof"`
}

// faciaVerdict returns result.data's status, deepfake_score and decline
// code for a marker.
func faciaVerdict(d Directive, image []byte) (status int, score float64, code string) {
	switch {
	case d.HasScore:
		score = d.Score
	case d.Verdict == VerdictLive:
		score = SpoofScore
	case d.Verdict == VerdictSpoof:
		score = LiveScore
	default:
		score = 1 - d.ProbReal(image)
	}
	switch d.Verdict {
	case VerdictLive:
		status = 1
	case VerdictSpoof:
		code = "FADR25"
	case VerdictNoFace, VerdictNoFaceCode:
		code = "FADR11"
	case VerdictSmallFace:
		code = "FADR12"
	default:
		if score < 0.5 {
			status = 1
		} else {
			code = "FADR25"
		}
	}
	if c, ok := faciaDirective(d, "decline"); ok && faciaDeclineCode(c) {
		status, code = 0, c
	}
	return status, score, code
}

func faciaDeclineCode(c string) bool {
	return len(c) == 6 && strings.HasPrefix(c, "FADR") && c[4] >= '0' && c[4] <= '9' && c[5] >= '0' && c[5] <= '9'
}

// faciaReadBody reads JSON, multipart and urlencoded bodies alike, as the
// vendor's framework does.
func faciaReadBody(r *http.Request) (faciaBody, int64, error) {
	var b faciaBody
	raw, n, tooLarge, err := readBody(r, faciaMaxBody)
	if err != nil || tooLarge {
		b.tooLarge = tooLarge
		return b, n, err
	}
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/json":
		faciaReadJSON(&b, raw)
	case "multipart/form-data":
		faciaReadMultipart(&b, raw, params["boundary"])
	case "application/x-www-form-urlencoded":
		if q, err := url.ParseQuery(string(raw)); err == nil {
			b.fields = map[string]string{}
			for k, vs := range q {
				b.fields[k] = vs[len(vs)-1]
			}
			faciaTakeBase64File(&b)
		}
	}
	return b, n, nil
}

func faciaReadJSON(b *faciaBody, raw []byte) {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return
	}
	b.fields = map[string]string{}
	for k, v := range m {
		var s string
		switch {
		case json.Unmarshal(v, &s) == nil:
		case string(v) == "null":
			continue // Laravel reads null as absent
		default:
			s = string(v) // numbers and booleans as written
		}
		b.fields[k] = s
	}
	faciaTakeBase64File(b)
}

// faciaTakeBase64File moves a base64 "file" field out of the fields.
func faciaTakeBase64File(b *faciaBody) {
	v, ok := b.fields["file"]
	if !ok {
		return
	}
	delete(b.fields, "file")
	if v == "" {
		return
	}
	b.fileSent = true
	if strings.HasPrefix(v, "data:") {
		if _, after, ok := strings.Cut(v, ";base64,"); ok {
			v = after
		}
	}
	if img, err := base64.StdEncoding.DecodeString(v); err == nil {
		b.file = img
	} else {
		b.file = []byte{} // sent, but unreadable
	}
}

func faciaReadMultipart(b *faciaBody, raw []byte, boundary string) {
	if boundary == "" {
		return
	}
	mr := multipart.NewReader(bytes.NewReader(raw), boundary)
	fields := map[string]string{}
	for {
		p, err := mr.NextPart()
		if err != nil {
			break // io.EOF or a broken body: keep what was read
		}
		v, err := io.ReadAll(p)
		if err != nil {
			break
		}
		if p.FormName() == "file" && p.FileName() != "" {
			b.fileSent, b.file = true, v
			b.fileName, b.fileCT = p.FileName(), p.Header.Get("Content-Type")
			continue
		}
		fields[p.FormName()] = string(v)
	}
	b.fields = fields
}

// faciaEnvelope is the shape of every FACIA answer; the fields are in the
// documented order.
type faciaEnvelope struct {
	Status  bool   `json:"status"`
	Message string `json:"message"`
	Result  any    `json:"result,omitempty"`
	Errors  any    `json:"errors,omitempty"`
}

// faciaJSON encodes v without Go's HTML escaping, so that URLs read as the
// vendor writes them.
func faciaJSON(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic("vendortest: " + err.Error())
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func faciaError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, faciaJSON(faciaEnvelope{Message: msg}))
}

func faciaInvalid(w http.ResponseWriter, field, why string) {
	writeJSON(w, http.StatusBadRequest, faciaJSON(faciaEnvelope{
		Message: faciaMsgBadRequest,
		Errors:  map[string]string{field: why},
	}))
}

// faciaWriteStatus answers what the API or its Cloudflare front would for
// that status.
func faciaWriteStatus(w http.ResponseWriter, status int) {
	switch status {
	case http.StatusBadRequest:
		faciaError(w, status, faciaMsgBadRequest)
	case http.StatusUnauthorized:
		faciaError(w, status, faciaMsgUnauthorized)
	case http.StatusPaymentRequired:
		faciaError(w, status, "Invalid request data: missing required parameters")
	case http.StatusForbidden:
		faciaError(w, status, "Forbidden: Service not allowed")
	case http.StatusNotFound:
		faciaError(w, status, faciaMsgNotFound)
	case http.StatusRequestEntityTooLarge:
		faciaError(w, status, "Request Entity Too Large")
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", "1")
		faciaError(w, status, "Too Many Attempts.")
	case http.StatusInternalServerError:
		faciaError(w, status, "Internal Server Error")
	case http.StatusGatewayTimeout:
		faciaError(w, status, "Server error")
	case 524:
		const msg = "error code: 524"
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", strconv.Itoa(len(msg)))
		w.WriteHeader(status)
		io.WriteString(w, msg)
	default:
		faciaError(w, status, "error")
	}
}
