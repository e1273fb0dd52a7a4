package graph

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// This file decodes the subset of onnx.proto (ModelProto → GraphProto →
// NodeProto / TensorProto / ValueInfoProto) that the runner needs, straight
// from the protobuf wire format. Unknown fields are skipped.

// ONNX TensorProto.DataType values the loader accepts.
const (
	dtFloat = 1
	dtInt64 = 7
)

// ONNX AttributeProto.AttributeType values.
const (
	atFloat   = 1
	atInt     = 2
	atString  = 3
	atTensor  = 4
	atFloats  = 6
	atInts    = 7
	atStrings = 8
)

// Attr is one node attribute. Only the field matching Type is set.
type Attr struct {
	Name   string
	Type   int // ONNX AttributeType: 1 FLOAT, 2 INT, 3 STRING, 4 TENSOR, 6 FLOATS, 7 INTS
	F      float32
	I      int64
	S      string
	T      *TensorProto
	Floats []float32
	Ints   []int64
}

// Node is one graph node.
type Node struct {
	Name    string
	OpType  string
	Domain  string
	Inputs  []string // "" marks an omitted optional input
	Outputs []string
	Attrs   map[string]*Attr
}

// TensorProto is a constant tensor (an initializer or a Constant node's value).
// Exactly one of Float and Int64 is set, according to DataType.
type TensorProto struct {
	Name     string
	Dims     []int64
	DataType int // 1 FLOAT, 7 INT64
	Float    []float32
	Int64    []int64
}

// ValueInfo names a graph input or output; Dims holds -1 for a symbolic or
// unknown dimension.
type ValueInfo struct {
	Name string
	Dims []int64
}

// Model is a decoded ONNX model: only the main graph, no functions.
type Model struct {
	IRVersion    int64
	Opset        int64 // version of the default ("" or "ai.onnx") domain
	Nodes        []*Node
	Initializers map[string]*TensorProto
	Inputs       []ValueInfo // graph inputs that are not initializers
	Outputs      []ValueInfo
}

// ParseONNX decodes an ONNX ModelProto. It does not check the ops; see Compile.
func ParseONNX(b []byte) (*Model, error) {
	m := &Model{Initializers: map[string]*TensorProto{}}
	var graph []byte
	err := fields(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch {
		case num == 1 && typ == protowire.VarintType:
			m.IRVersion = int64(x)
		case num == 7 && typ == protowire.BytesType:
			graph = v
		case num == 8 && typ == protowire.BytesType: // OperatorSetIdProto
			var domain string
			var version int64
			if err := fields(v, func(n protowire.Number, t protowire.Type, v []byte, x uint64) error {
				if n == 1 && t == protowire.BytesType {
					domain = string(v)
				} else if n == 2 && t == protowire.VarintType {
					version = int64(x)
				}
				return nil
			}); err != nil {
				return err
			}
			if domain == "" || domain == "ai.onnx" {
				m.Opset = version
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("onnx: model: %w", err)
	}
	if graph == nil {
		return nil, errors.New("onnx: model has no graph")
	}
	var inputs []ValueInfo
	err = fields(graph, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case 1:
			n, err := parseNode(v)
			if err != nil {
				return err
			}
			m.Nodes = append(m.Nodes, n)
		case 5:
			t, err := parseTensor(v)
			if err != nil {
				return err
			}
			m.Initializers[t.Name] = t
		case 11, 12:
			vi, err := parseValueInfo(v)
			if err != nil {
				return err
			}
			if num == 11 {
				inputs = append(inputs, vi)
			} else {
				m.Outputs = append(m.Outputs, vi)
			}
		case 15:
			return errors.New("sparse initializers are not supported")
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("onnx: graph: %w", err)
	}
	for _, in := range inputs {
		if _, ok := m.Initializers[in.Name]; !ok {
			m.Inputs = append(m.Inputs, in)
		}
	}
	return m, nil
}

func parseNode(b []byte) (*Node, error) {
	n := &Node{Attrs: map[string]*Attr{}}
	err := fields(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case 1:
			n.Inputs = append(n.Inputs, string(v))
		case 2:
			n.Outputs = append(n.Outputs, string(v))
		case 3:
			n.Name = string(v)
		case 4:
			n.OpType = string(v)
		case 7:
			n.Domain = string(v)
		case 5:
			a, err := parseAttr(v)
			if err != nil {
				return err
			}
			n.Attrs[a.Name] = a
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("node %q: %w", n.Name, err)
	}
	return n, nil
}

func parseAttr(b []byte) (*Attr, error) {
	a := &Attr{}
	err := fields(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch num {
		case 1:
			a.Name = string(v)
		case 20:
			a.Type = int(x)
		case 2:
			a.F = math.Float32frombits(uint32(x))
		case 3:
			a.I = int64(x)
		case 4:
			a.S = string(v)
		case 5:
			t, err := parseTensor(v)
			if err != nil {
				return err
			}
			a.T = t
		case 7:
			fs, err := floats(typ, v, x)
			if err != nil {
				return err
			}
			a.Floats = append(a.Floats, fs...)
		case 8:
			is, err := varints(typ, v, x)
			if err != nil {
				return err
			}
			a.Ints = append(a.Ints, is...)
		case 6, 9, 10, 11, 22, 23:
			return fmt.Errorf("attribute %q: graph, string-list or tensor-list attributes are not supported", a.Name)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

func parseTensor(b []byte) (*TensorProto, error) {
	t := &TensorProto{}
	var raw []byte
	var fdata []float32
	var idata []int64
	external := false
	err := fields(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		var err error
		switch num {
		case 1:
			var d []int64
			d, err = varints(typ, v, x)
			t.Dims = append(t.Dims, d...)
		case 2:
			t.DataType = int(x)
		case 4:
			var f []float32
			f, err = floats(typ, v, x)
			fdata = append(fdata, f...)
		case 7:
			var d []int64
			d, err = varints(typ, v, x)
			idata = append(idata, d...)
		case 8:
			t.Name = string(v)
		case 9:
			raw = v
		case 14:
			external = x == 1
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", t.Name, err)
	}
	if external {
		return nil, fmt.Errorf("tensor %q: external data is not supported", t.Name)
	}
	n := 1
	for _, d := range t.Dims {
		if d < 0 || d > 1<<28 {
			return nil, fmt.Errorf("tensor %q: bad dimension %d", t.Name, d)
		}
		n *= int(d)
		if n > 1<<28 {
			return nil, fmt.Errorf("tensor %q: too large", t.Name)
		}
	}
	switch t.DataType {
	case dtFloat:
		if raw != nil {
			if len(raw) != 4*n {
				return nil, fmt.Errorf("tensor %q: raw_data holds %d bytes, want %d", t.Name, len(raw), 4*n)
			}
			fdata = make([]float32, n)
			for i := range fdata {
				fdata[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
			}
		}
		if len(fdata) != n {
			return nil, fmt.Errorf("tensor %q: %d floats, want %d", t.Name, len(fdata), n)
		}
		t.Float = fdata
	case dtInt64:
		if raw != nil {
			if len(raw) != 8*n {
				return nil, fmt.Errorf("tensor %q: raw_data holds %d bytes, want %d", t.Name, len(raw), 8*n)
			}
			idata = make([]int64, n)
			for i := range idata {
				idata[i] = int64(binary.LittleEndian.Uint64(raw[8*i:]))
			}
		}
		if len(idata) != n {
			return nil, fmt.Errorf("tensor %q: %d int64s, want %d", t.Name, len(idata), n)
		}
		if idata == nil {
			idata = []int64{}
		}
		t.Int64 = idata
	default:
		return nil, fmt.Errorf("tensor %q: data type %d is not supported (only FLOAT and INT64)", t.Name, t.DataType)
	}
	return t, nil
}

func parseValueInfo(b []byte) (ValueInfo, error) {
	var vi ValueInfo
	err := fields(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case 1:
			vi.Name = string(v)
		case 2: // TypeProto
			return fields(v, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
				if num != 1 || typ != protowire.BytesType { // tensor_type
					return nil
				}
				return fields(v, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
					if num != 2 || typ != protowire.BytesType { // shape
						return nil
					}
					return fields(v, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
						if num != 1 || typ != protowire.BytesType { // dim
							return nil
						}
						d := int64(-1)
						err := fields(v, func(num protowire.Number, typ protowire.Type, _ []byte, x uint64) error {
							if num == 1 && typ == protowire.VarintType {
								d = int64(x)
							}
							return nil
						})
						vi.Dims = append(vi.Dims, d)
						return err
					})
				})
			})
		}
		return nil
	})
	return vi, err
}

// fields calls f for each field of the message b. For varint fields x holds
// the value; for fixed32/fixed64 fields x holds the bits; for length-delimited
// fields v holds the bytes.
func fields(b []byte, f func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		var v []byte
		var x uint64
		switch typ {
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var u uint32
			u, n = protowire.ConsumeFixed32(b)
			x = uint64(u)
		case protowire.Fixed64Type:
			x, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if err := f(num, typ, v, x); err != nil {
			return err
		}
	}
	return nil
}

// varints decodes a repeated int64 field, packed or not.
func varints(typ protowire.Type, v []byte, x uint64) ([]int64, error) {
	if typ == protowire.VarintType {
		return []int64{int64(x)}, nil
	}
	if typ != protowire.BytesType {
		return nil, errors.New("bad wire type for an int64 list")
	}
	var out []int64
	for len(v) > 0 {
		u, n := protowire.ConsumeVarint(v)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		out = append(out, int64(u))
		v = v[n:]
	}
	return out, nil
}

// floats decodes a repeated float field, packed or not.
func floats(typ protowire.Type, v []byte, x uint64) ([]float32, error) {
	if typ == protowire.Fixed32Type {
		return []float32{math.Float32frombits(uint32(x))}, nil
	}
	if typ != protowire.BytesType || len(v)%4 != 0 {
		return nil, errors.New("bad wire type for a float list")
	}
	out := make([]float32, len(v)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(v[4*i:]))
	}
	return out, nil
}
