package vendortest

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MarkerPrefix starts the marker that tells an emulator how to answer.
const MarkerPrefix = "liveness-emulator:"

// maxMarkerLen keeps a marker inside one JPEG COM segment together with
// MarkerPrefix.
const maxMarkerLen = 65533 - len(MarkerPrefix)

// Verdict is the outcome a marker asks for.
type Verdict string

// Verdicts a marker can ask for. The empty Verdict lets the score decide.
const (
	VerdictLive       Verdict = "live"
	VerdictSpoof      Verdict = "spoof"
	VerdictNoFace     Verdict = "no_face"
	VerdictNoFaceCode Verdict = "no_face_code"
	VerdictSmallFace  Verdict = "small_face"
	VerdictInvalid    Verdict = "invalid"
)

// Scores given by the live and spoof verdicts: far from every documented
// threshold, so a test using them does not depend on the threshold.
const (
	LiveScore  = 0.97
	SpoofScore = 0.03
)

// Directive is what a marker asks of an emulator. The zero value (no
// marker) answers normally with the score derived from the image.
type Directive struct {
	// Found reports whether the image holds a marker at all.
	Found bool
	// Raw is the marker text after MarkerPrefix.
	Raw string
	// Verdict is the last verdict directive, "" if none.
	Verdict Verdict
	// Score is the value of score=, meaningful when HasScore.
	Score    float64
	HasScore bool
	// Status is the value of status=, 0 if none.
	Status int
	// Delay is the value of delay=, 0 if none.
	Delay time.Duration
	// Malformed asks for a truncated JSON body.
	Malformed bool
}

// ParseMarker finds the first marker in b and parses it. Unknown
// directives and values out of range are ignored, so that a marker written
// for a newer emulator still works with an older one.
func ParseMarker(b []byte) Directive {
	i := bytes.Index(b, []byte(MarkerPrefix))
	if i < 0 {
		return Directive{}
	}
	rest := b[i+len(MarkerPrefix):]
	n := 0
	for n < len(rest) && isMarkerByte(rest[n]) {
		n++
	}
	d := Directive{Found: true, Raw: string(rest[:n])}
	for _, part := range strings.Split(d.Raw, ";") {
		_ = d.apply(part) // lenient: a directive in error changes nothing
	}
	return d
}

// ProbReal is the score an emulator gives image: score= if present, else
// the live or spoof score, else a value derived from the image's SHA-256
// so that unmarked images still get a stable, varied score.
func (d Directive) ProbReal(image []byte) float64 {
	switch {
	case d.HasScore:
		return d.Score
	case d.Verdict == VerdictLive:
		return LiveScore
	case d.Verdict == VerdictSpoof:
		return SpoofScore
	}
	sum := sha256.Sum256(image)
	return float64(binary.BigEndian.Uint16(sum[:2])) / math.MaxUint16
}

// CheckMarker reports whether marker can be embedded by SampleJPEG and
// SamplePNG and read back whole by ParseMarker.
func CheckMarker(marker string) error {
	if len(marker) > maxMarkerLen {
		return fmt.Errorf("marker longer than %d bytes", maxMarkerLen)
	}
	for i := 0; i < len(marker); i++ {
		if !isMarkerByte(marker[i]) {
			return fmt.Errorf("marker byte %q at %d is not one of [A-Za-z0-9_.=;:-]", marker[i], i)
		}
	}
	return nil
}

// ValidateMarker reports whether marker (the text after MarkerPrefix) is
// embeddable, as CheckMarker requires, and means what it says: it refuses
// what ParseMarker and the emulators silently ignore, an empty marker or
// directive, an unknown directive, a value out of range, a value for a
// directive that takes none or none for one that needs it. It knows
// FACIA's pending= and decline= as well. Use it where a person writes a
// marker, as the liveness-emulator sample command does; the emulators
// themselves stay lenient, so that a marker written for a newer emulator
// still works with an older one.
func ValidateMarker(marker string) error {
	if err := CheckMarker(marker); err != nil {
		return err
	}
	if marker == "" {
		return errors.New("empty marker: give at least one directive, such as live")
	}
	var d Directive
	for _, part := range strings.Split(marker, ";") {
		if err := d.apply(part); err != nil {
			return fmt.Errorf("marker %q: %w", marker, err)
		}
	}
	return nil
}

// markerDirectives are the directives ValidateMarker knows, as written in
// its error messages: a trailing "=" takes a value.
var markerDirectives = []string{
	"live", "spoof", "no_face", "no_face_code", "small_face", "invalid", "malformed",
	"score=", "status=", "delay=", "pending=", "decline=",
}

// apply applies one directive of a marker to d, or says why it is not
// one. pending= and decline= are only checked: FACIA reads them from Raw.
func (d *Directive) apply(part string) error {
	key, val, hasVal := strings.Cut(part, "=")
	if part == "" {
		return errors.New("empty directive (two ';' in a row, or one at an end)")
	}
	if !hasVal {
		switch v := Verdict(key); v {
		case VerdictLive, VerdictSpoof, VerdictNoFace, VerdictNoFaceCode, VerdictSmallFace, VerdictInvalid:
			d.Verdict = v
			return nil
		}
		if key == "malformed" {
			d.Malformed = true
			return nil
		}
		if slices.Contains(markerDirectives, key+"=") {
			return fmt.Errorf("directive %q needs a value, as in %s", key, directiveExample(key))
		}
		return unknownDirective(key)
	}
	switch key {
	case "score":
		f, err := strconv.ParseFloat(val, 64)
		if err != nil || !(f >= 0 && f <= 1) {
			return fmt.Errorf("%s: want a number from 0 to 1, as in %s", part, directiveExample(key))
		}
		d.Score, d.HasScore = f, true
	case "status":
		c, err := strconv.Atoi(val)
		if err != nil || c < 100 || c > 599 {
			return fmt.Errorf("%s: want an HTTP status from 100 to 599, as in %s", part, directiveExample(key))
		}
		d.Status = c
	case "delay":
		t, err := time.ParseDuration(val)
		if err != nil || t < 0 {
			return fmt.Errorf("%s: want a Go duration, not negative, as in %s", part, directiveExample(key))
		}
		d.Delay = t
	case "pending":
		if p, err := strconv.Atoi(val); err != nil || p < 0 {
			return fmt.Errorf("%s: want a number of polls, 0 or more, as in %s", part, directiveExample(key))
		}
	case "decline":
		if !faciaDeclineCode(val) {
			return fmt.Errorf("%s: want FADR and two digits, as in %s", part, directiveExample(key))
		}
	default:
		if slices.Contains(markerDirectives, key) {
			return fmt.Errorf("directive %q takes no value", key)
		}
		return unknownDirective(part)
	}
	return nil
}

func directiveExample(key string) string {
	switch key {
	case "score":
		return "score=0.5"
	case "status":
		return "status=503"
	case "delay":
		return "delay=250ms"
	case "pending":
		return "pending=2"
	}
	return "decline=FADR25"
}

// unknownDirective names the known directives, and the nearest one when a
// typo is likely.
func unknownDirective(part string) error {
	key, _, _ := strings.Cut(part, "=")
	best, bestDist := "", 3 // suggest only within two edits
	for _, k := range markerDirectives {
		if dist := editDistance(key, strings.TrimSuffix(k, "=")); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	if best != "" {
		return fmt.Errorf("unknown directive %q (did you mean %q?)", part, best)
	}
	return fmt.Errorf("unknown directive %q; known: %s", part, strings.Join(markerDirectives, ", "))
}

// editDistance is the Levenshtein distance between two short ASCII strings.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func isMarkerByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("_.=;:-", c) >= 0
}
