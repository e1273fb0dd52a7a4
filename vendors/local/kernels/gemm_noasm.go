//go:build !amd64 || purego

package kernels

const usesAsm = false

// gemmAsm is nil without the assembly kernel; tests skip it.
var gemmAsm gemmFunc

// depthwiseAsm is nil without the assembly kernel; tests skip it.
var depthwiseAsm dwFunc
