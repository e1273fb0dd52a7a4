package graph

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// attrs checks a node's attributes against the ones an op implements and
// reads them.
type attrs struct {
	n   *Node
	err error
}

func newAttrs(n *Node, allowed ...string) *attrs {
	a := &attrs{n: n}
	for name := range n.Attrs {
		if !slices.Contains(allowed, name) {
			a.err = fmt.Errorf("%s: attribute %q is not supported", n.OpType, name)
		}
	}
	return a
}

func (a *attrs) get(name string, typ int) *Attr {
	at := a.n.Attrs[name]
	if at == nil {
		return nil
	}
	if at.Type != typ && a.err == nil {
		a.err = fmt.Errorf("%s: attribute %q has type %d, want %d", a.n.OpType, name, at.Type, typ)
	}
	return at
}

func (a *attrs) int(name string, def int64) int64 {
	if at := a.get(name, atInt); at != nil {
		return at.I
	}
	return def
}

func (a *attrs) float(name string, def float32) float32 {
	if at := a.get(name, atFloat); at != nil {
		return at.F
	}
	return def
}

func (a *attrs) ints(name string, def ...int64) []int64 {
	if at := a.get(name, atInts); at != nil {
		return at.Ints
	}
	return def
}

func (a *attrs) str(name, def string) string {
	if at := a.get(name, atString); at != nil {
		return at.S
	}
	return def
}

// newOp compiles one node. konst(i) returns input i when it is an
// initializer, nil otherwise.
func newOp(n *Node, konst func(int) *value) (op, error) {
	nin := func(lo, hi int) error {
		if len(n.Inputs) < lo || len(n.Inputs) > hi {
			return fmt.Errorf("%s: %d inputs, want %d to %d", n.OpType, len(n.Inputs), lo, hi)
		}
		return nil
	}
	var o op
	var a *attrs
	var err error
	switch n.OpType {
	case "Conv":
		a = newAttrs(n, "kernel_shape", "strides", "pads", "dilations", "group", "auto_pad")
		if err = nin(2, 3); err == nil {
			o, err = newConv(a, konst(1), konst(2))
		}
	case "ConvTranspose":
		a = newAttrs(n, "kernel_shape", "strides", "pads", "dilations", "group", "auto_pad", "output_padding")
		if err = nin(2, 3); err == nil {
			o, err = newConvTranspose(a, konst(1), konst(2))
		}
	case "BatchNormalization":
		a = newAttrs(n, "epsilon", "momentum", "training_mode")
		if err = nin(5, 5); err == nil {
			o, err = newBatchNorm(a, konst(1), konst(2), konst(3), konst(4))
		}
	case "Add", "Mul", "PRelu":
		a = newAttrs(n)
		err = nin(2, 2)
		o = binop{kind: map[string]int{"Add": opAdd, "Mul": opMul, "PRelu": opPRelu}[n.OpType]}
	case "Relu", "Sigmoid":
		a = newAttrs(n)
		err = nin(1, 1)
		o = unary{kind: n.OpType}
	case "GlobalAveragePool":
		a = newAttrs(n)
		err = nin(1, 1)
		o = globalAvgPool{}
	case "Flatten":
		a = newAttrs(n, "axis")
		err = nin(1, 1)
		o = flatten{axis: int(a.int("axis", 1))}
	case "MatMul":
		a = newAttrs(n)
		err = nin(2, 2)
		o = matMul{}
	case "Concat":
		a = newAttrs(n, "axis")
		if a.n.Attrs["axis"] == nil {
			err = errors.New("Concat: attribute axis is required")
		} else if len(n.Inputs) == 0 {
			err = errors.New("Concat: no inputs")
		}
		o = concat{axis: int(a.int("axis", 0))}
	case "Shape":
		a = newAttrs(n) // start/end (opset 15) are not implemented
		err = nin(1, 1)
		o = shapeOp{}
	case "Gather":
		a = newAttrs(n, "axis")
		if err = nin(2, 2); err == nil {
			o, err = newGather(a, konst(1))
		}
	case "Slice":
		a = newAttrs(n)
		err = nin(3, 5)
		if len(n.Inputs) == 5 {
			if st := konst(4); st == nil || !st.isInt || slices.ContainsFunc(st.i, func(x int64) bool { return x != 1 }) {
				err = errors.New("Slice: only constant steps of 1 are supported")
			}
		}
		o = slice{}
	default:
		return nil, fmt.Errorf("op %q is not supported by this runner", n.OpType)
	}
	if err == nil {
		err = a.err
	}
	if err != nil {
		return nil, err
	}
	return o, nil
}

func isFloat(v *value) bool { return v != nil && !v.isInt }

// pair2 reads a 2-element attribute list (e.g. strides) with a default.
func pair2(a *attrs, name string, def int64) (int, int, error) {
	v := a.ints(name, def, def)
	if len(v) != 2 || v[0] < 1 || v[1] < 1 {
		return 0, 0, fmt.Errorf("attribute %s = %v: want 2 positive values", name, v)
	}
	return int(v[0]), int(v[1]), nil
}

// convGeom is the 2-D window geometry shared by Conv and ConvTranspose.
type convGeom struct {
	kh, kw         int
	sh, sw         int
	dh, dw         int
	pt, pl, pb, pr int // ONNX pads order: [x1_begin, x2_begin, x1_end, x2_end]
}

func readGeom(a *attrs, w *value) (convGeom, error) {
	var g convGeom
	if ap := a.str("auto_pad", "NOTSET"); ap != "NOTSET" {
		return g, fmt.Errorf("auto_pad %q is not supported", ap)
	}
	g.kh, g.kw = w.shape[2], w.shape[3]
	if ks := a.ints("kernel_shape"); ks != nil && (len(ks) != 2 || int(ks[0]) != g.kh || int(ks[1]) != g.kw) {
		return g, fmt.Errorf("kernel_shape %v does not match the weights %v", ks, w.shape)
	}
	var err error
	if g.sh, g.sw, err = pair2(a, "strides", 1); err != nil {
		return g, err
	}
	if g.dh, g.dw, err = pair2(a, "dilations", 1); err != nil {
		return g, err
	}
	p := a.ints("pads", 0, 0, 0, 0)
	if len(p) != 4 || slices.ContainsFunc(p, func(x int64) bool { return x < 0 }) {
		return g, fmt.Errorf("pads %v: want 4 non-negative values", p)
	}
	g.pt, g.pl, g.pb, g.pr = int(p[0]), int(p[1]), int(p[2]), int(p[3])
	return g, nil
}

func constBias(b *value, m int) ([]float32, error) {
	if b == nil {
		return nil, nil
	}
	if b.isInt || len(b.f) != m {
		return nil, fmt.Errorf("bias must be a constant FLOAT tensor of %d values", m)
	}
	return b.f, nil
}

// conv is ONNX Conv (2-D), optionally followed by a fused Relu or
// per-channel PRelu (see fuse): Y[m] = B[m] + sum over the group's input channels
// and the kernel window of W[m, c, ky, kx] * X[c, y*sh + ky*dh - pt, x*sw + kx*dw - pl],
// X being zero outside the image (the pads). Depthwise convolutions
// (group == C == M) run as a direct loop; the others as im2col + GEMM per
// group, 1x1/stride-1/unpadded ones on X directly.
type conv struct {
	g      convGeom
	m, cg  int // output channels, input channels per group
	group  int
	w      []float32 // [M, C/group, kh, kw]
	bias   []float32 // [M] or nil
	direct bool      // 1x1, stride 1, no pads: X is already the im2col matrix
	act    int       // fused activation: actNone, actRelu, actPRelu
	slope  []float32 // [M], for actPRelu
}

func newConv(a *attrs, w, b *value) (op, error) {
	if !isFloat(w) || len(w.shape) != 4 {
		return nil, errors.New("Conv: W must be a constant 4-D FLOAT tensor")
	}
	c := &conv{m: w.shape[0], cg: w.shape[1], w: w.f, group: int(a.int("group", 1))}
	var err error
	if c.g, err = readGeom(a, w); err != nil {
		return nil, fmt.Errorf("Conv: %w", err)
	}
	if c.group < 1 || c.m%c.group != 0 {
		return nil, fmt.Errorf("Conv: group %d does not divide %d output channels", c.group, c.m)
	}
	if c.bias, err = constBias(b, c.m); err != nil {
		return nil, fmt.Errorf("Conv: %w", err)
	}
	g := c.g
	c.direct = g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.pt+g.pl+g.pb+g.pr == 0
	return c, nil
}

// outSize is the output extent of a convolution along one axis.
func outSize(in, k, s, d, p0, p1 int) int {
	return (in+p0+p1-d*(k-1)-1)/s + 1
}

func (c *conv) run(s *Session, in []*value, out *value) error {
	x := in[0]
	if !isFloat(x) || len(x.shape) != 4 || x.shape[0] != 1 || x.shape[1] != c.cg*c.group {
		return fmt.Errorf("input shape %v: want [1, %d, H, W]", x.shape, c.cg*c.group)
	}
	g := c.g
	H, W := x.shape[2], x.shape[3]
	OH, OW := outSize(H, g.kh, g.sh, g.dh, g.pt, g.pb), outSize(W, g.kw, g.sw, g.dw, g.pl, g.pr)
	if OH < 1 || OW < 1 {
		return fmt.Errorf("input %dx%d is smaller than the kernel", H, W)
	}
	y := s.alloc(out, 1, c.m, OH, OW)
	if c.cg == 1 && c.m == c.group {
		pad := s.scratchBuf((H + g.pt + g.pb) * (W + g.pl + g.pr))
		depthwise(x.f, c.w, y, c.m, H, W, OH, OW, g, pad)
		c.epilogue(y, OH*OW)
		return nil
	}
	mg, k, n := c.m/c.group, c.cg*g.kh*g.kw, OH*OW
	var col []float32
	if !c.direct {
		col = s.scratchBuf(k * n)
	}
	for gi := 0; gi < c.group; gi++ {
		xg := x.f[gi*c.cg*H*W : (gi+1)*c.cg*H*W]
		b := xg
		if !c.direct {
			im2col(xg, c.cg, H, W, OH, OW, g, col)
			b = col
		}
		gemm(mg, n, k, c.w[gi*mg*k:(gi+1)*mg*k], b, y[gi*mg*n:(gi+1)*mg*n])
	}
	c.epilogue(y, n)
	return nil
}

// epilogue adds the bias to each of the M rows of n values of y and applies
// the fused activation.
func (c *conv) epilogue(y []float32, n int) {
	for m := 0; m < c.m; m++ {
		row := y[m*n : (m+1)*n]
		var b float32
		if c.bias != nil {
			b = c.bias[m]
		}
		switch c.act {
		case actNone:
			if b != 0 {
				for i := range row {
					row[i] += b
				}
			}
		case actRelu:
			for i, v := range row {
				row[i] = max(v+b, 0)
			}
		case actPRelu:
			// Branch-free: for s <= 1, PRelu(v) = max(v, s*v); for s > 1, min.
			s := c.slope[m]
			if s <= 1 {
				for i, v := range row {
					v += b
					row[i] = max(v, s*v)
				}
			} else {
				for i, v := range row {
					v += b
					row[i] = min(v, s*v)
				}
			}
		}
	}
}

// Activations fused into a Conv.
const (
	actNone = iota
	actRelu
	actPRelu
)

// fuse makes c apply act (a Relu or PRelu node reading only c's output) to
// its output, if act's slope is per channel. It reports whether it did.
func (c *conv) fuse(act *Node, konst func(int) *value) bool {
	switch act.OpType {
	case "Relu":
		if len(act.Attrs) == 0 && len(act.Inputs) == 1 {
			c.act = actRelu
			return true
		}
	case "PRelu":
		sl := konst(1)
		if len(act.Attrs) != 0 || len(act.Inputs) != 2 || !isFloat(sl) || len(sl.shape) > 4 {
			return false
		}
		// The slope broadcasts from the right: it is per channel when its
		// shape aligned to rank 4 is [1, M, 1, 1], or when it has one value.
		var dims [4]int
		for i := range dims {
			dims[i] = 1
		}
		copy(dims[4-len(sl.shape):], sl.shape)
		switch {
		case len(sl.f) == 1:
			c.slope = make([]float32, c.m)
			for i := range c.slope {
				c.slope[i] = sl.f[0]
			}
		case dims == [4]int{1, c.m, 1, 1}:
			c.slope = sl.f
		default:
			return false
		}
		c.act = actPRelu
		return true
	}
	return false
}

// validRange returns the output positions o in [0, n) whose input position
// o*s + off lies in [0, size).
func validRange(n, s, off, size int) (lo, hi int) {
	if off < 0 {
		lo = (-off + s - 1) / s
	}
	if last := size - 1 - off; last < 0 {
		hi = 0
	} else {
		hi = min(last/s+1, n)
	}
	return lo, max(hi, lo)
}

// im2col writes the [C*kh*kw, OH*OW] patch matrix of x ([C, H, W]): row
// (c*kh + ky)*kw + kx holds X[c, oy*sh + ky*dh - pt, ox*sw + kx*dw - pl], zero
// in the padding.
func im2col(x []float32, C, H, W, OH, OW int, g convGeom, col []float32) {
	n := OH * OW
	r := 0
	for c := 0; c < C; c++ {
		xc := x[c*H*W : (c+1)*H*W]
		for ky := 0; ky < g.kh; ky++ {
			yoff := ky*g.dh - g.pt
			oyLo, oyHi := validRange(OH, g.sh, yoff, H)
			for kx := 0; kx < g.kw; kx++ {
				xoff := kx*g.dw - g.pl
				oxLo, oxHi := validRange(OW, g.sw, xoff, W)
				dst := col[r*n : (r+1)*n]
				r++
				clear(dst[:oyLo*OW])
				clear(dst[oyHi*OW:])
				for oy := oyLo; oy < oyHi; oy++ {
					row := xc[(oy*g.sh+yoff)*W:]
					d := dst[oy*OW : (oy+1)*OW]
					clear(d[:oxLo])
					clear(d[oxHi:])
					if g.sw == 1 {
						copy(d[oxLo:oxHi], row[oxLo+xoff:])
					} else {
						for ox := oxLo; ox < oxHi; ox++ {
							d[ox] = row[ox*g.sw+xoff]
						}
					}
				}
			}
		}
	}
}

// depthwise is a convolution with one input and one output channel per
// group: y[c] = sum over the window of w[c, ky, kx] * x[c, ...] (no bias).
// Each channel is first copied into pad, a zero-bordered (H+pt+pb) x
// (W+pl+pr) buffer, so that the loop takes no bounds decisions; 3x3 kernels
// are unrolled.
func depthwise(x, w, y []float32, C, H, W, OH, OW int, g convGeom, pad []float32) {
	kh, kw := g.kh, g.kw
	PW := W + g.pl + g.pr
	clear(pad)
	k3 := kh == 3 && kw == 3 && g.dh == 1 && g.dw == 1
	for c := 0; c < C; c++ {
		xc := x[c*H*W : (c+1)*H*W]
		for iy := 0; iy < H; iy++ {
			copy(pad[(iy+g.pt)*PW+g.pl:], xc[iy*W:(iy+1)*W])
		}
		yc := y[c*OH*OW : (c+1)*OH*OW]
		wc := w[c*kh*kw : (c+1)*kh*kw]
		for oy := 0; oy < OH; oy++ {
			yrow := yc[oy*OW : (oy+1)*OW]
			iy := oy * g.sh
			if k3 {
				r0, r1, r2 := pad[iy*PW:(iy+1)*PW], pad[(iy+1)*PW:(iy+2)*PW], pad[(iy+2)*PW:(iy+3)*PW]
				w0, w1, w2, w3, w4, w5, w6, w7, w8 := wc[0], wc[1], wc[2], wc[3], wc[4], wc[5], wc[6], wc[7], wc[8]
				for ox := range yrow {
					ix := ox * g.sw
					yrow[ox] = w0*r0[ix] + w1*r0[ix+1] + w2*r0[ix+2] +
						w3*r1[ix] + w4*r1[ix+1] + w5*r1[ix+2] +
						w6*r2[ix] + w7*r2[ix+1] + w8*r2[ix+2]
				}
				continue
			}
			for ox := range yrow {
				ix := ox * g.sw
				var sum float32
				for ky := 0; ky < kh; ky++ {
					row := pad[(iy+ky*g.dh)*PW:]
					for kx := 0; kx < kw; kx++ {
						sum += wc[ky*kw+kx] * row[ix+kx*g.dw]
					}
				}
				yrow[ox] = sum
			}
		}
	}
}

// convTranspose is ONNX ConvTranspose (2-D, group 1, dilation 1): each input
// pixel X[c, iy, ix] adds W[c, m, ky, kx] * X to Y[m, iy*sh + ky - pt,
// ix*sw + kx - pl]; output size (H-1)*sh + kh - pt - pb. It runs as a GEMM
// (Wᵀ x X) followed by col2im.
type convTranspose struct {
	g    convGeom
	c, m int
	wt   []float32 // [M*kh*kw, C]: W transposed
	bias []float32
}

func newConvTranspose(a *attrs, w, b *value) (op, error) {
	if !isFloat(w) || len(w.shape) != 4 {
		return nil, errors.New("ConvTranspose: W must be a constant 4-D FLOAT tensor")
	}
	if g := a.int("group", 1); g != 1 {
		return nil, fmt.Errorf("ConvTranspose: group %d is not supported (only 1)", g)
	}
	if a.n.Attrs["output_shape"] != nil {
		return nil, errors.New("ConvTranspose: output_shape is not supported")
	}
	ct := &convTranspose{c: w.shape[0], m: w.shape[1]}
	var err error
	if ct.g, err = readGeom(a, w); err != nil {
		return nil, fmt.Errorf("ConvTranspose: %w", err)
	}
	if ct.g.dh != 1 || ct.g.dw != 1 {
		return nil, errors.New("ConvTranspose: dilations other than 1 are not supported")
	}
	if op := a.ints("output_padding", 0, 0); len(op) != 2 || op[0] != 0 || op[1] != 0 {
		return nil, fmt.Errorf("ConvTranspose: output_padding %v is not supported", op)
	}
	if ct.bias, err = constBias(b, ct.m); err != nil {
		return nil, fmt.Errorf("ConvTranspose: %w", err)
	}
	rows := ct.m * ct.g.kh * ct.g.kw
	ct.wt = make([]float32, rows*ct.c)
	for c := 0; c < ct.c; c++ {
		for r := 0; r < rows; r++ {
			ct.wt[r*ct.c+c] = w.f[c*rows+r]
		}
	}
	return ct, nil
}

func (ct *convTranspose) run(s *Session, in []*value, out *value) error {
	x := in[0]
	if !isFloat(x) || len(x.shape) != 4 || x.shape[0] != 1 || x.shape[1] != ct.c {
		return fmt.Errorf("input shape %v: want [1, %d, H, W]", x.shape, ct.c)
	}
	g := ct.g
	H, W := x.shape[2], x.shape[3]
	OH, OW := (H-1)*g.sh+g.kh-g.pt-g.pb, (W-1)*g.sw+g.kw-g.pl-g.pr
	if OH < 1 || OW < 1 {
		return fmt.Errorf("output %dx%d is empty", OH, OW)
	}
	n := H * W
	col := s.scratchBuf(ct.m * g.kh * g.kw * n)
	gemm(ct.m*g.kh*g.kw, n, ct.c, ct.wt, x.f, col)
	y := s.alloc(out, 1, ct.m, OH, OW)
	for m := 0; m < ct.m; m++ {
		ym := y[m*OH*OW : (m+1)*OH*OW]
		b := float32(0)
		if ct.bias != nil {
			b = ct.bias[m]
		}
		for i := range ym {
			ym[i] = b
		}
		for ky := 0; ky < g.kh; ky++ {
			for kx := 0; kx < g.kw; kx++ {
				src := col[((m*g.kh+ky)*g.kw+kx)*n:]
				for iy := 0; iy < H; iy++ {
					oy := iy*g.sh + ky - g.pt
					if oy < 0 || oy >= OH {
						continue
					}
					for ix := 0; ix < W; ix++ {
						if ox := ix*g.sw + kx - g.pl; ox >= 0 && ox < OW {
							ym[oy*OW+ox] += src[iy*W+ix]
						}
					}
				}
			}
		}
	}
	return nil
}

// batchNorm is ONNX BatchNormalization in inference mode:
// Y = (X - mean) / sqrt(var + epsilon) * scale + B, per channel (axis 1),
// folded at load into Y = X*a + b.
type batchNorm struct{ a, b []float32 }

func newBatchNorm(at *attrs, scale, bias, mean, vr *value) (op, error) {
	if at.int("training_mode", 0) != 0 {
		return nil, errors.New("BatchNormalization: training_mode is not supported")
	}
	eps := float64(at.float("epsilon", 1e-5))
	at.float("momentum", 0.9) // type check only; unused in inference
	if !isFloat(scale) || !isFloat(bias) || !isFloat(mean) || !isFloat(vr) {
		return nil, errors.New("BatchNormalization: scale, B, mean and var must be constant FLOAT tensors")
	}
	c := len(scale.f)
	if len(bias.f) != c || len(mean.f) != c || len(vr.f) != c {
		return nil, errors.New("BatchNormalization: parameter lengths differ")
	}
	bn := batchNorm{a: make([]float32, c), b: make([]float32, c)}
	for i := range c {
		a := float64(scale.f[i]) / math.Sqrt(float64(vr.f[i])+eps)
		bn.a[i] = float32(a)
		bn.b[i] = float32(float64(bias.f[i]) - float64(mean.f[i])*a)
	}
	return bn, nil
}

func (bn batchNorm) run(s *Session, in []*value, out *value) error {
	x := in[0]
	if !isFloat(x) || len(x.shape) < 2 || x.shape[1] != len(bn.a) {
		return fmt.Errorf("input shape %v: want [N, %d, ...]", x.shape, len(bn.a))
	}
	y := s.alloc(out, x.shape...)
	inner := x.size() / (x.shape[0] * x.shape[1])
	for i, v := range x.f {
		c := (i / inner) % len(bn.a)
		y[i] = v*bn.a[c] + bn.b[c]
	}
	return nil
}

// unary is an elementwise op: Relu max(x, 0) or Sigmoid 1 / (1 + exp(-x)).
type unary struct{ kind string }

func (u unary) run(s *Session, in []*value, out *value) error {
	x := in[0]
	if !isFloat(x) {
		return errors.New("input must be FLOAT")
	}
	y := s.alloc(out, x.shape...)
	switch u.kind {
	case "Relu":
		for i, v := range x.f {
			y[i] = max(v, 0)
		}
	case "Sigmoid":
		for i, v := range x.f {
			y[i] = float32(1 / (1 + math.Exp(-float64(v))))
		}
	}
	return nil
}

// binop is an elementwise op with numpy-style (multidirectional)
// broadcasting: Add a + b, Mul a * b, PRelu (a < 0 ? b*a : a, b the slope,
// broadcast to a).
type binop struct{ kind int }

const (
	opAdd = iota
	opMul
	opPRelu
)

func (bo binop) run(s *Session, in []*value, out *value) error {
	a, b := in[0], in[1]
	if !isFloat(a) || !isFloat(b) {
		return errors.New("inputs must be FLOAT")
	}
	if len(a.shape) > 4 || len(b.shape) > 4 {
		return errors.New("rank above 4")
	}
	// Align both shapes to rank 4 and compute the output shape.
	var as, bs, os [4]int
	for i := range 4 {
		as[i], bs[i] = 1, 1
	}
	copy(as[4-len(a.shape):], a.shape)
	copy(bs[4-len(b.shape):], b.shape)
	for i := range 4 {
		switch {
		case as[i] == bs[i], bs[i] == 1:
			os[i] = as[i]
		case as[i] == 1:
			os[i] = bs[i]
		default:
			return fmt.Errorf("shapes %v and %v do not broadcast", a.shape, b.shape)
		}
	}
	if bo.kind == opPRelu && os != as {
		return fmt.Errorf("slope %v does not broadcast to %v", b.shape, a.shape)
	}
	rank := max(len(a.shape), len(b.shape))
	y := s.alloc(out, os[4-rank:]...)
	// Merge adjacent axes that broadcast the same way, so that the inner loop
	// runs over as long a stretch as possible (e.g. [1,C,H,W] + [1,C,1,1]
	// becomes C rows of H*W).
	type axis struct{ n, sa, sb int } // extent, strides of a and b (0: broadcast)
	ax := make([]axis, 0, 4)
	for i := range 4 {
		if os[i] == 1 {
			continue
		}
		ka, kb := as[i] != 1, bs[i] != 1
		if k := len(ax) - 1; k >= 0 && (ax[k].sa != 0) == ka && (ax[k].sb != 0) == kb {
			ax[k].n *= os[i]
			continue
		}
		ax = append(ax, axis{n: os[i], sa: b2i(ka), sb: b2i(kb)})
	}
	// Strides in elements, innermost first.
	sa, sb := 1, 1
	for k := len(ax) - 1; k >= 0; k-- {
		if ax[k].sa != 0 {
			ax[k].sa = sa
			sa *= ax[k].n
		}
		if ax[k].sb != 0 {
			ax[k].sb = sb
			sb *= ax[k].n
		}
	}
	// Pad to 4 axes on the outside.
	var full [4]axis
	for i := range full {
		full[i].n = 1
	}
	copy(full[4-len(ax):], ax)
	ax = full[:]
	inner := ax[3]
	o := 0
	for i0 := 0; i0 < ax[0].n; i0++ {
		for i1 := 0; i1 < ax[1].n; i1++ {
			for i2 := 0; i2 < ax[2].n; i2++ {
				oa := i0*ax[0].sa + i1*ax[1].sa + i2*ax[2].sa
				ob := i0*ax[0].sb + i1*ax[1].sb + i2*ax[2].sb
				bo.inner(y[o:o+inner.n], a.f[oa:], inner.sa, b.f[ob:], inner.sb)
				o += inner.n
			}
		}
	}
	return nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// inner computes d[i] = a[i*sa] op b[i*sb], with sa, sb in {0, 1}.
func (bo binop) inner(d, a []float32, sa int, b []float32, sb int) {
	n := len(d)
	switch {
	case sa == 1 && sb == 1:
		a, b = a[:n], b[:n]
		switch bo.kind {
		case opAdd:
			for i := range d {
				d[i] = a[i] + b[i]
			}
		case opMul:
			for i := range d {
				d[i] = a[i] * b[i]
			}
		case opPRelu:
			for i := range d {
				d[i] = prelu(a[i], b[i])
			}
		}
	case sb == 0:
		if sa == 0 {
			for i := range d {
				d[i] = a[0]
			}
			bo.inner(d, d, 1, b, 0)
			return
		}
		a = a[:n]
		bv := b[0]
		switch bo.kind {
		case opAdd:
			for i := range d {
				d[i] = a[i] + bv
			}
		case opMul:
			for i := range d {
				d[i] = a[i] * bv
			}
		case opPRelu:
			for i := range d {
				d[i] = prelu(a[i], bv)
			}
		}
	default: // sa == 0, sb == 1: Add and Mul commute; PRelu never broadcasts a
		bo.inner(d, b, 1, a, 0)
	}
}

// prelu is x < 0 ? slope*x : x, without a data-dependent branch.
func prelu(x, slope float32) float32 {
	if slope <= 1 {
		return max(x, slope*x)
	}
	return min(x, slope*x)
}

// globalAvgPool is ONNX GlobalAveragePool: [N, C, H, W] -> [N, C, 1, 1], the
// mean over H and W.
type globalAvgPool struct{}

func (globalAvgPool) run(s *Session, in []*value, out *value) error {
	x := in[0]
	if !isFloat(x) || len(x.shape) != 4 {
		return fmt.Errorf("input shape %v: want [N, C, H, W]", x.shape)
	}
	y := s.alloc(out, x.shape[0], x.shape[1], 1, 1)
	hw := x.shape[2] * x.shape[3]
	for i := range y {
		var sum float64
		for _, v := range x.f[i*hw : (i+1)*hw] {
			sum += float64(v)
		}
		y[i] = float32(sum / float64(hw))
	}
	return nil
}

// flatten is ONNX Flatten: [d0..dn] -> [d0*..*d(axis-1), d(axis)*..*dn].
type flatten struct{ axis int }

func (f flatten) run(s *Session, in []*value, out *value) error {
	x := in[0]
	if !isFloat(x) {
		return errors.New("input must be FLOAT")
	}
	axis := f.axis
	if axis < 0 {
		axis += len(x.shape)
	}
	if axis < 0 || axis > len(x.shape) {
		return fmt.Errorf("axis %d out of range for %v", f.axis, x.shape)
	}
	outer := 1
	for _, d := range x.shape[:axis] {
		outer *= d
	}
	copy(s.alloc(out, outer, x.size()/outer), x.f)
	return nil
}

// matMul is ONNX MatMul with B 2-D: A[..., M, K] x B[K, N] -> [..., M, N].
type matMul struct{}

func (matMul) run(s *Session, in []*value, out *value) error {
	a, b := in[0], in[1]
	if !isFloat(a) || !isFloat(b) || len(a.shape) < 2 || len(b.shape) != 2 || a.shape[len(a.shape)-1] != b.shape[0] {
		return fmt.Errorf("shapes %v x %v: want [..., M, K] x [K, N]", a.shape, b.shape)
	}
	k, n := b.shape[0], b.shape[1]
	m := a.size() / k
	var shape [8]int
	sh := append(append(shape[:0], a.shape[:len(a.shape)-1]...), n)
	gemm(m, n, k, a.f, b.f, s.alloc(out, sh...))
	return nil
}

// concat is ONNX Concat along axis (negative counts from the end).
type concat struct{ axis int }

func (c concat) run(s *Session, in []*value, out *value) error {
	x0 := in[0]
	rank := len(x0.shape)
	axis := c.axis
	if axis < 0 {
		axis += rank
	}
	if axis < 0 || axis >= rank {
		return fmt.Errorf("axis %d out of range for rank %d", c.axis, rank)
	}
	var shape [8]int
	sh := append(shape[:0], x0.shape...)
	sh[axis] = 0
	for _, x := range in {
		if !isFloat(x) || len(x.shape) != rank {
			return errors.New("inputs must be FLOAT tensors of one rank")
		}
		for i, d := range x.shape {
			if i != axis && d != x0.shape[i] {
				return fmt.Errorf("shapes %v and %v differ off axis %d", x0.shape, x.shape, axis)
			}
		}
		sh[axis] += x.shape[axis]
	}
	y := s.alloc(out, sh...)
	outer := 1
	for _, d := range sh[:axis] {
		outer *= d
	}
	o := 0
	for i := 0; i < outer; i++ {
		for _, x := range in {
			chunk := x.size() / outer
			o += copy(y[o:], x.f[i*chunk:(i+1)*chunk])
		}
	}
	return nil
}

// shapeOp is ONNX Shape (no start/end): the input's shape as a 1-D INT64.
type shapeOp struct{}

func (shapeOp) run(s *Session, in []*value, out *value) error {
	x := in[0]
	out.shape = append(out.shape[:0], len(x.shape))
	out.i = out.i[:0]
	for _, d := range x.shape {
		out.i = append(out.i, int64(d))
	}
	out.isInt = true
	return nil
}

// gather is ONNX Gather restricted to the shape arithmetic: 1-D INT64 data,
// axis 0, constant indices (scalar or 1-D; negative counts from the end).
type gather struct {
	idx    []int64
	scalar bool
}

func newGather(a *attrs, idx *value) (op, error) {
	if a.int("axis", 0) != 0 {
		return nil, errors.New("Gather: only axis 0 is supported")
	}
	if idx == nil || !idx.isInt || len(idx.shape) > 1 {
		return nil, errors.New("Gather: indices must be a constant INT64 scalar or 1-D tensor")
	}
	return gather{idx: idx.i, scalar: len(idx.shape) == 0}, nil
}

func (g gather) run(s *Session, in []*value, out *value) error {
	x := in[0]
	if !x.isInt || len(x.shape) != 1 {
		return errors.New("data must be a 1-D INT64 tensor")
	}
	out.i = out.i[:0]
	for _, j := range g.idx {
		if j < 0 {
			j += int64(len(x.i))
		}
		if j < 0 || j >= int64(len(x.i)) {
			return fmt.Errorf("index %d out of range", j)
		}
		out.i = append(out.i, x.i[j])
	}
	out.shape = out.shape[:0]
	if !g.scalar {
		out.shape = append(out.shape, len(g.idx))
	}
	out.isInt = true
	return nil
}

// slice is ONNX Slice (opset 10+) with steps 1: for each listed axis
// (default all), keep [start, end), negative values counting from the end,
// clamped to the extent.
type slice struct{}

func (slice) run(s *Session, in []*value, out *value) error {
	x := in[0]
	if !isFloat(x) || len(x.shape) > 4 {
		return errors.New("data must be a FLOAT tensor of rank <= 4")
	}
	starts, ends := in[1], in[2]
	if !starts.isInt || !ends.isInt || len(starts.i) != len(ends.i) {
		return errors.New("starts and ends must be INT64 tensors of one length")
	}
	rank := len(x.shape)
	var lo, hi [4]int
	for i := range rank {
		lo[i], hi[i] = 0, x.shape[i]
	}
	for k := range starts.i {
		axis := int64(k)
		if len(in) > 3 && in[3] != nil {
			if !in[3].isInt || len(in[3].i) != len(starts.i) {
				return errors.New("axes must be an INT64 tensor as long as starts")
			}
			axis = in[3].i[k]
		}
		if axis < 0 {
			axis += int64(rank)
		}
		if axis < 0 || axis >= int64(rank) {
			return fmt.Errorf("axis %d out of range", axis)
		}
		d := int64(x.shape[axis])
		clamp := func(v int64) int {
			if v < 0 {
				v += d
			}
			return int(min(max(v, 0), d))
		}
		lo[axis], hi[axis] = clamp(starts.i[k]), clamp(ends.i[k])
		hi[axis] = max(hi[axis], lo[axis])
	}
	// Pad to rank 4 on the left and copy row by row.
	var dim, l, h [4]int
	for i := range 4 {
		dim[i], l[i], h[i] = 1, 0, 1
	}
	copy(dim[4-rank:], x.shape)
	copy(l[4-rank:], lo[:rank])
	copy(h[4-rank:], hi[:rank])
	var shape [4]int
	for i := range rank {
		shape[i] = hi[i] - lo[i]
	}
	y := s.alloc(out, shape[:rank]...)
	o := 0
	for a := l[0]; a < h[0]; a++ {
		for b := l[1]; b < h[1]; b++ {
			for c := l[2]; c < h[2]; c++ {
				base := ((a*dim[1]+b)*dim[2] + c) * dim[3]
				o += copy(y[o:], x.f[base+l[3]:base+h[3]])
			}
		}
	}
	return nil
}
