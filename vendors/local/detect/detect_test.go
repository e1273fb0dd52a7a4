package detect

import (
	"math"
	"path/filepath"
	"sync"
	"testing"

	"github.com/caddy-liveness/caddy-liveness/vendors/local/graph"
	"github.com/caddy-liveness/caddy-liveness/vendors/local/internal/golden"
	"github.com/caddy-liveness/caddy-liveness/vendors/local/preproc"
)

// The golden data is minivision's own pipeline run with OpenCV 4.6 DNN on its sample faces
// (Apache-2.0), kept with package preproc's test data; LIVENESS_LOCAL_MODEL points the tests at
// another copy.
func localModelDir(t testing.TB) string {
	return golden.ModelDir(t, filepath.Join("..", "preproc", "testdata", "local-model"))
}

type goldenCase struct {
	Image       string `json:"image"`
	OrientedPNG string `json:"oriented_png"`
	ImageWH     [2]int `json:"image_wh"`
	DetInputWH  [2]int `json:"det_input_wh"`
	Heads       map[string]struct {
		Shape []int     `json:"shape"`
		Data  []float32 `json:"data"`
	} `json:"heads"`
	Best struct {
		Conf float64    `json:"conf"`
		Rel  [4]float64 `json:"rel_box_x1y1x2y2"`
		BBox [4]int     `json:"bbox_xywh"`
	} `json:"best"`
}

func loadGolden(t testing.TB) (string, []goldenCase) {
	t.Helper()
	dir := localModelDir(t)
	var g struct {
		Cases []goldenCase `json:"cases"`
	}
	golden.ReadJSON(t, filepath.Join(dir, "golden_retinaface", "golden_retinaface.json.gz"), &g)
	if len(g.Cases) == 0 {
		t.Fatal("no golden cases")
	}
	return dir, g.Cases
}

func loadPNG(t testing.TB, path string) *preproc.Image {
	t.Helper()
	return preproc.FromImage(golden.PNG(t, path))
}

var (
	detOnce sync.Once
	det     *Detector
	detErr  error
)

func detector(t testing.TB) *Detector {
	t.Helper()
	detOnce.Do(func() { det, detErr = New() })
	if detErr != nil {
		t.Fatal(detErr)
	}
	return det
}

// TestGoldenHeadsDecode checks the post-processing alone on OpenCV's own head tensors, given in a
// shuffled order.
func TestGoldenHeadsDecode(t *testing.T) {
	_, cases := loadGolden(t)
	for _, c := range cases {
		var heads []graph.Tensor
		for _, name := range []string{"conv_blob53", "conv_blob48", "conv_blob51", "conv_blob50", "conv_blob49", "conv_blob52"} {
			h, ok := c.Heads[name]
			if !ok {
				t.Fatalf("%s: no head %s", c.Image, name)
			}
			heads = append(heads, graph.Tensor{Shape: h.Shape, Data: h.Data})
		}
		rel, conf, err := BestRelative(heads, c.DetInputWH[0], c.DetInputWH[1])
		if err != nil {
			t.Fatal(err)
		}
		var worst float64
		for k := range rel {
			worst = max(worst, math.Abs(float64(rel[k])-c.Best.Rel[k]))
		}
		box := PixelBox(rel, c.ImageWH[0], c.ImageWH[1])
		t.Logf("%s: rel %v (max |d| %.2g), conf %.7f (want %.7f), box %v", c.Image, rel, worst, conf, c.Best.Conf, box)
		if worst > 1e-6 {
			t.Errorf("%s: relative box %v, want %v", c.Image, rel, c.Best.Rel)
		}
		if d := math.Abs(float64(conf) - c.Best.Conf); d > 1e-6 {
			t.Errorf("%s: conf %v, want %v", c.Image, conf, c.Best.Conf)
		}
		if box != c.Best.BBox {
			t.Errorf("%s: box %v, want %v", c.Image, box, c.Best.BBox)
		}
	}
}

// TestGoldenBest runs the whole detector from the oriented image.
func TestGoldenBest(t *testing.T) {
	dir, cases := loadGolden(t)
	d := detector(t)
	s := d.Graph().NewSession()
	for _, c := range cases {
		img := loadPNG(t, filepath.Join(dir, c.OrientedPNG))
		if img.W != c.ImageWH[0] || img.H != c.ImageWH[1] {
			t.Fatalf("%s: oriented image %dx%d, want %v", c.Image, img.W, img.H, c.ImageWH)
		}
		box, conf, err := Best(img, s)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: box %v (want %v), conf %.7f (want %.7f, |d| %.2g)", c.Image, box, c.Best.BBox, conf, c.Best.Conf, math.Abs(float64(conf)-c.Best.Conf))
		if box != c.Best.BBox {
			t.Errorf("%s: box %v, want %v", c.Image, box, c.Best.BBox)
		}
		if d := math.Abs(float64(conf) - c.Best.Conf); d > 1e-4 {
			t.Errorf("%s: conf %v, want %v", c.Image, conf, c.Best.Conf)
		}
		if b2, c2, err := d.Detect(img); err != nil || b2 != box || c2 != conf {
			t.Errorf("%s: Detect = %v, %v, %v; Best gave %v, %v", c.Image, b2, c2, err, box, conf)
		}
	}
}

func flat(w, h int, b, g, r uint8) *preproc.Image {
	m := preproc.NewImage(w, h)
	for i := 0; i < len(m.Pix); i += 3 {
		m.Pix[i], m.Pix[i+1], m.Pix[i+2] = b, g, r
	}
	return m
}

// TestNoFace reports the best confidence on images without a face. It only checks they are far
// below the faces' (> 0.98); choosing a threshold is not this package's business.
func TestNoFace(t *testing.T) {
	d := detector(t)
	noise := preproc.NewImage(480, 640)
	x := uint32(1)
	for i := range noise.Pix {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		noise.Pix[i] = uint8(x)
	}
	for _, c := range []struct {
		name string
		img  *preproc.Image
	}{
		{"grey 480x640", flat(480, 640, 128, 128, 128)},
		{"black 480x640", flat(480, 640, 0, 0, 0)},
		{"white 480x640", flat(480, 640, 255, 255, 255)},
		{"mean-coloured 480x640", flat(480, 640, 104, 117, 123)},
		{"noise 480x640", noise},
		{"grey 100x100 (not resized)", flat(100, 100, 128, 128, 128)},
	} {
		box, conf, err := d.Detect(c.img)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: best conf %.6f, box %v", c.name, conf, box)
		if conf > 0.5 {
			t.Errorf("%s: confidence %v on an image without a face", c.name, conf)
		}
	}
}

func TestErrors(t *testing.T) {
	d := detector(t)
	if _, _, err := d.Detect(nil); err == nil {
		t.Error("nil image: no error")
	}
	if _, _, err := d.Detect(&preproc.Image{W: 2, H: 2}); err == nil {
		t.Error("malformed image: no error")
	}
	if _, _, err := Best(flat(10, 10, 0, 0, 0), nil); err == nil {
		t.Error("nil session: no error")
	}
	if _, _, err := BestRelative(nil, 10, 10); err == nil {
		t.Error("no heads: no error")
	}
	six := make([]graph.Tensor, 6)
	for i := range six {
		six[i] = graph.Tensor{Shape: []int{1, 8, 2, 2}, Data: make([]float32, 32)}
	}
	if _, _, err := BestRelative(six, 10, 10); err == nil {
		t.Error("six loc heads: no error")
	}
}

func TestPriorOrder(t *testing.T) {
	// Cell (x=1, y=2) of stride 16, second prior (128): centre (24, 40).
	p := priorBox(levels[1], 1, 1, 2, 160, 200)
	want := [4]float32{(24 - 64) / 160.0, (40 - 64) / 200.0, (24 + 64) / 160.0, (40 + 64) / 200.0}
	if p != want {
		t.Errorf("prior %v, want %v", p, want)
	}
	// A zero code decodes to the prior itself.
	if b := decode(p, [4]float32{}); math.Abs(float64(b[0]-p[0])) > 1e-7 || math.Abs(float64(b[3]-p[3])) > 1e-7 {
		t.Errorf("decode of a zero code: %v, want %v", b, p)
	}
}

func TestConcurrentDetect(t *testing.T) {
	dir, cases := loadGolden(t)
	d := detector(t)
	imgs := make([]*preproc.Image, len(cases))
	for i, c := range cases {
		imgs[i] = loadPNG(t, filepath.Join(dir, c.OrientedPNG))
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < 3; k++ {
				i := (g + k) % len(cases)
				box, _, err := d.Detect(imgs[i])
				if err != nil {
					t.Error(err)
					return
				}
				if box != cases[i].Best.BBox {
					t.Errorf("%s: box %v, want %v", cases[i].Image, box, cases[i].Best.BBox)
				}
			}
		}()
	}
	wg.Wait()
}

func BenchmarkBest(b *testing.B) {
	dir, cases := loadGolden(b)
	d := detector(b)
	img := loadPNG(b, filepath.Join(dir, cases[0].OrientedPNG))
	s := d.Graph().NewSession()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := Best(img, s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPostProcess(b *testing.B) {
	_, cases := loadGolden(b)
	c := cases[0]
	var heads []graph.Tensor
	for _, h := range c.Heads {
		heads = append(heads, graph.Tensor{Shape: h.Shape, Data: h.Data})
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := BestRelative(heads, c.DetInputWH[0], c.DetInputWH[1]); err != nil {
			b.Fatal(err)
		}
	}
}

// Faces on OpenCV's own head tensors: the first face is the golden best box, no two faces overlap
// by more than NMSThreshold, confidences are sorted, and a threshold above the best leaves none.
func TestGoldenFaces(t *testing.T) {
	_, cases := loadGolden(t)
	for _, c := range cases {
		var heads []graph.Tensor
		for _, h := range c.Heads {
			heads = append(heads, graph.Tensor{Shape: h.Shape, Data: h.Data})
		}
		all, err := Faces(heads, c.DetInputWH[0], c.DetInputWH[1], c.ImageWH[0], c.ImageWH[1], 1e-4)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) < 2 || all[0].Box != c.Best.BBox || math.Abs(float64(all[0].Conf)-c.Best.Conf) > 1e-6 {
			t.Fatalf("%s: faces %v, want the first to be %v (%v) among several candidates", c.Image, all, c.Best.BBox, c.Best.Conf)
		}
		for i := 1; i < len(all); i++ {
			if all[i].Conf > all[i-1].Conf {
				t.Fatalf("%s: confidences not sorted: %v", c.Image, all)
			}
			for j := range i {
				if o := iou(pixelRect(all[i].Box), pixelRect(all[j].Box)); o > NMSThreshold+0.02 {
					t.Fatalf("%s: faces %v and %v overlap by %.2f after suppression", c.Image, all[i], all[j], o)
				}
			}
		}
		t.Logf("%s: %d candidates at 1e-4; second %v", c.Image, len(all), all[1])
		strict, err := Faces(heads, c.DetInputWH[0], c.DetInputWH[1], c.ImageWH[0], c.ImageWH[1], 0.6)
		if err != nil {
			t.Fatal(err)
		}
		if len(strict) != 1 {
			t.Errorf("%s: %d faces at 0.6, want 1: %v", c.Image, len(strict), strict)
		}
		none, _ := Faces(heads, c.DetInputWH[0], c.DetInputWH[1], c.ImageWH[0], c.ImageWH[1], float32(c.Best.Conf)+1e-3)
		if len(none) != 0 {
			t.Errorf("%s: faces above the best confidence: %v", c.Image, none)
		}
	}
}

func TestIoU(t *testing.T) {
	for _, c := range []struct {
		a, b [4]float32
		want float32
	}{
		{[4]float32{0, 0, 1, 1}, [4]float32{0, 0, 1, 1}, 1},
		{[4]float32{0, 0, 1, 1}, [4]float32{2, 2, 3, 3}, 0},
		{[4]float32{0, 0, 2, 1}, [4]float32{1, 0, 3, 1}, 1.0 / 3},
		{[4]float32{0, 0, 4, 4}, [4]float32{1, 1, 2, 2}, 1.0 / 16},
	} {
		if got := iou(c.a, c.b); math.Abs(float64(got-c.want)) > 1e-6 {
			t.Errorf("iou(%v, %v) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

// pixelRect turns an [x, y, w, h] box back into corners (within a pixel of the relative box the
// suppression compared: the tolerance above allows for the truncation).
func pixelRect(b [4]int) [4]float32 {
	return [4]float32{float32(b[0]), float32(b[1]), float32(b[0] + b[2] - 1), float32(b[1] + b[3] - 1)}
}
