package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func refDepthwise(src []float32, h, w int, k *[9]float32, bias float32, prelu bool, slope float32, stride int) []float32 {
	oh, ow := DepthwiseOutSize(h, stride), DepthwiseOutSize(w, stride)
	out := make([]float32, oh*ow)
	for y := 0; y < oh; y++ {
		for x := 0; x < ow; x++ {
			s := float64(bias)
			for dy := 0; dy < 3; dy++ {
				for dx := 0; dx < 3; dx++ {
					iy, ix := y*stride+dy-1, x*stride+dx-1
					if iy >= 0 && iy < h && ix >= 0 && ix < w {
						s += float64(k[3*dy+dx]) * float64(src[iy*w+ix])
					}
				}
			}
			if prelu && s < 0 {
				s *= float64(slope)
			}
			out[y*ow+x] = float32(s)
		}
	}
	return out
}

func dwImpls() map[string]dwFunc {
	m := map[string]dwFunc{"purego": depthwiseGeneric}
	if depthwiseAsm != nil {
		m["asm"] = depthwiseAsm
	}
	return m
}

func runDW(t *testing.T, name string, f dwFunc, r *rand.Rand, h, w, stride int, prelu bool) {
	t.Helper()
	src := randSlice(r, h*w)
	var k [9]float32
	copy(k[:], randSlice(r, 9))
	bias, slope := r.Float32()-0.5, r.Float32()
	want := refDepthwise(src, h, w, &k, bias, prelu, slope, stride)
	dst := make([]float32, len(want)+9)
	for i := range dst {
		dst[i] = 999
	}
	f(dst[:len(want)], src, h, w, &k, bias, prelu, slope, stride)
	for i, wv := range want {
		if d := math.Abs(float64(dst[i] - wv)); d > 1e-5*10 || math.IsNaN(float64(dst[i])) {
			t.Fatalf("%s h=%d w=%d s=%d prelu=%v: dst[%d] = %g, want %g", name, h, w, stride, prelu, i, dst[i], wv)
		}
	}
	for i := len(want); i < len(dst); i++ {
		if dst[i] != 999 {
			t.Fatalf("%s h=%d w=%d s=%d: wrote past dst", name, h, w, stride)
		}
	}
}

func TestDepthwise(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for name, f := range dwImpls() {
		for _, stride := range []int{1, 2} {
			for h := 0; h <= 12; h++ {
				for w := 0; w <= 60; w++ {
					runDW(t, name, f, r, h, w, stride, (h+w)%2 == 0)
				}
			}
			for _, s := range [][2]int{{40, 40}, {20, 20}, {10, 10}, {5, 5}, {80, 80}, {96, 96}, {97, 65}} {
				runDW(t, name, f, r, s[0], s[1], stride, true)
				runDW(t, name, f, r, s[0], s[1], stride, false)
			}
		}
	}
}

func TestDepthwiseExported(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	h, w := 21, 37
	src := randSlice(r, h*w)
	k := [9]float32{1, -2, 3, -4, 5, -6, 7, -8, 9}
	for _, s := range []int{1, 2} {
		dst := make([]float32, DepthwiseOutSize(h, s)*DepthwiseOutSize(w, s))
		Depthwise3x3(dst, src, h, w, k, 0.5, s)
		want := refDepthwise(src, h, w, &k, 0.5, false, 0, s)
		Depthwise3x3PReLU(dst[:0:0], nil, 0, 0, k, 0, 0, s) // empty is fine
		for i := range want {
			if math.Abs(float64(dst[i]-want[i])) > 1e-4 {
				t.Fatalf("stride %d: dst[%d] = %g, want %g", s, i, dst[i], want[i])
			}
		}
		Depthwise3x3PReLU(dst, src, h, w, k, 0.5, 0.25, s)
		want = refDepthwise(src, h, w, &k, 0.5, true, 0.25, s)
		for i := range want {
			if math.Abs(float64(dst[i]-want[i])) > 1e-4 {
				t.Fatalf("prelu stride %d: dst[%d] = %g, want %g", s, i, dst[i], want[i])
			}
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("stride 3: no panic")
		}
	}()
	Depthwise3x3(make([]float32, 100), src, h, w, k, 0, 3)
}

func FuzzDepthwise(f *testing.F) {
	f.Add(uint8(40), uint8(40), uint64(1), true, false)
	f.Fuzz(func(t *testing.T, h, w uint8, seed uint64, s2, prelu bool) {
		r := rand.New(rand.NewPCG(seed, 1))
		stride := 1
		if s2 {
			stride = 2
		}
		for name, fn := range dwImpls() {
			runDW(t, name, fn, r, int(h%100), int(w%100), stride, prelu)
		}
	})
}

// BenchmarkDepthwise: 32 channels per op; GMAC/s counts 9 MACs per output.
func BenchmarkDepthwise(b *testing.B) {
	r := rand.New(rand.NewPCG(15, 16))
	const ch = 32
	for _, s := range [][3]int{{80, 80, 2}, {40, 40, 1}, {40, 40, 2}, {20, 20, 1}, {20, 20, 2}, {10, 10, 1}, {10, 10, 2}, {5, 5, 1}, {96, 96, 1}, {96, 96, 2}} {
		h, w, stride := s[0], s[1], s[2]
		src := randSlice(r, ch*h*w)
		oh, ow := DepthwiseOutSize(h, stride), DepthwiseOutSize(w, stride)
		dst := make([]float32, ch*oh*ow)
		k := [9]float32{1, 2, 3, 4, 5, 6, 7, 8, 9}
		for _, name := range []string{"asm", "purego"} {
			f := dwImpls()[name]
			if f == nil {
				continue
			}
			b.Run(fmt.Sprintf("%dx%d/s%d/%s", h, w, stride, name), func(b *testing.B) {
				for b.Loop() {
					for c := 0; c < ch; c++ {
						f(dst[c*oh*ow:(c+1)*oh*ow], src[c*h*w:(c+1)*h*w], h, w, &k, 0.1, true, 0.25, stride)
					}
				}
				b.ReportMetric(float64(9*ch*oh*ow)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMAC/s")
			})
		}
	}
}
