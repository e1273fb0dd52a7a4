package graph

import "github.com/caddy-liveness/caddy-liveness/vendors/local/kernels"

// gemm computes C[m*n] = A[m*k] x B[k*n], row-major, C overwritten.
func gemm(m, n, k int, a, b, c []float32) { kernels.Gemm(m, n, k, a, b, c) }
