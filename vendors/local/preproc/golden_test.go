package preproc

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/caddy-liveness/caddy-liveness/vendors/local/internal/golden"
)

// The golden data of minivision's own pipeline run with OpenCV 4.6 on its
// sample faces (Apache-2.0, testdata/local-model/LICENSE-minivision), kept in
// testdata/local-model; LIVENESS_LOCAL_MODEL points the tests at another copy.
func localModelDir(t testing.TB) string {
	dir := os.Getenv("LIVENESS_LOCAL_MODEL")
	if dir == "" {
		dir = filepath.Join("testdata", "local-model")
	}
	if _, err := os.Stat(filepath.Join(dir, "golden_retinaface", "golden_retinaface.json.gz")); err != nil {
		t.Fatalf("golden data not found in %s: %v", dir, err)
	}
	return dir
}

type goldenCase struct {
	Image       string `json:"image"`
	OrientedPNG string `json:"oriented_png"`
	ImageWH     [2]int `json:"image_wh"`
	DetInput    string `json:"det_input_png"`
	DetInputWH  [2]int `json:"det_input_wh"`
	Best        struct {
		BBox [4]int `json:"bbox_xywh"`
	} `json:"best"`
	Models map[string]struct {
		Scale float64 `json:"scale"`
		LTRB  [4]int  `json:"crop_ltrb_inclusive"`
		PNG   string  `json:"crop_png"`
	} `json:"models"`
}

func loadGolden(t testing.TB) (string, []goldenCase) {
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

func loadPNG(t testing.TB, path string) *Image {
	t.Helper()
	return FromImage(golden.PNG(t, path))
}

// compareImages reports the number of differing channel values and the largest difference.
func compareImages(t testing.TB, name string, got, want *Image) (ndiff, maxd int) {
	t.Helper()
	if got.W != want.W || got.H != want.H {
		t.Fatalf("%s: size %dx%d, want %dx%d", name, got.W, got.H, want.W, want.H)
	}
	for i := range got.Pix {
		d := int(got.Pix[i]) - int(want.Pix[i])
		if d < 0 {
			d = -d
		}
		if d != 0 {
			ndiff++
			maxd = max(maxd, d)
		}
	}
	return ndiff, maxd
}

func TestGoldenDetectorInput(t *testing.T) {
	dir, cases := loadGolden(t)
	for _, c := range cases {
		src := loadPNG(t, filepath.Join(dir, c.OrientedPNG))
		if src.W != c.ImageWH[0] || src.H != c.ImageWH[1] {
			t.Fatalf("%s: oriented image %dx%d, json says %v", c.Image, src.W, src.H, c.ImageWH)
		}
		w, h := DetectorInputSize(src.W, src.H)
		if w != c.DetInputWH[0] || h != c.DetInputWH[1] {
			t.Fatalf("%s: DetectorInputSize = %dx%d, want %v", c.Image, w, h, c.DetInputWH)
		}
		got := ResizeLinear(src, w, h)
		want := loadPNG(t, filepath.Join(dir, c.DetInput))
		if n, m := compareImages(t, c.Image, got, want); n != 0 {
			t.Errorf("%s: detector input differs from OpenCV in %d of %d values (max %d)", c.Image, n, len(got.Pix), m)
		}
	}
}

func TestGoldenCrops(t *testing.T) {
	dir, cases := loadGolden(t)
	for _, c := range cases {
		src := loadPNG(t, filepath.Join(dir, c.OrientedPNG))
		for name, m := range c.Models {
			l, tp, r, b, err := CropBox(src.W, src.H, c.Best.BBox, m.Scale)
			if err != nil {
				t.Fatal(err)
			}
			if [4]int{l, tp, r, b} != m.LTRB {
				t.Errorf("%s %s: CropBox = %v, want %v", c.Image, name, [4]int{l, tp, r, b}, m.LTRB)
			}
			got, err := Crop(src, c.Best.BBox, m.Scale, 80, 80)
			if err != nil {
				t.Fatal(err)
			}
			want := loadPNG(t, filepath.Join(dir, m.PNG))
			if n, mx := compareImages(t, c.Image+" "+name, got, want); n != 0 {
				t.Errorf("%s %s: crop differs from OpenCV in %d of %d values (max %d)", c.Image, name, n, len(got.Pix), mx)
			}
		}
	}
}

// TestGoldenDecode measures how far Go's JPEG decoder (plus Orient) is from OpenCV's libjpeg
// decode of the same files. It cannot be exact (different IDCT and chroma upsampling); it checks
// the geometry (orientation 6 applied) and keeps the difference from growing unnoticed.
func TestGoldenDecode(t *testing.T) {
	dir, cases := loadGolden(t)
	for _, c := range cases {
		data, err := os.ReadFile(filepath.Join(dir, "faces", c.Image))
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(data, 0)
		if err != nil {
			t.Fatal(err)
		}
		want := loadPNG(t, filepath.Join(dir, c.OrientedPNG))
		n, mx := compareImages(t, c.Image, got, want)
		var sum int
		for i := range got.Pix {
			d := int(got.Pix[i]) - int(want.Pix[i])
			sum += max(d, -d)
		}
		mean := float64(sum) / float64(len(got.Pix))
		t.Logf("%s: Go decode vs OpenCV: %d of %d values differ, max %d, mean |d| %.3f", c.Image, n, len(got.Pix), mx, mean)
		if mean > 3 {
			t.Errorf("%s: mean difference %.3f to OpenCV's decode: wrong orientation or colour conversion?", c.Image, mean)
		}
	}
}
