package kernels

import "sync"

// bufPool holds scratch buffers (packed panels) reused across calls.
var bufPool = sync.Pool{New: func() any { return new([]float32) }}

func getBuf(n int) *[]float32 {
	p := bufPool.Get().(*[]float32)
	if cap(*p) < n {
		*p = make([]float32, n)
	}
	*p = (*p)[:n]
	return p
}

// gemmGeneric is the pure-Go GEMM: C = A x B (+bias) (PReLU), bias and slope
// optional. B is packed into k x 4 column panels (zero padded), and a 4x4
// tile of C is accumulated in registers over the whole of k.
func gemmGeneric(m, n, k int, a, b, c, bias, slope []float32) {
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
	const nr = 4
	panels := (n + nr - 1) / nr
	bufp := getBuf(panels * nr * k)
	bp := *bufp
	// Pack B: panel jp holds columns jp*4..jp*4+3, row p at bp[jp*4k+4p:].
	for jp := 0; jp < panels; jp++ {
		j0 := jp * nr
		w := min(nr, n-j0)
		dst := bp[jp*nr*k : (jp+1)*nr*k]
		for p := 0; p < k; p++ {
			src := b[p*n+j0 : p*n+j0+w]
			d := dst[p*nr : p*nr+nr : p*nr+nr]
			d[0], d[1], d[2], d[3] = 0, 0, 0, 0
			copy(d, src)
		}
	}
	var tile [4 * nr]float32
	for jp := 0; jp < panels; jp++ {
		j0 := jp * nr
		w := min(nr, n-j0)
		panel := bp[jp*nr*k : (jp+1)*nr*k]
		i := 0
		for ; i+4 <= m; i += 4 {
			kernel4x4(k, a[i*k:(i+4)*k], panel, &tile)
			for r := 0; r < 4; r++ {
				row := c[(i+r)*n+j0 : (i+r)*n+j0+w]
				copy(row, tile[r*nr:r*nr+w])
				epilogueRow(row, i+r, bias, slope)
			}
		}
		for ; i < m; i++ {
			kernel1x4(k, a[i*k:(i+1)*k], panel, &tile)
			row := c[i*n+j0 : i*n+j0+w]
			copy(row, tile[:w])
			epilogueRow(row, i, bias, slope)
		}
	}
	bufPool.Put(bufp)
}

// kernel4x4 computes the 4x4 tile of C for 4 rows of A (a holds 4 rows of
// length k) times one packed k x 4 panel of B.
func kernel4x4(k int, a, panel []float32, tile *[16]float32) {
	a0 := a[0:k]
	a1 := a[k : 2*k]
	a2 := a[2*k : 3*k]
	a3 := a[3*k : 4*k]
	panel = panel[:4*k]
	var c00, c01, c02, c03 float32
	var c10, c11, c12, c13 float32
	var c20, c21, c22, c23 float32
	var c30, c31, c32, c33 float32
	for p := range a0 {
		bq := panel[4*p : 4*p+4 : 4*p+4]
		b0, b1, b2, b3 := bq[0], bq[1], bq[2], bq[3]
		av := a0[p]
		c00 += av * b0
		c01 += av * b1
		c02 += av * b2
		c03 += av * b3
		av = a1[p]
		c10 += av * b0
		c11 += av * b1
		c12 += av * b2
		c13 += av * b3
		av = a2[p]
		c20 += av * b0
		c21 += av * b1
		c22 += av * b2
		c23 += av * b3
		av = a3[p]
		c30 += av * b0
		c31 += av * b1
		c32 += av * b2
		c33 += av * b3
	}
	*tile = [16]float32{c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33}
}

// kernel1x4 is kernel4x4 for a single row of A.
func kernel1x4(k int, a, panel []float32, tile *[16]float32) {
	a = a[:k]
	panel = panel[:4*k]
	var c0, c1, c2, c3 float32
	for p, av := range a {
		bq := panel[4*p : 4*p+4 : 4*p+4]
		c0 += av * bq[0]
		c1 += av * bq[1]
		c2 += av * bq[2]
		c3 += av * bq[3]
	}
	tile[0], tile[1], tile[2], tile[3] = c0, c1, c2, c3
}
