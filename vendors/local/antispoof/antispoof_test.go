package antispoof

import (
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddy-liveness/caddy-liveness/vendors/local/internal/golden"
	"github.com/caddy-liveness/caddy-liveness/vendors/local/kernels"
	"github.com/caddy-liveness/caddy-liveness/vendors/local/preproc"
)

// The golden data is minivision's own pipeline (OpenCV 4.6 DNN) on its three sample faces, kept
// with package preproc's test data.
func modelDir(t testing.TB) string {
	return golden.ModelDir(t, filepath.Join("..", "preproc", "testdata", "local-model"))
}

type goldenModel struct {
	Logits  [3]float64 `json:"logits"`
	Softmax [3]float64 `json:"softmax"`
}

type goldenCase struct {
	Image       string `json:"image"`
	OrientedPNG string `json:"oriented_png"`
	Best        struct {
		Conf float64 `json:"conf"`
		BBox [4]int  `json:"bbox_xywh"`
	} `json:"best"`
	Models map[string]goldenModel `json:"models"`
	Real   float64                `json:"real"`
}

func loadGolden(t testing.TB) (string, []goldenCase) {
	t.Helper()
	dir := modelDir(t)
	var g struct {
		Cases []goldenCase `json:"cases"`
	}
	golden.ReadJSON(t, filepath.Join(dir, "golden_retinaface", "golden_retinaface.json.gz"), &g)
	if len(g.Cases) != 3 {
		t.Fatalf("%d golden cases, want 3", len(g.Cases))
	}
	return dir, g.Cases
}

func engine(t testing.TB) *Engine {
	t.Helper()
	e, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// From minivision's oriented image the whole check reproduces its box exactly and its logits
// within 1e-4 relative (both kernel paths: CI runs this package with -tags purego too).
func TestCheckMatchesGoldenFromOrientedImage(t *testing.T) {
	t.Logf("assembly kernels: %v", kernels.UsesAsm())
	dir, cases := loadGolden(t)
	e := engine(t)
	for _, c := range cases {
		t.Run(c.Image, func(t *testing.T) {
			img := preproc.FromImage(golden.PNG(t, filepath.Join(dir, c.OrientedPNG)))
			r, err := e.Check(img)
			if err != nil {
				t.Fatal(err)
			}
			if r.Reason != "" {
				t.Fatalf("reason %q, want a score", r.Reason)
			}
			if r.Faces[0].Box != c.Best.BBox {
				t.Fatalf("box %v, want %v", r.Faces[0].Box, c.Best.BBox)
			}
			if d := math.Abs(float64(r.Faces[0].Conf) - c.Best.Conf); d > 1e-5 {
				t.Errorf("confidence %v, want %v", r.Faces[0].Conf, c.Best.Conf)
			}
			for i, name := range []string{"MiniFASNetV2", "MiniFASNetV1SE"} {
				want := c.Models[name]
				for k := range 3 {
					got, ref := float64(r.Logits[i][k]), want.Logits[k]
					if math.Abs(got-ref) > 1e-4*math.Max(1, math.Abs(ref)) {
						t.Errorf("%s logit %d = %v, want %v", name, k, got, ref)
					}
				}
			}
			if d := math.Abs(r.Score - c.Real); d > 1e-4 {
				t.Errorf("score %v, want %v (|d| %.2g)", r.Score, c.Real, d)
			}
			t.Logf("score %.6f, minivision %.6f", r.Score, c.Real)
		})
	}
}

// From the JPEG files, through Go's decoder (which differs from libjpeg by a level here and
// there), the score stays within 0.02 of minivision's and the samples fall on the right side of
// DefaultThreshold.
func TestCheckFromJPEGAgreesWithMinivision(t *testing.T) {
	dir, cases := loadGolden(t)
	e := engine(t)
	for _, c := range cases {
		t.Run(c.Image, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, "faces", c.Image))
			if err != nil {
				t.Fatal(err)
			}
			img, err := preproc.Decode(data, 0)
			if err != nil {
				t.Fatal(err)
			}
			r, err := e.Check(img)
			if err != nil || r.Reason != "" {
				t.Fatalf("reason %q, err %v", r.Reason, err)
			}
			if d := math.Abs(r.Score - c.Real); d > 0.02 {
				t.Errorf("score %.4f, minivision %.4f: |d| %.4f > 0.02", r.Score, c.Real, d)
			}
			live := r.Score > DefaultThreshold
			if wantLive := c.Image == "minivision_image_T1.jpg"; live != wantLive {
				t.Errorf("score %.4f: live %v at the default threshold %v, want %v", r.Score, live, DefaultThreshold, wantLive)
			}
			t.Logf("score %.6f, minivision %.6f, box %v", r.Score, c.Real, r.Faces[0].Box)
		})
	}
}

func oriented(t testing.TB, name string) *preproc.Image {
	t.Helper()
	return preproc.FromImage(golden.PNG(t, filepath.Join(modelDir(t), "golden_retinaface", name+".oriented.png")))
}

// paste returns a w x h grey canvas with the images drawn at the given top-left corners.
func paste(w, h int, at [][2]int, imgs ...*preproc.Image) *preproc.Image {
	c := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range c.Pix {
		c.Pix[i] = 128
	}
	for k, m := range imgs {
		for y := 0; y < m.H; y++ {
			for x := 0; x < m.W; x++ {
				b, g, r := m.BGRAt(x, y)
				c.Set(at[k][0]+x, at[k][1]+y, color.RGBA{r, g, b, 255})
			}
		}
	}
	return preproc.FromImage(c)
}

func TestScreenPolicy(t *testing.T) {
	e := engine(t)
	t1, f2 := oriented(t, "minivision_image_T1"), oriented(t, "minivision_image_F2")
	small := preproc.ResizeLinear(t1, 24, 32) // a face box of about 10 pixels
	cases := []struct {
		name   string
		img    *preproc.Image
		reason string
		faces  int
	}{
		{"one face", t1, "", 1},
		{"grey picture", paste(640, 480, nil), ReasonNoFace, 0},
		{"two faces side by side", paste(960, 640, [][2]int{{0, 0}, {480, 0}}, t1, f2), ReasonSeveralFaces, 2},
		{"face too small", paste(96, 128, [][2]int{{36, 48}}, small), "", -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := e.Screen(c.img)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("faces %v, reason %q", r.Faces, r.Reason)
			if c.faces == -1 { // too small for the models: never scored, whatever the detector sees
				if r.Reason != ReasonFaceTooSmall && r.Reason != ReasonNoFace {
					t.Fatalf("reason %q, want %q or %q", r.Reason, ReasonFaceTooSmall, ReasonNoFace)
				}
				return
			}
			if r.Reason != c.reason || len(r.Faces) != c.faces {
				t.Fatalf("reason %q with %d faces, want %q with %d", r.Reason, len(r.Faces), c.reason, c.faces)
			}
			c2, err := e.Check(c.img)
			if err != nil {
				t.Fatal(err)
			}
			if (c2.Reason == "") != (c.reason == "") || (c.reason != "" && c2.Score != 0) {
				t.Fatalf("Check: reason %q score %v, Screen: reason %q", c2.Reason, c2.Score, c.reason)
			}
		})
	}
}

// The policy's size rule on its own: a face found at full size is refused as too small by a
// policy whose minimum is above it.
func TestScreenFaceTooSmallRule(t *testing.T) {
	e, err := New(Policy{MinConfidence: 0.6, MinFace: 300})
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.Screen(oriented(t, "minivision_image_T1"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Reason != ReasonFaceTooSmall {
		t.Fatalf("reason %q (faces %v), want %q", r.Reason, r.Faces, ReasonFaceTooSmall)
	}
}

func TestNewRejectsBadPolicy(t *testing.T) {
	for _, p := range []Policy{{0, 32}, {1.5, 32}, {0.5, 0}, {float32(math.NaN()), 32}} {
		if _, err := New(p); err == nil {
			t.Errorf("New(%+v) succeeded", p)
		}
	}
}

func TestFingerprintNamesWeightsAndPolicy(t *testing.T) {
	a := engine(t).Fingerprint()
	b, err := New(Policy{MinConfidence: 0.6, MinFace: 40})
	if err != nil {
		t.Fatal(err)
	}
	if a == b.Fingerprint() {
		t.Fatal("fingerprint does not change with the policy")
	}
	for _, d := range []string{"4eed38f0bde33c9b", "d819a69bac6b9ade", "c41026aa6899965d"} {
		if !strings.Contains(a, d) {
			t.Errorf("fingerprint %q lacks digest %s", a, d)
		}
	}
}
