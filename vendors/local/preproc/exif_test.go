package preproc

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// exifPayload builds an APP1 EXIF payload whose IFD0 holds a Make tag and then Orientation.
func exifPayload(bo binary.ByteOrder, orientation uint16) []byte {
	var b bytes.Buffer
	b.WriteString("Exif\x00\x00")
	if bo == binary.ByteOrder(binary.LittleEndian) {
		b.WriteString("II")
	} else {
		b.WriteString("MM")
	}
	w16 := func(v uint16) { _ = binary.Write(&b, bo, v) }
	w32 := func(v uint32) { _ = binary.Write(&b, bo, v) }
	w16(42)
	w32(8) // IFD0 right after the header
	w16(2)
	w16(0x010F) // Make, ASCII, 4 bytes inline
	w16(2)
	w32(4)
	b.WriteString("Go\x00\x00")
	w16(0x0112) // Orientation, SHORT, 1
	w16(3)
	w32(1)
	w16(orientation)
	w16(0)
	w32(0) // no IFD1
	return b.Bytes()
}

func segment(marker byte, payload []byte) []byte {
	return append([]byte{0xFF, marker, byte((len(payload) + 2) >> 8), byte(len(payload) + 2)}, payload...)
}

// fakeJPEG is SOI, the given segments, a minimal SOS and EOI: enough for Orientation.
func fakeJPEG(segs ...[]byte) []byte {
	out := []byte{0xFF, 0xD8}
	for _, s := range segs {
		out = append(out, s...)
	}
	out = append(out, segment(0xDA, []byte{1, 1, 0, 0, 63, 0})...)
	return append(out, 0x00, 0x00, 0xFF, 0xD9)
}

var xmpSegment = segment(0xE1, []byte("http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"/>"))

func TestOrientationAllValuesBothByteOrders(t *testing.T) {
	for _, bo := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		for o := uint16(1); o <= 8; o++ {
			j := fakeJPEG(segment(0xE0, []byte("JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")), segment(0xE1, exifPayload(bo, o)))
			if got := Orientation(j); got != int(o) {
				t.Errorf("%v orientation %d: got %d", bo, o, got)
			}
		}
	}
}

func TestOrientationCases(t *testing.T) {
	le := binary.LittleEndian
	good := exifPayload(le, 6)
	cases := []struct {
		name string
		data []byte
		want int
	}{
		{"exif after xmp", fakeJPEG(xmpSegment, segment(0xE1, exifPayload(binary.BigEndian, 8))), 8},
		{"exif after fill bytes", append([]byte{0xFF, 0xD8, 0xFF, 0xFF}, fakeJPEG(segment(0xE1, good))[2:]...), 6},
		{"no exif", fakeJPEG(xmpSegment), 1},
		{"exif after SOS is ignored", append(fakeJPEG(), segment(0xE1, good)...), 1},
		{"not a jpeg", []byte("\x89PNG\r\n\x1a\n...."), 1},
		{"empty", nil, 1},
		{"only SOI", []byte{0xFF, 0xD8}, 1},
		{"value 0", fakeJPEG(segment(0xE1, exifPayload(le, 0))), 1},
		{"value 9", fakeJPEG(segment(0xE1, exifPayload(le, 9))), 1},
		{"bad byte order", fakeJPEG(segment(0xE1, append([]byte("Exif\x00\x00XX"), good[8:]...))), 1},
		{"bad magic", fakeJPEG(segment(0xE1, append([]byte("Exif\x00\x00II\x2b\x00"), good[10:]...))), 1},
		{"IFD offset past end", fakeJPEG(segment(0xE1, append(append([]byte{}, good[:10]...), 0xFF, 0xFF, 0, 0))), 1},
		{"entry count too large", fakeJPEG(segment(0xE1, append(append(append([]byte{}, good[:14]...), 0xFF, 0xFF), good[16:]...))), 6},
		{"truncated IFD", fakeJPEG(segment(0xE1, good[:len(good)-12])), 1},
		{"segment length past end", []byte{0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xFF, 'E', 'x'}, 1},
		{"segment length < 2", []byte{0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x01, 0, 0, 0, 0}, 1},
		{"garbage between segments", []byte{0xFF, 0xD8, 0x12, 0x34, 0xFF, 0xE1}, 1},
		{"wrong type LONG", fakeJPEG(segment(0xE1, bytes.Replace(good, []byte{0x12, 0x01, 0x03, 0x00}, []byte{0x12, 0x01, 0x04, 0x00}, 1))), 1},
	}
	for _, c := range cases {
		if got := Orientation(c.data); got != c.want {
			t.Errorf("%s: got %d, want %d", c.name, got, c.want)
		}
	}
}

func TestOrientationSampleFaces(t *testing.T) {
	dir := localModelDir(t)
	for _, n := range []string{"minivision_image_T1.jpg", "minivision_image_F1.jpg", "minivision_image_F2.jpg"} {
		data, err := os.ReadFile(filepath.Join(dir, "faces", n))
		if err != nil {
			t.Fatal(err)
		}
		if got := Orientation(data); got != 6 {
			t.Errorf("%s: orientation %d, want 6", n, got)
		}
	}
}

func FuzzOrientation(f *testing.F) {
	f.Add(fakeJPEG(segment(0xE1, exifPayload(binary.LittleEndian, 6))))
	f.Add(fakeJPEG(xmpSegment, segment(0xE1, exifPayload(binary.BigEndian, 3))))
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x10, 'E', 'x', 'i', 'f', 0, 0, 'M', 'M', 0, 42, 0, 0, 0, 8})
	f.Add([]byte{})
	f.Add(pngWithExif(exifPayload(binary.BigEndian, 8)[6:]))
	f.Fuzz(func(t *testing.T, data []byte) {
		if o := Orientation(data); o < 1 || o > 8 {
			t.Fatalf("orientation %d out of range", o)
		}
		if o := PNGOrientation(data); o < 1 || o > 8 {
			t.Fatalf("PNG orientation %d out of range", o)
		}
	})
}

// pngWithExif is a PNG header with an eXIf chunk holding tiff, then an (empty) IDAT and IEND; CRCs
// are not checked by PNGOrientation and left zero.
func pngWithExif(tiff []byte, before ...string) []byte {
	b := []byte("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
		b = append(b, typ...)
		b = append(b, data...)
		b = append(b, 0, 0, 0, 0)
	}
	chunk("IHDR", make([]byte, 13))
	for _, typ := range before {
		chunk(typ, nil)
	}
	chunk("eXIf", tiff)
	chunk("IEND", nil)
	return b
}

func TestPNGOrientation(t *testing.T) {
	for o := 1; o <= 8; o++ {
		for _, bo := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
			if got := PNGOrientation(pngWithExif(exifPayload(bo, uint16(o))[6:])); got != o {
				t.Errorf("orientation %d (%v): got %d", o, bo, got)
			}
		}
	}
	if got := PNGOrientation(pngWithExif(exifPayload(binary.LittleEndian, 6)[6:], "IDAT")); got != 1 {
		t.Errorf("eXIf after IDAT: got %d, want 1", got)
	}
	trunc := pngWithExif(exifPayload(binary.LittleEndian, 6)[6:])
	for n := range len(trunc) {
		if got := PNGOrientation(trunc[:n]); got < 1 || got > 8 {
			t.Fatalf("truncated at %d: %d", n, got)
		}
	}
	if got := PNGOrientation(fakeJPEG(segment(0xE1, exifPayload(binary.LittleEndian, 6)))); got != 1 {
		t.Errorf("a JPEG: got %d, want 1", got)
	}
}
