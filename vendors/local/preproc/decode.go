package preproc

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"

	"golang.org/x/image/bmp"
	"golang.org/x/image/webp"
)

// DefaultMaxPixels is the pixel limit Decode applies when it is given maxPixels <= 0.
const DefaultMaxPixels = 40_000_000

var (
	// ErrFormat is returned for data that is not JPEG, PNG, GIF, WebP or BMP.
	ErrFormat = errors.New("preproc: unsupported image format (want JPEG, PNG, WebP, GIF or BMP)")
	// ErrTooLarge is returned, before any pixel is decoded, for an image over the pixel limit.
	ErrTooLarge = errors.New("preproc: image too large")
)

type codec struct {
	name   string
	config func([]byte) (image.Config, error)
	decode func([]byte) (image.Image, error)
}

func wrap(c func(r *bytes.Reader) (image.Config, error), d func(r *bytes.Reader) (image.Image, error)) (func([]byte) (image.Config, error), func([]byte) (image.Image, error)) {
	return func(b []byte) (image.Config, error) { return c(bytes.NewReader(b)) },
		func(b []byte) (image.Image, error) { return d(bytes.NewReader(b)) }
}

// sniff picks the decoder from the magic bytes. The formats are dispatched explicitly rather than
// through image.Decode so that the accepted set does not grow with whatever else the binary
// registers.
func sniff(b []byte) (codec, bool) {
	var c codec
	switch {
	case len(b) >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF:
		c.name = "jpeg"
		c.config, c.decode = wrap(func(r *bytes.Reader) (image.Config, error) { return jpeg.DecodeConfig(r) },
			func(r *bytes.Reader) (image.Image, error) { return jpeg.Decode(r) })
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		c.name = "png"
		c.config, c.decode = wrap(func(r *bytes.Reader) (image.Config, error) { return png.DecodeConfig(r) },
			func(r *bytes.Reader) (image.Image, error) { return png.Decode(r) })
	case bytes.HasPrefix(b, []byte("GIF87a")) || bytes.HasPrefix(b, []byte("GIF89a")):
		c.name = "gif"
		c.config, c.decode = wrap(func(r *bytes.Reader) (image.Config, error) { return gif.DecodeConfig(r) },
			func(r *bytes.Reader) (image.Image, error) { return gif.Decode(r) })
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		c.name = "webp"
		c.config, c.decode = wrap(func(r *bytes.Reader) (image.Config, error) { return webp.DecodeConfig(r) },
			func(r *bytes.Reader) (image.Image, error) { return webp.Decode(r) })
	case bytes.HasPrefix(b, []byte("BM")):
		c.name = "bmp"
		c.config, c.decode = wrap(func(r *bytes.Reader) (image.Config, error) { return bmp.DecodeConfig(r) },
			func(r *bytes.Reader) (image.Image, error) { return bmp.Decode(r) })
	default:
		return c, false
	}
	return c, true
}

// Decode decodes a JPEG, PNG, GIF (first frame), WebP or BMP image into BGR, with the JPEG's EXIF
// orientation applied, as cv2.imread(path, IMREAD_COLOR) does in minivision's pipeline.
//
// The size is read from the header first (image.DecodeConfig) and an image of more than maxPixels
// pixels (DefaultMaxPixels when maxPixels <= 0), or of zero size, is refused with ErrTooLarge /
// an error before any pixel buffer is allocated.
//
// EXIF orientation is read from JPEG (the first APP1 "Exif" segment, also after an XMP one, where
// OpenCV 4.6 reads only the first APP1 and would not orient) and PNG (the eXIf chunk), as OpenCV
// 4.6's imread does for the other formats: none.
//
// Decode does not downscale large images early. minivision's crops come from the full-resolution
// image through INTER_LINEAR, which for a large reduction samples just the two nearest source
// pixels per axis; any earlier reduction (a box filter, libjpeg's DCT scaling) averages those
// pixels with their neighbours and changes the crop's fine texture — the very signal the
// anti-spoofing models read (moiré, print dots) — by far more than the ±1 this package otherwise
// guarantees. No early-downscale rule keeps the result unchanged, so memory is bounded by
// maxPixels instead (about 4 bytes per pixel for the decoded image plus 3 for the BGR copy).
func Decode(data []byte, maxPixels int64) (*Image, error) {
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	c, ok := sniff(data)
	if !ok {
		return nil, ErrFormat
	}
	cfg, err := c.config(data)
	if err != nil {
		return nil, fmt.Errorf("preproc: %s header: %w", c.name, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, fmt.Errorf("preproc: %s image has no pixels (%dx%d)", c.name, cfg.Width, cfg.Height)
	}
	if int64(cfg.Width)*int64(cfg.Height) > maxPixels {
		return nil, fmt.Errorf("%w: %dx%d is over %d pixels", ErrTooLarge, cfg.Width, cfg.Height, maxPixels)
	}
	img, err := c.decode(data)
	if err != nil {
		return nil, fmt.Errorf("preproc: %s: %w", c.name, err)
	}
	if b := img.Bounds(); int64(b.Dx())*int64(b.Dy()) > maxPixels || b.Empty() {
		return nil, fmt.Errorf("%w: decoded %dx%d", ErrTooLarge, b.Dx(), b.Dy())
	}
	var m *Image
	switch y := img.(type) {
	case *image.YCbCr:
		switch c.name {
		case "jpeg":
			m = fromJPEG(y)
		case "webp":
			m = fromWebP(y)
		}
	case *image.NYCbCrA: // lossy WebP with alpha: libwebp's BGR output drops the alpha
		if c.name == "webp" {
			m = fromWebP(&y.YCbCr)
		}
	}
	if m == nil {
		m = FromImage(img)
	}
	switch c.name {
	case "jpeg":
		m = Orient(m, Orientation(data))
	case "png":
		m = Orient(m, PNGOrientation(data))
	}
	return m, nil
}

// Orient applies an EXIF orientation (1..8) to m, giving the image as it is meant to be shown;
// any other value returns m unchanged. Orientations 5..8 swap width and height. The mapping is the
// one OpenCV's imread applies (loadsave.cpp ExifTransform: 2 flip-x, 3 flip both, 4 flip-y,
// 5 transpose, 6 transpose+flip-x (90° clockwise), 7 transpose+flip both, 8 transpose+flip-y
// (90° counter-clockwise)), computed here in one pass.
func Orient(m *Image, orientation int) *Image {
	if orientation < 2 || orientation > 8 {
		return m
	}
	w, h := m.W, m.H
	dw, dh := w, h
	if orientation >= 5 {
		dw, dh = h, w
	}
	out := NewImage(dw, dh)
	// For each source pixel (sx, sy): destination (dx, dy) = (ax*sx + bx*sy + cx, ay*sx + by*sy + cy).
	var ax, bx, cx, ay, by, cy int
	switch orientation {
	case 2:
		ax, cx, by = -1, w-1, 1
	case 3:
		ax, cx, by, cy = -1, w-1, -1, h-1
	case 4:
		ax, by, cy = 1, -1, h-1
	case 5:
		bx, ay = 1, 1
	case 6:
		bx, cx, ay = -1, h-1, 1
	case 7:
		bx, cx, ay, cy = -1, h-1, -1, w-1
	case 8:
		bx, ay, cy = 1, -1, w-1
	}
	// Step of the destination index per source step in x, and its value at (0, sy).
	stepX := 3 * (ay*dw + ax)
	for sy := 0; sy < h; sy++ {
		d := 3 * ((by*sy+cy)*dw + bx*sy + cx)
		s := m.Pix[3*sy*w : 3*(sy+1)*w]
		for sx := 0; sx < 3*w; sx += 3 {
			out.Pix[d], out.Pix[d+1], out.Pix[d+2] = s[sx], s[sx+1], s[sx+2]
			d += stepX
		}
	}
	return out
}
