// Package kernels holds the compute kernels of the local liveness model
// runner: single-precision GEMM (optionally with a fused per-row bias and
// PReLU) and a depthwise 3x3 convolution. It is Caddy-free and depends only
// on the standard library and golang.org/x/sys/cpu.
//
// All matrices are row-major and contiguous. Every kernel is single-threaded
// and safe for concurrent use on distinct outputs; parallelism belongs to the
// caller (one thread per inference).
//
// On amd64 CPUs with AVX2 and FMA the GEMM runs a Go assembly 6x16
// micro-kernel (gemm_amd64.s) and the depthwise convolution an 8-wide row
// kernel (depthwise_amd64.s); elsewhere, or when built with the purego tag,
// pure-Go implementations are used. UsesAsm reports which.
//
// For a 1x1 convolution in NCHW: out[Cout][H*W] = W[Cout][Cin] x X[Cin][H*W],
// i.e. Gemm(Cout, H*W, Cin, weights, input, output); for a 3x3 convolution
// via im2col, k = Cin*9. The bias and PReLU slopes are then per output
// channel, i.e. per row of C.
package kernels

// gemmFunc computes C = A x B (+ bias per row) (then PReLU with slope per
// row). bias and slope may be nil, meaning none.
type gemmFunc func(m, n, k int, a, b, c, bias, slope []float32)

// gemmImpl is the implementation used by the exported functions; it is set
// by gemm_amd64.go or gemm_noasm.go.
var gemmImpl gemmFunc = gemmGeneric

// Gemm computes C = A x B, where A is m x k, B is k x n and C is m x n, all
// row-major and contiguous. C is overwritten (it need not be zeroed) and must
// not overlap A or B. It panics if a dimension is negative or a slice is too
// short (len(a) < m*k, len(b) < k*n, len(c) < m*n). With k == 0, C is zeroed.
func Gemm(m, n, k int, a, b, c []float32) {
	check(m, n, k, a, b, c, nil, nil)
	gemmImpl(m, n, k, a, b, c, nil, nil)
}

// GemmBias computes C = A x B + bias, where bias[i] is added to every
// element of row i of C (len(bias) >= m). Otherwise as Gemm.
func GemmBias(m, n, k int, a, b, c, bias []float32) {
	check(m, n, k, a, b, c, bias, nil)
	gemmImpl(m, n, k, a, b, c, bias, nil)
}

// GemmBiasPReLU computes C = PReLU(A x B + bias) with a slope per row:
// y = x if x > 0, slope[i]*x otherwise, for row i (len(slope) >= m). bias
// may be nil (no bias). ReLU is slope 0 and LeakyReLU(α) is slope α for
// every row. Otherwise as Gemm.
func GemmBiasPReLU(m, n, k int, a, b, c, bias, slope []float32) {
	if slope == nil {
		panic("kernels: GemmBiasPReLU: nil slope")
	}
	check(m, n, k, a, b, c, bias, slope)
	gemmImpl(m, n, k, a, b, c, bias, slope)
}

// UsesAsm reports whether the GEMM runs the AVX2+FMA assembly kernel.
func UsesAsm() bool { return usesAsm }

func check(m, n, k int, a, b, c, bias, slope []float32) {
	if m < 0 || n < 0 || k < 0 {
		panic("kernels: Gemm: negative dimension")
	}
	if len(a) < m*k || len(b) < k*n || len(c) < m*n {
		panic("kernels: Gemm: slice too short for the dimensions")
	}
	if bias != nil && len(bias) < m {
		panic("kernels: Gemm: bias shorter than m")
	}
	if slope != nil && len(slope) < m {
		panic("kernels: Gemm: slope shorter than m")
	}
}

// epilogueRow applies bias and PReLU of one row (either may be nil) to row.
func epilogueRow(row []float32, i int, bias, slope []float32) {
	if bias != nil {
		bv := bias[i]
		for j := range row {
			row[j] += bv
		}
	}
	if slope != nil {
		sv := slope[i]
		for j, v := range row {
			if v < 0 {
				row[j] = v * sv
			}
		}
	}
}
