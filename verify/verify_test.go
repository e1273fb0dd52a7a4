package verify_test

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/caddy-liveness/caddy-liveness/verify"
)

// The test vectors' signatures were computed outside Go, with OpenSSL:
//
//	printf '%s' "<canonical>" | openssl dgst -sha256 -hmac test-key
//
// so these tests check the implementation against an independent HMAC.
const (
	vectorKey = "test-key"
	hashA     = "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb" // sha256("a")
	hashB     = "3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d" // sha256("b")

	vector1Canonical = "v1\n" +
		"t:1700000000\n" +
		"method:POST\n" +
		"path:/upload\n" +
		"verdict:live\n" +
		"score:0.9700\n" +
		"vendor:spoofsense\n" +
		"cache:miss\n" +
		"reason:\n" +
		"reference:chk_7f3a\n" +
		"image_sha256:" + hashA + "," + hashB + "\n" +
		"duplicate:2"
	vector1Signature = "t=1700000000,v1=8cd9017da03f4400252d2dec5c487453d5d2945a1f70ee8ff142053853bfc64c"

	// vector2 exercises the value encoding: trimming of SP/HTAB and the
	// escaping of backslash, CR and LF (an attempt to inject a line).
	vector2Canonical = "v1\n" +
		"t:1700000000\n" +
		"method:PUT\n" +
		"path:/a%20b/c\n" +
		"verdict:spoof\n" +
		"score:0.0312\n" +
		"vendor:facia\n" +
		"cache:hit\n" +
		"reason:presentation_attack\n" +
		`reference:x\\y\r\nverdict:live` + "\n" +
		"image_sha256:" + hashA + "\n" +
		"duplicate:"
	vector2Signature = "t=1700000000,v1=c4283c040ba5fbedc7483c9e7e116310cd5003c2595ce7ae77a569c4ca0d85f0"
)

var vector1 = verify.Fields{
	Method: "POST", Path: "/upload",
	Verdict: "live", Score: "0.9700", Vendor: "spoofsense", Cache: "miss",
	Reason: "", Reference: "chk_7f3a", ImageSHA256: hashA + "," + hashB, Duplicate: "2",
	Timestamp: 1700000000,
}

var vector2 = verify.Fields{
	Method: "PUT", Path: "/a%20b/c",
	Verdict: " spoof", Score: "0.0312\t", Vendor: "facia", Cache: "hit",
	Reason: "presentation_attack", Reference: " x\\y\r\nverdict:live\t", ImageSHA256: hashA,
	Timestamp: 1700000000,
}

func TestVector(t *testing.T) {
	for _, tc := range []struct {
		name      string
		f         verify.Fields
		canonical string
		signature string
	}{
		{"vector1", vector1, vector1Canonical, vector1Signature},
		{"vector2", vector2, vector2Canonical, vector2Signature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := verify.Canonical(tc.f); got != tc.canonical {
				t.Errorf("Canonical =\n%q\nwant\n%q", got, tc.canonical)
			}
			if got := verify.Sign([]byte(vectorKey), tc.f); got != tc.signature {
				t.Errorf("Sign = %q, want %q", got, tc.signature)
			}
		})
	}
}

// TestVectorRequest verifies vector 1 as an upstream receives it.
func TestVectorRequest(t *testing.T) {
	r := httptest.NewRequest("POST", "/upload?x=1", nil)
	for name, v := range map[string]string{
		"Verdict": "live", "Score": "0.9700", "Vendor": "spoofsense", "Cache": "miss",
		"Reference": "chk_7f3a", "Image-Sha256": hashA + "," + hashB, "Duplicate": "2",
		"Signature": vector1Signature,
	} {
		r.Header.Set("X-Liveness-"+name, v)
	}
	f, err := verify.FromRequest(r, "X-Liveness-")
	if err != nil {
		t.Fatal(err)
	}
	if f != vector1 {
		t.Errorf("FromRequest = %+v, want %+v", f, vector1)
	}
	if err := verify.Verify(r, "X-Liveness-", []byte(vectorKey), time.Minute, time.Unix(1700000030, 0)); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

var (
	testKey = []byte("0123456789abcdef0123456789abcdef")
	testNow = time.Unix(1800000000, 500_000_000)
)

const prefix = "X-Liveness-"

var headerNames = []string{"Verdict", "Score", "Vendor", "Cache", "Reason", "Reference", "Image-Sha256", "Duplicate"}

// fullHeaders has a value for every signed header.
func fullHeaders() map[string]string {
	return map[string]string{
		"Verdict": "spoof", "Score": "0.1200", "Vendor": "verifik", "Cache": "miss",
		"Reason": "presentation_attack", "Reference": "ref-42",
		"Image-Sha256": hashA + "," + hashB, "Duplicate": "3",
	}
}

// signedRequest builds a request carrying headers (names without prefix)
// and signs it as the gateway would, at time ts.
func signedRequest(t *testing.T, pfx, method, target string, headers map[string]string, key []byte, ts int64) *http.Request {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	for name, v := range headers {
		r.Header.Set(pfx+name, v)
	}
	f, err := verify.FromRequest(r, pfx)
	if !errors.Is(err, verify.ErrMissing) {
		t.Fatalf("FromRequest on an unsigned request: %v, want ErrMissing", err)
	}
	f.Timestamp = ts
	r.Header.Set(pfx+"Signature", verify.Sign(key, f))
	return r
}

func TestRoundTrip(t *testing.T) {
	for _, pfx := range []string{"X-Liveness-", "X-Gw-", "x-gw-"} {
		for _, target := range []string{"/upload", "/a%20b/c%2Fd", "/", "/x?y=z"} {
			r := signedRequest(t, pfx, "POST", target, fullHeaders(), testKey, testNow.Unix())
			if err := verify.Verify(r, pfx, testKey, time.Minute, testNow); err != nil {
				t.Errorf("prefix %q, target %q: %v", pfx, target, err)
			}
		}
	}
	// Only some headers present (annotate with a cache hit, say).
	r := signedRequest(t, prefix, "GET", "/", map[string]string{"Verdict": "live"}, testKey, testNow.Unix())
	if err := verify.Verify(r, prefix, testKey, time.Minute, testNow); err != nil {
		t.Errorf("one header: %v", err)
	}
	// The empty prefix means the default one.
	r = signedRequest(t, prefix, "POST", "/upload", fullHeaders(), testKey, testNow.Unix())
	if err := verify.Verify(r, "", testKey, time.Minute, testNow); err != nil {
		t.Errorf("empty prefix: %v", err)
	}
}

// TestRoundTripWire sends a signed request over a real connection, so the
// upstream parses the headers and path off the wire.
func TestRoundTripWire(t *testing.T) {
	headers := fullHeaders()
	headers["Reference"] = "  spaced ref\t" // HTTP trims it in transit
	got := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- verify.Verify(r, prefix, testKey, time.Minute, time.Now())
	}))
	defer srv.Close()

	src := signedRequest(t, prefix, "PATCH", "/a%20b/%C3%A9?q=1", headers, testKey, time.Now().Unix())
	req, err := http.NewRequest(src.Method, srv.URL+src.URL.RequestURI(), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = src.Header
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := <-got; err != nil {
		t.Errorf("Verify at the upstream: %v", err)
	}
}

func TestTamper(t *testing.T) {
	ts := testNow.Unix()
	type mutation struct {
		name string
		// build returns the request to verify.
		build func(t *testing.T) *http.Request
		key   []byte
		want  error
	}
	signed := func(mut func(r *http.Request)) func(t *testing.T) *http.Request {
		return func(t *testing.T) *http.Request {
			r := signedRequest(t, prefix, "POST", "/upload", fullHeaders(), testKey, ts)
			mut(r)
			return r
		}
	}
	setSig := func(v string) func(t *testing.T) *http.Request {
		return signed(func(r *http.Request) { r.Header.Set(prefix+"Signature", v) })
	}
	// A genuine signature value, to build malformed ones from.
	good := signedRequest(t, prefix, "POST", "/upload", fullHeaders(), testKey, ts).Header.Get(prefix + "Signature")
	tPart, v1Part, _ := strings.Cut(good, ",")
	hexMAC := strings.TrimPrefix(v1Part, "v1=")

	var ms []mutation
	for _, name := range headerNames {
		ms = append(ms,
			mutation{name: "changed " + name, want: verify.ErrMismatch,
				build: signed(func(r *http.Request) { r.Header.Set(prefix+name, r.Header.Get(prefix+name)+"x") })},
			mutation{name: "removed " + name, want: verify.ErrMismatch,
				build: signed(func(r *http.Request) { r.Header.Del(prefix + name) })},
			mutation{name: "added " + name, want: verify.ErrMismatch,
				build: func(t *testing.T) *http.Request {
					h := fullHeaders()
					delete(h, name)
					r := signedRequest(t, prefix, "POST", "/upload", h, testKey, ts)
					r.Header.Set(prefix+name, "live")
					return r
				}},
			mutation{name: "repeated " + name, want: verify.ErrMalformed,
				build: signed(func(r *http.Request) { r.Header.Add(prefix+name, r.Header.Get(prefix+name)) })},
			mutation{name: "lowercase repeat of " + name, want: verify.ErrMalformed,
				build: signed(func(r *http.Request) {
					k := strings.ToLower(prefix + name)
					r.Header[k] = append(r.Header[k], "live")
				})},
		)
	}
	ms = append(ms,
		mutation{name: "method changed", want: verify.ErrMismatch,
			build: signed(func(r *http.Request) { r.Method = "PUT" })},
		mutation{name: "path changed", want: verify.ErrMismatch,
			build: signed(func(r *http.Request) { r.URL.Path = "/upload2" })},
		mutation{name: "path escaping changed", want: verify.ErrMismatch,
			build: func(t *testing.T) *http.Request {
				r := signedRequest(t, prefix, "POST", "/a%2Fb", fullHeaders(), testKey, ts)
				r.URL.RawPath = ""
				r.URL.Path = "/a/b"
				return r
			}},
		mutation{name: "wrong key", key: []byte("another key"), want: verify.ErrMismatch,
			build: signed(func(*http.Request) {})},
		mutation{name: "empty key", key: []byte{}, want: verify.ErrMismatch,
			build: func(t *testing.T) *http.Request {
				return signedRequest(t, prefix, "POST", "/upload", fullHeaders(), nil, ts)
			}},
		mutation{name: "timestamp rewritten", want: verify.ErrMismatch,
			build: setSig(fmt.Sprintf("t=%d,%s", ts+1, v1Part))},
		mutation{name: "mac bit flipped", want: verify.ErrMismatch,
			build: setSig(tPart + ",v1=" + flipHex(hexMAC))},
		mutation{name: "too old", want: verify.ErrExpired,
			build: func(t *testing.T) *http.Request {
				return signedRequest(t, prefix, "POST", "/upload", fullHeaders(), testKey, ts-61)
			}},
		mutation{name: "too far in the future", want: verify.ErrExpired,
			build: func(t *testing.T) *http.Request {
				return signedRequest(t, prefix, "POST", "/upload", fullHeaders(), testKey, ts+61)
			}},
		mutation{name: "minimum int64 timestamp", want: verify.ErrExpired,
			build: func(t *testing.T) *http.Request {
				return signedRequest(t, prefix, "POST", "/upload", fullHeaders(), testKey, math.MinInt64)
			}},
		mutation{name: "maximum int64 timestamp", want: verify.ErrExpired,
			build: func(t *testing.T) *http.Request {
				return signedRequest(t, prefix, "POST", "/upload", fullHeaders(), testKey, math.MaxInt64)
			}},
		mutation{name: "signature removed", want: verify.ErrMissing,
			build: signed(func(r *http.Request) { r.Header.Del(prefix + "Signature") })},
		mutation{name: "signature empty", want: verify.ErrMissing, build: setSig("")},
		mutation{name: "signature under another prefix", want: verify.ErrMissing,
			build: signed(func(r *http.Request) {
				r.Header.Set("X-Other-Signature", r.Header.Get(prefix+"Signature"))
				r.Header.Del(prefix + "Signature")
			})},
		mutation{name: "missing t", want: verify.ErrMalformed, build: setSig(v1Part)},
		mutation{name: "missing v1", want: verify.ErrMalformed, build: setSig(tPart)},
		mutation{name: "v1 not hex", want: verify.ErrMalformed, build: setSig(tPart + ",v1=" + strings.Repeat("zz", 32))},
		mutation{name: "v1 upper-case hex", want: verify.ErrMalformed, build: setSig(tPart + ",v1=" + strings.ToUpper(hexMAC))},
		mutation{name: "v1 short", want: verify.ErrMalformed, build: setSig(tPart + ",v1=" + hexMAC[:62])},
		mutation{name: "v1 long", want: verify.ErrMalformed, build: setSig(tPart + ",v1=" + hexMAC + "00")},
		mutation{name: "v1 empty", want: verify.ErrMalformed, build: setSig(tPart + ",v1=")},
		mutation{name: "t not a number", want: verify.ErrMalformed, build: setSig("t=abc," + v1Part)},
		mutation{name: "t empty", want: verify.ErrMalformed, build: setSig("t=," + v1Part)},
		mutation{name: "t with plus sign", want: verify.ErrMalformed, build: setSig(fmt.Sprintf("t=+%d,%s", ts, v1Part))},
		mutation{name: "t with leading zero", want: verify.ErrMalformed, build: setSig(fmt.Sprintf("t=0%d,%s", ts, v1Part))},
		mutation{name: "t overflows", want: verify.ErrMalformed, build: setSig("t=99999999999999999999," + v1Part)},
		mutation{name: "duplicated t", want: verify.ErrMalformed, build: setSig(tPart + "," + tPart + "," + v1Part)},
		mutation{name: "duplicated v1", want: verify.ErrMalformed, build: setSig(tPart + "," + v1Part + "," + v1Part)},
		mutation{name: "whole value twice", want: verify.ErrMalformed, build: setSig(good + "," + good)},
		mutation{name: "two Signature headers", want: verify.ErrMalformed,
			build: signed(func(r *http.Request) { r.Header.Add(prefix+"Signature", good) })},
		mutation{name: "part without =", want: verify.ErrMalformed, build: setSig(good + ",v2")},
		mutation{name: "empty part", want: verify.ErrMalformed, build: setSig(tPart + ",," + v1Part)},
		mutation{name: "trailing comma", want: verify.ErrMalformed, build: setSig(good + ",")},
		mutation{name: "empty key part", want: verify.ErrMalformed, build: setSig(good + ",=x")},
		mutation{name: "space after comma", want: verify.ErrMalformed, build: setSig(tPart + ", " + v1Part)},
		mutation{name: "garbage", want: verify.ErrMalformed, build: setSig("hello")},
	)
	for _, m := range ms {
		t.Run(m.name, func(t *testing.T) {
			key := testKey
			if m.key != nil {
				key = m.key
			}
			err := verify.Verify(m.build(t), prefix, key, time.Minute, testNow)
			if !errors.Is(err, m.want) {
				t.Fatalf("Verify = %v, want %v", err, m.want)
			}
			for _, other := range []error{verify.ErrMissing, verify.ErrMalformed, verify.ErrMismatch, verify.ErrExpired} {
				if other != m.want && errors.Is(err, other) {
					t.Errorf("Verify = %v, also matches %v", err, other)
				}
			}
		})
	}
}

// flipHex changes the last hex digit of s to another valid lowercase one.
func flipHex(s string) string {
	last := s[len(s)-1]
	repl := byte('0')
	if last == '0' {
		repl = '1'
	}
	return s[:len(s)-1] + string(repl)
}

// TestAccepted lists changes that must not break a genuine signature.
func TestAccepted(t *testing.T) {
	ts := testNow.Unix()
	for _, tc := range []struct {
		name   string
		ts     int64
		maxAge time.Duration
		mut    func(r *http.Request)
	}{
		{"exactly maxAge old", ts - 60, time.Minute, nil},
		{"exactly maxAge ahead", ts + 60, time.Minute, nil},
		{"same second, maxAge 0", ts, 0, nil},
		{"query changed", ts, time.Minute, func(r *http.Request) { r.URL.RawQuery = "other=1" }},
		{"unsigned header added", ts, time.Minute, func(r *http.Request) { r.Header.Set("X-Other", "1") }},
		{"header name case", ts, time.Minute, func(r *http.Request) {
			v := r.Header.Get(prefix + "Verdict")
			r.Header.Del(prefix + "Verdict")
			r.Header["x-liveness-verdict"] = []string{v}
		}},
		{"surrounding whitespace", ts, time.Minute, func(r *http.Request) {
			r.Header.Set(prefix+"Vendor", " \t"+r.Header.Get(prefix+"Vendor")+" ")
		}},
		{"unknown signature part", ts, time.Minute, func(r *http.Request) {
			r.Header.Set(prefix+"Signature", r.Header.Get(prefix+"Signature")+",v2=future")
		}},
		{"signature with surrounding whitespace", ts, time.Minute, func(r *http.Request) {
			r.Header.Set(prefix+"Signature", " "+r.Header.Get(prefix+"Signature")+"\t")
		}},
		{"parts reordered", ts, time.Minute, func(r *http.Request) {
			a, b, _ := strings.Cut(r.Header.Get(prefix+"Signature"), ",")
			r.Header.Set(prefix+"Signature", b+","+a)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := signedRequest(t, prefix, "POST", "/upload", fullHeaders(), testKey, tc.ts)
			if tc.mut != nil {
				tc.mut(r)
			}
			if err := verify.Verify(r, prefix, testKey, tc.maxAge, testNow); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
	r := signedRequest(t, prefix, "POST", "/upload", fullHeaders(), testKey, ts)
	if err := verify.Verify(r, prefix, testKey, -time.Second, testNow); !errors.Is(err, verify.ErrExpired) {
		t.Errorf("negative maxAge: %v, want ErrExpired", err)
	}
}

func TestSignFormat(t *testing.T) {
	re := regexp.MustCompile(`^t=(0|-?[1-9][0-9]*),v1=[0-9a-f]{64}$`)
	for _, ts := range []int64{0, 1, 1700000000, -5, math.MaxInt64, math.MinInt64} {
		f := vector1
		f.Timestamp = ts
		if s := verify.Sign([]byte("k"), f); !re.MatchString(s) {
			t.Errorf("Sign at %d = %q", ts, s)
		}
	}
}

func TestCanonicalUnambiguous(t *testing.T) {
	// Without escaping these two would give the same string.
	a := vector1
	a.Reason, a.Reference = "r\nreference:x", ""
	b := vector1
	b.Reason, b.Reference = "r", "x\nreference:"
	if verify.Canonical(a) == verify.Canonical(b) {
		t.Error("a line break in a value can fake another line")
	}
	// A literal backslash-n is not an LF; CR is not LF.
	pairs := [][2]string{{`a\nb`, "a\nb"}, {"a\rb", "a\nb"}, {`a\\`, `a\`}, {`\`, `\\`}, {"a\r\n", `a\r\n`}}
	for _, p := range pairs {
		x, y := vector1, vector1
		x.Reference, y.Reference = p[0], p[1]
		if verify.Canonical(x) == verify.Canonical(y) {
			t.Errorf("%q and %q have the same canonical string", p[0], p[1])
		}
	}
	// Every value, however odd, stays on its own line.
	odd := []string{"", "\n", "\r\n", "\\", "a:b", "\nverdict:live\n", " \t ", "é\x00\xff"}
	for _, v := range odd {
		f := verify.Fields{Method: v, Path: v, Verdict: v, Score: v, Vendor: v, Cache: v,
			Reason: v, Reference: v, ImageSHA256: v, Duplicate: v}
		c := verify.Canonical(f)
		lines := strings.Split(c, "\n")
		if len(lines) != 12 {
			t.Fatalf("value %q: %d lines in %q", v, len(lines), c)
		}
		for i, name := range []string{"v1", "t", "method", "path", "verdict", "score", "vendor", "cache", "reason", "reference", "image_sha256", "duplicate"} {
			if i == 0 {
				if lines[0] != "v1" {
					t.Errorf("first line %q", lines[0])
				}
				continue
			}
			if !strings.HasPrefix(lines[i], name+":") {
				t.Errorf("value %q: line %d is %q, want %s:", v, i, lines[i], name)
			}
		}
	}
	// Surrounding SP/HTAB is not part of a header value.
	x, y := vector1, vector1
	x.Verdict = " \tlive \t"
	if verify.Canonical(x) != verify.Canonical(y) {
		t.Error("surrounding whitespace changes the canonical string")
	}
	// An empty path is the path "/".
	x.Path, y.Path = "", "/"
	if verify.Canonical(x) != verify.Canonical(y) {
		t.Error(`empty path differs from "/"`)
	}
}

func TestFromRequestErrors(t *testing.T) {
	r := httptest.NewRequest("POST", "/p", nil)
	r.Header.Set(prefix+"Verdict", "live")
	f, err := verify.FromRequest(r, prefix)
	if !errors.Is(err, verify.ErrMissing) {
		t.Fatalf("no signature: %v, want ErrMissing", err)
	}
	if want := (verify.Fields{Method: "POST", Path: "/p", Verdict: "live"}); f != want {
		t.Errorf("no signature: fields %+v, want %+v", f, want)
	}
	r.Header.Set(prefix+"Signature", "t=1")
	if f, err := verify.FromRequest(r, prefix); !errors.Is(err, verify.ErrMalformed) || f != (verify.Fields{}) {
		t.Errorf("malformed: %+v, %v; want zero fields and ErrMalformed", f, err)
	}
	if _, err := verify.FromRequest(nil, prefix); !errors.Is(err, verify.ErrMalformed) {
		t.Errorf("nil request: %v", err)
	}
	if err := verify.Verify(&http.Request{Method: "GET"}, prefix, testKey, time.Minute, testNow); !errors.Is(err, verify.ErrMalformed) {
		t.Errorf("request without URL: %v", err)
	}
}
