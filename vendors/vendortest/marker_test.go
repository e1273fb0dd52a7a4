package vendortest

import (
	"crypto/sha256"
	"encoding/binary"
	"strings"
	"testing"
	"time"
)

func TestParseMarker(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Directive
	}{
		{"absent", "just some bytes", Directive{}},
		{"empty marker", "liveness-emulator:", Directive{Found: true}},
		{"live", "liveness-emulator:live", Directive{Found: true, Raw: "live", Verdict: VerdictLive}},
		{"spoof", "xx liveness-emulator:spoof yy", Directive{Found: true, Raw: "spoof", Verdict: VerdictSpoof}},
		{"no_face", "liveness-emulator:no_face", Directive{Found: true, Raw: "no_face", Verdict: VerdictNoFace}},
		{"no_face_code", "liveness-emulator:no_face_code", Directive{Found: true, Raw: "no_face_code", Verdict: VerdictNoFaceCode}},
		{"small_face", "liveness-emulator:small_face", Directive{Found: true, Raw: "small_face", Verdict: VerdictSmallFace}},
		{"invalid", "liveness-emulator:invalid", Directive{Found: true, Raw: "invalid", Verdict: VerdictInvalid}},
		{"last verdict wins", "liveness-emulator:live;spoof", Directive{Found: true, Raw: "live;spoof", Verdict: VerdictSpoof}},
		{"score", "liveness-emulator:score=0.52", Directive{Found: true, Raw: "score=0.52", Score: 0.52, HasScore: true}},
		{"score bounds", "liveness-emulator:score=1", Directive{Found: true, Raw: "score=1", Score: 1, HasScore: true}},
		{"score zero", "liveness-emulator:score=0", Directive{Found: true, Raw: "score=0", Score: 0, HasScore: true}},
		{"score above 1 ignored", "liveness-emulator:score=1.01", Directive{Found: true, Raw: "score=1.01"}},
		{"score negative ignored", "liveness-emulator:score=-0.1", Directive{Found: true, Raw: "score=-0.1"}},
		{"score NaN ignored", "liveness-emulator:score=NaN", Directive{Found: true, Raw: "score=NaN"}},
		{"score garbage ignored", "liveness-emulator:score=high", Directive{Found: true, Raw: "score=high"}},
		{"status", "liveness-emulator:status=503", Directive{Found: true, Raw: "status=503", Status: 503}},
		{"status out of range", "liveness-emulator:status=99;status=600", Directive{Found: true, Raw: "status=99;status=600"}},
		{"delay", "liveness-emulator:delay=1.5s", Directive{Found: true, Raw: "delay=1.5s", Delay: 1500 * time.Millisecond}},
		{"delay negative ignored", "liveness-emulator:delay=-1s", Directive{Found: true, Raw: "delay=-1s"}},
		{"delay garbage ignored", "liveness-emulator:delay=soon", Directive{Found: true, Raw: "delay=soon"}},
		{"malformed", "liveness-emulator:malformed", Directive{Found: true, Raw: "malformed", Malformed: true}},
		{"unknown and empty ignored", "liveness-emulator:frobnicate;;x=1;live", Directive{Found: true, Raw: "frobnicate;;x=1;live", Verdict: VerdictLive}},
		{"case-sensitive", "liveness-emulator:LIVE", Directive{Found: true, Raw: "LIVE"}},
		{"combined", "liveness-emulator:spoof;score=0.4;delay=20ms;status=429;malformed",
			Directive{Found: true, Raw: "spoof;score=0.4;delay=20ms;status=429;malformed", Verdict: VerdictSpoof,
				Score: 0.4, HasScore: true, Delay: 20 * time.Millisecond, Status: 429, Malformed: true}},
		{"ends at a foreign byte", "liveness-emulator:spoof live", Directive{Found: true, Raw: "spoof", Verdict: VerdictSpoof}},
		{"ends at a NUL", "liveness-emulator:live\x00;spoof", Directive{Found: true, Raw: "live", Verdict: VerdictLive}},
		{"ends at 0xFF", "liveness-emulator:no_face\xff\xfe", Directive{Found: true, Raw: "no_face", Verdict: VerdictNoFace}},
		{"colon is a marker byte", "liveness-emulator:live:x", Directive{Found: true, Raw: "live:x"}},
		{"first marker counts", "liveness-emulator:live liveness-emulator:spoof", Directive{Found: true, Raw: "live", Verdict: VerdictLive}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParseMarker([]byte(tt.in)); got != tt.want {
				t.Errorf("ParseMarker(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestProbReal(t *testing.T) {
	img := []byte("an image without a marker")
	sum := sha256.Sum256(img)
	hashScore := float64(binary.BigEndian.Uint16(sum[:2])) / 65535

	tests := []struct {
		marker string
		want   float64
	}{
		{"", hashScore},
		{"no_face", hashScore},
		{"live", 0.97},
		{"spoof", 0.03},
		{"live;score=0.3", 0.3},
		{"score=0.3;spoof", 0.3},
	}
	for _, tt := range tests {
		d := ParseMarker([]byte(MarkerPrefix + tt.marker))
		if got := d.ProbReal(img); got != tt.want {
			t.Errorf("marker %q: ProbReal = %v, want %v", tt.marker, got, tt.want)
		}
	}
	if hashScore < 0 || hashScore > 1 {
		t.Fatalf("hash score %v out of range", hashScore)
	}
}

func TestCheckMarker(t *testing.T) {
	for _, ok := range []string{"", "live", "score=0.5;delay=1ms", "a-b_c.d:e=f;g"} {
		if err := CheckMarker(ok); err != nil {
			t.Errorf("CheckMarker(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"live spoof", "live\n", "é", "a/b", string(make([]byte, maxMarkerLen+1))} {
		if err := CheckMarker(bad); err == nil {
			t.Errorf("CheckMarker(%.20q) = nil, want an error", bad)
		}
	}
	long := make([]byte, maxMarkerLen)
	for i := range long {
		long[i] = 'x'
	}
	if err := CheckMarker(string(long)); err != nil {
		t.Errorf("CheckMarker(max length) = %v", err)
	}
}

func TestValidateMarker(t *testing.T) {
	for _, ok := range []string{
		"live", "spoof", "no_face", "no_face_code", "small_face", "invalid", "malformed",
		"score=0.5;delay=1s", "score=0", "score=1", "status=503", "status=100", "status=599",
		"delay=0s", "pending=2", "pending=0", "decline=FADR01", "live;spoof", "spoof;score=0.4;delay=20ms;status=429;malformed",
	} {
		if err := ValidateMarker(ok); err != nil {
			t.Errorf("ValidateMarker(%q) = %v, want nil", ok, err)
		}
	}
	for _, tt := range []struct{ in, want string }{
		{"spooof", `unknown directive "spooof" (did you mean "spoof"?)`},
		{"scor=0.5", `unknown directive "scor=0.5" (did you mean "score="?)`},
		{"frobnicate", `unknown directive "frobnicate"; known: live, spoof,`},
		{"LIVE", `unknown directive "LIVE"`},
		{"live:x", `unknown directive "live:x"`},
		{"", "empty marker"},
		{"live;", "empty directive"},
		{"live;;spoof", "empty directive"},
		{"score=1.01", "score=1.01: want a number from 0 to 1"},
		{"score=NaN", "score=NaN: want a number from 0 to 1"},
		{"score", `directive "score" needs a value, as in score=0.5`},
		{"status=600", "status=600: want an HTTP status from 100 to 599"},
		{"status=abc", "status=abc: want an HTTP status"},
		{"delay=-1s", "delay=-1s: want a Go duration"},
		{"delay=soon", "delay=soon: want a Go duration"},
		{"pending=-1", "pending=-1: want a number of polls"},
		{"decline=FADR1", "decline=FADR1: want FADR and two digits"},
		{"live=1", `directive "live" takes no value`},
		{"malformed=yes", `directive "malformed" takes no value`},
		{"live spoof", "is not one of"},
	} {
		err := ValidateMarker(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ValidateMarker(%q) = %v, want an error containing %q", tt.in, err, tt.want)
		}
	}
}

// TestParseMarkerStaysLenient checks that the directives ValidateMarker
// refuses are still skipped, not fatal, in an image's marker.
func TestParseMarkerStaysLenient(t *testing.T) {
	d := ParseMarker([]byte(MarkerPrefix + "spooof;score=2;;live=1;status=429"))
	if d != (Directive{Found: true, Raw: "spooof;score=2;;live=1;status=429", Status: 429}) {
		t.Errorf("ParseMarker = %+v", d)
	}
}
