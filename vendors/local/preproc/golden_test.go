package preproc

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddy-liveness/caddy-liveness/vendors/local/internal/golden"
)

// The golden data of minivision's own pipeline run with OpenCV 4.6 on its
// sample faces (Apache-2.0, testdata/local-model/LICENSE-minivision), kept in
// testdata/local-model; LIVENESS_LOCAL_MODEL points the tests at another copy.
func localModelDir(t testing.TB) string {
	return golden.ModelDir(t, filepath.Join("testdata", "local-model"))
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

// TestGoldenDecode measures how far Decode (Go's JPEG decoder with libjpeg's upsampling and colour
// conversion, plus Orient) is from OpenCV's libjpeg decode of the same files. Only the IDCT differs
// (within a few levels); it checks the geometry (orientation 6 applied) and keeps the difference
// from growing unnoticed. Seen: max 3, mean 0.023-0.030 (Go's own conversion: max 32, mean 0.26-0.46).
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
		if mean > 0.06 || mx > 4 {
			t.Errorf("%s: difference to OpenCV's decode max %d, mean %.3f: wrong orientation, upsampling or colour conversion?", c.Image, mx, mean)
		}
	}
}

// TestDecodeMatchesLibjpegSampling checks every chroma subsampling libjpeg writes (cjpeg -sample
// 1x1, 2x1, 2x2, 1x2, 4x1, 4x2), grey and progressive, on a 61x79 image (odd sizes: the last
// chroma column and row are the edge cases of the upsampling), against cv2.imread's decode of the
// same file.
func TestDecodeMatchesLibjpegSampling(t *testing.T) {
	compareDecodes(t, "jpeg/sampling-*.jpg", 8, func(n, mx, total int) bool { return mx <= 4 && n <= total/10 })
}

// compareDecodes decodes the want files of testdata matching pattern and compares each with
// cv2.imread's decode of it (the .opencv.png beside it); ok judges the count of differing values
// and the largest difference.
func compareDecodes(t *testing.T, pattern string, want int, ok func(n, mx, total int) bool) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil || len(files) != want {
		t.Fatalf("%d files match %s (%v), want %d", len(files), pattern, err, want)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(data, 0)
		if err != nil {
			t.Fatal(err)
		}
		ref := loadPNG(t, strings.TrimSuffix(f, filepath.Ext(f))+".opencv.png")
		n, mx := compareImages(t, f, got, ref)
		t.Logf("%s: %d of %d values differ, max %d", filepath.Base(f), n, len(got.Pix), mx)
		if !ok(n, mx, len(got.Pix)) {
			t.Errorf("%s: %d values differ from OpenCV's decode, max %d", filepath.Base(f), n, mx)
		}
	}
}

// TestDecodeWebPMatchesLibwebp checks lossy WebP (odd and even sizes, with alpha) and lossless
// WebP, made by cwebp, against cv2.imread's decode of the same file: identical pixels.
func TestDecodeWebPMatchesLibwebp(t *testing.T) {
	compareDecodes(t, "webp/*.webp", 4, func(n, _, _ int) bool { return n == 0 })
}
