package graph

import (
	"errors"
	"fmt"
	"slices"
)

// Tensor is a dense float32 tensor in row-major (NCHW) order.
type Tensor struct {
	Shape []int
	Data  []float32
}

// value is one tensor slot at run time: float data, or int64 data for the
// shape arithmetic (Shape/Gather/Slice parameters).
type value struct {
	shape []int
	f     []float32
	i     []int64
	isInt bool
	owned bool // f came from the session's pool
}

func (v *value) size() int {
	n := 1
	for _, d := range v.shape {
		n *= d
	}
	return n
}

// op is one compiled node. run reads in (never modifies it) and fills out,
// taking float buffers from s.
type op interface {
	run(s *Session, in []*value, out *value) error
}

type step struct {
	name string // node name, for errors
	kind string // op_type
	op   op
	in   []int // value slots; -1 for an omitted optional input
	out  int
	free []int // slots whose last use is this step
}

// Graph is a compiled model: immutable and safe for concurrent use.
type Graph struct {
	steps   []step
	nslots  int
	consts  map[int]*value // initializers, by slot
	inputs  []int
	outputs []int
	inNames []string
	inDims  [][]int64
	outName []string
}

// Load parses and compiles an ONNX model.
func Load(onnx []byte) (*Graph, error) {
	m, err := ParseONNX(onnx)
	if err != nil {
		return nil, err
	}
	return Compile(m)
}

// Compile checks every node against the implemented ops and attributes and
// resolves the graph into a sequence of steps. The nodes must be in
// topological order, as ONNX requires.
func Compile(m *Model) (*Graph, error) {
	g := &Graph{consts: map[int]*value{}}
	slot := map[string]int{}
	newSlot := func(name string) int {
		i := g.nslots
		g.nslots++
		slot[name] = i
		return i
	}
	for name, t := range m.Initializers {
		v := &value{shape: dimsInt(t.Dims)}
		if t.DataType == dtInt64 {
			v.i, v.isInt = t.Int64, true
		} else {
			v.f = t.Float
		}
		g.consts[newSlot(name)] = v
	}
	if len(m.Inputs) == 0 || len(m.Outputs) == 0 {
		return nil, errors.New("graph: model has no inputs or no outputs")
	}
	for _, in := range m.Inputs {
		g.inputs = append(g.inputs, newSlot(in.Name))
		g.inNames = append(g.inNames, in.Name)
		g.inDims = append(g.inDims, in.Dims)
	}
	// users counts the readers of each value (graph outputs count as one),
	// to find the Conv -> Relu/PRelu pairs that can run as one step.
	users := map[string][]*Node{}
	for _, n := range m.Nodes {
		for _, in := range n.Inputs {
			users[in] = append(users[in], n)
		}
	}
	for _, out := range m.Outputs {
		users[out.Name] = append(users[out.Name], nil)
	}
	fused := map[*Node]bool{}
	for _, n := range m.Nodes {
		if fused[n] {
			continue
		}
		if n.Domain != "" && n.Domain != "ai.onnx" {
			return nil, fmt.Errorf("graph: node %q: op domain %q is not supported", n.Name, n.Domain)
		}
		if len(n.Outputs) != 1 {
			return nil, fmt.Errorf("graph: node %q (%s): %d outputs, only single-output nodes are supported", n.Name, n.OpType, len(n.Outputs))
		}
		st := step{name: n.Name, kind: n.OpType}
		for _, in := range n.Inputs {
			if in == "" {
				st.in = append(st.in, -1)
				continue
			}
			i, ok := slot[in]
			if !ok {
				return nil, fmt.Errorf("graph: node %q (%s): input %q is not produced before it", n.Name, n.OpType, in)
			}
			st.in = append(st.in, i)
		}
		get := func(i int) *value {
			if i >= len(st.in) || st.in[i] < 0 {
				return nil
			}
			return g.consts[st.in[i]]
		}
		o, err := newOp(n, get)
		if err != nil {
			return nil, fmt.Errorf("graph: node %q: %w", n.Name, err)
		}
		st.op = o
		outName := n.Outputs[0]
		if c, ok := o.(*conv); ok {
			if u := users[outName]; len(u) == 1 && u[0] != nil && len(u[0].Outputs) == 1 && u[0].Inputs[0] == outName {
				act := u[0]
				actConst := func(i int) *value {
					if i >= len(act.Inputs) {
						return nil
					}
					if j, ok := slot[act.Inputs[i]]; ok {
						return g.consts[j]
					}
					return nil
				}
				if c.fuse(act, actConst) {
					fused[act] = true
					outName = act.Outputs[0]
					st.kind += "+" + act.OpType
				}
			}
		}
		if _, dup := slot[outName]; dup {
			return nil, fmt.Errorf("graph: node %q: output %q is assigned twice", n.Name, outName)
		}
		st.out = newSlot(outName)
		g.steps = append(g.steps, st)
	}
	for _, out := range m.Outputs {
		i, ok := slot[out.Name]
		if !ok {
			return nil, fmt.Errorf("graph: output %q is not produced", out.Name)
		}
		g.outputs = append(g.outputs, i)
		g.outName = append(g.outName, out.Name)
	}
	// Free each intermediate value after its last use.
	last := make([]int, g.nslots)
	for i := range last {
		last[i] = -1
	}
	for si, st := range g.steps {
		for _, i := range st.in {
			if i >= 0 {
				last[i] = si
			}
		}
	}
	for i, si := range last {
		if si < 0 || g.consts[i] != nil || slices.Contains(g.inputs, i) || slices.Contains(g.outputs, i) {
			continue
		}
		g.steps[si].free = append(g.steps[si].free, i)
	}
	return g, nil
}

// InputNames returns the names of the graph inputs, in Run's order.
func (g *Graph) InputNames() []string { return slices.Clone(g.inNames) }

// OutputNames returns the names of the graph outputs, in Run's order.
func (g *Graph) OutputNames() []string { return slices.Clone(g.outName) }

// Run runs the graph in a fresh Session; the outputs belong to the caller.
// It is safe to call from several goroutines.
func (g *Graph) Run(inputs ...Tensor) ([]Tensor, error) {
	return g.NewSession().Run(inputs...)
}

// Session holds the value slots and the buffer pool of one inference at a
// time. Its buffers are reused from one Run to the next; it must not be used
// by two goroutines at once.
type Session struct {
	g       *Graph
	vals    []*value
	own     []value // backing of the non-constant slots
	pool    [][]float32
	scratch []float32 // im2col / col2im buffer
	in      []*value  // the current step's inputs
	outs    []Tensor
}

// NewSession returns a Session for g.
func (g *Graph) NewSession() *Session {
	s := &Session{g: g, vals: make([]*value, g.nslots), own: make([]value, g.nslots)}
	for i := range s.vals {
		if c := g.consts[i]; c != nil {
			s.vals[i] = c
		} else {
			s.vals[i] = &s.own[i]
		}
	}
	return s
}

// Run runs the graph on the inputs, given in InputNames order, and returns
// the outputs in OutputNames order. The inputs are not modified. The
// returned tensors are owned by the session and valid until its next Run.
func (s *Session) Run(inputs ...Tensor) ([]Tensor, error) {
	g := s.g
	if len(inputs) != len(g.inputs) {
		return nil, fmt.Errorf("graph: %d inputs given, want %d", len(inputs), len(g.inputs))
	}
	// Return the previous run's outputs (and anything left over) to the pool.
	for i := range s.own {
		s.release(&s.own[i])
	}
	for k, t := range inputs {
		if err := checkInput(g.inNames[k], g.inDims[k], t); err != nil {
			return nil, err
		}
		v := s.vals[g.inputs[k]]
		v.shape = append(v.shape[:0], t.Shape...)
		v.f, v.isInt, v.owned = t.Data, false, false
	}
	in := s.in
	for si := range g.steps {
		st := &g.steps[si]
		in = in[:0]
		for _, i := range st.in {
			if i < 0 {
				in = append(in, nil)
			} else {
				in = append(in, s.vals[i])
			}
		}
		out := s.vals[st.out]
		if err := st.op.run(s, in, out); err != nil {
			return nil, fmt.Errorf("graph: node %q (%s): %w", st.name, st.kind, err)
		}
		for _, i := range st.free {
			s.release(s.vals[i])
		}
	}
	s.in = in
	s.outs = s.outs[:0]
	for _, i := range g.outputs {
		v := s.vals[i]
		if v.isInt {
			return nil, fmt.Errorf("graph: output is an INT64 tensor")
		}
		s.outs = append(s.outs, Tensor{Shape: v.shape, Data: v.f})
	}
	return s.outs, nil
}

func checkInput(name string, dims []int64, t Tensor) error {
	n := 1
	for _, d := range t.Shape {
		if d <= 0 {
			return fmt.Errorf("graph: input %q: bad shape %v", name, t.Shape)
		}
		n *= d
	}
	if n != len(t.Data) {
		return fmt.Errorf("graph: input %q: shape %v holds %d values, data has %d", name, t.Shape, n, len(t.Data))
	}
	if dims != nil {
		if len(dims) != len(t.Shape) {
			return fmt.Errorf("graph: input %q: rank %d, want %d", name, len(t.Shape), len(dims))
		}
		for i, d := range dims {
			if d >= 0 && int(d) != t.Shape[i] {
				return fmt.Errorf("graph: input %q: shape %v, want %v", name, t.Shape, dims)
			}
		}
	}
	return nil
}

// alloc makes out a float tensor of the given shape, with a buffer from the
// pool (its contents are arbitrary).
func (s *Session) alloc(out *value, shape ...int) []float32 {
	out.shape = append(out.shape[:0], shape...)
	out.isInt, out.i = false, nil
	out.f = s.get(out.size())
	out.owned = true
	return out.f
}

// get returns a buffer of length n: the smallest pooled one that fits, or a
// new one.
func (s *Session) get(n int) []float32 {
	best := -1
	for i, b := range s.pool {
		if cap(b) >= n && (best < 0 || cap(b) < cap(s.pool[best])) {
			best = i
		}
	}
	if best < 0 {
		return make([]float32, n)
	}
	b := s.pool[best]
	s.pool[best] = s.pool[len(s.pool)-1]
	s.pool = s.pool[:len(s.pool)-1]
	return b[:n]
}

func (s *Session) release(v *value) {
	if v.owned {
		s.pool = append(s.pool, v.f)
	}
	v.f, v.owned = nil, false
}

// BufferBytes returns the bytes of float buffers the session holds (value
// buffers and scratch): after a Run, the peak working memory of an
// inference at that input size, weights excluded.
func (s *Session) BufferBytes() int {
	n := cap(s.scratch)
	for _, b := range s.pool {
		n += cap(b)
	}
	for i := range s.own {
		if s.own[i].owned {
			n += cap(s.own[i].f)
		}
	}
	return 4 * n
}

// scratchBuf returns the session's scratch buffer with length n.
func (s *Session) scratchBuf(n int) []float32 {
	if cap(s.scratch) < n {
		s.scratch = make([]float32, n)
	}
	return s.scratch[:n]
}

func dimsInt(d []int64) []int {
	out := make([]int, len(d))
	for i, x := range d {
		out[i] = int(x)
	}
	return out
}
