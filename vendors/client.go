package vendors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
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
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("base_url: %v", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("base_url must be an http(s) origin such as https://host:port, got %q", base)
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
// with each. The options named in flags are flags instead: given alone,
// `<option>`, they are set to "true"; with a value, that value must be
// true or false (`<option> true`, `<option> false`), and set receives it.
// Unknown or repeated options and missing or extra values are errors.
func UnmarshalBlock(d *caddyfile.Dispenser, vendor string, set func(opt, val string) (known bool, err error), flags ...string) error {
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
		if slices.Contains(flags, opt) {
			switch args := d.RemainingArgs(); {
			case len(args) == 0:
				val = "true"
			case len(args) == 1 && (args[0] == "true" || args[0] == "false"):
				val = args[0]
			default:
				return d.Errf("%s is a flag: give it alone, or with true or false", opt)
			}
		} else if !d.AllArgs(&val) {
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

// FlagOptions is an UnmarshalBlock setter for flags (named in its flags
// too), which it hands over as "true" or "false".
func FlagOptions(fields map[string]*bool) func(opt, val string) (bool, error) {
	return func(opt, val string) (bool, error) {
		f, ok := fields[opt]
		if !ok {
			return false, nil
		}
		b, err := strconv.ParseBool(val)
		if err != nil {
			return true, fmt.Errorf("want true or false, got %q", val)
		}
		*f = b
		return true, nil
	}
}

// Options is an UnmarshalBlock setter that asks each of sets in turn
// until one knows the option.
func Options(sets ...func(opt, val string) (bool, error)) func(opt, val string) (bool, error) {
	return func(opt, val string) (bool, error) {
		for _, set := range sets {
			if known, err := set(opt, val); known {
				return true, err
			}
		}
		return false, nil
	}
}
