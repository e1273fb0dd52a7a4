package vendortest

import (
	"bytes"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"strings"
	"testing"
)

func checkDecodes(t *testing.T, img []byte, format string) {
	t.Helper()
	cfg, f, err := image.DecodeConfig(bytes.NewReader(img))
	if err != nil {
		t.Fatalf("DecodeConfig: %v", err)
	}
	if f != format || cfg.Width != sampleSide || cfg.Height != sampleSide {
		t.Fatalf("DecodeConfig = %s %dx%d, want %s %dx%d", f, cfg.Width, cfg.Height, format, sampleSide, sampleSide)
	}
	m, f, err := image.Decode(bytes.NewReader(img))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if f != format || m.Bounds().Dx() != sampleSide {
		t.Fatalf("Decode = %s %v", f, m.Bounds())
	}
}

var sampleMarkers = []string{"", "live", "spoof;score=0.52;delay=5ms", "no_face_code"}

func TestSampleJPEG(t *testing.T) {
	for _, marker := range sampleMarkers {
		img := SampleJPEG(marker)
		checkDecodes(t, img, "jpeg")
		if !bytes.HasPrefix(img, []byte{0xFF, 0xD8, 0xFF, 0xFE}) {
			t.Errorf("marker %q: image does not start with SOI then COM: % x", marker, img[:4])
		}
		if d := ParseMarker(img); !d.Found || d.Raw != marker {
			t.Errorf("ParseMarker(SampleJPEG(%q)) = %+v", marker, d)
		}
	}
}

func TestSamplePNG(t *testing.T) {
	for _, marker := range sampleMarkers {
		img := SamplePNG(marker)
		// The decoder verifies every chunk's CRC, the tEXt one included.
		checkDecodes(t, img, "png")
		if got := string(img[33+4 : 33+8]); got != "tEXt" {
			t.Errorf("marker %q: chunk after IHDR is %q, want tEXt", marker, got)
		}
		if !bytes.Contains(img, []byte("tEXtComment\x00"+MarkerPrefix+marker+"\n")) {
			t.Errorf("marker %q: tEXt chunk not found", marker)
		}
		if d := ParseMarker(img); !d.Found || d.Raw != marker {
			t.Errorf("ParseMarker(SamplePNG(%q)) = %+v", marker, d)
		}
	}
}

func TestSampleJPEGSize(t *testing.T) {
	base := len(SampleJPEG("live"))
	for _, n := range []int{0, base, base + 1, base + 3, base + 4, base + 1000, base + 65537, base + 65538, 200_000, 12 << 20} {
		img := SampleJPEGSize("live", n)
		want := max(n, base)
		if len(img) < want || len(img) > want+3 {
			t.Errorf("SampleJPEGSize(%d): %d bytes, want %d to %d", n, len(img), want, want+3)
		}
		if n >= base+4 && len(img) != n {
			t.Errorf("SampleJPEGSize(%d): %d bytes, want exactly %d", n, len(img), n)
		}
		checkDecodes(t, img, "jpeg")
		if d := ParseMarker(img); d.Raw != "live" {
			t.Errorf("SampleJPEGSize(%d): marker %q", n, d.Raw)
		}
	}
}

func TestSamplePanicsOnBadMarker(t *testing.T) {
	for name, f := range map[string]func(string) []byte{"jpeg": SampleJPEG, "png": SamplePNG} {
		func() {
			defer func() {
				r := recover()
				if r == nil || !strings.Contains(r.(string), "marker") {
					t.Errorf("%s: recover() = %v, want a marker panic", name, r)
				}
			}()
			f("live spoof")
		}()
	}
}
