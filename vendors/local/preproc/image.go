// Package preproc is the image front end of the offline liveness check (`vendor local`): it turns
// the uploaded bytes into the exact pixels that minivision's Silent-Face-Anti-Spoofing pipeline
// (github.com/minivision-ai/Silent-Face-Anti-Spoofing, Apache-2.0) feeds to its networks.
//
// That pipeline is Python + OpenCV: cv2.imread (EXIF orientation applied), cv2.resize with
// INTER_LINEAR to the detector's ~192x192 area, and CropImage's clamped, scaled face box resized to
// 80x80. The networks were trained on those pixels, so this package reproduces them bit for bit
// where it can: Orientation and Orient reproduce OpenCV's EXIF handling, ResizeLinear reproduces
// OpenCV's fixed-point bilinear resize of 8-bit images, and Crop reproduces CropImage.crop. JPEGs
// get libjpeg's chroma upsampling and colour conversion on top of Go's image/jpeg; only its IDCT
// differs from libjpeg's (a few levels here and there), which is measured, not hidden.
//
// The package is deliberately free of Caddy and of the rest of the module: the standard library and
// golang.org/x/image only.
package preproc

import (
	"fmt"
	"image"
	"image/color"
)

// Image is an 8-bit, 3-channel image in OpenCV's CV_8UC3 layout: rows top to bottom, pixels
// interleaved B, G, R, no padding (row stride 3*W). It is what cv2.imread returns and what the
// networks consume (BGR, 0..255).
type Image struct {
	W, H int
	Pix  []uint8 // len(Pix) == 3*W*H
}

// NewImage returns a black w x h image. It panics if w or h is negative or the size overflows.
func NewImage(w, h int) *Image {
	if w < 0 || h < 0 || (w > 0 && h > (int(^uint(0)>>1)/3)/w) {
		panic(fmt.Sprintf("preproc: invalid image size %dx%d", w, h))
	}
	return &Image{W: w, H: h, Pix: make([]uint8, 3*w*h)}
}

// Clone returns a deep copy of m.
func (m *Image) Clone() *Image {
	c := &Image{W: m.W, H: m.H, Pix: make([]uint8, len(m.Pix))}
	copy(c.Pix, m.Pix)
	return c
}

// BGRAt returns the pixel at (x, y); it panics outside the image.
func (m *Image) BGRAt(x, y int) (b, g, r uint8) {
	if x < 0 || y < 0 || x >= m.W || y >= m.H {
		panic("preproc: BGRAt out of range")
	}
	i := 3 * (y*m.W + x)
	return m.Pix[i], m.Pix[i+1], m.Pix[i+2]
}

// SubImage returns a copy of the rectangle [x0, x1) x [y0, y1), which must lie inside m: the
// equivalent of numpy's img[y0:y1, x0:x1] followed by a copy.
func (m *Image) SubImage(x0, y0, x1, y1 int) *Image {
	if x0 < 0 || y0 < 0 || x1 > m.W || y1 > m.H || x0 > x1 || y0 > y1 {
		panic("preproc: SubImage out of range")
	}
	s := NewImage(x1-x0, y1-y0)
	for y := y0; y < y1; y++ {
		copy(s.Pix[3*(y-y0)*s.W:3*(y-y0+1)*s.W], m.Pix[3*(y*m.W+x0):3*(y*m.W+x1)])
	}
	return s
}

// FromImage converts any image.Image to BGR the way cv2.imread(IMREAD_COLOR) does: gray is
// replicated into the three channels and alpha is dropped (the stored, non-premultiplied colour is
// kept, not composited onto a background). YCbCr uses Go's color.YCbCrToRGB (Decode converts
// JPEGs as libjpeg does instead).
func FromImage(src image.Image) *Image {
	b := src.Bounds()
	m := NewImage(b.Dx(), b.Dy())
	p := m.Pix
	switch s := src.(type) {
	case *image.YCbCr:
		i := 0
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				yi, ci := s.YOffset(x, y), s.COffset(x, y)
				r, g, bl := color.YCbCrToRGB(s.Y[yi], s.Cb[ci], s.Cr[ci])
				p[i], p[i+1], p[i+2] = bl, g, r
				i += 3
			}
		}
	case *image.Gray:
		i := 0
		for y := b.Min.Y; y < b.Max.Y; y++ {
			row := s.Pix[s.PixOffset(b.Min.X, y):]
			for x := 0; x < m.W; x++ {
				v := row[x]
				p[i], p[i+1], p[i+2] = v, v, v
				i += 3
			}
		}
	case *image.NRGBA:
		i := 0
		for y := b.Min.Y; y < b.Max.Y; y++ {
			row := s.Pix[s.PixOffset(b.Min.X, y):]
			for x := 0; x < m.W; x++ {
				p[i], p[i+1], p[i+2] = row[4*x+2], row[4*x+1], row[4*x]
				i += 3
			}
		}
	case *image.RGBA:
		// Premultiplied; opaque images (the common case from image/png) are stored as RGBA.
		i := 0
		for y := b.Min.Y; y < b.Max.Y; y++ {
			row := s.Pix[s.PixOffset(b.Min.X, y):]
			for x := 0; x < m.W; x++ {
				if row[4*x+3] == 255 { // opaque: nothing to un-premultiply
					p[i], p[i+1], p[i+2] = row[4*x+2], row[4*x+1], row[4*x]
				} else {
					c := color.NRGBAModel.Convert(color.RGBA{row[4*x], row[4*x+1], row[4*x+2], row[4*x+3]}).(color.NRGBA)
					p[i], p[i+1], p[i+2] = c.B, c.G, c.R
				}
				i += 3
			}
		}
	default:
		i := 0
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				c := color.NRGBAModel.Convert(src.At(x, y)).(color.NRGBA)
				p[i], p[i+1], p[i+2] = c.B, c.G, c.R
				i += 3
			}
		}
	}
	return m
}

// NRGBA converts m to an opaque *image.NRGBA (for encoding, debugging and tests).
func (m *Image) NRGBA() *image.NRGBA {
	out := image.NewNRGBA(image.Rect(0, 0, m.W, m.H))
	for i, j := 0, 0; i < len(m.Pix); i, j = i+3, j+4 {
		out.Pix[j], out.Pix[j+1], out.Pix[j+2], out.Pix[j+3] = m.Pix[i+2], m.Pix[i+1], m.Pix[i], 255
	}
	return out
}

// CHW returns the image as a planar float32 tensor (B plane, G plane, R plane; N=1 implied) with
// mean[c] subtracted from channel c and no scaling. With mean (104, 117, 123) it is
// cv2.dnn.blobFromImage(img, 1, mean=(104, 117, 123)) — the RetinaFace detector's input; with a
// zero mean it is MiniFASNet's input (BGR, 0..255, NCHW).
func (m *Image) CHW(mean [3]float32) []float32 {
	n := m.W * m.H
	out := make([]float32, 3*n)
	for i := 0; i < n; i++ {
		out[i] = float32(m.Pix[3*i]) - mean[0]
		out[n+i] = float32(m.Pix[3*i+1]) - mean[1]
		out[2*n+i] = float32(m.Pix[3*i+2]) - mean[2]
	}
	return out
}
