package vendors

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// maxResponse bounds what is read of a vendor's answer; every documented
// answer is a few hundred bytes.
const maxResponse = 1 << 20

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
// to the operator's base URL when one is set.
func Endpoint(origin, base, path string) (string, error) {
	if base == "" {
		return origin + path, nil
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("base_url: %v", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("base_url must be an http(s) origin such as https://host:port, got %q", base)
	}
	return strings.TrimRight(base, "/") + path, nil
}

// NewHTTPClient returns the client a vendor uses. It has no overall
// timeout: every call carries the handler's decision deadline in its
// context, which bounds connecting, sending and reading as a whole. The
// transport's own limits keep a dead or slow vendor from holding
// connections and goroutines beyond that.
func NewHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 5 * time.Second
	t.ResponseHeaderTimeout = 30 * time.Second
	t.MaxIdleConns = 128
	t.MaxIdleConnsPerHost = 64
	t.IdleConnTimeout = 90 * time.Second
	return &http.Client{Transport: t}
}

// Do sends req and reads at most maxResponse bytes of the answer. A body
// that cannot be read whole (reset, truncated, too long) is an error.
func Do(c *http.Client, req *http.Request) (*http.Response, []byte, error) {
	resp, err := c.Do(req)
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
	return resp, raw, nil
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

// urlPattern matches a link, with or without its scheme ("://host" is one
// too).
var urlPattern = regexp.MustCompile(`(?i)[a-z0-9+.-]*://[^\s"'<>]*`)

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
	s = urlPattern.ReplaceAllString(b.String(), "[url]")
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return s
}

// UnmarshalBlock reads a vendor block, `vendor <name> { <option> <value> ... }`,
// where every option takes one value and may appear once: set is called
// with each. Unknown or repeated options and missing or extra values are
// errors.
func UnmarshalBlock(d *caddyfile.Dispenser, vendor string, set func(opt, val string) (known bool, err error)) error {
	d.Next() // vendor name
	if d.NextArg() {
		return d.ArgErr()
	}
	seen := map[string]bool{}
	for d.NextBlock(0) {
		opt := d.Val()
		if seen[opt] {
			return d.Errf("duplicate option %q", opt)
		}
		seen[opt] = true
		var val string
		if !d.AllArgs(&val) {
			return d.ArgErr()
		}
		known, err := set(opt, val)
		if !known {
			return d.Errf("unknown %s option %q", vendor, opt)
		}
		if err != nil {
			return d.Errf("%s: %v", opt, err)
		}
	}
	return nil
}

// StringOptions is an UnmarshalBlock setter for options that are plain
// strings.
func StringOptions(fields map[string]*string) func(opt, val string) (bool, error) {
	return func(opt, val string) (bool, error) {
		f, ok := fields[opt]
		if ok {
			*f = val
		}
		return ok, nil
	}
}
