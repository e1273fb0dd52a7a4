package preproc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/image/bmp"
)

// asymmetric returns a w x h image whose every channel value identifies its pixel.
func asymmetric(w, h int) *Image {
	m := NewImage(w, h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := 3 * (y*w + x)
			m.Pix[i], m.Pix[i+1], m.Pix[i+2] = uint8(x), uint8(y), uint8(10*y+x)
		}
	}
	return m
}

// Reference primitives, one pixel at a time, composed as OpenCV's ExifTransform composes them.
func flipX(m *Image) *Image {
	o := NewImage(m.W, m.H)
	for y := 0; y < m.H; y++ {
		for x := 0; x < m.W; x++ {
			copy(o.Pix[3*(y*m.W+x):][:3], m.Pix[3*(y*m.W+m.W-1-x):][:3])
		}
	}
	return o
}

func flipY(m *Image) *Image {
	o := NewImage(m.W, m.H)
	for y := 0; y < m.H; y++ {
		copy(o.Pix[3*y*m.W:3*(y+1)*m.W], m.Pix[3*(m.H-1-y)*m.W:3*(m.H-y)*m.W])
	}
	return o
}

func transpose(m *Image) *Image {
	o := NewImage(m.H, m.W)
	for y := 0; y < o.H; y++ {
		for x := 0; x < o.W; x++ {
			copy(o.Pix[3*(y*o.W+x):][:3], m.Pix[3*(x*m.W+y):][:3])
		}
	}
	return o
}

func referenceOrient(m *Image, o int) *Image {
	switch o {
	case 2:
		return flipX(m)
	case 3:
		return flipY(flipX(m))
	case 4:
		return flipY(m)
	case 5:
		return transpose(m)
	case 6:
		return flipX(transpose(m))
	case 7:
		return flipY(flipX(transpose(m)))
	case 8:
		return flipY(transpose(m))
	}
	return m.Clone()
}

func TestOrientMatchesReference(t *testing.T) {
	src := asymmetric(5, 3)
	for o := 1; o <= 8; o++ {
		got, want := Orient(src, o), referenceOrient(src, o)
		if got.W != want.W || got.H != want.H || !bytes.Equal(got.Pix, want.Pix) {
			t.Errorf("orientation %d: got %dx%d %v, want %dx%d %v", o, got.W, got.H, got.Pix, want.W, want.H, want.Pix)
		}
	}
	// Spot checks of the meaning: 6 is 90° clockwise, the bottom-left pixel goes to the top-left.
	r := Orient(src, 6)
	if b, g, _ := r.BGRAt(0, 0); b != 0 || g != 2 || r.W != 3 || r.H != 5 {
		t.Errorf("orientation 6: top-left is source (%d,%d), size %dx%d", b, g, r.W, r.H)
	}
	if b, g, _ := Orient(src, 8).BGRAt(0, 0); b != 4 || g != 0 {
		t.Errorf("orientation 8: top-left is source (%d,%d), want (4,0)", b, g)
	}
}

// withExif inserts an EXIF APP1 right after the SOI of a JPEG.
func withExif(j []byte, bo binary.ByteOrder, o uint16) []byte {
	out := append([]byte{}, j[:2]...)
	out = append(out, xmpSegment...)
	out = append(out, segment(0xE1, exifPayload(bo, o))...)
	return append(out, j[2:]...)
}

func TestDecodeAppliesOrientation(t *testing.T) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, asymmetric(7, 4).NRGBA(), &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	plain, err := Decode(buf.Bytes(), 0)
	if err != nil {
		t.Fatal(err)
	}
	for o := uint16(1); o <= 8; o++ {
		for _, bo := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
			got, err := Decode(withExif(buf.Bytes(), bo, o), 0)
			if err != nil {
				t.Fatal(err)
			}
			want := referenceOrient(plain, int(o))
			if got.W != want.W || got.H != want.H || !bytes.Equal(got.Pix, want.Pix) {
				t.Errorf("orientation %d %v: decoded image is not the reference transform", o, bo)
			}
		}
	}
}

func TestDecodeFormats(t *testing.T) {
	src := asymmetric(6, 5).NRGBA()
	enc := map[string]func(*bytes.Buffer) error{
		"png": func(b *bytes.Buffer) error { return png.Encode(b, src) },
		"bmp": func(b *bytes.Buffer) error { return bmp.Encode(b, src) },
		"gif": func(b *bytes.Buffer) error {
			// Lossless for this image: a palette holding exactly its colours.
			p := image.NewPaletted(src.Bounds(), nil)
			seen := map[color.NRGBA]uint8{}
			for y := 0; y < 5; y++ {
				for x := 0; x < 6; x++ {
					c := src.NRGBAAt(x, y)
					if _, ok := seen[c]; !ok {
						seen[c] = uint8(len(p.Palette))
						p.Palette = append(p.Palette, c)
					}
					p.SetColorIndex(x, y, seen[c])
				}
			}
			return gif.Encode(b, p, nil)
		},
	}
	want := asymmetric(6, 5)
	for name, e := range enc {
		var b bytes.Buffer
		if err := e(&b); err != nil {
			t.Fatal(err)
		}
		got, err := Decode(b.Bytes(), 0)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(got.Pix, want.Pix) {
			t.Errorf("%s: pixels differ", name)
		}
	}
	// WebP: x/image has no encoder; a 1x1 lossless WebP.
	webp1 := []byte("RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00")
	if _, err := Decode(webp1, 0); err != nil {
		t.Errorf("webp: %v", err)
	}
}

func TestDecodeRefusals(t *testing.T) {
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewNRGBA(image.Rect(0, 0, 100, 50))); err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(b.Bytes(), 4999); !errors.Is(err, ErrTooLarge) {
		t.Errorf("100x50 with limit 4999: %v, want ErrTooLarge", err)
	}
	if _, err := Decode(b.Bytes(), 5000); err != nil {
		t.Errorf("100x50 with limit 5000: %v", err)
	}
	// A PNG header claiming 100000x100000 is refused from the header alone.
	hdr := b.Bytes()[:33]
	huge := append([]byte{}, hdr...)
	binary.BigEndian.PutUint32(huge[16:], 100000)
	binary.BigEndian.PutUint32(huge[20:], 100000)
	binary.BigEndian.PutUint32(huge[29:], crc32.ChecksumIEEE(huge[12:29]))
	if _, err := Decode(huge, 0); !errors.Is(err, ErrTooLarge) {
		t.Errorf("huge header: %v, want ErrTooLarge", err)
	}
	for _, d := range [][]byte{nil, []byte("hello"), []byte("II*\x00")} {
		if _, err := Decode(d, 0); !errors.Is(err, ErrFormat) {
			t.Errorf("%q: %v, want ErrFormat", d, err)
		}
	}
	if _, err := Decode([]byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 2}, 0); err == nil {
		t.Error("truncated JPEG decoded")
	}
}

func FuzzDecode(f *testing.F) {
	var b bytes.Buffer
	_ = jpeg.Encode(&b, asymmetric(8, 8).NRGBA(), nil)
	f.Add(withExif(b.Bytes(), binary.LittleEndian, 6))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data, 1<<16)
		if err == nil && (m.W*m.H > 1<<16 || len(m.Pix) != 3*m.W*m.H) {
			t.Fatalf("bad image %dx%d", m.W, m.H)
		}
	})
}

// BenchmarkDecodeResize is the front of the check on a 480x640 photo: decode (Go image/jpeg),
// EXIF orientation, and the detector-input resize.
func BenchmarkDecodeResize(b *testing.B) {
	dir := localModelDir(b)
	data, err := os.ReadFile(filepath.Join(dir, "faces", "minivision_image_T1.jpg"))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("Decode+Orientation", func(b *testing.B) {
		for b.Loop() {
			if _, err := Decode(data, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	img, _ := Decode(data, 0)
	w, h := DetectorInputSize(img.W, img.H)
	b.Run("ResizeLinear", func(b *testing.B) {
		for b.Loop() {
			ResizeLinear(img, w, h)
		}
	})
	b.Run("Crop80", func(b *testing.B) {
		for b.Loop() {
			if _, err := Crop(img, [4]int{106, 147, 207, 213}, 2.7, 80, 80); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("All", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m, err := Decode(data, 0)
			if err != nil {
				b.Fatal(err)
			}
			ResizeLinear(m, w, h)
		}
	})
}
