package graph

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/caddy-liveness/caddy-liveness/vendors/local/weights"
)

// Small graphs built in memory, checked against direct definitions of the ops.

func ints(v ...int64) *Attr { return &Attr{Type: atInts, Ints: v} }
func intAttr(v int64) *Attr { return &Attr{Type: atInt, I: v} }

func floatConst(name string, shape []int64, data []float32) *TensorProto {
	return &TensorProto{Name: name, Dims: shape, DataType: dtFloat, Float: data}
}

func int64Const(name string, data ...int64) *TensorProto {
	return &TensorProto{Name: name, Dims: []int64{int64(len(data))}, DataType: dtInt64, Int64: data}
}

func randSlice(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

// model makes a graph with one node, inputs "x" (and "y" if nin > 1) and
// output "out"; consts are initializers.
func model(node *Node, inputs []string, consts ...*TensorProto) *Model {
	m := &Model{Initializers: map[string]*TensorProto{}, Outputs: []ValueInfo{{Name: node.Outputs[0]}}}
	for _, c := range consts {
		m.Initializers[c.Name] = c
	}
	for _, in := range inputs {
		m.Inputs = append(m.Inputs, ValueInfo{Name: in})
	}
	if node.Attrs == nil {
		node.Attrs = map[string]*Attr{}
	}
	for k, a := range node.Attrs {
		a.Name = k
	}
	m.Nodes = []*Node{node}
	return m
}

func run1(t *testing.T, m *Model, in ...Tensor) Tensor {
	t.Helper()
	g, err := Compile(m)
	if err != nil {
		t.Fatal(err)
	}
	out, err := g.Run(in...)
	if err != nil {
		t.Fatal(err)
	}
	return out[len(out)-1]
}

func closeTo(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > tol*max(1, math.Abs(float64(want[i]))) {
			t.Fatalf("%s[%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

// naiveConv is the ONNX Conv definition, written out.
func naiveConv(x []float32, C, H, W int, w []float32, M, kh, kw int, b []float32, group, sh, sw, dh, dw, pt, pl, pb, pr int) ([]float32, int, int) {
	OH := (H+pt+pb-dh*(kh-1)-1)/sh + 1
	OW := (W+pl+pr-dw*(kw-1)-1)/sw + 1
	cg, mg := C/group, M/group
	y := make([]float32, M*OH*OW)
	for m := 0; m < M; m++ {
		gi := m / mg
		for oy := 0; oy < OH; oy++ {
			for ox := 0; ox < OW; ox++ {
				var sum float64
				if b != nil {
					sum = float64(b[m])
				}
				for c := 0; c < cg; c++ {
					for ky := 0; ky < kh; ky++ {
						for kx := 0; kx < kw; kx++ {
							iy, ix := oy*sh-pt+ky*dh, ox*sw-pl+kx*dw
							if iy < 0 || iy >= H || ix < 0 || ix >= W {
								continue
							}
							sum += float64(w[((m*cg+c)*kh+ky)*kw+kx]) * float64(x[((gi*cg+c)*H+iy)*W+ix])
						}
					}
				}
				y[(m*OH+oy)*OW+ox] = float32(sum)
			}
		}
	}
	return y, OH, OW
}

func TestConv(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	type cfg struct {
		C, H, W, M, kh, kw, group, sh, sw, dh, dw, pt, pl, pb, pr int
		bias                                                      bool
	}
	for _, c := range []cfg{
		{C: 3, H: 11, W: 9, M: 5, kh: 3, kw: 3, group: 1, sh: 1, sw: 1, dh: 1, dw: 1, pt: 1, pl: 1, pb: 1, pr: 1, bias: true},
		{C: 3, H: 11, W: 9, M: 4, kh: 3, kw: 3, group: 1, sh: 2, sw: 2, dh: 1, dw: 1, pt: 1, pl: 1, pb: 1, pr: 1},
		{C: 4, H: 7, W: 8, M: 6, kh: 1, kw: 1, group: 1, sh: 1, sw: 1, dh: 1, dw: 1, bias: true},                  // direct 1x1
		{C: 4, H: 7, W: 8, M: 6, kh: 1, kw: 1, group: 2, sh: 2, sw: 1, dh: 1, dw: 1, bias: true},                  // grouped, strided 1x1
		{C: 6, H: 10, W: 7, M: 6, kh: 3, kw: 3, group: 6, sh: 1, sw: 1, dh: 1, dw: 1, pt: 1, pl: 1, pb: 1, pr: 1}, // depthwise
		{C: 6, H: 10, W: 7, M: 6, kh: 3, kw: 3, group: 6, sh: 2, sw: 2, dh: 1, dw: 1, pt: 1, pl: 1, pb: 1, pr: 1}, // depthwise s2
		{C: 5, H: 5, W: 5, M: 5, kh: 5, kw: 5, group: 5, sh: 1, sw: 1, dh: 1, dw: 1, bias: true},                  // MiniFAS's 5x5 GDC
		{C: 4, H: 9, W: 12, M: 4, kh: 3, kw: 2, group: 4, sh: 1, sw: 2, dh: 2, dw: 1, pt: 2, pl: 0, pb: 1, pr: 3}, // depthwise, odd geometry
		{C: 4, H: 9, W: 12, M: 6, kh: 2, kw: 3, group: 2, sh: 3, sw: 1, dh: 1, dw: 2, pt: 0, pl: 2, pb: 3, pr: 1}, // grouped, asymmetric pads
		{C: 2, H: 6, W: 6, M: 4, kh: 3, kw: 3, group: 1, sh: 1, sw: 1, dh: 1, dw: 1, pt: 0, pl: 0, pb: 0, pr: 0},  // valid
		{C: 2, H: 4, W: 4, M: 2, kh: 3, kw: 3, group: 2, sh: 1, sw: 1, dh: 1, dw: 1, pt: 0, pl: 0, pb: 0, pr: 0},  // depthwise, no pads
		{C: 3, H: 5, W: 6, M: 3, kh: 3, kw: 3, group: 3, sh: 1, sw: 1, dh: 1, dw: 1, pt: 3, pl: 3, pb: 3, pr: 3},  // pads larger than the kernel reach
	} {
		x := randSlice(r, c.C*c.H*c.W)
		w := randSlice(r, c.M*(c.C/c.group)*c.kh*c.kw)
		var b []float32
		consts := []*TensorProto{floatConst("w", []int64{int64(c.M), int64(c.C / c.group), int64(c.kh), int64(c.kw)}, w)}
		inputs := []string{"x", "w"}
		if c.bias {
			b = randSlice(r, c.M)
			consts = append(consts, floatConst("b", []int64{int64(c.M)}, b))
			inputs = append(inputs, "b")
		}
		want, OH, OW := naiveConv(x, c.C, c.H, c.W, w, c.M, c.kh, c.kw, b, c.group, c.sh, c.sw, c.dh, c.dw, c.pt, c.pl, c.pb, c.pr)
		node := &Node{OpType: "Conv", Inputs: inputs, Outputs: []string{"y"}, Attrs: map[string]*Attr{
			"kernel_shape": ints(int64(c.kh), int64(c.kw)),
			"strides":      ints(int64(c.sh), int64(c.sw)),
			"dilations":    ints(int64(c.dh), int64(c.dw)),
			"pads":         ints(int64(c.pt), int64(c.pl), int64(c.pb), int64(c.pr)),
			"group":        intAttr(int64(c.group)),
		}}
		m := model(node, []string{"x"}, consts...)
		got := run1(t, m, Tensor{Shape: []int{1, c.C, c.H, c.W}, Data: x})
		if !equalInts(got.Shape, []int{1, c.M, OH, OW}) {
			t.Fatalf("%+v: shape %v, want %v", c, got.Shape, []int{1, c.M, OH, OW})
		}
		closeTo(t, "conv", got.Data, want, 1e-5)

		// The same with a fused per-channel PRelu, and with a fused Relu.
		slope := randSlice(r, c.M)
		m.Initializers["s"] = floatConst("s", []int64{int64(c.M), 1, 1}, slope)
		m.Nodes = append(m.Nodes, &Node{OpType: "PRelu", Inputs: []string{"y", "s"}, Outputs: []string{"z"}, Attrs: map[string]*Attr{}})
		m.Outputs = []ValueInfo{{Name: "z"}}
		g, err := Compile(m)
		if err != nil {
			t.Fatal(err)
		}
		if len(g.steps) != 1 || g.steps[0].kind != "Conv+PRelu" {
			t.Fatalf("PRelu not fused: %d steps", len(g.steps))
		}
		out, err := g.Run(Tensor{Shape: []int{1, c.C, c.H, c.W}, Data: x})
		if err != nil {
			t.Fatal(err)
		}
		pw := make([]float32, len(want))
		for i, v := range want {
			pw[i] = v
			if v < 0 {
				pw[i] = v * slope[i/(OH*OW)]
			}
		}
		closeTo(t, "conv+prelu", out[0].Data, pw, 1e-5)
		m.Nodes[1] = &Node{OpType: "Relu", Inputs: []string{"y"}, Outputs: []string{"z"}, Attrs: map[string]*Attr{}}
		out2 := run1(t, m, Tensor{Shape: []int{1, c.C, c.H, c.W}, Data: x})
		for i, v := range want {
			pw[i] = max(v, 0)
		}
		closeTo(t, "conv+relu", out2.Data, pw, 1e-5)
	}
}

func TestConvPReluNotFusedWhenShared(t *testing.T) {
	m := model(&Node{OpType: "Conv", Inputs: []string{"x", "w"}, Outputs: []string{"y"}}, []string{"x"},
		floatConst("w", []int64{1, 1, 1, 1}, []float32{2}))
	m.Nodes = append(m.Nodes,
		&Node{OpType: "Relu", Inputs: []string{"y"}, Outputs: []string{"z"}, Attrs: map[string]*Attr{}},
		&Node{OpType: "Add", Inputs: []string{"y", "z"}, Outputs: []string{"out"}, Attrs: map[string]*Attr{}})
	m.Outputs = []ValueInfo{{Name: "out"}}
	got := run1(t, m, Tensor{Shape: []int{1, 1, 1, 2}, Data: []float32{-1, 3}})
	closeTo(t, "y + relu(y)", got.Data, []float32{-2, 12}, 0)
}

func TestConvTranspose(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, c := range []struct{ C, M, H, W, kh, kw, sh, sw, pt, pl, pb, pr int }{
		{3, 4, 5, 4, 2, 2, 2, 2, 0, 0, 0, 0}, // RetinaFace's FPN upsampling
		{2, 3, 4, 5, 3, 3, 2, 1, 1, 0, 0, 1},
	} {
		x := randSlice(r, c.C*c.H*c.W)
		w := randSlice(r, c.C*c.M*c.kh*c.kw)
		b := randSlice(r, c.M)
		OH, OW := (c.H-1)*c.sh+c.kh-c.pt-c.pb, (c.W-1)*c.sw+c.kw-c.pl-c.pr
		want := make([]float32, c.M*OH*OW)
		for m := 0; m < c.M; m++ {
			for i := 0; i < OH*OW; i++ {
				want[m*OH*OW+i] = b[m]
			}
		}
		for ci := 0; ci < c.C; ci++ {
			for iy := 0; iy < c.H; iy++ {
				for ix := 0; ix < c.W; ix++ {
					for m := 0; m < c.M; m++ {
						for ky := 0; ky < c.kh; ky++ {
							for kx := 0; kx < c.kw; kx++ {
								oy, ox := iy*c.sh+ky-c.pt, ix*c.sw+kx-c.pl
								if oy >= 0 && oy < OH && ox >= 0 && ox < OW {
									want[(m*OH+oy)*OW+ox] += x[(ci*c.H+iy)*c.W+ix] * w[((ci*c.M+m)*c.kh+ky)*c.kw+kx]
								}
							}
						}
					}
				}
			}
		}
		node := &Node{OpType: "ConvTranspose", Inputs: []string{"x", "w", "b"}, Outputs: []string{"y"}, Attrs: map[string]*Attr{
			"kernel_shape": ints(int64(c.kh), int64(c.kw)),
			"strides":      ints(int64(c.sh), int64(c.sw)),
			"pads":         ints(int64(c.pt), int64(c.pl), int64(c.pb), int64(c.pr)),
			"group":        intAttr(1),
		}}
		got := run1(t, model(node, []string{"x"},
			floatConst("w", []int64{int64(c.C), int64(c.M), int64(c.kh), int64(c.kw)}, w),
			floatConst("b", []int64{int64(c.M)}, b)),
			Tensor{Shape: []int{1, c.C, c.H, c.W}, Data: x})
		if !equalInts(got.Shape, []int{1, c.M, OH, OW}) {
			t.Fatalf("shape %v", got.Shape)
		}
		closeTo(t, "convtranspose", got.Data, want, 1e-5)
	}
}

func TestBroadcast(t *testing.T) {
	for _, c := range []struct {
		op     string
		as, bs []int
		a, b   []float32
		want   []float32
		shape  []int
	}{
		{"Add", []int{1, 2, 1, 2}, []int{1, 2, 1, 1}, []float32{1, 2, 3, 4}, []float32{10, 20}, []float32{11, 12, 23, 24}, []int{1, 2, 1, 2}},
		{"Mul", []int{1, 2, 1, 1}, []int{1, 2, 1, 2}, []float32{2, 3}, []float32{1, 2, 3, 4}, []float32{2, 4, 9, 12}, []int{1, 2, 1, 2}},
		{"Add", []int{2, 3}, []int{3}, []float32{1, 2, 3, 4, 5, 6}, []float32{10, 20, 30}, []float32{11, 22, 33, 14, 25, 36}, []int{2, 3}},
		{"Mul", []int{2, 1}, []int{1, 3}, []float32{2, 3}, []float32{1, 2, 4}, []float32{2, 4, 8, 3, 6, 12}, []int{2, 3}},
		{"Add", []int{2, 2}, []int{}, []float32{1, 2, 3, 4}, []float32{1}, []float32{2, 3, 4, 5}, []int{2, 2}},
		{"Mul", []int{2, 1, 2, 1}, []int{1, 2, 1, 2}, []float32{1, 2, 3, 4}, []float32{1, 10, 100, 1000},
			[]float32{1, 10, 2, 20, 100, 1000, 200, 2000, 3, 30, 4, 40, 300, 3000, 400, 4000}, []int{2, 2, 2, 2}},
		{"PRelu", []int{1, 2, 1, 2}, []int{2, 1, 1}, []float32{-1, 2, -3, 4}, []float32{0.5, 3}, []float32{-0.5, 2, -9, 4}, []int{1, 2, 1, 2}},
	} {
		m := model(&Node{OpType: c.op, Inputs: []string{"a", "b"}, Outputs: []string{"out"}}, []string{"a", "b"})
		got := run1(t, m, Tensor{Shape: c.as, Data: c.a}, Tensor{Shape: c.bs, Data: c.b})
		if !equalInts(got.Shape, c.shape) {
			t.Fatalf("%s %v %v: shape %v, want %v", c.op, c.as, c.bs, got.Shape, c.shape)
		}
		closeTo(t, c.op, got.Data, c.want, 0)
	}
	m := model(&Node{OpType: "Add", Inputs: []string{"a", "b"}, Outputs: []string{"out"}}, []string{"a", "b"})
	g, _ := Compile(m)
	if _, err := g.Run(Tensor{Shape: []int{2}, Data: make([]float32, 2)}, Tensor{Shape: []int{3}, Data: make([]float32, 3)}); err == nil {
		t.Error("[2] + [3] broadcast")
	}
}

func TestShapeGatherSlice(t *testing.T) {
	// out = Slice(x, starts, Gather(Shape(ref), [2, 3]), axes): crop x to ref's H, W.
	m := &Model{
		Initializers: map[string]*TensorProto{
			"gi":     int64Const("gi", 2, -1),
			"starts": int64Const("starts", 0, 1),
			"axes":   int64Const("axes", 2, -1),
		},
		Inputs:  []ValueInfo{{Name: "x"}, {Name: "ref"}},
		Outputs: []ValueInfo{{Name: "out"}},
		Nodes: []*Node{
			{OpType: "Shape", Inputs: []string{"ref"}, Outputs: []string{"s"}, Attrs: map[string]*Attr{}},
			{OpType: "Gather", Inputs: []string{"s", "gi"}, Outputs: []string{"hw"}, Attrs: map[string]*Attr{"axis": {Name: "axis", Type: atInt}}},
			{OpType: "Slice", Inputs: []string{"x", "starts", "hw", "axes"}, Outputs: []string{"out"}, Attrs: map[string]*Attr{}},
		},
	}
	x := make([]float32, 2*3*4)
	for i := range x {
		x[i] = float32(i)
	}
	got := run1(t, m, Tensor{Shape: []int{1, 2, 3, 4}, Data: x}, Tensor{Shape: []int{1, 1, 2, 3}, Data: make([]float32, 6)})
	if !equalInts(got.Shape, []int{1, 2, 2, 2}) {
		t.Fatalf("shape %v", got.Shape)
	}
	closeTo(t, "slice", got.Data, []float32{1, 2, 5, 6, 13, 14, 17, 18}, 0)
	// ends beyond the extent are clamped.
	got = run1(t, m, Tensor{Shape: []int{1, 2, 3, 4}, Data: x}, Tensor{Shape: []int{1, 1, 9, 9}, Data: make([]float32, 81)})
	if !equalInts(got.Shape, []int{1, 2, 3, 3}) {
		t.Fatalf("clamped shape %v", got.Shape)
	}
}

func TestSmallOps(t *testing.T) {
	x := Tensor{Shape: []int{1, 2, 2, 2}, Data: []float32{-1, 1, 2, 4, 0, -2, 6, 8}}
	got := run1(t, model(&Node{OpType: "GlobalAveragePool", Inputs: []string{"x"}, Outputs: []string{"o"}}, []string{"x"}), x)
	if !equalInts(got.Shape, []int{1, 2, 1, 1}) {
		t.Fatalf("GAP shape %v", got.Shape)
	}
	closeTo(t, "GlobalAveragePool", got.Data, []float32{1.5, 3}, 0)
	got = run1(t, model(&Node{OpType: "Relu", Inputs: []string{"x"}, Outputs: []string{"o"}}, []string{"x"}), x)
	closeTo(t, "Relu", got.Data, []float32{0, 1, 2, 4, 0, 0, 6, 8}, 0)
	got = run1(t, model(&Node{OpType: "Sigmoid", Inputs: []string{"x"}, Outputs: []string{"o"}}, []string{"x"}), x)
	closeTo(t, "Sigmoid", got.Data[:2], []float32{0.26894142, 0.7310586}, 1e-7)
	got = run1(t, model(&Node{OpType: "Flatten", Inputs: []string{"x"}, Outputs: []string{"o"}, Attrs: map[string]*Attr{"axis": intAttr(2)}}, []string{"x"}), x)
	if !equalInts(got.Shape, []int{2, 4}) {
		t.Fatalf("Flatten shape %v", got.Shape)
	}
	got = run1(t, model(&Node{OpType: "Concat", Inputs: []string{"x", "x"}, Outputs: []string{"o"}, Attrs: map[string]*Attr{"axis": intAttr(-1)}}, []string{"x"}), x)
	if !equalInts(got.Shape, []int{1, 2, 2, 4}) {
		t.Fatalf("Concat shape %v", got.Shape)
	}
	closeTo(t, "Concat", got.Data[:8], []float32{-1, 1, -1, 1, 2, 4, 2, 4}, 0)
	got = run1(t, model(&Node{OpType: "MatMul", Inputs: []string{"x", "w"}, Outputs: []string{"o"}}, []string{"x"},
		floatConst("w", []int64{2, 1}, []float32{1, 10})), x)
	if !equalInts(got.Shape, []int{1, 2, 2, 1}) {
		t.Fatalf("MatMul shape %v", got.Shape)
	}
	closeTo(t, "MatMul", got.Data, []float32{9, 42, -20, 86}, 0)
	bn := &Node{OpType: "BatchNormalization", Inputs: []string{"x", "sc", "b", "mu", "var"}, Outputs: []string{"o"},
		Attrs: map[string]*Attr{"epsilon": {Type: atFloat, F: 0}}}
	got = run1(t, model(bn, []string{"x"},
		floatConst("sc", []int64{2}, []float32{1, 2}), floatConst("b", []int64{2}, []float32{0, 1}),
		floatConst("mu", []int64{2}, []float32{1, 0}), floatConst("var", []int64{2}, []float32{4, 1})), x)
	closeTo(t, "BatchNormalization", got.Data, []float32{-1, 0, 0.5, 1.5, 1, -3, 13, 17}, 1e-7)
}

func TestRefusals(t *testing.T) {
	w := floatConst("w", []int64{1, 1, 1, 1}, []float32{1})
	for _, c := range []struct {
		node *Node
		want string
	}{
		{&Node{OpType: "Resize", Inputs: []string{"x"}, Outputs: []string{"o"}}, `op "Resize" is not supported`},
		{&Node{OpType: "Conv", Inputs: []string{"x", "w"}, Outputs: []string{"o"}, Attrs: map[string]*Attr{"auto_pad": {Type: atString, S: "SAME_UPPER"}}}, "auto_pad"},
		{&Node{OpType: "Conv", Inputs: []string{"x", "w"}, Outputs: []string{"o"}, Attrs: map[string]*Attr{"foo": intAttr(1)}}, `attribute "foo" is not supported`},
		{&Node{OpType: "Conv", Inputs: []string{"x", "x"}, Outputs: []string{"o"}}, "constant"},
		{&Node{OpType: "ConvTranspose", Inputs: []string{"x", "w"}, Outputs: []string{"o"}, Attrs: map[string]*Attr{"group": intAttr(2)}}, "group"},
		{&Node{OpType: "BatchNormalization", Inputs: []string{"x", "w", "w", "w", "w"}, Outputs: []string{"o"}, Attrs: map[string]*Attr{"training_mode": intAttr(1)}}, "training_mode"},
		{&Node{OpType: "Relu", Domain: "com.microsoft", Inputs: []string{"x"}, Outputs: []string{"o"}}, "domain"},
		{&Node{OpType: "Relu", Inputs: []string{"nope"}, Outputs: []string{"o"}}, "not produced"},
	} {
		_, err := Compile(model(c.node, []string{"x"}, w))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to mention %q", c.node.OpType, err, c.want)
		}
	}
}

func TestRunChecksInputs(t *testing.T) {
	g := loadGraphs(t)[weights.MiniFASNetV2]
	for _, in := range []Tensor{
		{Shape: []int{1, 3, 80, 81}, Data: make([]float32, 3*80*81)},
		{Shape: []int{1, 3, 80, 80}, Data: make([]float32, 10)},
		{Shape: []int{3, 80, 80}, Data: make([]float32, 3*80*80)},
	} {
		if _, err := g.Run(in); err == nil {
			t.Errorf("input %v accepted", in.Shape)
		}
	}
	if _, err := g.Run(); err == nil {
		t.Error("no inputs accepted")
	}
	if got := g.InputNames(); len(got) != 1 || got[0] != "input" {
		t.Errorf("inputs %v", got)
	}
	if got := loadGraphs(t)[weights.RetinaFace].OutputNames(); len(got) != 6 || got[0] != "conv_blob48" {
		t.Errorf("outputs %v", got)
	}
}

// FuzzParseONNX checks that malformed models give errors, not panics.
func FuzzParseONNX(f *testing.F) {
	b, err := weights.Load(weights.MiniFASNetV1SE)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b[:4096])
	f.Add(b[:200])
	f.Add([]byte{0x3a, 0x05, 0x0a, 0x03, 0x22, 0x01, 0x41})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseONNX(data)
		if err == nil {
			Compile(m)
		}
	})
}
