package preproc

import "image"

// fromWebP converts x/image/webp's output for a lossy (VP8) WebP to BGR the way libwebp does inside
// cv2.imread (WebPDecodeBGRInto): chroma upsampled with libwebp's "fancy" upsampler
// (src/dsp/upsampling.c UPSAMPLE_FUNC, driven as io_dec.c EmitFancyRGB drives it: the first row
// and the last row of an even height mirror their chroma row) and converted with its 14-bit
// BT.601 limited-range formulas (src/dsp/yuv.h VP8YUVToR/G/B). Go's own conversion is JPEG's
// full-range one: 8 levels off on average, 28 at most on the sample face. Written by hand: no Go
// library reproduces libwebp's output.
func fromWebP(s *image.YCbCr) *Image {
	b := s.Bounds()
	w, h := b.Dx(), b.Dy()
	if s.SubsampleRatio != image.YCbCrSubsampleRatio420 || b.Min != (image.Point{}) {
		return FromImage(s) // VP8 is always 4:2:0 from the origin; anything else is not libwebp's
	}
	m := NewImage(w, h)
	if w == 0 || h == 0 {
		return m
	}
	cw, ch := (w+1)/2, (h+1)/2
	crow := func(plane []uint8, r int) []uint8 { return plane[r*s.CStride : r*s.CStride+cw] }
	u, v := make([]uint8, w), make([]uint8, w)
	for y := range h {
		// The two chroma rows of this output row, and whether it is the upper row of its pair
		// (nearer the first chroma row).
		var a, c int
		top := true
		if y > 0 {
			k := (y + 1) / 2
			a, c = k-1, min(k, ch-1)
			top = y%2 == 1
		}
		upsampleWebP(u, crow(s.Cb, a), crow(s.Cb, c), w, top)
		upsampleWebP(v, crow(s.Cr, a), crow(s.Cr, c), w, top)
		yrow := s.Y[y*s.YStride : y*s.YStride+w]
		p := m.Pix[3*y*w : 3*(y+1)*w]
		for x := range w {
			yy, uu, vv := int(yrow[x]), int(u[x]), int(v[x])
			p[3*x] = webpClip(multHi(yy, 19077) + multHi(uu, 33050) - 17685)
			p[3*x+1] = webpClip(multHi(yy, 19077) - multHi(uu, 6419) - multHi(vv, 13320) + 8708)
			p[3*x+2] = webpClip(multHi(yy, 19077) + multHi(vv, 26149) - 14234)
		}
	}
	return m
}

// upsampleWebP is one output row of UPSAMPLE_FUNC for one chroma channel: t is the chroma row
// called top (tl/t), l the one called cur (l/uv); top selects the top_dst or bottom_dst formulas.
func upsampleWebP(out, t, l []uint8, w int, top bool) {
	edge := func(i int) uint8 { // the first and, for an even width, the last sample
		if top {
			return uint8((3*int(t[i]) + int(l[i]) + 2) >> 2)
		}
		return uint8((3*int(l[i]) + int(t[i]) + 2) >> 2)
	}
	out[0] = edge(0)
	for x := 1; x <= (w-1)>>1; x++ {
		tl, tt, ll, uv := int(t[x-1]), int(t[x]), int(l[x-1]), int(l[x])
		avg := tl + tt + ll + uv + 8
		d12 := (avg + 2*(tt+ll)) >> 3
		d03 := (avg + 2*(tl+uv)) >> 3
		if top {
			out[2*x-1], out[2*x] = uint8((d12+tl)>>1), uint8((d03+tt)>>1)
		} else {
			out[2*x-1], out[2*x] = uint8((d03+ll)>>1), uint8((d12+uv)>>1)
		}
	}
	if w%2 == 0 {
		out[w-1] = edge(len(t) - 1)
	}
}

func multHi(v, coeff int) int { return (v * coeff) >> 8 }

// webpClip is VP8Clip8 (YUV_FIX2 = 6).
func webpClip(v int) uint8 {
	const mask = (256 << 6) - 1
	switch {
	case v&^mask == 0:
		return uint8(v >> 6)
	case v < 0:
		return 0
	}
	return 255
}
