//go:build amd64 && !purego

package kernels

import "golang.org/x/sys/cpu"

var usesAsm = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// gemmAsm is the assembly GEMM when the CPU supports it, nil otherwise.
var gemmAsm gemmFunc

func init() {
	if usesAsm {
		gemmAsm = gemmAVX2
		gemmImpl = gemmAVX2
	}
}

// Flags of gemmKernel6x16.
const (
	flagBias  = 1 // add bias[0..5], one per row
	flagPReLU = 2 // then PReLU with slope[0..5], one per row
)

// gemmKernel6x16 computes a 6x16 tile of C over k steps:
//
//	for r in 0..5, j in 0..15:
//	  acc = sum_p A(r, p) * B(p, j)
//	  A(r, p) = *(a + r*lda + p*astep), B(p, j) = *(b + p*bstep + 4*j)
//	  C(r, j) = *(c + r*ldc + 4*j) = epilogue(acc)
//
// lda, astep, bstep and ldc are in bytes. k may be 0. Implemented in
// gemm_amd64.s; needs AVX2 and FMA.
//
//go:noescape
func gemmKernel6x16(k int, a *float32, lda, astep int, b *float32, bstep int, c *float32, ldc int, bias, slope *float32, flags int)

const (
	mr = 6  // rows of the micro-kernel tile
	nr = 16 // columns of the micro-kernel tile
	// l2Budget bounds the bytes of A a row block may hold, so that A stays
	// in L2 while every column panel of B is swept over it.
	l2Budget = 256 << 10
)

// gemmAVX2 drives gemmKernel6x16 over C. Full tiles read A and B in place;
// the last partial row panel of A (m%6 rows) and the last partial column
// panel of B (n%16 columns) are packed once into zero-padded buffers, and
// partial tiles of C go through a 6x16 scratch tile.
func gemmAVX2(m, n, k int, a, b, c, bias, slope []float32) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		for i := 0; i < m; i++ {
			row := c[i*n : i*n+n]
			clear(row)
			epilogueRow(row, i, bias, slope)
		}
		return
	}
	flags := 0
	if bias != nil {
		flags |= flagBias
	}
	if slope != nil {
		flags |= flagPReLU
	}
	mFull := m / mr * mr
	nFull := n / nr * nr
	mRem, nRem := m-mFull, n-nFull

	// Packed edges: aEdge[p*6+r] = A(mFull+r, p); bEdge[p*16+j] = B(p, nFull+j).
	var aEdge, bEdge []float32
	var bufA, bufB *[]float32
	if mRem > 0 {
		bufA = getBuf(mr * k)
		aEdge = *bufA
		for p := 0; p < k; p++ {
			d := aEdge[p*mr : p*mr+mr : p*mr+mr]
			for r := range d {
				if r < mRem {
					d[r] = a[(mFull+r)*k+p]
				} else {
					d[r] = 0
				}
			}
		}
	}
	if nRem > 0 {
		bufB = getBuf(nr * k)
		bEdge = *bufB
		for p := 0; p < k; p++ {
			d := bEdge[p*nr : p*nr+nr : p*nr+nr]
			clear(d)
			copy(d, b[p*n+nFull:p*n+n])
		}
	}

	var tile [mr * nr]float32
	var biasEdge, slopeEdge [mr]float32
	var pBiasEdge, pSlopeEdge *float32
	if mRem > 0 {
		if bias != nil {
			copy(biasEdge[:], bias[mFull:m])
			pBiasEdge = &biasEdge[0]
		}
		if slope != nil {
			copy(slopeEdge[:], slope[mFull:m])
			pSlopeEdge = &slopeEdge[0]
		}
	}

	mc := max(mr, l2Budget/(4*k)/mr*mr)
	for ic := 0; ic < m; ic += mc {
		iEnd := min(m, ic+mc)
		for j := 0; j < n; j += nr {
			// Column panel: in place, or the packed edge.
			pb, bstep := &b[j], 4*n
			if j >= nFull {
				pb, bstep = &bEdge[0], 4*nr
			}
			for i := ic; i < iEnd; i += mr {
				pa, lda, astep := &a[i*k], 4*k, 4
				pBias, pSlope := ptrAt(bias, i), ptrAt(slope, i)
				if i >= mFull {
					pa, lda, astep = &aEdge[0], 4, 4*mr
					pBias, pSlope = pBiasEdge, pSlopeEdge
				}
				if i < mFull && j < nFull {
					gemmKernel6x16(k, pa, lda, astep, pb, bstep, &c[i*n+j], 4*n, pBias, pSlope, flags)
					continue
				}
				gemmKernel6x16(k, pa, lda, astep, pb, bstep, &tile[0], 4*nr, pBias, pSlope, flags)
				rows, cols := min(mr, m-i), min(nr, n-j)
				for r := 0; r < rows; r++ {
					copy(c[(i+r)*n+j:(i+r)*n+j+cols], tile[r*nr:r*nr+cols])
				}
			}
		}
	}
	if bufA != nil {
		bufPool.Put(bufA)
	}
	if bufB != nil {
		bufPool.Put(bufB)
	}
}

func ptrAt(s []float32, i int) *float32 {
	if s == nil {
		return nil
	}
	return &s[i]
}
