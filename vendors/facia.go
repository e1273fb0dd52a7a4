package vendors

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"golang.org/x/sync/singleflight"
)

func init() {
	caddy.RegisterModule(FACIA{})
}

const (
	faciaOrigin       = "https://api.facia.ai"
	faciaTokenPath    = "/request-access-token"
	faciaLivenessPath = "/liveness"
	faciaResultPath   = "/result"

	faciaDefaultPoll = 500 * time.Millisecond
	faciaMaxPoll     = 4 * time.Second
	// faciaTokenTTL is the documented token lifetime, used when the token
	// does not say (not a JWT, or no exp).
	faciaTokenTTL = 8 * time.Hour
	// faciaTokenSkew renews a token this long before it expires (at most
	// a tenth of its lifetime), so that no call carries a token that
	// expires on the way.
	faciaTokenSkew = 5 * time.Minute
	// faciaDeadlineMargin is kept free at the end of the caller's deadline
	// so that a pending answer reaches the handler before the deadline
	// fires there.
	faciaDeadlineMargin = 50 * time.Millisecond
	// faciaNoDeadline bounds a check whose context has no deadline (the
	// handler always sets one).
	faciaNoDeadline = 30 * time.Second
	// faciaMinPoll is the least time left for a poll's round trip.
	faciaMinPoll = 10 * time.Millisecond
)

// FACIA checks images and MP4 videos with FACIA's deepfake liveness API:
// a Bearer token from POST /request-access-token, then POST /liveness
// (multipart) creates a transaction and POST /result is polled until the
// verdict. FACIA's own decision (result.data.status) is the verdict.
type FACIA struct {
	// The client_id for /request-access-token. Placeholders such as
	// {env.FACIA_CLIENT_ID} are resolved at provisioning; an empty result
	// is a configuration error.
	ClientID string `json:"client_id,omitempty"`
	// The client_secret for /request-access-token, e.g.
	// {env.FACIA_CLIENT_SECRET} or {file./run/secrets/facia}. The token it
	// buys is cached and renewed before it expires (the JWT's exp, else
	// 8 hours) and once when the API answers 401.
	ClientSecret string `json:"client_secret,omitempty"`
	// BaseURL replaces the origin of https://api.facia.ai; the documented
	// paths are appended.
	BaseURL string `json:"base_url,omitempty"`
	// InsecureHTTP allows a base_url of plain http:// to a host that is not
	// loopback. Without it such a base_url is a configuration error: the
	// credentials and the images would cross the network unencrypted.
	// http:// to 127.0.0.0/8, ::1 or localhost (an emulator on the same
	// machine) and https:// need no flag. In the Caddyfile a flag:
	// `insecure_http` alone or `insecure_http true|false`.
	InsecureHTTP bool `json:"insecure_http,omitempty"`
	// PollInterval is the wait before the first poll of /result; each
	// further wait doubles, up to 4s. Default 500ms. Polling stops before
	// the handler's timeout with the verdict inconclusive.
	PollInterval caddy.Duration `json:"poll_interval,omitempty"`
	// ScoreDirection says how to read deepfake_score, which FACIA's own
	// page contradicts: "fake_high" (the probability of a deepfake: the
	// score is 1 - deepfake_score) or "live_high" (the score is
	// deepfake_score). Unset, no score is reported and an operator
	// threshold has nothing to re-decide: FACIA's decision stands.
	ScoreDirection string `json:"score_direction,omitempty"`
	// ClientReference is sent as client_reference, with request
	// placeholders resolved, e.g. {http.request.uuid}. A result outside
	// the documented 5 to 255 characters is not sent.
	ClientReference string `json:"client_reference,omitempty"`

	id, secret string
	now        func() time.Time // the token clock, replaced by tests
	tokens     *faciaTokens
	httpVendor // endpoint is the origin: each call appends its path
}

// faciaTokens is the token cache. fetch holds the token request in
// flight, which every caller that needs a new token waits for.
type faciaTokens struct {
	mu        sync.Mutex
	token     string
	refreshAt time.Time
	fetch     singleflight.Group
}

// CaddyModule returns the Caddy module information.
func (FACIA) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  Namespace + ".facia",
		New: func() caddy.Module { return new(FACIA) },
	}
}

// Provision checks the options, resolves the credentials and builds the
// HTTP client.
func (f *FACIA) Provision(caddy.Context) error {
	if err := f.validate(); err != nil {
		return err
	}
	if f.PollInterval == 0 {
		f.PollInterval = caddy.Duration(faciaDefaultPoll)
	}
	var err error
	if f.id, err = ResolveSecret("facia: client_id", f.ClientID); err != nil {
		return err
	}
	if f.secret, err = ResolveSecret("facia: client_secret", f.ClientSecret); err != nil {
		return err
	}
	if err := f.provision(f.Name(), faciaOrigin, f.BaseURL, "", f.InsecureHTTP, "Authorization"); err != nil {
		return err
	}
	if f.now == nil {
		f.now = time.Now
	}
	f.tokens = new(faciaTokens)
	return nil
}

// validate checks the option values, for the Caddyfile and the JSON alike.
func (f *FACIA) validate() error {
	if err := checkOneOf(f.Name(), "score_direction", f.ScoreDirection, "fake_high", "live_high"); err != nil {
		return err
	}
	if f.PollInterval < 0 {
		return badOption(f.Name(), "poll_interval", "must be positive")
	}
	// A fixed reference out of range would silently never be sent. It is
	// not quoted: it may be personal data.
	if ref := f.ClientReference; ref != "" && !strings.Contains(ref, "{") && !faciaRefLen(ref) {
		return badOption(f.Name(), "client_reference", "must be 5 to 255 characters")
	}
	return checkBaseURL(f.Name(), f.BaseURL)
}

// UnmarshalCaddyfile sets up the vendor from Caddyfile tokens:
//
//	vendor facia {
//	    client_id        <id>
//	    client_secret    <secret>
//	    base_url         <url>
//	    poll_interval    <duration>
//	    score_direction  fake_high|live_high
//	    client_reference <text with placeholders>
//	    insecure_http    [true|false]
//	}
func (f *FACIA) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return UnmarshalBlock(d, f.Name(), Options(StringOptions(map[string]*string{
		"client_id": &f.ClientID, "client_secret": &f.ClientSecret, "base_url": &f.BaseURL,
		"score_direction": &f.ScoreDirection, "client_reference": &f.ClientReference,
	}), DurationOptions(map[string]*caddy.Duration{"poll_interval": &f.PollInterval}),
		FlagOptions(map[string]*bool{InsecureHTTPOption: &f.InsecureHTTP})), f.validate, InsecureHTTPOption)
}

// Name implements Vendor.
func (f *FACIA) Name() string { return "facia" }

// Profile implements Vendor: the service answering and how its score is
// read. client_reference does not change the answer.
func (f *FACIA) Profile(*Request) string {
	p := "facia " + f.endpoint
	if f.ScoreDirection != "" {
		p += " " + f.ScoreDirection
	}
	return p
}

// Check implements Vendor.
func (f *FACIA) Check(ctx context.Context, req *Request) (Result, error) {
	filename, fileType := "", ""
	switch req.MIME {
	case "image/jpeg":
		filename = "image.jpg"
	case "image/png":
		filename = "image.png"
	case "video/mp4":
		filename, fileType = "video.mp4", "video"
	default:
		return Result{}, f.err(KindUnsupported, 0, "facia takes JPEG, PNG and MP4 only, not "+req.MIME, nil)
	}
	body, contentType, err := f.form(req, filename, fileType)
	if err != nil {
		return Result{}, f.err(KindBadRequest, 0, "building request", err)
	}
	start := time.Now()
	ref, err := f.create(ctx, body, contentType)
	if err != nil {
		return Result{}, err
	}
	// The create call, an upload, is a generous first guess of how long
	// a poll takes.
	return f.poll(ctx, ref, time.Since(start))
}

// form builds the /liveness body. It is kept whole so that it can be sent
// again after a token refresh.
func (f *FACIA) form(req *Request, filename, fileType string) ([]byte, string, error) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	mw.WriteField("type", "liveness")
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="`+filename+`"`)
	h.Set("Content-Type", req.MIME)
	part, err := mw.CreatePart(h)
	if err != nil {
		return nil, "", err
	}
	part.Write(req.Data)
	if fileType != "" {
		mw.WriteField("file_type", fileType)
	}
	mw.WriteField("offsite_liveness", "1")
	mw.WriteField("detect_deepfake", "1")
	if ref, ok := f.clientReference(req); ok {
		mw.WriteField("client_reference", ref)
	}
	if err := mw.Close(); err != nil {
		return nil, "", err
	}
	return b.Bytes(), mw.FormDataContentType(), nil
}

// clientReference resolves the configured reference for this request. One
// out of the documented range is left out rather than failing the check:
// the reference is for the operator's bookkeeping, not the verdict.
func (f *FACIA) clientReference(req *Request) (string, bool) {
	if f.ClientReference == "" {
		return "", false
	}
	repl := req.Replacer
	if repl == nil {
		repl = caddy.NewReplacer()
	}
	ref := repl.ReplaceAll(f.ClientReference, "")
	return ref, faciaRefLen(ref)
}

func faciaRefLen(s string) bool {
	n := utf8.RuneCountInString(s)
	return n >= 5 && n <= 255
}

// create starts the transaction and returns its reference_id.
func (f *FACIA) create(ctx context.Context, body []byte, contentType string) (string, error) {
	resp, raw, err := f.authed(ctx, faciaLivenessPath, contentType, body)
	if err != nil {
		return "", err
	}
	if code := faciaCode(resp, raw); code/100 != 2 {
		return "", f.statusErr(faciaLivenessPath, code, resp, raw)
	}
	var out struct {
		Result struct {
			Data struct {
				ReferenceID string `json:"reference_id"`
			} `json:"data"`
		} `json:"result"`
	}
	ref := ""
	if json.Unmarshal(raw, &out) == nil {
		ref = out.Result.Data.ReferenceID
	}
	// The reference goes into logs and upstream headers as it is.
	if ref == "" || Sanitize(ref) != ref {
		return "", f.err(KindUnavailable, resp.StatusCode, "malformed /liveness response: no usable reference_id", nil)
	}
	return ref, nil
}

// errFACIAPending is what result returns while FACIA is still processing.
var errFACIAPending = errors.New("facia: still processing")

// poll asks /result for the verdict, waiting PollInterval first and twice
// as long each time after, up to faciaMaxPoll. A wait that would leave no
// time for a poll before ctx's deadline (less faciaDeadlineMargin) is
// shortened so that one last poll fits; after it, poll gives up with an
// inconclusive result that names the transaction, in time for the handler
// to receive it before its deadline fires. Transient
// failures of /result (429, 5xx, network) are polled through, since
// starting over would pay for a second transaction; if the last poll
// failed that way, its error is returned instead.
func (f *FACIA) poll(ctx context.Context, ref string, rtt time.Duration) (Result, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(faciaNoDeadline)
	}
	stop := deadline.Add(-faciaDeadlineMargin)
	wait := time.Duration(f.PollInterval)
	var last error // of the last poll answered, nil if it was pending
	for {
		// rtt is how long the last call took: a poll must fit before stop.
		left := time.Until(stop) - max(rtt, faciaMinPoll)
		if left <= 0 {
			break
		}
		if !Sleep(ctx, min(wait, left)) {
			break
		}
		pctx, cancel := context.WithDeadline(ctx, stop)
		start := time.Now()
		res, err := f.result(pctx, ref)
		rtt = time.Since(start)
		cutOff := pctx.Err() != nil
		cancel()
		if err == nil {
			return res, nil
		}
		next := faciaNextWait(wait)
		switch {
		case errors.Is(err, errFACIAPending):
			last = nil
		case cutOff:
			// The poll ran into stop: what was known before stands.
		case Retryable(err):
			// 429, 5xx and network trouble, not a malformed answer or an
			// unknown reference.
			last = err
			next = max(next, RetryAfterOf(err))
		default:
			return Result{}, err
		}
		wait = next
	}
	if err := ctx.Err(); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return Result{}, f.err(KindUnavailable, 0, "reference "+ref, err)
	}
	if last != nil {
		return Result{}, last
	}
	return Result{Class: ClassInconclusive, Reason: "pending", Reference: ref}, nil
}

// faciaNextWait is the backoff between polls.
func faciaNextWait(wait time.Duration) time.Duration {
	return min(2*wait, faciaMaxPoll)
}

// faciaResultBody is what Check reads of /result. declined_proof, a link
// to the biometric image, is deliberately not decoded.
type faciaResultBody struct {
	Result *struct {
		Data *struct {
			Status        json.RawMessage `json:"status"`
			DeepfakeScore json.RawMessage `json:"deepfake_score"`
			DeclineCode   *string         `json:"decline_code"`
		} `json:"data"`
	} `json:"result"`
}

// result polls /result once: a Result, errFACIAPending or an *Error.
func (f *FACIA) result(ctx context.Context, ref string) (Result, error) {
	body, _ := json.Marshal(map[string]string{"reference_id": ref})
	resp, raw, err := f.authed(ctx, faciaResultPath, "application/json", body)
	if err != nil {
		return Result{}, err
	}
	if code := faciaCode(resp, raw); code/100 != 2 {
		return Result{}, f.statusErr(faciaResultPath, code, resp, raw)
	}
	var out faciaResultBody
	if json.Unmarshal(raw, &out) != nil || out.Result == nil || out.Result.Data == nil {
		return Result{}, f.err(KindUnavailable, resp.StatusCode, "malformed /result response", nil)
	}
	data := out.Result.Data
	status, ok := faciaNumber(data.Status)
	if !ok {
		if faciaNull(data.Status) {
			return Result{}, errFACIAPending
		}
		return Result{}, f.err(KindUnavailable, resp.StatusCode, "malformed /result response: status is not a number", nil)
	}
	r := Result{Class: ClassFace, Reference: ref}
	switch status {
	case 1:
		r.Passed = new(true)
	case 0:
		r.Passed = new(false)
		code := ""
		if data.DeclineCode != nil {
			code = *data.DeclineCode
		}
		r.Class, r.Reason = faciaDecline(code)
		if r.Class != ClassFace {
			r.Passed = nil
			return r, nil
		}
		// An attack decline stands whatever the deepfake score says.
		r.Veto = true
	default:
		return Result{}, f.err(KindUnavailable, resp.StatusCode, "malformed /result response: status "+strconv.FormatFloat(status, 'g', -1, 64), nil)
	}
	if s, ok := faciaNumber(data.DeepfakeScore); ok && unitScore(s) {
		switch f.ScoreDirection {
		case "fake_high":
			r.Score, r.HasScore = 1-s, true
		case "live_high":
			r.Score, r.HasScore = s, true
		}
	}
	return r, nil
}

// faciaDecline classifies a decline code (vendor-notes): FADR09–20, 23
// and 24 are about the picture (quality, no face) and are no_face, since
// no usable face was analysed; every other code, FADR22 (duplicate) and
// unknown ones included, is a failed check of a face. The reason is the
// code itself, so operators can look it up; anything that is not a FADR
// code is "declined", which keeps vendor text out of headers.
func faciaDecline(code string) (Class, string) {
	digits, ok := strings.CutPrefix(code, "FADR")
	n, err := strconv.Atoi(digits)
	if !ok || err != nil || len(digits) < 2 || len(digits) > 3 || n < 0 {
		return ClassFace, "declined"
	}
	reason := "decline_fadr" + digits
	if (n >= 9 && n <= 20) || n == 23 || n == 24 {
		return ClassNoFace, reason
	}
	return ClassFace, reason
}

// faciaNumber reads a JSON number, or a number in a string as PHP APIs
// sometimes send.
func faciaNumber(raw json.RawMessage) (float64, bool) {
	s := strings.TrimSpace(string(raw))
	if u, err := strconv.Unquote(s); err == nil {
		s = u
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}

func faciaNull(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return s == "" || s == "null" || s == `""`
}

// authed sends an authenticated POST. On a 401 it gets a new token and
// sends once more; a second 401 is the caller's to report.
func (f *FACIA) authed(ctx context.Context, path, contentType string, body []byte) (*http.Response, []byte, error) {
	tok, err := f.token(ctx, "")
	if err != nil {
		return nil, nil, err
	}
	resp, raw, err := f.post(ctx, path, contentType, "Bearer "+tok, body)
	if err != nil || faciaCode(resp, raw) != http.StatusUnauthorized {
		return resp, raw, err
	}
	if tok, err = f.token(ctx, tok); err != nil {
		return nil, nil, err
	}
	return f.post(ctx, path, contentType, "Bearer "+tok, body)
}

// token returns a valid token: the cached one unless it is due for renewal
// or is stale (the one just refused with 401). Concurrent callers share
// one token request; each waits at most until its own deadline.
func (f *FACIA) token(ctx context.Context, stale string) (string, error) {
	t := f.tokens
	if tok, ok := t.cached(f.now(), stale); ok {
		return tok, nil
	}
	// The request runs in a goroutine of its own and outlives a caller
	// that goes away, for the others; it ends at the first caller's
	// deadline.
	d, ok := ctx.Deadline()
	if !ok {
		d = time.Now().Add(faciaNoDeadline)
	}
	detached := context.WithoutCancel(ctx)
	ch := t.fetch.DoChan("token", func() (any, error) {
		// A request that ended since the cache was read may have renewed
		// the token already.
		if tok, ok := t.cached(f.now(), stale); ok {
			return tok, nil
		}
		fctx, cancel := context.WithDeadline(detached, d)
		defer cancel()
		tok, refreshAt, err := f.fetchToken(fctx)
		if err != nil {
			return "", err
		}
		t.mu.Lock()
		t.token, t.refreshAt = tok, refreshAt
		t.mu.Unlock()
		return tok, nil
	})
	select {
	case r := <-ch:
		return r.Val.(string), r.Err
	case <-ctx.Done():
		return "", f.err(KindUnavailable, 0, "no access token before the deadline", ctx.Err())
	}
}

// cached returns the cached token if it is not stale and not yet due for
// renewal at now.
func (t *faciaTokens) cached(now time.Time, stale string) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.token != "" && t.token != stale && now.Before(t.refreshAt) {
		return t.token, true
	}
	return "", false
}

// fetchToken asks /request-access-token for a token and returns it with
// the time to renew it.
func (f *FACIA) fetchToken(ctx context.Context) (string, time.Time, error) {
	body, _ := json.Marshal(map[string]string{"client_id": f.id, "client_secret": f.secret})
	resp, raw, err := f.post(ctx, faciaTokenPath, "application/json", "", body)
	if err != nil {
		return "", time.Time{}, err
	}
	if code := faciaCode(resp, raw); code/100 != 2 {
		return "", time.Time{}, f.statusErr(faciaTokenPath, code, resp, raw)
	}
	var out struct {
		Result struct {
			Data struct {
				Token string `json:"token"`
			} `json:"data"`
		} `json:"result"`
	}
	json.Unmarshal(raw, &out)
	tok := out.Result.Data.Token
	if !faciaHeaderSafe(tok) {
		return "", time.Time{}, f.err(KindUnavailable, resp.StatusCode, "malformed /request-access-token response: no usable token", nil)
	}
	return tok, faciaRefreshAt(tok, f.now()), nil
}

// faciaRefreshAt is when to renew tok: faciaTokenSkew (at most a tenth of
// its lifetime) before the JWT's exp, read without verification since
// only FACIA can verify it, or before the documented 8 hours.
func faciaRefreshAt(tok string, now time.Time) time.Time {
	exp, ok := jwtExpiry(tok)
	if !ok {
		exp = now.Add(faciaTokenTTL)
	}
	skew := max(min(faciaTokenSkew, exp.Sub(now)/10), 0)
	return exp.Add(-skew)
}

// faciaHeaderSafe reports whether tok can go into a header as it is.
func faciaHeaderSafe(tok string) bool {
	if tok == "" || len(tok) > 8192 {
		return false
	}
	for i := 0; i < len(tok); i++ {
		if tok[i] <= ' ' || tok[i] >= 0x7f {
			return false
		}
	}
	return true
}

// faciaCode is the HTTP status an answer stands for. FACIA also reports
// failures in a 2xx body with a top-level "status": false (not to be
// confused with result.data.status, the verdict); those are mapped from
// their message.
func faciaCode(resp *http.Response, raw []byte) int {
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode
	}
	var env struct {
		Status  json.RawMessage `json:"status"`
		Message string          `json:"message"`
	}
	if json.Unmarshal(raw, &env) != nil {
		return resp.StatusCode // malformed: the caller finds out
	}
	if s := strings.TrimSpace(string(env.Status)); s != "false" && s != "0" {
		return resp.StatusCode
	}
	msg := strings.ToLower(env.Message)
	switch {
	case strings.Contains(msg, "unauthori") || strings.Contains(msg, "token"):
		return http.StatusUnauthorized
	case strings.Contains(msg, "forbidden") || strings.Contains(msg, "not allowed"):
		return http.StatusForbidden
	case strings.Contains(msg, "not found"):
		return http.StatusNotFound
	case strings.Contains(msg, "too many"):
		return http.StatusTooManyRequests
	}
	return http.StatusBadRequest
}

// statusErr maps a failed answer (code from faciaCode). 400 and 402 are
// the request's shape; a 404 from /result means FACIA lost the
// transaction it just created, trouble on its side that another vendor
// may not have; 524 is Cloudflare's timeout.
func (f *FACIA) statusErr(path string, code int, resp *http.Response, raw []byte) *Error {
	// The status in a 2xx "status": false body (code) stands for the
	// response's own.
	e := statusError(f.Name(), code, resp.Header, raw)
	e.Status = resp.StatusCode
	e.Msg = path + ": " + e.Msg
	if code == http.StatusNotFound && path == faciaResultPath {
		e.Kind, e.Msg = KindUnavailable, path+": unknown reference_id"
	}
	return e
}

// Interface guards
var (
	_ Vendor                = (*FACIA)(nil)
	_ caddy.Provisioner     = (*FACIA)(nil)
	_ caddy.CleanerUpper    = (*FACIA)(nil)
	_ caddyfile.Unmarshaler = (*FACIA)(nil)
)
