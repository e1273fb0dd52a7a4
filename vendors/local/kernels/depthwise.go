package kernels

// dwFunc computes one channel of a depthwise 3x3 convolution; see
// Depthwise3x3PReLU. prelu false means no activation.
type dwFunc func(dst, src []float32, h, w int, kernel *[9]float32, bias float32, prelu bool, slope float32, stride int)

var depthwiseImpl dwFunc = depthwiseGeneric

// DepthwiseOutSize returns the output size of Depthwise3x3 along a
// dimension of input size n: (n-1)/stride + 1 (padding 1, kernel 3).
func DepthwiseOutSize(n, stride int) int {
	if n <= 0 {
		return 0
	}
	return (n-1)/stride + 1
}

// Depthwise3x3 computes one channel of a 3x3 convolution with padding 1
// (zeros) and the given stride (1 or 2), as in a depthwise convolution of an
// NCHW image, one channel at a time:
//
//	dst[y][x] = bias + sum_{dy,dx in 0..2} kernel[3*dy+dx] * src[s*y+dy-1][s*x+dx-1]
//
// src is h x w, dst is oh x ow with oh = DepthwiseOutSize(h, stride) and
// ow = DepthwiseOutSize(w, stride), both row-major; dst is overwritten and
// must not overlap src. kernel is row-major (ONNX weight [c][0][3][3]). It
// panics on a stride other than 1 or 2 or on slices too short.
func Depthwise3x3(dst, src []float32, h, w int, kernel [9]float32, bias float32, stride int) {
	checkDW(dst, src, h, w, stride)
	depthwiseImpl(dst, src, h, w, &kernel, bias, false, 0, stride)
}

// Depthwise3x3PReLU is Depthwise3x3 followed by PReLU with the channel's
// slope: y = x if x > 0, slope*x otherwise (ReLU: slope 0).
func Depthwise3x3PReLU(dst, src []float32, h, w int, kernel [9]float32, bias, slope float32, stride int) {
	checkDW(dst, src, h, w, stride)
	depthwiseImpl(dst, src, h, w, &kernel, bias, true, slope, stride)
}

func checkDW(dst, src []float32, h, w, stride int) {
	if stride != 1 && stride != 2 {
		panic("kernels: Depthwise3x3: stride must be 1 or 2")
	}
	if h < 0 || w < 0 || len(src) < h*w || len(dst) < DepthwiseOutSize(h, stride)*DepthwiseOutSize(w, stride) {
		panic("kernels: Depthwise3x3: slice too short for the dimensions")
	}
}

// dwRows returns the three input rows (dy = 0, 1, 2) of output row y; rows
// outside the image are zero.
func dwRows(src, zero []float32, h, w, y, stride int) (r0, r1, r2 []float32) {
	row := func(iy int) []float32 {
		if iy < 0 || iy >= h {
			return zero
		}
		return src[iy*w : iy*w+w]
	}
	iy := y*stride - 1
	return row(iy), row(iy + 1), row(iy + 2)
}

// dwPoint computes output x of a row with bounds checks on the columns.
func dwPoint(r0, r1, r2 []float32, w, x, stride int, k *[9]float32, bias float32) float32 {
	s := bias
	ix := x*stride - 1 // column of tap dx = 0; ix+1 >= 0 always
	if ix >= 0 {
		s += k[0]*r0[ix] + k[3]*r1[ix] + k[6]*r2[ix]
	}
	if ix+1 < w {
		s += k[1]*r0[ix+1] + k[4]*r1[ix+1] + k[7]*r2[ix+1]
	}
	if ix+2 < w {
		s += k[2]*r0[ix+2] + k[5]*r1[ix+2] + k[8]*r2[ix+2]
	}
	return s
}

// zeroRow is a read-only row of zeros for the padding rows of images up to
// len(zeroRow) wide; wider images take a zeroed scratch buffer.
var zeroRow [1024]float32

// getZero returns w zeros and the pool buffer to put back (nil if none).
func getZero(w int) ([]float32, *[]float32) {
	if w <= len(zeroRow) {
		return zeroRow[:w:w], nil
	}
	zp := getBuf(w)
	clear(*zp)
	return *zp, zp
}

func putZero(zp *[]float32) {
	if zp != nil {
		bufPool.Put(zp)
	}
}

func preluRow(row []float32, slope float32) {
	for i, v := range row {
		if v < 0 {
			row[i] = v * slope
		}
	}
}

// depthwiseGeneric is the pure-Go depthwise kernel.
func depthwiseGeneric(dst, src []float32, h, w int, k *[9]float32, bias float32, prelu bool, slope float32, stride int) {
	oh, ow := DepthwiseOutSize(h, stride), DepthwiseOutSize(w, stride)
	if oh == 0 || ow == 0 {
		return
	}
	zero, zp := getZero(w)
	// Interior columns: 1 <= x <= xi, where s*x+1 <= w-1.
	xi := min(ow-1, (w-2)/stride)
	k0, k1, k2, k3, k4, k5, k6, k7, k8 := k[0], k[1], k[2], k[3], k[4], k[5], k[6], k[7], k[8]
	for y := 0; y < oh; y++ {
		r0, r1, r2 := dwRows(src, zero, h, w, y, stride)
		out := dst[y*ow : y*ow+ow]
		out[0] = dwPoint(r0, r1, r2, w, 0, stride, k, bias)
		if stride == 1 {
			for x := 1; x <= xi; x++ {
				a, b, c := r0[x-1:x+2:x+2], r1[x-1:x+2:x+2], r2[x-1:x+2:x+2]
				out[x] = bias + k0*a[0] + k1*a[1] + k2*a[2] + k3*b[0] + k4*b[1] + k5*b[2] + k6*c[0] + k7*c[1] + k8*c[2]
			}
		} else {
			for x := 1; x <= xi; x++ {
				i := 2*x - 1
				a, b, c := r0[i:i+3:i+3], r1[i:i+3:i+3], r2[i:i+3:i+3]
				out[x] = bias + k0*a[0] + k1*a[1] + k2*a[2] + k3*b[0] + k4*b[1] + k5*b[2] + k6*c[0] + k7*c[1] + k8*c[2]
			}
		}
		for x := max(1, xi+1); x < ow; x++ {
			out[x] = dwPoint(r0, r1, r2, w, x, stride, k, bias)
		}
		if prelu {
			preluRow(out, slope)
		}
	}
	putZero(zp)
}
