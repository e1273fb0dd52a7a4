package graph

import (
	"math"
	"path/filepath"
	"sync"
	"testing"

	"github.com/caddy-liveness/caddy-liveness/vendors/local/internal/golden"
	"github.com/caddy-liveness/caddy-liveness/vendors/local/weights"
)

// The golden data in testdata/ is trimmed from ../shared/local-model (see
// the "note" field of each file): MiniFASNet inputs and onnxruntime-web
// logits for the three minivision sample faces, and the RetinaFace detector
// inputs (PNG) with OpenCV DNN's six head tensors.

var (
	graphsOnce sync.Once
	graphs     map[string]*Graph
	graphsErr  error
)

func loadGraphs(t testing.TB) map[string]*Graph {
	t.Helper()
	graphsOnce.Do(func() {
		graphs = map[string]*Graph{}
		for _, name := range weights.Names() {
			b, err := weights.Load(name)
			if err != nil {
				graphsErr = err
				return
			}
			g, err := Load(b)
			if err != nil {
				graphsErr = err
				return
			}
			graphs[name] = g
		}
	})
	if graphsErr != nil {
		t.Fatal(graphsErr)
	}
	return graphs
}

type minifasGolden struct {
	Cases []struct {
		Model  string
		Image  string
		Input  []float32
		Logits []float64
	}
}

func modelFile(model string) string { return model + ".onnx" }

func checkMiniFAS(t *testing.T, path string) {
	gs := loadGraphs(t)
	var gold minifasGolden
	golden.ReadJSON(t, path, &gold)
	if len(gold.Cases) == 0 {
		t.Fatal("no cases")
	}
	worst := map[string]float64{}
	for _, c := range gold.Cases {
		g := gs[modelFile(c.Model)]
		out, err := g.NewSession().Run(Tensor{Shape: []int{1, 3, 80, 80}, Data: c.Input})
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != 1 || len(out[0].Data) != 3 {
			t.Fatalf("%s: output %v", c.Model, out[0].Shape)
		}
		for i, ref := range c.Logits {
			d := math.Abs(float64(out[0].Data[i]) - ref)
			worst[c.Model] = max(worst[c.Model], d)
			if d > 1e-4*max(1, math.Abs(ref)) {
				t.Errorf("%s %s logit %d: %v, want %v", c.Model, c.Image, i, out[0].Data[i], ref)
			}
		}
	}
	for m, d := range worst {
		t.Logf("%s: max |go - onnxruntime| = %.3g over %d cases", m, d, len(gold.Cases)/2)
	}
}

func TestMiniFASNetGolden(t *testing.T) {
	checkMiniFAS(t, "testdata/golden_minifas.json.gz")
}

type retinaGolden struct {
	Cases []struct {
		Image       string
		DetInputPNG string `json:"det_input_png"`
		DetInputWH  []int  `json:"det_input_wh"`
		Heads       map[string]struct {
			Shape []int
			Data  []float64
		}
	}
}

// detInput reads a detector input PNG as minivision feeds it to the
// network: BGR minus (104, 117, 123), NCHW, no scaling.
func detInput(t testing.TB, path string) Tensor {
	t.Helper()
	img := golden.PNG(t, path)
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	data := make([]float32, 3*w*h)
	for y := range h {
		for x := range w {
			r, g, bl, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
			i := y*w + x
			data[i] = float32(bl>>8) - 104
			data[w*h+i] = float32(g>>8) - 117
			data[2*w*h+i] = float32(r>>8) - 123
		}
	}
	return Tensor{Shape: []int{1, 3, h, w}, Data: data}
}

func TestRetinaFaceGolden(t *testing.T) {
	g := loadGraphs(t)[weights.RetinaFace]
	var gold retinaGolden
	golden.ReadJSON(t, "testdata/golden_retinaface_heads.json.gz", &gold)
	s := g.NewSession()
	var worstAbs, worstRel float64
	for _, c := range gold.Cases {
		in := detInput(t, filepath.Join("testdata", c.DetInputPNG))
		if in.Shape[3] != c.DetInputWH[0] || in.Shape[2] != c.DetInputWH[1] {
			t.Fatalf("%s: input %v, want wh %v", c.Image, in.Shape, c.DetInputWH)
		}
		out, err := s.Run(in)
		if err != nil {
			t.Fatal(err)
		}
		for k, name := range g.OutputNames() {
			ref := c.Heads[name]
			got := out[k]
			if !equalInts(got.Shape, ref.Shape) {
				t.Fatalf("%s %s: shape %v, want %v", c.Image, name, got.Shape, ref.Shape)
			}
			for i, r := range ref.Data {
				d := math.Abs(float64(got.Data[i]) - r)
				worstAbs = max(worstAbs, d)
				worstRel = max(worstRel, d/max(1, math.Abs(r)))
				if d > 1e-3*max(1, math.Abs(r)) {
					t.Fatalf("%s %s[%d]: %v, want %v", c.Image, name, i, got.Data[i], r)
				}
			}
		}
	}
	t.Logf("RetinaFace heads: max |go - opencv| = %.3g, max |go - opencv| / max(1, |ref|) = %.3g", worstAbs, worstRel)
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestSessionReuse runs the detector on inputs of different sizes through
// one session and checks each result equals a fresh session's.
func TestSessionReuse(t *testing.T) {
	g := loadGraphs(t)[weights.RetinaFace]
	s := g.NewSession()
	for _, wh := range [][2]int{{166, 221}, {192, 192}, {221, 166}, {97, 131}, {166, 221}} {
		in := Tensor{Shape: []int{1, 3, wh[1], wh[0]}, Data: make([]float32, 3*wh[0]*wh[1])}
		for i := range in.Data {
			in.Data[i] = float32((i*7919)%255) - 120
		}
		got, err := s.Run(in)
		if err != nil {
			t.Fatal(err)
		}
		want, err := g.Run(in)
		if err != nil {
			t.Fatal(err)
		}
		for k := range want {
			if !equalInts(got[k].Shape, want[k].Shape) {
				t.Fatalf("%v: shapes %v, %v", wh, got[k].Shape, want[k].Shape)
			}
			for i := range want[k].Data {
				if got[k].Data[i] != want[k].Data[i] {
					t.Fatalf("%v output %d differs at %d", wh, k, i)
				}
			}
		}
	}
}

// TestConcurrentRuns runs all three graphs from several goroutines at once
// (meant for -race).
func TestConcurrentRuns(t *testing.T) {
	gs := loadGraphs(t)
	var gold minifasGolden
	golden.ReadJSON(t, "testdata/golden_minifas.json.gz", &gold)
	det := detInput(t, "testdata/minivision_image_T1.det_input.png")
	ref, err := gs[weights.RetinaFace].Run(det)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			sessions := map[string]*Session{}
			for _, name := range weights.Names() {
				sessions[name] = gs[name].NewSession()
			}
			for r := range 3 {
				c := gold.Cases[(w+r)%len(gold.Cases)]
				out, err := sessions[modelFile(c.Model)].Run(Tensor{Shape: []int{1, 3, 80, 80}, Data: c.Input})
				if err != nil {
					t.Error(err)
					return
				}
				for i, v := range c.Logits {
					if math.Abs(float64(out[0].Data[i])-v) > 1e-4*max(1, math.Abs(v)) {
						t.Errorf("goroutine %d: %s logit %d: %v, want %v", w, c.Model, i, out[0].Data[i], v)
					}
				}
				heads, err := sessions[weights.RetinaFace].Run(det)
				if err != nil {
					t.Error(err)
					return
				}
				for k := range heads {
					for i := range heads[k].Data {
						if heads[k].Data[i] != ref[k].Data[i] {
							t.Errorf("goroutine %d: head %d differs", w, k)
							return
						}
					}
				}
			}
		})
	}
	wg.Wait()
}

func benchModel(b *testing.B, name string, in Tensor) {
	g := loadGraphs(b)[name]
	s := g.NewSession()
	if _, err := s.Run(in); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Run(in); err != nil {
			b.Fatal(err)
		}
	}
}

func miniFASInput(b *testing.B) Tensor {
	var gold minifasGolden
	golden.ReadJSON(b, "testdata/golden_minifas.json.gz", &gold)
	return Tensor{Shape: []int{1, 3, 80, 80}, Data: gold.Cases[0].Input}
}

func BenchmarkMiniFASNetV2(b *testing.B) { benchModel(b, weights.MiniFASNetV2, miniFASInput(b)) }

func BenchmarkMiniFASNetV1SE(b *testing.B) { benchModel(b, weights.MiniFASNetV1SE, miniFASInput(b)) }

// BenchmarkRetinaFace runs the detector at the 166x221 input of a 480x640
// photo.
func BenchmarkRetinaFace(b *testing.B) {
	benchModel(b, weights.RetinaFace, detInput(b, "testdata/minivision_image_T1.det_input.png"))
}

// BenchmarkFreshSessionRetinaFace measures Graph.Run, which allocates all
// buffers each time.
func BenchmarkFreshSessionRetinaFace(b *testing.B) {
	g := loadGraphs(b)[weights.RetinaFace]
	in := detInput(b, "testdata/minivision_image_T1.det_input.png")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.Run(in); err != nil {
			b.Fatal(err)
		}
	}
}

func TestBufferBytes(t *testing.T) {
	gs := loadGraphs(t)
	det := detInput(t, "testdata/minivision_image_T1.det_input.png")
	for _, name := range weights.Names() {
		s := gs[name].NewSession()
		in := Tensor{Shape: []int{1, 3, 80, 80}, Data: make([]float32, 3*80*80)}
		if name == weights.RetinaFace {
			in = det
		}
		if _, err := s.Run(in); err != nil {
			t.Fatal(err)
		}
		n := s.BufferBytes()
		if n <= 0 {
			t.Fatalf("%s: %d bytes", name, n)
		}
		t.Logf("%s: %d KiB of buffers per session at input %v", name, n>>10, in.Shape)
	}
}

// BenchmarkFreshSessionMiniFASNetV2 measures Graph.Run, which allocates all
// buffers each time.
func BenchmarkFreshSessionMiniFASNetV2(b *testing.B) {
	g := loadGraphs(b)[weights.MiniFASNetV2]
	in := miniFASInput(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.Run(in); err != nil {
			b.Fatal(err)
		}
	}
}
