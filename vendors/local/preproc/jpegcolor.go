package preproc

import (
	"image"
)

// fromJPEG converts image/jpeg's output to BGR the way libjpeg(-turbo) does inside cv2.imread,
// which Go's own conversion does not: chroma subsampled 2x horizontally and/or vertically is
// upsampled with libjpeg's triangle ("fancy") filter (jdsample.c h2v1_, h2v2_ and
// h1v2_fancy_upsample; other ratios replicate samples, as libjpeg's int_upsample does), and YCbCr
// becomes RGB through jdcolor.c's 16-bit fixed-point tables. Go repeats chroma samples and rounds
// its conversion differently, which moved pixels by up to ~50 levels at colour edges and, through
// the face box, the score by up to 0.05.
//
// The IDCT remains Go's (within 1 level of libjpeg's islow here and there). Written by hand: no Go
// library reproduces libjpeg's output.
func fromJPEG(s *image.YCbCr) *Image {
	b := s.Bounds()
	w, h := b.Dx(), b.Dy()
	m := NewImage(w, h)
	if w == 0 || h == 0 {
		return m
	}
	var hs, vs int // chroma subsampling factors
	switch s.SubsampleRatio {
	case image.YCbCrSubsampleRatio444:
		hs, vs = 1, 1
	case image.YCbCrSubsampleRatio422:
		hs, vs = 2, 1
	case image.YCbCrSubsampleRatio420:
		hs, vs = 2, 2
	case image.YCbCrSubsampleRatio440:
		hs, vs = 1, 2
	case image.YCbCrSubsampleRatio411:
		hs, vs = 4, 1
	case image.YCbCrSubsampleRatio410:
		hs, vs = 4, 2
	default:
		return FromImage(s)
	}
	cw, ch := (w+hs-1)/hs, (h+vs-1)/vs // libjpeg's downsampled_width and _height
	fancy := (hs == 2 || hs == 1) && (vs == 2 || vs == 1) && hs*vs > 1
	cb := make([]uint8, w)
	cr := make([]uint8, w)
	for y := 0; y < h; y++ {
		cy := y / vs
		row := func(plane []uint8, r int) []uint8 {
			r = min(max(r, 0), ch-1) // libjpeg's context rows repeat the edge rows
			o := s.COffset(b.Min.X, b.Min.Y+r*vs)
			return plane[o : o+cw]
		}
		for k, out := range [2][]uint8{cb, cr} {
			plane := s.Cb
			if k == 1 {
				plane = s.Cr
			}
			near := row(plane, cy)
			if !fancy {
				for x := range w {
					out[x] = near[x/hs]
				}
				continue
			}
			if vs == 1 { // h2v1
				upsampleH2V1(out, near, w)
				continue
			}
			// The other row of the pair: above for the first output row of a chroma row, below
			// for the second.
			first := y%2 == 0
			far := row(plane, cy+1)
			if first {
				far = row(plane, cy-1)
			}
			if hs == 1 { // h1v2
				bias := 2
				if first {
					bias = 1
				}
				for x := range w {
					out[x] = uint8((3*int(near[x]) + int(far[x]) + bias) >> 2)
				}
				continue
			}
			upsampleH2V2(out, near, far, w)
		}
		yrow := s.Y[s.YOffset(b.Min.X, b.Min.Y+y):]
		p := m.Pix[3*y*w : 3*(y+1)*w]
		for x := range w {
			yy := int32(yrow[x])
			r := yy + crR[cr[x]]
			g := yy + (cbG[cb[x]]+crG[cr[x]])>>16
			bl := yy + cbB[cb[x]]
			p[3*x], p[3*x+1], p[3*x+2] = clamp8(bl), clamp8(g), clamp8(r)
		}
	}
	return m
}

// upsampleH2V1 is jdsample.c's h2v1_fancy_upsample for one row, cut to w output samples.
func upsampleH2V1(out, in []uint8, w int) {
	n := len(in)
	for i := range n {
		v := 3 * int(in[i])
		l, r := int(in[max(i-1, 0)]), int(in[min(i+1, n-1)])
		a, c := (v+l+1)>>2, (v+r+2)>>2
		if i == 0 {
			a = int(in[0])
		}
		if i == n-1 {
			c = int(in[n-1])
		}
		if 2*i < w {
			out[2*i] = uint8(a)
		}
		if 2*i+1 < w {
			out[2*i+1] = uint8(c)
		}
	}
}

// upsampleH2V2 is jdsample.c's h2v2_fancy_upsample for one output row: near is the chroma row of
// the output row, far the row above or below it; cut to w output samples.
func upsampleH2V2(out, near, far []uint8, w int) {
	n := len(near)
	sum := func(i int) int { return 3*int(near[i]) + int(far[i]) }
	for i := range n {
		this := sum(i)
		l, r := sum(max(i-1, 0)), sum(min(i+1, n-1))
		a, c := (3*this+l+8)>>4, (3*this+r+7)>>4
		if i == 0 {
			a = (4*this + 8) >> 4
		}
		if i == n-1 {
			c = (4*this + 7) >> 4
		}
		if 2*i < w {
			out[2*i] = uint8(a)
		}
		if 2*i+1 < w {
			out[2*i+1] = uint8(c)
		}
	}
}

func clamp8(v int32) uint8 {
	return uint8(min(max(v, 0), 255))
}

// jdcolor.c's build_ycc_rgb_table: SCALEBITS 16, FIX(x) = x*65536 rounded, ONE_HALF added where
// libjpeg adds it; the shifts are arithmetic, as RIGHT_SHIFT.
var crR, cbB, crG, cbG [256]int32

func init() {
	fix := func(x float64) int32 { return int32(x*65536 + 0.5) }
	const half = 1 << 15
	for i := range 256 {
		x := int32(i - 128)
		crR[i] = (fix(1.40200)*x + half) >> 16
		cbB[i] = (fix(1.77200)*x + half) >> 16
		crG[i] = -fix(0.71414) * x
		cbG[i] = -fix(0.34414)*x + half
	}
}
