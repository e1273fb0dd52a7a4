package vendors

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/caddy-liveness/caddy-liveness/internal/redact"
	"github.com/caddyserver/caddy/v2"
	"github.com/golang-jwt/jwt/v5"
)

// maxResponse bounds what is read of a vendor's answer; every documented
// answer is a few hundred bytes.
const maxResponse = 1 << 20

// maxResponseHeader bounds the status line and headers of a vendor's
// answer (Transport.MaxResponseHeaderBytes, whose default is 10 MiB and
// which maxResponse does not cover). Every documented answer has small
// headers: API Gateway (SpoofSense), Cloudflare (FACIA) and the others
// send well under 2 KiB, a few cookies and tracing headers included. 64 KiB
// leaves a wide margin and holds 64 calls in flight to 4 MiB of headers
// at worst, where the default allowed 640 MiB.
const maxResponseHeader = 64 << 10

// InsecureHTTPOption is the vendor block's flag that allows a plain
// http:// base_url to a host that is not loopback (see EndpointAllowHTTP).
const InsecureHTTPOption = "insecure_http"

// ResolveSecret resolves global placeholders ({env.*}, {file.*}) in a
// secret. A secret that resolves to empty is a configuration error, so a
// missing environment variable never becomes an empty credential. The
// error names the configured text (a placeholder or nothing), never a
// resolved value.
func ResolveSecret(what, configured string) (string, error) {
	v := caddy.NewReplacer().ReplaceAll(configured, "")
	if strings.TrimSpace(v) == "" {
		if configured == "" {
			return "", fmt.Errorf("%s is required", what)
		}
		return "", fmt.Errorf("%s %q resolved to an empty value", what, configured)
	}
	return v, nil
}

// Endpoint joins a vendor's documented path to its production origin, or
// to the operator's base URL when one is set. A base URL of plain http://
// is refused unless its host is loopback; EndpointAllowHTTP lifts that for
// vendor blocks that set insecure_http.
func Endpoint(origin, base, path string) (string, error) {
	return EndpointAllowHTTP(origin, base, path, false)
}

// EndpointAllowHTTP is Endpoint with the vendor block's insecure_http
// flag. Credentials and images cross the network to the base URL, so
// http:// is accepted only to a loopback host (127.0.0.0/8, ::1 or
// localhost: an emulator or a sidecar on the same machine) or when
// insecureHTTP is set; https:// always.
func EndpointAllowHTTP(origin, base, path string, insecureHTTP bool) (string, error) {
	if base == "" {
		return origin + path, nil
	}
	u, msg := parseBaseURL(base)
	if msg != "" {
		return "", errors.New("base_url " + msg)
	}
	if u.Scheme == "http" && !insecureHTTP && !Loopback(u.Hostname()) {
		return "", fmt.Errorf("base_url: plain http:// to %q, which is not loopback, would send the credentials and the images unencrypted: use https://, or set %s in the vendor block", Sanitize(u.Hostname()), InsecureHTTPOption)
	}
	return strings.TrimRight(base, "/") + path, nil
}

// Loopback reports whether host (without a port) is a loopback address:
// 127.0.0.0/8, ::1 (IPv4-mapped forms included) or the name localhost.
// Other names are not resolved: what they resolve to can change.
func Loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// NewHTTPClient returns the client a vendor uses. It has no overall
// timeout: every call carries the handler's decision deadline in its
// context, which bounds connecting, sending and reading as a whole. The
// transport's own limits keep a dead or slow vendor from holding
// connections and goroutines beyond that, and a hostile one from holding
// memory with endless headers (maxResponseHeader).
//
// It never follows a redirect: the request goes to the configured
// endpoint only, and the 3xx answer comes back to Do, which makes it an
// error. Followed, a redirect would carry the credential (and, on 307 or
// 308, the image) to whatever host the answer names, and take that
// host's verdict.
func NewHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 5 * time.Second
	t.ResponseHeaderTimeout = 30 * time.Second
	t.MaxResponseHeaderBytes = maxResponseHeader
	t.MaxIdleConns = 128
	t.MaxIdleConnsPerHost = 64
	t.IdleConnTimeout = 90 * time.Second
	return &http.Client{Transport: t, CheckRedirect: noRedirect}
}

// noRedirect makes a client hand back a 3xx answer instead of following it.
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// Do sends req and reads at most maxResponse bytes of the answer. A body
// that cannot be read whole (reset, truncated, too long) is an error. So
// is a 3xx answer: an *Error of kind unavailable with the answer's status,
// whose message names the Location's host only (a vendor may put tokens
// or links to biometric imagery in a URL). Do never follows a redirect,
// whatever c's CheckRedirect says.
func Do(c *http.Client, req *http.Request) (*http.Response, []byte, error) {
	nc := *c // a shallow copy: the transport and its connections are shared
	nc.CheckRedirect = noRedirect
	resp, err := nc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return nil, nil, fmt.Errorf("reading response: %w", err)
	}
	if len(raw) > maxResponse {
		return nil, nil, fmt.Errorf("response over %d bytes", maxResponse)
	}
	if rec, ok := req.Context().Value(rawKey{}).(RawRecorder); ok {
		rec(req.URL.Path, resp.StatusCode, raw)
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		loc, _ := resp.Location() // nil without a usable Location
		return nil, nil, redirectError(resp.StatusCode, loc)
	}
	return resp, raw, nil
}

// redirectError is the error of a 3xx answer: it names the host of to,
// the Location, never its path or query.
func redirectError(status int, to *url.URL) *Error {
	msg := "redirect refused (no usable Location)"
	if to != nil && to.Host != "" {
		msg = "redirect to host " + Sanitize(to.Host) + " refused"
	}
	return &Error{Kind: KindUnavailable, Status: status, Msg: msg}
}

// callError is the error of a call that got no usable answer from Do: Do's
// own *Error (a refused redirect) keeps its kind and status, now naming the
// vendor; anything else (the network, the deadline, an unreadable body) is
// unavailable without a status.
func callError(vendor, msg string, err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		out := *e
		out.Vendor = vendor
		if msg != "" {
			out.Msg = msg + ": " + out.Msg
		}
		return &out
	}
	return &Error{Vendor: vendor, Kind: KindUnavailable, Msg: msg, Err: err}
}

// RawRecorder receives every answer a vendor gives within a context, as
// read: path, status, body. Bodies hold tokens and proof links; whoever
// records them redacts before showing them.
type RawRecorder func(path string, status int, body []byte)

type rawKey struct{}

// WithRawRecorder returns a context whose vendor calls report their raw
// answers to rec (the liveness check command prints them).
func WithRawRecorder(ctx context.Context, rec RawRecorder) context.Context {
	return context.WithValue(ctx, rawKey{}, rec)
}

// StatusError maps a non-success HTTP status to a typed vendor error.
func StatusError(vendor string, resp *http.Response, raw []byte) *Error {
	return statusError(vendor, resp.StatusCode, resp.Header, raw)
}

func statusError(vendor string, code int, header http.Header, raw []byte) *Error {
	e := &Error{Vendor: vendor, Status: code, Msg: vendorMessage(raw)}
	switch {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		e.Kind = KindAuth
	case code == http.StatusRequestEntityTooLarge:
		e.Kind = KindTooLarge
	case code == http.StatusTooManyRequests:
		e.Kind = KindRateLimited
		e.RetryAfter = RetryAfter(header.Get("Retry-After"), time.Now())
	case code >= 400 && code < 500:
		e.Kind = KindBadRequest
	default:
		e.Kind = KindUnavailable
	}
	return e
}

// Sleep waits d and reports false if ctx ended first.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// RetryAfter parses a Retry-After value (seconds or an HTTP date).
func RetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// vendorMessage extracts a short message from a JSON error body, or a
// plain-text one, for logs.
func vendorMessage(raw []byte) string {
	var m struct {
		Message string `json:"message"`
		Code    string `json:"code"`
	}
	if json.Unmarshal(raw, &m) == nil {
		return Sanitize(strings.TrimSpace(m.Code + " " + m.Message))
	}
	return Sanitize(string(raw))
}

// Sanitize keeps a vendor-supplied string fit for a log line: printable
// ASCII only, at most 120 bytes, and no links (a vendor may put a link to
// biometric imagery anywhere, as FACIA does in declined_proof). Other
// characters go before links are looked for, so that none can hide one.
func Sanitize(s string) string {
	s = s[:min(len(s), 4096)] // a vendor's message is short; a long body is cut first
	var b strings.Builder
	for _, r := range s {
		if r >= 0x20 && r < 0x7f {
			b.WriteRune(r)
		}
	}
	s = redact.Links(b.String(), "[url]")
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return s
}

// httpVendor is what every vendor that answers over HTTP holds once
// provisioned: its name for errors, the URL its calls go to, the header
// that carries its credential, and its HTTP client.
type httpVendor struct {
	name string
	// endpoint is the documented URL under base_url (FACIA's: the origin,
	// to which each call appends its path).
	endpoint   string
	authHeader string
	client     *http.Client
}

// provision builds the endpoint from the vendor's documented origin and
// path and the block's base_url and insecure_http (EndpointAllowHTTP),
// and the HTTP client.
func (h *httpVendor) provision(name, origin, base, path string, insecureHTTP bool, authHeader string) error {
	endpoint, err := EndpointAllowHTTP(origin, base, path, insecureHTTP)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	*h = httpVendor{name: name, endpoint: endpoint, authHeader: authHeader, client: NewHTTPClient()}
	return nil
}

// post sends body to the endpoint with path appended, as contentType,
// asking for JSON, with auth (unless empty) in the credential header. A
// call that gets no usable answer is an *Error that names path.
func (h *httpVendor) post(ctx context.Context, path, contentType, auth string, body []byte) (*http.Response, []byte, error) {
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, h.endpoint+path, bytes.NewReader(body))
	if err != nil {
		return nil, nil, h.err(KindBadRequest, 0, "building request", err)
	}
	hr.Header.Set("Content-Type", contentType)
	hr.Header.Set("Accept", "application/json")
	if auth != "" {
		hr.Header.Set(h.authHeader, auth)
	}
	resp, raw, err := Do(h.client, hr)
	if err != nil {
		return nil, nil, callError(h.name, path, err)
	}
	return resp, raw, nil
}

// err is the vendor's error.
func (h *httpVendor) err(kind Kind, status int, msg string, err error) *Error {
	return &Error{Vendor: h.name, Kind: kind, Status: status, Msg: msg, Err: err}
}

// imagesOnly is the error of a medium given to a vendor that takes
// images only.
func (h *httpVendor) imagesOnly(mime string) *Error {
	return h.err(KindUnsupported, 0, h.name+" takes images only, not "+Sanitize(mime), nil)
}

// Cleanup closes the idle connections of a configuration being unloaded.
func (h *httpVendor) Cleanup() error {
	if h.client != nil {
		h.client.CloseIdleConnections()
	}
	return nil
}

// base64Size is the length of base64Body(prefix, data, suffix).
func base64Size(prefix string, data []byte, suffix string) int {
	return len(prefix) + base64.StdEncoding.EncodedLen(len(data)) + len(suffix)
}

// base64Body is prefix, data in standard base64, then suffix: a JSON body
// with the image encoded straight into it, where json.Marshal would copy
// the largest part of it twice.
func base64Body(prefix string, data []byte, suffix string) []byte {
	body := make([]byte, 0, base64Size(prefix, data, suffix))
	body = append(body, prefix...)
	body = base64.StdEncoding.AppendEncode(body, data)
	return append(body, suffix...)
}

// unitScore reports whether a vendor's score is a number in [0,1] (NaN is
// not).
func unitScore(p float64) bool { return p >= 0 && p <= 1 }

// jwtExpiry reads a JWT's exp claim without verifying the token: only its
// issuer can, and the date schedules renewals and warnings, never refuses
// a call. ok is false for a token that is not a JWT or carries no exp.
func jwtExpiry(tok string) (exp time.Time, ok bool) {
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(tok, claims); err != nil {
		return time.Time{}, false
	}
	e, err := claims.GetExpirationTime()
	if err != nil || e == nil {
		return time.Time{}, false
	}
	return e.Time, true
}

// Retryable reports whether another attempt of a failed vendor call may
// succeed: network failures, 5xx and 429. A deadline or a cancellation, a
// malformed answer or any other 4xx will not change.
func Retryable(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled)
	}
	switch e.Kind {
	case KindRateLimited:
		return true
	case KindUnavailable:
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return false
		}
		return e.Status == 0 || e.Status >= 500
	}
	return false
}

// RetryAfterOf is the wait the vendor asked for (Retry-After) in a vendor
// error, 0 if none.
func RetryAfterOf(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}
