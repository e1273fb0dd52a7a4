package vendortest

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
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
		key, val, hasVal := strings.Cut(part, "=")
		if !hasVal {
			switch v := Verdict(key); v {
			case VerdictLive, VerdictSpoof, VerdictNoFace, VerdictNoFaceCode, VerdictSmallFace, VerdictInvalid:
				d.Verdict = v
			}
			if key == "malformed" {
				d.Malformed = true
			}
			continue
		}
		switch key {
		case "score":
			f, err := strconv.ParseFloat(val, 64)
			if err == nil && f >= 0 && f <= 1 {
				d.Score, d.HasScore = f, true
			}
		case "status":
			c, err := strconv.Atoi(val)
			if err == nil && c >= 100 && c <= 599 {
				d.Status = c
			}
		case "delay":
			t, err := time.ParseDuration(val)
			if err == nil && t >= 0 {
				d.Delay = t
			}
		}
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

func isMarkerByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("_.=;:-", c) >= 0
}
