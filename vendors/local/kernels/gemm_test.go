package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// refGemm is the naive triple loop in float64, with the same epilogue.
func refGemm(m, n, k int, a, b, bias, slope []float32) []float32 {
	c := make([]float32, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				s += float64(a[i*k+p]) * float64(b[p*n+j])
			}
			if bias != nil {
				s += float64(bias[i])
			}
			if slope != nil && s < 0 {
				s *= float64(slope[i])
			}
			c[i*n+j] = float32(s)
		}
	}
	return c
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = r.Float32()*2 - 1
	}
	return s
}

// impls lists the implementations to test: always pure Go, and the
// assembly when this build and CPU have it.
func impls() map[string]gemmFunc {
	m := map[string]gemmFunc{"purego": gemmGeneric}
	if gemmAsm != nil {
		m["asm"] = gemmAsm
	}
	return m
}

var testShapes = [][3]int{ // m, n, k
	{1, 1, 1}, {3, 5, 7}, {103, 32, 1600}, {231, 64, 400}, {128, 231, 100},
	{16, 16, 16}, {17, 33, 65}, {0, 5, 7}, {5, 0, 7}, {5, 7, 0}, {0, 0, 0},
	{6, 16, 1}, {7, 17, 3}, {5, 15, 9}, {12, 48, 2}, {1, 100, 50}, {100, 1, 50},
	// The conv orientation: Cout x H*W x Cin.
	{103, 1600, 32}, {231, 400, 64}, {128, 100, 231}, {64, 9216, 27},
}

// compare checks got against want within 1e-4 relative to the magnitude of
// the terms (sum |a||b| bounds the rounding error of a dot product).
func compare(t *testing.T, name string, m, n, k int, a, b, got, want []float32) {
	t.Helper()
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var mag float64
			for p := 0; p < k; p++ {
				mag += math.Abs(float64(a[i*k+p]) * float64(b[p*n+j]))
			}
			g, w := float64(got[i*n+j]), float64(want[i*n+j])
			if d := math.Abs(g - w); d > 1e-4*math.Max(1, math.Max(mag, math.Abs(w))) || math.IsNaN(g) {
				t.Fatalf("%s %dx%dx%d: C[%d,%d] = %g, want %g", name, m, n, k, i, j, g, w)
			}
		}
	}
}

func runCase(t *testing.T, name string, f gemmFunc, r *rand.Rand, m, n, k int, withBias, withPReLU bool) {
	t.Helper()
	a, b := randSlice(r, m*k), randSlice(r, k*n)
	var bias, slope []float32
	if withBias {
		bias = randSlice(r, m)
	}
	if withPReLU {
		slope = randSlice(r, m)
	}
	want := refGemm(m, n, k, a, b, bias, slope)
	// C is pre-filled with garbage and guarded by a canary: C must be
	// overwritten and nothing written past m*n.
	c := make([]float32, m*n+17)
	for i := range c {
		c[i] = 12345
	}
	f(m, n, k, a, b, c[:m*n], bias, slope)
	compare(t, name, m, n, k, a, b, c, want)
	for i := m * n; i < len(c); i++ {
		if c[i] != 12345 {
			t.Fatalf("%s %dx%dx%d: wrote past C at %d", name, m, n, k, i)
		}
	}
}

func TestGemm(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for name, f := range impls() {
		for _, s := range testShapes {
			for _, mode := range []struct{ bias, prelu bool }{{false, false}, {true, false}, {true, true}, {false, true}} {
				t.Run(fmt.Sprintf("%s/%dx%dx%d/bias=%v/prelu=%v", name, s[0], s[1], s[2], mode.bias, mode.prelu), func(t *testing.T) {
					runCase(t, name, f, r, s[0], s[1], s[2], mode.bias, mode.prelu)
				})
			}
		}
	}
}

// TestAllSmallShapes sweeps every shape up to 13x35x9, covering each
// remainder of m%6, m%4, n%16 and n%4.
func TestAllSmallShapes(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for name, f := range impls() {
		for m := 0; m <= 13; m++ {
			for n := 0; n <= 35; n++ {
				for _, k := range []int{0, 1, 2, 9} {
					runCase(t, name, f, r, m, n, k, m%2 == 0, n%3 == 0)
				}
			}
		}
	}
}

// TestPureGoPath makes sure the pure-Go path is tested explicitly even when
// the exported functions dispatch to the assembly.
func TestPureGoPath(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, s := range testShapes {
		runCase(t, "purego", gemmGeneric, r, s[0], s[1], s[2], true, true)
	}
	t.Logf("exported functions use asm: %v", UsesAsm())
}

func TestExported(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	m, n, k := 17, 33, 65
	a, b, bias, slope := randSlice(r, m*k), randSlice(r, k*n), randSlice(r, m), randSlice(r, m)
	c := make([]float32, m*n)
	Gemm(m, n, k, a, b, c)
	compare(t, "Gemm", m, n, k, a, b, c, refGemm(m, n, k, a, b, nil, nil))
	GemmBias(m, n, k, a, b, c, bias)
	compare(t, "GemmBias", m, n, k, a, b, c, refGemm(m, n, k, a, b, bias, nil))
	GemmBiasPReLU(m, n, k, a, b, c, bias, slope)
	compare(t, "GemmBiasPReLU", m, n, k, a, b, c, refGemm(m, n, k, a, b, bias, slope))
	GemmBiasPReLU(m, n, k, a, b, c, nil, slope)
	compare(t, "GemmBiasPReLU/nobias", m, n, k, a, b, c, refGemm(m, n, k, a, b, nil, slope))
}

func TestPanics(t *testing.T) {
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s: no panic", name)
			}
		}()
		f()
	}
	s := make([]float32, 10)
	mustPanic("short a", func() { Gemm(3, 3, 3, s[:8], s, s) })
	mustPanic("short c", func() { Gemm(2, 5, 1, s, s, s[:9]) })
	mustPanic("negative", func() { Gemm(-1, 1, 1, s, s, s) })
	mustPanic("short bias", func() { GemmBias(4, 1, 1, s, s, s, s[:3]) })
	mustPanic("nil slope", func() { GemmBiasPReLU(1, 1, 1, s, s, s, nil, nil) })
}

func FuzzGemm(f *testing.F) {
	f.Add(uint8(17), uint8(33), uint8(65), uint64(1), true, false)
	f.Add(uint8(1), uint8(1), uint8(1), uint64(2), false, true)
	f.Fuzz(func(t *testing.T, m, n, k uint8, seed uint64, withBias, withPReLU bool) {
		r := rand.New(rand.NewPCG(seed, 0))
		for name, fn := range impls() {
			runCase(t, name, fn, r, int(m%80), int(n%80), int(k%80), withBias, withPReLU)
		}
	})
}

var benchShapes = [][3]int{ // m, n, k
	{103, 32, 1600}, {231, 64, 400}, {128, 231, 100}, // as listed
	{103, 1600, 32}, {231, 400, 64}, {128, 100, 231}, // Cout x H*W x Cin
	{16, 16, 16}, {17, 33, 65},
	{64, 2304, 288}, // a 3x3 conv via im2col: Cout 64, 48x48, Cin 32
}

// BenchmarkGemm reports GMAC/s (m*n*k per call) for asm and pure Go side by
// side: go test -bench Gemm -run '^$' ./vendors/local/kernels/
func BenchmarkGemm(b *testing.B) {
	r := rand.New(rand.NewPCG(9, 10))
	names := []string{"asm", "purego"}
	fs := impls()
	for _, s := range benchShapes {
		m, n, k := s[0], s[1], s[2]
		a, bb, c := randSlice(r, m*k), randSlice(r, k*n), make([]float32, m*n)
		bias, slope := randSlice(r, m), randSlice(r, m)
		for _, name := range names {
			f := fs[name]
			if f == nil {
				continue
			}
			for _, ep := range []string{"plain", "biasprelu"} {
				b.Run(fmt.Sprintf("%dx%dx%d/%s/%s", m, n, k, name, ep), func(b *testing.B) {
					bi, sl := bias, slope
					if ep == "plain" {
						bi, sl = nil, nil
					}
					for b.Loop() {
						f(m, n, k, a, bb, c, bi, sl)
					}
					b.ReportMetric(float64(m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMAC/s")
				})
			}
		}
	}
}
