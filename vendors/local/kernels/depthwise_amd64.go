//go:build amd64 && !purego

package kernels

// dwRow1 and dwRow2 compute 8*chunks outputs of one row of a depthwise 3x3
// convolution, stride 1 and 2, from three input rows given at input column
// s*x-1 of the first output x; chunks must be >= 1 and every read in bounds
// (see depthwise_amd64.s). taps holds k0..k8, bias, slope. Need AVX2+FMA.
//
//go:noescape
func dwRow1(dst, r0, r1, r2 *float32, chunks int, taps *[12]float32, prelu int)

//go:noescape
func dwRow2(dst, r0, r1, r2 *float32, chunks int, taps *[12]float32, prelu int)

// depthwiseAsm is the assembly depthwise kernel when the CPU supports it.
var depthwiseAsm dwFunc

func init() {
	if usesAsm {
		depthwiseAsm = depthwiseAVX2
		depthwiseImpl = depthwiseAVX2
	}
}

// depthwiseAVX2 runs the assembly on the interior of each row: 8-output
// chunks starting at x = 1 whose reads stay inside the row, plus one last
// chunk overlapping the previous one; the few remaining outputs (x = 0, and
// the last one or two) go through dwPoint.
func depthwiseAVX2(dst, src []float32, h, w int, k *[9]float32, bias float32, prelu bool, slope float32, stride int) {
	oh, ow := DepthwiseOutSize(h, stride), DepthwiseOutSize(w, stride)
	if oh == 0 || ow == 0 {
		return
	}
	// xMax is the last chunk start whose reads stay in the row:
	// stride 1 reads x-1 .. x+8, stride 2 reads 2x-1 .. 2x+16.
	xMax := w - 9
	if stride == 2 {
		xMax = (w - 17) / 2
		if w < 17 {
			xMax = 0
		}
	}
	if xMax < 1 {
		depthwiseGeneric(dst, src, h, w, k, bias, prelu, slope, stride)
		return
	}
	var taps [12]float32
	copy(taps[:], k[:])
	taps[9], taps[10] = bias, slope
	fl := 0
	if prelu {
		fl = 1
	}
	row := dwRow1
	if stride == 2 {
		row = dwRow2
	}
	chunks := (xMax-1)/8 + 1 // starts 1, 9, ..., <= xMax
	last := 1 + 8*(chunks-1)
	covered := xMax + 7 // outputs 1..covered come from the assembly
	zero, zp := getZero(w)
	for y := 0; y < oh; y++ {
		r0, r1, r2 := dwRows(src, zero, h, w, y, stride)
		out := dst[y*ow : y*ow+ow]
		row(&out[1], &r0[stride-1], &r1[stride-1], &r2[stride-1], chunks, &taps, fl)
		if last != xMax {
			i := stride*xMax - 1
			row(&out[xMax], &r0[i], &r1[i], &r2[i], 1, &taps, fl)
		}
		out[0] = dwPoint(r0, r1, r2, w, 0, stride, k, bias)
		for x := covered + 1; x < ow; x++ {
			out[x] = dwPoint(r0, r1, r2, w, x, stride, k, bias)
		}
		if prelu {
			if out[0] < 0 {
				out[0] *= slope
			}
			for x := covered + 1; x < ow; x++ {
				if out[x] < 0 {
					out[x] *= slope
				}
			}
		}
	}
	putZero(zp)
}
