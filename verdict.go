package caddyliveness

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-liveness/caddy-liveness/vendors"
)

// Verdict is the normalised answer about a request's media.
type Verdict string

const (
	VerdictLive         Verdict = "live"
	VerdictSpoof        Verdict = "spoof"
	VerdictNoFace       Verdict = "no_face"
	VerdictInconclusive Verdict = "inconclusive"
	VerdictError        Verdict = "error"
)

// severity orders verdicts for requests with several images: the worst
// one wins.
var severity = map[Verdict]int{
	VerdictLive: 0, VerdictInconclusive: 1, VerdictError: 2, VerdictNoFace: 3, VerdictSpoof: 4,
}

// outcome is the decision about one medium or, combined, a request.
type outcome struct {
	verdict   Verdict
	score     float64
	hasScore  bool
	vendor    string
	cacheHit  bool
	reason    string
	reference string
	sums      []string // lowercase hex SHA-256 of each medium, request order
	duplicate int      // times the image was seen, when it counts as a duplicate; else 0
	err       error    // the vendor error behind VerdictError, if any
	input     *inputError
	size      int64 // body bytes read (or declared, when refused by Content-Length), for the log
}

// decide turns a vendor result into an outcome under the threshold.
func decide(r vendors.Result, threshold *float64) outcome {
	o := outcome{score: r.Score, hasScore: r.HasScore, reason: r.Reason, reference: r.Reference}
	switch {
	case r.Class == vendors.ClassNoFace:
		o.verdict = VerdictNoFace
	case r.Class == vendors.ClassInconclusive:
		o.verdict = VerdictInconclusive
	case r.Live(threshold):
		o.verdict = VerdictLive
	default:
		o.verdict = VerdictSpoof
		if o.reason == "" {
			o.reason = "presentation_attack"
		}
	}
	return o
}

// combine merges per-medium outcomes: the worst verdict and its reason,
// the lowest score, a hit only if every medium was one.
func combine(all []outcome) outcome {
	c := all[0]
	c.sums = nil
	for i, o := range all {
		c.sums = append(c.sums, o.sums...)
		if i == 0 {
			continue
		}
		if severity[o.verdict] > severity[c.verdict] {
			c.verdict, c.reason, c.reference, c.err, c.vendor = o.verdict, o.reason, o.reference, o.err, o.vendor
		}
		if o.hasScore && (!c.hasScore || o.score < c.score) {
			c.score, c.hasScore = o.score, true
		}
		c.cacheHit = c.cacheHit && o.cacheHit
	}
	return c
}

func (o outcome) scoreString() string {
	if !o.hasScore {
		return ""
	}
	return strconv.FormatFloat(o.score, 'f', 4, 64)
}

func (o outcome) cacheString() string {
	if o.cacheHit {
		return "hit"
	}
	return "miss"
}

// setPlaceholders exposes the outcome as {http.liveness.*}.
func (o outcome) setPlaceholders(repl *caddy.Replacer) {
	repl.Set("http.liveness.verdict", string(o.verdict))
	repl.Set("http.liveness.score", o.scoreString())
	repl.Set("http.liveness.vendor", o.vendor)
	repl.Set("http.liveness.cache", o.cacheString())
	repl.Set("http.liveness.reason", o.reason)
	repl.Set("http.liveness.reference", o.reference)
	repl.Set("http.liveness.image_sha256", strings.Join(o.sums, ","))
	repl.Set("http.liveness.duplicate", o.duplicateString())
}

func (o outcome) duplicateString() string {
	if o.duplicate == 0 {
		return ""
	}
	return strconv.Itoa(o.duplicate)
}

// setHeaders adds the verdict headers for the upstream; the duplicate
// count only when the policy shows it.
func (o outcome) setHeaders(h http.Header, prefix string, showDuplicate bool) {
	set := func(name, v string) {
		if v != "" {
			h.Set(prefix+name, v)
		}
	}
	set("Verdict", string(o.verdict))
	set("Score", o.scoreString())
	set("Vendor", o.vendor)
	if o.verdict != "" && o.input == nil {
		set("Cache", o.cacheString())
	}
	set("Reason", o.reason)
	set("Reference", o.reference)
	set("Image-Sha256", strings.Join(o.sums, ","))
	if showDuplicate {
		set("Duplicate", o.duplicateString())
	}
}

// stripHeaders deletes every client-sent header that starts with prefix,
// so that no client can forge a verdict: compared ignoring case and with
// "-", "_" and "." alike, since CGI-style servers (PHP, WSGI and Rack
// apps) read X_Liveness_Verdict and X.Liveness.Verdict as
// X-Liveness-Verdict. Caddy drops some such spellings by default; the
// handler does not rely on it.
func stripHeaders(h http.Header, prefix string) {
	for name := range h {
		if len(name) >= len(prefix) && sameSpelling(name[:len(prefix)], prefix) {
			delete(h, name)
		}
	}
}

// sameSpelling reports whether a and b are equal ignoring ASCII case and
// reading "_" and "." as "-".
func sameSpelling(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	norm := func(c byte) byte {
		switch {
		case c == '_' || c == '.':
			return '-'
		case 'A' <= c && c <= 'Z':
			return c + 'a' - 'A'
		}
		return c
	}
	for i := 0; i < len(a); i++ {
		if norm(a[i]) != norm(b[i]) {
			return false
		}
	}
	return true
}

// fallsBack reports whether a vendor error lets the next vendor try:
// trouble with that vendor (see vendorTrouble), or an image over that
// vendor's limits or of a type it does not take — never the image itself.
func fallsBack(err error) bool {
	switch vendors.KindOf(err) {
	case vendors.KindTooLarge, vendors.KindUnsupported:
		return true
	}
	return vendorTrouble(err)
}

func errorReason(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "timeout"
	}
	return string(vendors.KindOf(err))
}

// denial returns the status (0: pass) and client message for an outcome
// under the policies. Messages never reveal a score.
func (h *Handler) denial(o outcome) (int, string) {
	if o.input != nil {
		return o.input.Status, o.input.Msg
	}
	switch o.verdict {
	case "":
		if h.OnMissing == "deny" {
			return http.StatusBadRequest, "no image found in the request"
		}
	case VerdictSpoof:
		if o.reason == "duplicate" {
			return http.StatusForbidden, "liveness check failed: image already used"
		}
		return http.StatusForbidden, "liveness check failed"
	case VerdictNoFace:
		if h.OnNoFace == "deny" {
			switch o.reason {
			case "several_faces":
				return http.StatusUnprocessableEntity, "more than one face in the image"
			case "face_too_small":
				return http.StatusUnprocessableEntity, "the face in the image is too small"
			}
			return http.StatusUnprocessableEntity, "no face found in the image"
		}
	case VerdictError:
		switch vendors.KindOf(o.err) {
		case vendors.KindTooLarge:
			return http.StatusRequestEntityTooLarge, "image too large for the liveness check"
		case vendors.KindInvalidMedia, vendors.KindUnsupported:
			return http.StatusUnsupportedMediaType, "media not accepted by the liveness check"
		}
		if h.OnError == "deny" {
			return http.StatusServiceUnavailable, "liveness check unavailable, try again later"
		}
	case VerdictInconclusive:
		if h.OnError == "deny" {
			return http.StatusServiceUnavailable, "liveness check inconclusive, try again later"
		}
	}
	return 0, ""
}
