package vendortest

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
)

const sampleSide = 96

// sampleImage is a gradient rather than a flat colour so that the encoders
// produce a realistic, non-trivial payload.
func sampleImage() image.Image {
	img := image.NewNRGBA(image.Rect(0, 0, sampleSide, sampleSide))
	for y := 0; y < sampleSide; y++ {
		for x := 0; x < sampleSide; x++ {
			img.Set(x, y, color.NRGBA{R: uint8(x * 255 / sampleSide), G: uint8(y * 255 / sampleSide), B: 128, A: 255})
		}
	}
	return img
}

// SampleJPEG returns a small decodable JPEG carrying marker in a COM
// segment right after SOI. It panics if CheckMarker(marker) fails: a test
// would otherwise silently send a different marker.
func SampleJPEG(marker string) []byte {
	return SampleJPEGSize(marker, 0)
}

// SampleJPEGSize is SampleJPEG padded with further COM segments to a total
// of at least n and at most n+3 bytes (exactly n whenever padding is needed
// and n is at least 4 bytes above the unpadded size). As in a photo, whose
// bulk is entropy-coded data after the frame header, the padding follows
// the SOF segment and holds pseudo-random bytes (the same for every call):
// a reader of the header, such as image.DecodeConfig, does not walk
// through it, and a scan for a multipart boundary meets the byte values a
// photo has.
func SampleJPEGSize(marker string, n int) []byte {
	if err := CheckMarker(marker); err != nil {
		panic("vendortest: " + err.Error())
	}
	var enc bytes.Buffer
	if err := jpeg.Encode(&enc, sampleImage(), &jpeg.Options{Quality: 85}); err != nil {
		panic("vendortest: " + err.Error())
	}
	base := enc.Bytes()
	text := MarkerPrefix + marker

	size := len(base) + 4 + len(text)
	pad := n - size
	out := make([]byte, 0, max(size, n+3))
	out = append(out, base[:2]...) // SOI
	out = appendJPEGCOM(out, []byte(text))
	afterSOF := endOfSOF(base)
	out = append(out, base[2:afterSOF]...)
	if pad > 0 {
		// Each segment costs 4 bytes of header and holds at most 65533
		// bytes, so spread the padding evenly over as few as possible.
		const maxSeg = 4 + 65533
		segs := (pad + maxSeg - 1) / maxSeg
		payload := max(pad-4*segs, 0)
		noise := make([]byte, 65533)
		x := uint32(2463534242)
		for i := range noise {
			x ^= x << 13
			x ^= x >> 17
			x ^= x << 5
			noise[i] = byte(x)
		}
		for i := 0; i < segs; i++ {
			k := payload / segs
			if i < payload%segs {
				k++
			}
			out = appendJPEGCOM(out, noise[:k])
		}
	}
	return append(out, base[afterSOF:]...)
}

// endOfSOF returns the offset just after the frame header (SOFn) segment
// of a JPEG written by image/jpeg.
func endOfSOF(b []byte) int {
	for i := 2; i+4 <= len(b) && b[i] == 0xFF; {
		m := b[i+1]
		end := i + 2 + int(binary.BigEndian.Uint16(b[i+2:]))
		if m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC {
			return end
		}
		i = end
	}
	panic("vendortest: no SOF segment in the encoded sample")
}

func appendJPEGCOM(b, payload []byte) []byte {
	b = append(b, 0xFF, 0xFE)
	b = binary.BigEndian.AppendUint16(b, uint16(len(payload)+2))
	return append(b, payload...)
}

// SamplePNG returns a small decodable PNG carrying marker in a tEXt chunk
// (keyword "Comment") right after IHDR. The text ends with a newline
// because the chunk's CRC follows it and could otherwise extend the
// marker. It panics if CheckMarker(marker) fails.
func SamplePNG(marker string) []byte {
	if err := CheckMarker(marker); err != nil {
		panic("vendortest: " + err.Error())
	}
	var enc bytes.Buffer
	if err := png.Encode(&enc, sampleImage()); err != nil {
		panic("vendortest: " + err.Error())
	}
	base := enc.Bytes()
	const afterIHDR = 8 + 4 + 4 + 13 + 4 // signature, length, type, data, CRC

	data := []byte("Comment\x00" + MarkerPrefix + marker + "\n")
	out := make([]byte, 0, len(base)+12+len(data))
	out = append(out, base[:afterIHDR]...)
	out = binary.BigEndian.AppendUint32(out, uint32(len(data)))
	chunk := append([]byte("tEXt"), data...)
	out = append(out, chunk...)
	out = binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(chunk))
	return append(out, base[afterIHDR:]...)
}

// SampleMP4 returns the start of an MP4 file carrying marker: an ftyp box
// (brand isom, compatible isom and mp41), a free box with the marker and
// an empty mdat box. It sniffs as video/mp4; no emulator plays it.
func SampleMP4(marker string) []byte {
	if err := CheckMarker(marker); err != nil {
		panic("vendortest: " + err.Error())
	}
	box := func(typ string, payload []byte) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(8+len(payload)))
		return append(append(b, typ...), payload...)
	}
	out := box("ftyp", []byte("isom\x00\x00\x02\x00isommp41"))
	out = append(out, box("free", []byte(MarkerPrefix+marker+"\n"))...)
	return append(out, box("mdat", nil)...)
}

// FacelessPNG returns a w x h grey PNG with a faint pattern and no face in
// it: a picture the offline check (vendor local) answers no_face for.
func FacelessPNG(w, h int) []byte {
	m := image.NewGray(image.Rect(0, 0, w, h))
	for i := range m.Pix {
		m.Pix[i] = uint8(100 + i%7)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		panic("vendortest: " + err.Error())
	}
	return b.Bytes()
}
