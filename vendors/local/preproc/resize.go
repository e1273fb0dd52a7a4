package preproc

import (
	"fmt"
	"math"
)

// OpenCV's fixed-point precision for 8-bit resizing (imgproc/src/resize.cpp).
const (
	resizeCoefBits  = 11
	resizeCoefScale = 1 << resizeCoefBits // 2048
)

// ResizeLinear resizes src to dstW x dstH exactly as OpenCV's
// cv2.resize(src, (dstW, dstH), interpolation=cv2.INTER_LINEAR) does for an 8-bit 3-channel image
// (the OpenCV 4.x resize.cpp path for CV_8U: resizeGeneric_ with HResizeLinear / VResizeLinear):
//
//   - scale = 1 / (dst/src) per axis, computed in double as OpenCV does; the source coordinate of
//     destination pixel d is f = float((d+0.5)*scale - 0.5), split into sx = floor(f) and the
//     fraction f - sx, both in float32;
//   - along x, a coordinate left of the first pixel takes pixel 0 and one at or right of the last
//     takes the last pixel (fraction 0); along y the rows are clamped when they are fetched, the
//     fraction is kept;
//   - the two weights are round-half-even(float32(1-f)*2048) and round-half-even(f*2048) (OpenCV's
//     saturate_cast<short>);
//   - the horizontal pass gives exact ints S0*a0 + S1*a1 (scaled by 2048); the vertical pass
//     computes (((b0*(R0>>4))>>16) + ((b1*(R1>>4))>>16) + 2) >> 2, the formula of OpenCV's SIMD
//     kernel VResizeLinearVec_32s8u and of its VResizeLinear<uchar> specialisation — not the
//     textbook (v + 2^21) >> 22, which differs by one on some pixels;
//   - an exact 2x reduction on both axes becomes INTER_AREA, a rounded 2x2 mean, as in OpenCV;
//   - an unchanged size is a copy.
//
// It panics if dstW or dstH is not positive or src is empty (programming errors, like
// image.NewRGBA's).
func ResizeLinear(src *Image, dstW, dstH int) *Image {
	if dstW <= 0 || dstH <= 0 || src == nil || src.W <= 0 || src.H <= 0 {
		panic(fmt.Sprintf("preproc: ResizeLinear of a %v image to %dx%d", sizeOf(src), dstW, dstH))
	}
	return resizeRegion(src, 0, 0, src.W, src.H, dstW, dstH)
}

// resizeRegion is ResizeLinear of the region [x0, x0+w) x [y0, y0+h) of src (which must lie inside
// it), read in place: the result is ResizeLinear(src.SubImage(...)) without the copy, which for
// the crops of a large photo would be tens of megabytes.
func resizeRegion(src *Image, x0, y0, w, h, dstW, dstH int) *Image {
	if dstW == w && dstH == h {
		return src.SubImage(x0, y0, x0+w, y0+h)
	}
	// row returns source row y of the region.
	row := func(y int) []uint8 { o := 3 * ((y0+y)*src.W + x0); return src.Pix[o : o+3*w] }
	scaleX := 1 / (float64(dstW) / float64(w))
	scaleY := 1 / (float64(dstH) / float64(h))
	if isTwo(scaleX) && isTwo(scaleY) {
		return halve(row, dstW, dstH)
	}

	xofs, alpha, xmax := linearTable(w, dstW, scaleX, true)
	yofs, beta, _ := linearTable(h, dstH, scaleY, false)

	dst := NewImage(dstW, dstH)
	width := 3 * dstW
	rows := [2][]int32{make([]int32, width), make([]int32, width)}
	prev := [2]int{-1, -1} // source row held by rows[0], rows[1]
	for dy := 0; dy < dstH; dy++ {
		sy := [2]int{clampInt(yofs[dy], 0, h-1), clampInt(yofs[dy]+1, 0, h-1)}
		for k := 0; k < 2; k++ {
			switch {
			case prev[k] == sy[k]:
			case k == 0 && prev[1] == sy[0]: // moving down one row: reuse the lower row
				rows[0], rows[1] = rows[1], rows[0]
				prev[0], prev[1] = prev[1], prev[0]
			case k == 1 && prev[0] == sy[1]:
				copy(rows[1], rows[0])
				prev[1] = sy[1]
			default:
				hresize(row(sy[k]), rows[k], xofs, alpha, xmax)
				prev[k] = sy[k]
			}
		}
		b0, b1 := beta[2*dy], beta[2*dy+1]
		out := dst.Pix[dy*width : (dy+1)*width]
		r0, r1 := rows[0][:width], rows[1][:width]
		for x := range out {
			out[x] = uint8((((b0 * (r0[x] >> 4)) >> 16) + ((b1 * (r1[x] >> 4)) >> 16) + 2) >> 2)
		}
	}
	return dst
}

func sizeOf(m *Image) string {
	if m == nil {
		return "nil"
	}
	return fmt.Sprintf("%dx%d", m.W, m.H)
}

// isTwo reports OpenCV's "is_area_fast && iscale == 2" test for one axis.
func isTwo(scale float64) bool {
	return math.Abs(scale-2) < 0x1p-52 // DBL_EPSILON
}

// linearTable builds one axis of OpenCV's resize tables: the first source index of each
// destination pixel (ofs) and the two 11-bit weights (coef, interleaved). For x (clampX) it also
// applies OpenCV's border handling and returns xmax, in channel elements, from which on the
// horizontal pass just copies the last pixel (scaled by 2048).
func linearTable(srcLen, dstLen int, scale float64, clampX bool) (ofs []int, coef []int32, xmax int) {
	ofs = make([]int, dstLen)
	coef = make([]int32, 2*dstLen)
	xmax = dstLen
	for d := 0; d < dstLen; d++ {
		p := float64((float64(d) + 0.5) * scale) // explicit conversion: no fused multiply-add
		f := float32(p - 0.5)
		s := int(math.Floor(float64(f)))
		f -= float32(s)
		if clampX {
			if s < 0 {
				f, s = 0, 0
			}
			if s+1 >= srcLen {
				xmax = min(xmax, d)
				if s >= srcLen-1 {
					f, s = 0, srcLen-1
				}
			}
		}
		ofs[d] = s
		coef[2*d] = roundCoef(1 - f)
		coef[2*d+1] = roundCoef(f)
	}
	return ofs, coef, 3 * xmax
}

// roundCoef is saturate_cast<short>(c * INTER_RESIZE_COEF_SCALE) for c in [0, 1]: cvRound, which
// rounds half to even.
func roundCoef(c float32) int32 {
	return int32(math.RoundToEven(float64(c * resizeCoefScale)))
}

// hresize is HResizeLinear<uchar, int, short, 2048> for 3 channels: dst[i] = S[sx]*a0 +
// S[sx+3]*a1 for channel elements i < xmax, S[sx]*2048 after.
func hresize(row []uint8, dst []int32, xofs []int, alpha []int32, xmax int) {
	for dx, sx := range xofs {
		i, s := 3*dx, 3*sx
		if i >= xmax {
			dst[i] = int32(row[s]) * resizeCoefScale
			dst[i+1] = int32(row[s+1]) * resizeCoefScale
			dst[i+2] = int32(row[s+2]) * resizeCoefScale
			continue
		}
		a0, a1 := alpha[2*dx], alpha[2*dx+1]
		dst[i] = int32(row[s])*a0 + int32(row[s+3])*a1
		dst[i+1] = int32(row[s+1])*a0 + int32(row[s+4])*a1
		dst[i+2] = int32(row[s+2])*a0 + int32(row[s+5])*a1
	}
}

// halve is OpenCV's INTER_AREA fast path for an exact 2x reduction, which cv2.resize uses for
// INTER_LINEAR in that case: each pixel is (a + b + c + d + 2) >> 2 of its 2x2 block.
func halve(row func(y int) []uint8, dstW, dstH int) *Image {
	dst := NewImage(dstW, dstH)
	for dy := 0; dy < dstH; dy++ {
		r0, r1 := row(2*dy), row(2*dy+1)
		out := dst.Pix[3*dy*dstW : 3*(dy+1)*dstW]
		for x := 0; x < 3*dstW; x++ {
			i := 2*(x-x%3) + x%3
			out[x] = uint8((int(r0[i]) + int(r0[i+3]) + int(r1[i]) + int(r1[i+3]) + 2) >> 2)
		}
	}
	return dst
}

func clampInt(v, lo, hi int) int {
	return max(lo, min(v, hi))
}

// DetectorInputSize is the size minivision's Detection.get_bbox resizes an image to before its
// RetinaFace detector: (int(192*sqrt(w/h)), int(192/sqrt(w/h))) when w*h >= 192*192, else the image
// is used as it is. The arithmetic is Python's (double precision, truncation).
func DetectorInputSize(w, h int) (int, int) {
	if w*h < 192*192 {
		return w, h
	}
	a := math.Sqrt(float64(w) / float64(h))
	return int(192 * a), int(192 / a)
}
