// Package graph is a small ONNX graph runner for the three networks of the
// local liveness check: minivision's MiniFASNetV2 and MiniFASNetV1SE
// (opset 17) and its RetinaFace detector (opset 13).
//
// It decodes the ONNX protobuf directly (ParseONNX), checks at Compile that
// every node is one of the ops below with attributes it implements, and runs
// the graph on float32 NCHW tensors of batch 1 whose shapes are inferred at
// run time (Session.Run).
//
// Ops (ONNX semantics, restricted as noted; anything else is refused by
// Compile with an error naming the op or attribute):
//
//	Conv                2-D; kernel_shape, strides, pads, dilations, group; auto_pad NOTSET
//	ConvTranspose       2-D, group 1, dilations 1, no output_padding / output_shape
//	BatchNormalization  inference form (training_mode 0), constant parameters
//	PRelu, Relu, Sigmoid
//	Add, Mul            numpy-style broadcasting (rank <= 4)
//	GlobalAveragePool   over H and W
//	Flatten             any axis
//	MatMul              A[..., M, K] x B[K, N]
//	Concat              any axis
//	Shape, Gather, Slice  on the INT64 shape values RetinaFace uses to crop
//
// Conv runs as im2col + GEMM (kernels.Gemm) per group, 1x1 stride-1
// convolutions on the input directly, and depthwise ones (group == C == M)
// as a direct loop. A Relu or per-channel PRelu that is the only reader of a
// Conv's output is fused into the Conv's bias pass.
//
// A Graph is immutable and safe for concurrent use. A Session holds the
// buffers of one inference and is not: use one Session per goroutine (or
// Graph.Run, which makes a fresh one). A Session keeps its buffers from one
// Run to the next: once it has run at a given input size, a Run at that size
// or smaller allocates nothing.
//
// Package graph depends only on the standard library, protowire and
// vendors/local/kernels (GEMM).
package graph
