package differential

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
)

// images hands out small, distinct, real images: each call a new colour
// and pattern, deterministically.
type images struct{ n int }

func (g *images) pic() *image.RGBA {
	g.n++
	n := g.n
	m := image.NewRGBA(image.Rect(0, 0, 64, 64))
	c := color.RGBA{uint8(n * 53), uint8(n*97 + 40), uint8(n*29 + 90), 255}
	for y := range 64 {
		for x := range 64 {
			p := c
			// The case number in the low rows makes every image distinct
			// even when colours repeat.
			if y >= 56 && x/4 < 16 && (n>>(x/4))&1 == 1 {
				p = color.RGBA{255 - c.R, 255 - c.G, 255 - c.B, 255}
			}
			if (x/8+y/8)%2 == 0 {
				p.R ^= 0x20
			}
			m.SetRGBA(x, y, p)
		}
	}
	return m
}

// JPEG returns a new 64x64 JPEG.
func (g *images) JPEG() []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, g.pic(), &jpeg.Options{Quality: 80}); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// PNG returns a new 64x64 PNG.
func (g *images) PNG() []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, g.pic()); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// TIFF returns a new small uncompressed TIFF (little-endian, 8x8 grey):
// an image type the gate cannot check.
func (g *images) TIFF() []byte {
	g.n++
	const w, h = 8, 8
	var b bytes.Buffer
	b.WriteString("II*\x00")
	binary.Write(&b, binary.LittleEndian, uint32(8))
	type entry struct {
		tag, typ uint16
		count    uint32
		value    uint32
	}
	pixOff := uint32(8 + 2 + 8*12 + 4)
	entries := []entry{
		{256, 3, 1, w}, {257, 3, 1, h}, {258, 3, 1, 8}, {259, 3, 1, 1},
		{262, 3, 1, 1}, {273, 4, 1, pixOff}, {278, 3, 1, h}, {279, 4, 1, w * h},
	}
	binary.Write(&b, binary.LittleEndian, uint16(len(entries)))
	for _, e := range entries {
		binary.Write(&b, binary.LittleEndian, e)
	}
	binary.Write(&b, binary.LittleEndian, uint32(0))
	for i := range w * h {
		b.WriteByte(byte(i*4 + g.n))
	}
	return b.Bytes()
}

// HEIC returns a blob that starts like a HEIC file (an ftyp box of brand
// heic): an image type the gate cannot check.
func (g *images) HEIC() []byte {
	g.n++
	b := []byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic")
	b = append(b, "\x00\x00\x00\x10meta\x00\x00\x00\x00"...)
	return append(b, byte(g.n), byte(g.n>>8), 0xAA, 0x55)
}

// Sum is the lowercase hex SHA-256 of b.
func Sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
