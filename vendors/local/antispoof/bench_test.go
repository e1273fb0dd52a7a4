package antispoof

import (
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/caddy-liveness/caddy-liveness/vendors/local/detect"
	"github.com/caddy-liveness/caddy-liveness/vendors/local/graph"
	"github.com/caddy-liveness/caddy-liveness/vendors/local/kernels"
	"github.com/caddy-liveness/caddy-liveness/vendors/local/preproc"
	"github.com/caddy-liveness/caddy-liveness/vendors/local/weights"
)

// benchImages are the sample faces the benchmarks run on, in the order they report them.
var benchImages = []string{"minivision_image_T1.jpg", "minivision_image_F1.jpg", "minivision_image_F2.jpg"}

// benchSample is one sample face: its JPEG bytes and the decoded image.
type benchSample struct {
	name string // file name without the extension
	data []byte
	img  *preproc.Image
}

func benchSamples(b *testing.B) []benchSample {
	b.Helper()
	dir := filepath.Join(modelDir(b), "faces")
	var out []benchSample
	for _, f := range benchImages {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			b.Fatal(err)
		}
		img, err := preproc.Decode(data, 0)
		if err != nil {
			b.Fatalf("%s: %v", f, err)
		}
		out = append(out, benchSample{name: strings.TrimSuffix(f, filepath.Ext(f)), data: data, img: img})
	}
	return out
}

// mustScore fails the benchmark unless r is a scored report.
func mustScore(b *testing.B, r Report, err error) {
	if err != nil {
		b.Fatal(err)
	}
	if r.Reason != "" {
		b.Fatalf("reason %q, want a score", r.Reason)
	}
}

// heapGrowth returns the growth of the live heap over one call of f with the collector off: as
// nothing is freed meanwhile, it is every byte f allocates, an upper bound of what f holds at
// once. prime, when not nil, runs first, also with the collector off, so that what it leaves in
// a sync.Pool is still there for f.
func heapGrowth(prime, f func()) uint64 {
	runtime.GC()
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	if prime != nil {
		prime()
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.HeapAlloc - before.HeapAlloc
}

// BenchmarkCheck times the whole check on each sample face: decoded (Check on an image already
// decoded and oriented) and bytes (preproc.Decode of the JPEG, then Check). Besides -benchmem's
// figures of a warm engine (its sessions' buffers reused from one check to the next), each reports:
//
//   - peak-heap-B: the heap growth, collector off, of the first check of a freshly compiled
//     engine, whose sessions allocate every buffer they need: an upper bound of the memory one
//     inference holds, weights excluded (the engine keeps these buffers in its pools).
//   - warm-heap-B: the same for a check of the warm shared engine: what a check allocates on top
//     of the buffers already pooled.
func BenchmarkCheck(b *testing.B) {
	b.Logf("assembly kernels: %v", kernels.UsesAsm())
	e := engine(b)
	for _, s := range benchSamples(b) {
		variants := []struct {
			name string
			run  func(e *Engine) (Report, error)
		}{
			{"decoded", func(e *Engine) (Report, error) { return e.Check(s.img) }},
			{"bytes", func(e *Engine) (Report, error) {
				img, err := preproc.Decode(s.data, 0)
				if err != nil {
					return Report{}, err
				}
				return e.Check(img)
			}},
		}
		for _, v := range variants {
			b.Run(s.name+"/"+v.name, func(b *testing.B) {
				fresh, err := New(DefaultPolicy)
				if err != nil {
					b.Fatal(err)
				}
				var r Report
				cold := heapGrowth(nil, func() { r, err = v.run(fresh) })
				mustScore(b, r, err)
				warm := heapGrowth(func() { v.run(e) }, func() { r, err = v.run(e) })
				mustScore(b, r, err)
				fresh = nil
				runtime.GC()

				b.ReportAllocs()
				for b.Loop() {
					if r, err = v.run(e); err != nil || r.Reason != "" {
						mustScore(b, r, err)
					}
				}
				b.ReportMetric(float64(cold), "peak-heap-B")
				b.ReportMetric(float64(warm), "warm-heap-B")
			})
		}
	}
}

// stageGraph compiles one embedded network.
func stageGraph(b *testing.B, name string) *graph.Graph {
	b.Helper()
	w, err := weights.Load(name)
	if err != nil {
		b.Fatal(err)
	}
	g, err := graph.Load(w)
	if err != nil {
		b.Fatal(err)
	}
	return g
}

// BenchmarkStages splits the check of each sample face into its parts, on the tensors Check
// builds: each network on its own (detector, MiniFASNetV2, MiniFASNetV1SE: Session.Run only, the
// figure to compare with another runtime on the same tensors), and glue, everything else
// (detector input, box decoding and policy, the two crops and their tensors). Each network reports
// buffers-B, the float buffers its session holds after a run (Session.BufferBytes): its peak
// working memory at that input size, weights excluded.
func BenchmarkStages(b *testing.B) {
	b.Logf("assembly kernels: %v", kernels.UsesAsm())
	e := engine(b)
	nets := []struct {
		name  string
		g     *graph.Graph
		scale float64 // crop scale of an anti-spoofing model; 0 for the detector
	}{
		{"detector", stageGraph(b, weights.RetinaFace), 0},
		{"MiniFASNetV2", stageGraph(b, weights.MiniFASNetV2), 2.7},
		{"MiniFASNetV1SE", stageGraph(b, weights.MiniFASNetV1SE), 4.0},
	}
	for _, s := range benchSamples(b) {
		r, err := e.Screen(s.img)
		mustScore(b, r, err)
		box := r.Faces[0].Box
		for _, n := range nets {
			var in graph.Tensor
			if n.scale == 0 {
				if in, err = detect.Input(s.img); err != nil {
					b.Fatal(err)
				}
			} else {
				crop, err := preproc.Crop(s.img, box, n.scale, cropW, cropH)
				if err != nil {
					b.Fatal(err)
				}
				in = graph.Tensor{Shape: []int{1, 3, cropH, cropW}, Data: crop.CHW([3]float32{})}
			}
			b.Run(s.name+"/"+n.name, func(b *testing.B) {
				sess := n.g.NewSession()
				if _, err := sess.Run(in); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := sess.Run(in); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(sess.BufferBytes()), "buffers-B")
			})
		}
		b.Run(s.name+"/glue", func(b *testing.B) {
			sess := nets[0].g.NewSession()
			in, err := detect.Input(s.img)
			if err != nil {
				b.Fatal(err)
			}
			out, err := sess.Run(in)
			if err != nil {
				b.Fatal(err)
			}
			heads := make([]graph.Tensor, len(out)) // the session's outputs are its own: copy them
			for i, t := range out {
				heads[i] = graph.Tensor{Shape: append([]int(nil), t.Shape...), Data: append([]float32(nil), t.Data...)}
			}
			b.ReportAllocs()
			for b.Loop() {
				in, err := detect.Input(s.img)
				if err != nil {
					b.Fatal(err)
				}
				faces, err := detect.Faces(heads, in.Shape[3], in.Shape[2], s.img.W, s.img.H, e.policy.MinConfidence)
				if err != nil || len(faces) == 0 {
					b.Fatalf("%d faces, err %v", len(faces), err)
				}
				for _, m := range e.models {
					crop, err := preproc.Crop(s.img, faces[0].Box, m.scale, cropW, cropH)
					if err != nil {
						b.Fatal(err)
					}
					_ = crop.CHW([3]float32{})
				}
			}
		})
	}
}
