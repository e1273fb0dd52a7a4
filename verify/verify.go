// Package verify signs and checks the liveness verdict that the gateway
// hands to its upstream in headers, so that an upstream which can also be
// reached directly (not only through the gateway) can tell a verdict the
// gateway made from one a client wrote itself.
//
// The gateway deletes every client-sent header that starts with its header
// prefix (default "X-Liveness-"), sets the verdict headers, and then adds
//
//	<prefix>Signature: t=<unix seconds>,v1=<64 lowercase hex digits>
//
// where the hex is HMAC-SHA256(key, Canonical(f)) and f holds the request
// method and path, the verdict header values and the timestamp t. The
// gateway calls [Sign]; the upstream calls [Verify] with the same key. Both
// build the MACed bytes with [Canonical], so they cannot drift apart.
//
// # Signed headers
//
// With prefix P, these headers are signed. A header that is absent signs
// as the empty value, so adding or removing one (with a non-empty value)
// breaks the signature; an absent and an empty header are the same.
//
//	P+"Verdict"       Fields.Verdict
//	P+"Score"         Fields.Score
//	P+"Vendor"        Fields.Vendor
//	P+"Cache"         Fields.Cache
//	P+"Reason"        Fields.Reason
//	P+"Reference"     Fields.Reference
//	P+"Image-Sha256"  Fields.ImageSHA256
//	P+"Duplicate"     Fields.Duplicate
//
// Header names are matched case-insensitively. A signed header (or the
// Signature header) that appears more than once is rejected as malformed:
// with two values the upstream could read a different one than the one
// that was checked. An empty prefix means "X-Liveness-".
//
// # Canonical string (version v1)
//
// Canonical returns exactly twelve lines joined by a single "\n" (LF,
// 0x0A), with no trailing newline:
//
//	v1
//	t:<Timestamp in decimal, "-" sign if negative, no leading zeros>
//	method:<Method>
//	path:<Path, or "/" if Path is empty>
//	verdict:<Verdict>
//	score:<Score>
//	vendor:<Vendor>
//	cache:<Cache>
//	reason:<Reason>
//	reference:<Reference>
//	image_sha256:<ImageSHA256>
//	duplicate:<Duplicate>
//
// The line names are lowercase ASCII and the order is fixed. Every value
// after "name:" is encoded as follows, in this order:
//
//  1. Leading and trailing spaces (0x20) and horizontal tabs (0x09) are
//     removed. HTTP does the same to header values (RFC 9110, section
//     5.5), so the gateway signs what the upstream will read.
//  2. Each backslash (0x5C) becomes two backslashes, each LF (0x0A)
//     becomes backslash + "n", and each CR (0x0D) becomes backslash + "r".
//     Nothing else is changed; other bytes, including non-ASCII bytes,
//     are copied as they are.
//
// Step 2 keeps the string unambiguous: no value can contain a line break,
// so no value can fake another line, and the encoding is one-to-one.
// Values in real HTTP headers and escaped paths never contain CR or LF
// and hardly ever a backslash, so for them step 2 changes nothing.
//
// The request path is the escaped path without query, as returned by
// (*url.URL).EscapedPath: "/a%20b", not "/a b". If something between the
// gateway and the upstream rewrites the path (a strip_prefix, a rewrite),
// the upstream sees a different path and the signature does not match.
//
// Example (the test vector in verify_test.go): a POST to /upload, signed at
// 1700000000 with key "test-key", with the headers
//
//	X-Liveness-Verdict: live
//	X-Liveness-Score: 0.9700
//	X-Liveness-Vendor: spoofsense
//	X-Liveness-Cache: miss
//	X-Liveness-Reference: chk_7f3a
//	X-Liveness-Image-Sha256: ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb,3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d
//	X-Liveness-Duplicate: 2
//
// (no Reason header) has the canonical string
//
//	v1
//	t:1700000000
//	method:POST
//	path:/upload
//	verdict:live
//	score:0.9700
//	vendor:spoofsense
//	cache:miss
//	reason:
//	reference:chk_7f3a
//	image_sha256:ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb,3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d
//	duplicate:2
//
// and the signature header
//
//	X-Liveness-Signature: t=1700000000,v1=8cd9017da03f4400252d2dec5c487453d5d2945a1f70ee8ff142053853bfc64c
//
// # Signature header
//
// The header value is "t=<unix seconds>,v1=<hex>", as [Sign] returns it:
// comma-separated key=value parts without spaces. [Verify] requires
// exactly one "t" part (a decimal integer written as Sign writes it) and
// exactly one "v1" part (exactly 64 lowercase hex digits); a part without
// "=" or with an empty key, and a repeated "t" or "v1", are malformed.
// Parts with other keys are ignored, so that a later version can add its
// own part next to v1 without breaking upstreams that only know v1.
//
// # What is not signed
//
// The body is not signed; the image hashes are. An upstream that keeps or
// uses the image should hash the image it received and compare it with
// Fields.ImageSHA256, or a replayed set of headers could vouch for a
// different image. Other headers and the query string are not signed.
//
// # Freshness
//
// A signature is accepted only while |now - t| <= maxAge, compared in
// whole seconds (now.Unix() against t). The timestamp bounds how long a
// captured request can be replayed directly to the upstream; it does not
// stop a replay within maxAge. Keep maxAge short (a minute is plenty when
// clocks are synchronised) and reach the upstream over TLS or a private
// network.
package verify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Version is the version of the canonical string and the name of the MAC
// part of the Signature header.
const Version = "v1"

// defaultPrefix is the gateway's default header prefix, used when the
// prefix passed in is empty.
const defaultPrefix = "X-Liveness-"

// Errors returned by FromRequest and Verify, wrapped with a short detail;
// test them with errors.Is.
var (
	// ErrMissing: the request has no <prefix>Signature header.
	ErrMissing = errors.New("verify: signature missing")
	// ErrMalformed: the Signature header cannot be parsed, or a signed
	// header appears more than once.
	ErrMalformed = errors.New("verify: signature malformed")
	// ErrMismatch: the MAC does not match (a signed value was changed,
	// added or removed, or the key is wrong or empty).
	ErrMismatch = errors.New("verify: signature mismatch")
	// ErrExpired: the signature is genuine but its timestamp is more than
	// maxAge away from now (too old, or too far in the future).
	ErrExpired = errors.New("verify: signature expired")
)

// Fields are the signed values, as the upstream receives them in headers.
type Fields struct {
	// Method is the request method; Path is the request's escaped URL
	// path as the gateway saw it (no query).
	Method, Path string
	// Header values ("" when the header is absent).
	Verdict, Score, Vendor, Cache, Reason, Reference, ImageSHA256, Duplicate string
	// Timestamp is the signing time in unix seconds.
	Timestamp int64
}

// signed lists the signed headers (without prefix), in canonical order,
// with their line names and a pointer to their field.
func (f *Fields) signed() [8]struct {
	header, name string
	v            *string
} {
	return [8]struct {
		header, name string
		v            *string
	}{
		{"Verdict", "verdict", &f.Verdict},
		{"Score", "score", &f.Score},
		{"Vendor", "vendor", &f.Vendor},
		{"Cache", "cache", &f.Cache},
		{"Reason", "reason", &f.Reason},
		{"Reference", "reference", &f.Reference},
		{"Image-Sha256", "image_sha256", &f.ImageSHA256},
		{"Duplicate", "duplicate", &f.Duplicate},
	}
}

// Canonical returns the exact string that is MACed; the package
// documentation specifies it.
func Canonical(f Fields) string {
	var b strings.Builder
	b.WriteString(Version)
	b.WriteString("\nt:")
	b.WriteString(strconv.FormatInt(f.Timestamp, 10))
	line := func(name, v string) {
		b.WriteByte('\n')
		b.WriteString(name)
		b.WriteByte(':')
		writeValue(&b, v)
	}
	line("method", f.Method)
	path := f.Path
	if path == "" {
		path = "/"
	}
	line("path", path)
	for _, s := range f.signed() {
		line(s.name, *s.v)
	}
	return b.String()
}

// writeValue writes v trimmed of surrounding SP/HTAB, with backslash, LF
// and CR escaped.
func writeValue(b *strings.Builder, v string) {
	v = strings.Trim(v, " \t")
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		default:
			b.WriteByte(c)
		}
	}
}

// mac returns HMAC-SHA256(key, Canonical(f)).
func mac(key []byte, f Fields) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(Canonical(f)))
	return m.Sum(nil)
}

// Sign returns the value of the <prefix>Signature header for f:
// "t=<f.Timestamp>,v1=<lowercase hex HMAC-SHA256(key, Canonical(f))>".
// The key should be at least 32 random bytes; Verify rejects an empty key.
//
// The gateway can build f from the headers it has just set: FromRequest on
// a request without a Signature header returns ErrMissing together with
// every field but Timestamp filled in.
func Sign(key []byte, f Fields) string {
	return "t=" + strconv.FormatInt(f.Timestamp, 10) + "," + Version + "=" + hex.EncodeToString(mac(key, f))
}

// FromRequest reads the signed values from r: its method, r.URL.EscapedPath(),
// the headers <prefix>Verdict etc. and the timestamp (the t= part of
// <prefix>Signature). An empty prefix means "X-Liveness-".
//
// If r has no Signature header, FromRequest returns ErrMissing along with
// the other fields filled in (Timestamp 0), which is what the gateway needs
// to sign. On any other error the Fields are zero.
func FromRequest(r *http.Request, prefix string) (Fields, error) {
	f, _, err := parse(r, prefix)
	return f, err
}

// parse does FromRequest's work and also returns the MAC from the
// Signature header.
func parse(r *http.Request, prefix string) (Fields, []byte, error) {
	if prefix == "" {
		prefix = defaultPrefix
	}
	if r == nil || r.URL == nil {
		return Fields{}, nil, fmt.Errorf("%w: no request URL", ErrMalformed)
	}
	f := Fields{Method: r.Method, Path: r.URL.EscapedPath()}
	for _, s := range f.signed() {
		v, err := header(r.Header, prefix+s.header)
		if err != nil {
			return Fields{}, nil, err
		}
		*s.v = v
	}
	sig, err := header(r.Header, prefix+"Signature")
	if err != nil {
		return Fields{}, nil, err
	}
	t, sum, err := parseSignature(sig)
	if errors.Is(err, ErrMissing) {
		return f, nil, err
	}
	if err != nil {
		return Fields{}, nil, err
	}
	f.Timestamp = t
	return f, sum, nil
}

// header returns the value of the header name, matched case-insensitively,
// "" if absent, and ErrMalformed if it has more than one value.
func header(h http.Header, name string) (string, error) {
	var vals []string
	for k, vs := range h {
		if strings.EqualFold(k, name) {
			vals = append(vals, vs...)
		}
	}
	switch len(vals) {
	case 0:
		return "", nil
	case 1:
		return vals[0], nil
	}
	return "", fmt.Errorf("%w: header %s appears %d times", ErrMalformed, name, len(vals))
}

// parseSignature parses "t=<unix>,v1=<hex>", ignoring surrounding SP/HTAB
// as HTTP does.
func parseSignature(sig string) (t int64, sum []byte, err error) {
	sig = strings.Trim(sig, " \t")
	if sig == "" {
		return 0, nil, ErrMissing
	}
	var ts, hx string
	var haveT, haveV bool
	for _, part := range strings.Split(sig, ",") {
		k, v, ok := strings.Cut(part, "=")
		if !ok || k == "" {
			return 0, nil, fmt.Errorf("%w: part is not key=value", ErrMalformed)
		}
		switch k {
		case "t":
			if haveT {
				return 0, nil, fmt.Errorf("%w: t appears twice", ErrMalformed)
			}
			ts, haveT = v, true
		case Version:
			if haveV {
				return 0, nil, fmt.Errorf("%w: %s appears twice", ErrMalformed, Version)
			}
			hx, haveV = v, true
		}
	}
	if !haveT {
		return 0, nil, fmt.Errorf("%w: no t", ErrMalformed)
	}
	if !haveV {
		return 0, nil, fmt.Errorf("%w: no %s", ErrMalformed, Version)
	}
	t, perr := strconv.ParseInt(ts, 10, 64)
	if perr != nil || strconv.FormatInt(t, 10) != ts {
		return 0, nil, fmt.Errorf("%w: t is not a decimal integer", ErrMalformed)
	}
	if len(hx) != 2*sha256.Size || strings.ToLower(hx) != hx {
		return 0, nil, fmt.Errorf("%w: %s is not %d lowercase hex digits", ErrMalformed, Version, 2*sha256.Size)
	}
	sum, herr := hex.DecodeString(hx)
	if herr != nil {
		return 0, nil, fmt.Errorf("%w: %s is not %d lowercase hex digits", ErrMalformed, Version, 2*sha256.Size)
	}
	return t, sum, nil
}

// Verify checks the <prefix>Signature header of r: it parses it, recomputes
// the MAC over FromRequest's fields with key, compares the two in constant
// time, and then checks that |now - t| <= maxAge (in whole seconds). An
// empty prefix means "X-Liveness-".
//
// It returns nil, or an error that wraps ErrMissing (no Signature header),
// ErrMalformed (unparseable Signature, or a signed header given more than
// once), ErrMismatch (wrong MAC, or an empty key) or ErrExpired (genuine but
// stale or from the future; a negative maxAge rejects every signature).
// Reject the request on any error.
func Verify(r *http.Request, prefix string, key []byte, maxAge time.Duration, now time.Time) error {
	f, got, err := parse(r, prefix)
	if err != nil {
		return err
	}
	if len(key) == 0 {
		return fmt.Errorf("%w: empty key", ErrMismatch)
	}
	if !hmac.Equal(got, mac(key, f)) {
		return ErrMismatch
	}
	if maxAge < 0 || absDiff(now.Unix(), f.Timestamp) > uint64(maxAge/time.Second) {
		return fmt.Errorf("%w: t=%d, now=%d, max age %s", ErrExpired, f.Timestamp, now.Unix(), maxAge)
	}
	return nil
}

// absDiff returns |a - b| without overflow.
func absDiff(a, b int64) uint64 {
	if a >= b {
		return uint64(a) - uint64(b)
	}
	return uint64(b) - uint64(a)
}
