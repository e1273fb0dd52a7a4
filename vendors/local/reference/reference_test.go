//go:build reference

// Package reference_test is a differential test of the offline liveness check (vendors/local)
// against minivision's own Silent-Face-Anti-Spoofing pipeline run by OpenCV DNN (minivision.py,
// Debian's python3-opencv): both read the same photos — about a hundred variants generated from
// the three sample faces — and must find the same face box and nearly the same score.
//
// Run it with ./run.sh (installs the Debian packages first), or
//
//	go test -tags reference -count=1 -v ./vendors/local/reference/
//
// The test skips when /usr/bin/python3 cannot import cv2, unless LIVENESS_REFERENCE_REQUIRED=1,
// which makes it fail instead. LIVENESS_REFERENCE_PYTHON names another interpreter, and
// LIVENESS_REFERENCE_KEEP a directory in which to keep the corpus and the reference's output.
package reference_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"image"
	"image/color/palette"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"golang.org/x/image/bmp"
	xdraw "golang.org/x/image/draw"

	"github.com/caddy-liveness/caddy-liveness/vendors/local/antispoof"
	"github.com/caddy-liveness/caddy-liveness/vendors/local/detect"
	"github.com/caddy-liveness/caddy-liveness/vendors/local/graph"
	"github.com/caddy-liveness/caddy-liveness/vendors/local/preproc"
	"github.com/caddy-liveness/caddy-liveness/vendors/local/weights"
)

// Bounds of the comparison.
const (
	// maxLosslessDelta bounds |Δscore| on PNG, BMP and GIF input, where both sides decode the
	// same pixels: what is left is float rounding in the networks (~1e-5).
	maxLosslessDelta = 1e-3
	// maxJPEGDelta bounds |Δscore| on JPEG input: Go's image/jpeg is not libjpeg (IDCT, chroma
	// upsampling), so the pixels differ slightly before the pipeline starts.
	maxJPEGDelta = 0.02
	// maxLosslessConfDelta bounds the difference of the detector's confidence on lossless input.
	maxLosslessConfDelta = 1e-4
	// maxJPEGMeanPixDelta bounds the mean absolute difference of the decoded JPEG pixels (per
	// channel value, 0..255): decoders differ by well under 1 on average, a wrongly applied
	// orientation by tens.
	maxJPEGMeanPixDelta = 2.0
)

const defaultPython = "/usr/bin/python3" // Debian's interpreter, whose dist-packages hold cv2

func python() string {
	if p := os.Getenv("LIVENESS_REFERENCE_PYTHON"); p != "" {
		return p
	}
	return defaultPython
}

// pythonEnv is the environment of the reference: no foreign module path.
func pythonEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PYTHONPATH=") || strings.HasPrefix(kv, "PYTHONHOME=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "PYTHONDONTWRITEBYTECODE=1")
}

// requireReference skips the test when the reference cannot run, or fails it when
// LIVENESS_REFERENCE_REQUIRED=1.
func requireReference(t *testing.T) {
	t.Helper()
	cmd := exec.Command(python(), "-c", "import cv2, numpy; cv2.dnn.readNetFromONNX")
	cmd.Env = pythonEnv()
	out, err := cmd.CombinedOutput()
	if err == nil {
		return
	}
	msg := fmt.Sprintf("reference unavailable: %s cannot import cv2 and numpy (%v: %s); install Debian's python3-opencv with vendors/local/reference/install.sh",
		python(), err, strings.TrimSpace(string(out)))
	if os.Getenv("LIVENESS_REFERENCE_REQUIRED") == "1" {
		t.Fatal(msg + " (LIVENESS_REFERENCE_REQUIRED=1)")
	}
	t.Skip(msg)
}

// ---- the corpus ----

// variant is one generated photo.
type variant struct {
	name string // face/transformation, unique
	kind string // png, bmp, gif, jpeg
	ext  string
	data []byte // what the Go check decodes
	// refData, when set, is what the reference reads instead of data: OpenCV 4.6 has no GIF
	// reader, so a GIF's reference is a PNG of the same palette image.
	refData []byte
	refExt  string
	note    string
	// divergence, when set, describes a known difference between the two pipelines on this
	// photo: the variant's findings are logged, not failed, and excluded from the summary's
	// numbers.
	divergence string
}

func (v variant) lossless() bool { return v.kind != "jpeg" }

func encPNG(t *testing.T, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encJPEG(t *testing.T, m image.Image, q int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encBMP(t *testing.T, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := bmp.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// paletted quantises m to the Plan 9 palette with Floyd-Steinberg dithering, as gif.Encode does.
func paletted(m image.Image) *image.Paletted {
	p := image.NewPaletted(m.Bounds(), palette.Plan9)
	xdraw.FloydSteinberg.Draw(p, m.Bounds(), m, m.Bounds().Min)
	return p
}

func encGIF(t *testing.T, p *image.Paletted) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := gif.Encode(&b, p, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func gray(m image.Image) *image.Gray {
	g := image.NewGray(m.Bounds())
	xdraw.Draw(g, m.Bounds(), m, m.Bounds().Min, xdraw.Src)
	return g
}

// scale resizes m by f with Catmull-Rom (any resampling makes a new photo).
func scale(m *preproc.Image, f float64) *preproc.Image {
	w, h := max(1, int(math.Round(float64(m.W)*f))), max(1, int(math.Round(float64(m.H)*f)))
	dst := image.NewNRGBA(image.Rect(0, 0, w, h))
	src := m.NRGBA()
	xdraw.CatmullRom.Scale(dst, dst.Bounds(), src, src.Bounds(), xdraw.Src, nil)
	return preproc.FromImage(dst)
}

func mirror(m *preproc.Image) *preproc.Image {
	out := preproc.NewImage(m.W, m.H)
	for y := 0; y < m.H; y++ {
		for x := 0; x < m.W; x++ {
			s, d := 3*(y*m.W+x), 3*(y*m.W+m.W-1-x)
			copy(out.Pix[d:d+3], m.Pix[s:s+3])
		}
	}
	return out
}

// sub is m's rectangle [x0, x1) x [y0, y1), clamped to m.
func sub(m *preproc.Image, x0, y0, x1, y1 int) *preproc.Image {
	x0, y0 = max(0, x0), max(0, y0)
	x1, y1 = min(m.W, x1), min(m.H, y1)
	return m.SubImage(x0, y0, x1, y1)
}

// background is a w x h photo-like backdrop without a face: two gradients and noise.
func background(w, h int, seed uint64) *preproc.Image {
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	m := preproc.NewImage(w, h)
	clamp := func(v int) uint8 { return uint8(min(255, max(0, v))) }
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := 3 * (y*w + x)
			n := r.IntN(25) - 12
			m.Pix[i] = clamp(70 + 110*x/w + n)
			m.Pix[i+1] = clamp(100 + 70*y/h + n)
			m.Pix[i+2] = clamp(160 - 60*x/w + 30*y/h + n)
		}
	}
	return m
}

// paste copies src into dst with its top-left corner at (x, y); src must fit.
func paste(dst, src *preproc.Image, x, y int) *preproc.Image {
	for sy := 0; sy < src.H; sy++ {
		copy(dst.Pix[3*((y+sy)*dst.W+x):3*((y+sy)*dst.W+x+src.W)], src.Pix[3*sy*src.W:3*(sy+1)*src.W])
	}
	return dst
}

// exifTIFF is a minimal TIFF structure: IFD0 with the single tag 0x0112 (Orientation, SHORT,
// count 1).
func exifTIFF(orientation uint16, bo binary.ByteOrder) []byte {
	tiff := make([]byte, 8+2+12+4)
	if bo == binary.BigEndian {
		copy(tiff, "MM")
	} else {
		copy(tiff, "II")
	}
	bo.PutUint16(tiff[2:], 42)
	bo.PutUint32(tiff[4:], 8) // IFD0 right after the header
	bo.PutUint16(tiff[8:], 1) // one entry
	e := tiff[10:]
	bo.PutUint16(e[0:], 0x0112)
	bo.PutUint16(e[2:], 3) // SHORT
	bo.PutUint32(e[4:], 1)
	bo.PutUint16(e[8:], orientation) // left-justified in the value field
	// next-IFD offset 0 (no IFD1): already zero
	return tiff
}

// exifAPP1 is a JPEG APP1 segment holding "Exif\0\0" and exifTIFF.
func exifAPP1(orientation uint16, bo binary.ByteOrder) []byte {
	return segment(0xE1, append([]byte("Exif\x00\x00"), exifTIFF(orientation, bo)...))
}

// xmpAPP1 is a JPEG APP1 segment holding an (empty) XMP packet.
func xmpAPP1() []byte {
	return segment(0xE1, []byte("http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"/>"))
}

// withPNGChunk inserts an ancillary chunk right after a PNG's IHDR chunk.
func withPNGChunk(t *testing.T, p []byte, typ string, data []byte) []byte {
	t.Helper()
	const ihdrEnd = 8 + 4 + 4 + 13 + 4 // signature, IHDR length, type, data, CRC
	if len(p) < ihdrEnd || string(p[12:16]) != "IHDR" {
		t.Fatal("not a PNG")
	}
	c := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	c = append(c, typ...)
	c = append(c, data...)
	c = binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(c[4:]))
	out := append([]byte{}, p[:ihdrEnd]...)
	out = append(out, c...)
	return append(out, p[ihdrEnd:]...)
}

// segment is a JPEG marker segment: FF, marker, big-endian length (itself included), payload.
func segment(marker byte, payload []byte) []byte {
	s := []byte{0xFF, marker, 0, 0}
	binary.BigEndian.PutUint16(s[2:], uint16(len(payload)+2))
	return append(s, payload...)
}

// insertAfterSOI puts segments right after a JPEG's SOI marker (image/jpeg writes no APPn).
func insertAfterSOI(t *testing.T, j []byte, segs ...[]byte) []byte {
	t.Helper()
	if len(j) < 2 || j[0] != 0xFF || j[1] != 0xD8 {
		t.Fatal("not a JPEG")
	}
	out := append([]byte{}, j[:2]...)
	for _, s := range segs {
		out = append(out, s...)
	}
	return append(out, j[2:]...)
}

// inverse is the EXIF orientation that undoes o: pixels stored as Orient(upright, inverse(o))
// and tagged o are shown upright.
func inverse(o int) int {
	switch o {
	case 6:
		return 8
	case 8:
		return 6
	}
	return o
}

type face struct {
	name string
	raw  []byte         // the sample JPEG as shipped (EXIF Orientation 6)
	img  *preproc.Image // upright
	box  [4]int         // Go's detector box on img
}

func loadFaces(t *testing.T, d *detect.Detector) []face {
	t.Helper()
	dir := filepath.Join("..", "preproc", "testdata", "local-model", "faces")
	var faces []face
	for _, n := range []string{"T1", "F1", "F2"} {
		raw, err := os.ReadFile(filepath.Join(dir, "minivision_image_"+n+".jpg"))
		if err != nil {
			t.Fatal(err)
		}
		img, err := preproc.Decode(raw, 0)
		if err != nil {
			t.Fatal(err)
		}
		box, _, err := d.Detect(img)
		if err != nil {
			t.Fatal(err)
		}
		faces = append(faces, face{name: n, raw: raw, img: img, box: box})
	}
	return faces
}

// corpus generates the photos.
func corpus(t *testing.T, faces []face) []variant {
	t.Helper()
	var vs []variant
	addPNG := func(name string, m *preproc.Image) {
		vs = append(vs, variant{name: name, kind: "png", ext: "png", data: encPNG(t, m.NRGBA())})
	}
	addJPEG := func(name string, m image.Image, q int) {
		vs = append(vs, variant{name: fmt.Sprintf("%s-q%d", name, q), kind: "jpeg", ext: "jpg", data: encJPEG(t, m, q)})
	}
	for fi, f := range faces {
		n := f.name
		m := f.img
		x, y, w, h := f.box[0], f.box[1], f.box[2], f.box[3]
		vs = append(vs, variant{name: n + "/camera-jpeg", kind: "jpeg", ext: "jpg", data: f.raw,
			note: "the sample as shipped (EXIF Orientation 6)"})
		addPNG(n+"/png", m)
		addJPEG(n+"/jpeg", m.NRGBA(), 75)
		addJPEG(n+"/jpeg", m.NRGBA(), 95)
		vs = append(vs, variant{name: n + "/bmp", kind: "bmp", ext: "bmp", data: encBMP(t, m.NRGBA())})
		p := paletted(m.NRGBA())
		vs = append(vs, variant{name: n + "/gif", kind: "gif", ext: "gif", data: encGIF(t, p),
			refData: encPNG(t, p), refExt: "png", note: "reference reads a PNG of the same palette image"})
		addPNG(n+"/gray", preproc.FromImage(gray(m.NRGBA())))
		addJPEG(n+"/gray", gray(m.NRGBA()), 95)
		for _, s := range []float64{0.12, 0.15, 0.4, 0.7, 1.3, 2} {
			addPNG(fmt.Sprintf("%s/scale%g", n, s), scale(m, s))
		}
		addJPEG(n+"/scale0.7", scale(m, 0.7).NRGBA(), 90)
		addJPEG(n+"/scale1.3", scale(m, 1.3).NRGBA(), 95)
		addPNG(n+"/mirror", mirror(m))
		addJPEG(n+"/mirror", mirror(m).NRGBA(), 95)
		// Off-centre crops: the face a few pixels from one or two edges (the 2.7x and 4.0x crops
		// clamp and shift), and one with a fifth of the face cut off.
		addPNG(n+"/edge-left", sub(m, x-4, 0, m.W, m.H))
		addPNG(n+"/corner-top-right", sub(m, 0, y-4, x+w+4, m.H))
		addPNG(n+"/edge-bottom", sub(m, 0, 0, m.W, y+h+4))
		addPNG(n+"/cut-left", sub(m, x+w/5, 0, m.W, m.H))
		addJPEG(n+"/edge-left", sub(m, x-4, 0, m.W, m.H).NRGBA(), 95)
		// The face in larger frames, several aspect ratios, some of it small.
		seed := uint64(fi * 100)
		pad := func(cw, ch int, s float64, px, py float64) *preproc.Image {
			fm := m
			if s != 1 {
				fm = scale(m, s)
			}
			c := background(cw, ch, seed)
			seed++
			return paste(c, fm, int(px*float64(cw-fm.W)), int(py*float64(ch-fm.H)))
		}
		addPNG(n+"/pad-16x9-1280x720", pad(1280, 720, 1, 0.85, 0.5))
		addPNG(n+"/pad-16x9-1920x1080-s0.5", pad(1920, 1080, 0.5, 0.9, 0.85))
		addPNG(n+"/pad-4x3-1600x1200-s0.6", pad(1600, 1200, 0.6, 0.1, 0.9))
		addPNG(n+"/pad-9x16-720x1280-s0.8", pad(720, 1280, 0.8, 0.6, 0.1))
		addPNG(n+"/pad-21x9-2100x900", pad(2100, 900, 1, 0.05, 0.5))
		addPNG(n+"/pad-1000x1000-s0.25", pad(1000, 1000, 0.25, 0.8, 0.8))
		addJPEG(n+"/pad-16x9-1280x720", pad(1280, 720, 1, 0.15, 0.5).NRGBA(), 95)
	}
	// EXIF orientation: every value in both byte orders, pixels stored so that the oriented
	// image is upright.
	for o := 1; o <= 8; o++ {
		for k, bo := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
			f := faces[(o+k)%len(faces)]
			stored := preproc.Orient(f.img, inverse(o))
			j := encJPEG(t, stored.NRGBA(), 90)
			bon := map[bool]string{true: "MM", false: "II"}[bo == binary.BigEndian]
			vs = append(vs, variant{name: fmt.Sprintf("%s/exif-o%d-%s-q90", f.name, o, bon), kind: "jpeg", ext: "jpg",
				data: insertAfterSOI(t, j, exifAPP1(uint16(o), bo))})
		}
	}
	{
		f := faces[0]
		j := encJPEG(t, preproc.Orient(f.img, inverse(6)).NRGBA(), 90)
		jfif := segment(0xE0, []byte("JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"))
		vs = append(vs, variant{name: f.name + "/jfif-exif-o6-q90", kind: "jpeg", ext: "jpg",
			data: insertAfterSOI(t, j, jfif, exifAPP1(6, binary.BigEndian)), note: "APP0 JFIF, then APP1 EXIF"})
	}
	// Orientation where the two pipelines read it differently (see the divergence texts).
	{
		f := faces[0]
		stored := preproc.Orient(f.img, inverse(6))
		j := encJPEG(t, stored.NRGBA(), 90)
		vs = append(vs, variant{name: f.name + "/xmp-then-exif-o6-q90", kind: "jpeg", ext: "jpg",
			data:       insertAfterSOI(t, j, xmpAPP1(), exifAPP1(6, binary.LittleEndian)),
			divergence: "APP1 XMP before APP1 EXIF: OpenCV 4.6 parses only the first APP1 and does not orient; preproc skips the XMP and orients"})
	}
	// A PNG's eXIf chunk orients it, in both pipelines.
	for _, o := range []int{3, 6, 8} {
		f := faces[0]
		stored := preproc.Orient(f.img, inverse(o))
		p := withPNGChunk(t, encPNG(t, stored.NRGBA()), "eXIf", exifTIFF(uint16(o), binary.LittleEndian))
		vs = append(vs, variant{name: fmt.Sprintf("%s/png-exif-o%d", f.name, o), kind: "png", ext: "png", data: p})
	}
	// Two faces side by side: the Go policy declines (several_faces); the boxes still compare.
	{
		c := background(1200, 700, 999)
		paste(c, scale(faces[0].img, 0.8), 40, 80)
		paste(c, scale(faces[2].img, 0.9), 1200-40-432, 700-576-20)
		addPNG("T1+F2/two-faces", c)
		addJPEG("T1+F2/two-faces", c.NRGBA(), 95)
	}
	// No face at all.
	addPNG("none/background-640x480", background(640, 480, 7))
	addJPEG("none/background-1280x720", background(1280, 720, 8).NRGBA(), 90)
	addPNG("none/T1-above-face", sub(faces[0].img, 0, 0, faces[0].img.W, faces[0].box[1]-10))
	return vs
}

// ---- the reference ----

type refModel struct {
	Scale    float64   `json:"scale"`
	CropLTRB []int     `json:"crop_ltrb"`
	Logits   []float64 `json:"logits"`
	Softmax  []float64 `json:"softmax"`
}

// refResult is one line of minivision.py's output.
type refResult struct {
	Path       string              `json:"path"`
	Error      string              `json:"minivision_error"`
	Size       []int               `json:"size"`
	DetSize    []int               `json:"det_size"`
	Detections int                 `json:"detections"`
	Conf       float64             `json:"conf"`
	BBox       []int               `json:"bbox"`
	Face       bool                `json:"face"`
	Models     map[string]refModel `json:"models"`
	Label      *int                `json:"label"`
	Score      *float64            `json:"score"`
	Dump       map[string]string   `json:"dump"`
}

func (r refResult) box() ([4]int, bool) {
	var b [4]int
	if len(r.BBox) != 4 {
		return b, false
	}
	copy(b[:], r.BBox)
	return b, true
}

// runReference runs minivision.py once on every file of the list and returns its results by path.
func runReference(t *testing.T, list []string, dumpDir string) (map[string]refResult, string) {
	t.Helper()
	listFile := filepath.Join(t.TempDir(), "images.txt")
	if err := os.WriteFile(listFile, []byte(strings.Join(list, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python(), "minivision.py", "--list", listFile, "--dump", dumpDir)
	cmd.Env = pythonEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("minivision.py: %v\n%s", err, stderr.String())
	}
	res := map[string]refResult{}
	var header string
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := sc.Bytes()
		if bytes.HasPrefix(line, []byte(`{"reference"`)) {
			header = string(line)
			continue
		}
		var r refResult
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("minivision.py output %q: %v", line, err)
		}
		res[r.Path] = r
	}
	if len(res) != len(list) {
		t.Fatalf("minivision.py gave %d results for %d images\n%s", len(res), len(list), stderr.String())
	}
	return res, header
}

// ---- the Go side ----

// nets runs the two MiniFASNets on crops of any box, outside the engine's face policy.
type nets struct {
	sess [2]*graph.Session
}

var modelScales = [2]float64{2.7, 4.0}
var modelNames = [2]string{"MiniFASNetV2", "MiniFASNetV1SE"}

func newNets(t *testing.T) nets {
	t.Helper()
	var n nets
	for i, name := range []string{weights.MiniFASNetV2, weights.MiniFASNetV1SE} {
		b, err := weights.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		g, err := graph.Load(b)
		if err != nil {
			t.Fatal(err)
		}
		n.sess[i] = g.NewSession()
	}
	return n
}

// score is the pipeline's score for img at box, with the two crops.
func (n nets) score(img *preproc.Image, box [4]int) (float64, [2]*preproc.Image, error) {
	var crops [2]*preproc.Image
	var real float64
	for i, s := range modelScales {
		c, err := preproc.Crop(img, box, s, 80, 80)
		if err != nil {
			return 0, crops, err
		}
		crops[i] = c
		out, err := n.sess[i].Run(graph.Tensor{Shape: []int{1, 3, 80, 80}, Data: c.CHW([3]float32{})})
		if err != nil {
			return 0, crops, err
		}
		if len(out) != 1 || len(out[0].Data) != 3 {
			return 0, crops, fmt.Errorf("model %d gave %d outputs", i, len(out))
		}
		real += antispoof.Softmax([3]float32(out[0].Data))[antispoof.RealClass]
	}
	return real / 2, crops, nil
}

// pixDiff compares two images: max and mean absolute difference per channel value; ok is false
// when the sizes differ.
func pixDiff(a, b *preproc.Image) (mx int, mean float64, ok bool) {
	if a.W != b.W || a.H != b.H {
		return 0, 0, false
	}
	var sum int64
	for i := range a.Pix {
		d := int(a.Pix[i]) - int(b.Pix[i])
		if d < 0 {
			d = -d
		}
		mx = max(mx, d)
		sum += int64(d)
	}
	return mx, float64(sum) / float64(max(1, len(a.Pix))), true
}

// readPNG reads one of the reference's PNG dumps (8-bit, opaque) as BGR.
func readPNG(path string) (*preproc.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m, err := png.Decode(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if rgba, ok := m.(*image.RGBA); ok && rgba.Opaque() {
		b := rgba.Bounds()
		out := preproc.NewImage(b.Dx(), b.Dy())
		for y := 0; y < out.H; y++ {
			row := rgba.Pix[rgba.PixOffset(b.Min.X, b.Min.Y+y):]
			o := out.Pix[3*y*out.W:]
			for x := 0; x < out.W; x++ {
				o[3*x], o[3*x+1], o[3*x+2] = row[4*x+2], row[4*x+1], row[4*x]
			}
		}
		return out, nil
	}
	return preproc.FromImage(m), nil
}

// ---- the comparison ----

type result struct {
	v   variant
	ref refResult

	goSize          [2]int
	pixMax          int // decoded image vs the reference's, per channel value
	pixMean         float64
	bestBox         [4]int // Go's detector, before the policy
	bestConf        float32
	rep             antispoof.Report
	atRefBox        float64 // Go's decode, crop and networks at the reference's box
	atRefBoxErr     error
	cropMax         int // Go's crops at the reference's box vs the reference's crops
	boxMatch        bool
	problems, notes []string
}

func (r *result) fail(format string, a ...any) {
	r.problems = append(r.problems, fmt.Sprintf(format, a...))
}
func (r *result) note(format string, a ...any) { r.notes = append(r.notes, fmt.Sprintf(format, a...)) }

func (r *result) refScore() float64 {
	if r.ref.Score == nil {
		return math.NaN()
	}
	return *r.ref.Score
}

// goFace is whether the Go check, at its policy, found a face (it may still decline it as too
// small or one of several).
func (r *result) goFace() bool { return r.rep.Reason != antispoof.ReasonNoFace }

// refFace is the same question for minivision's pipeline: a detection at the confidence
// minivision's Detection declares (0.6, the Go policy's too); get_bbox itself takes any row.
func (r *result) refFace() bool {
	return r.ref.Face && r.ref.Conf >= float64(antispoof.DefaultPolicy.MinConfidence)
}

func compare(v variant, ref refResult, e *antispoof.Engine, d *detect.Detector, n nets) *result {
	r := &result{v: v, ref: ref, atRefBox: math.NaN()}
	if ref.Error != "" {
		r.fail("reference: %s", ref.Error)
	}
	img, err := preproc.Decode(v.data, 0)
	if err != nil {
		r.fail("Go decode: %v", err)
		return r
	}
	r.goSize = [2]int{img.W, img.H}
	if len(ref.Size) == 2 && (ref.Size[0] != img.W || ref.Size[1] != img.H) {
		r.fail("decoded size: Go %dx%d, reference %dx%d (EXIF orientation?)", img.W, img.H, ref.Size[0], ref.Size[1])
	}
	if p := ref.Dump["oriented"]; p != "" {
		if rimg, err := readPNG(p); err != nil {
			r.fail("reference image: %v", err)
		} else if mx, mean, ok := pixDiff(img, rimg); ok {
			r.pixMax, r.pixMean = mx, mean
			if v.lossless() && mx != 0 {
				r.fail("decoded pixels differ on lossless input: max %d, mean %.4f", mx, mean)
			}
			if !v.lossless() && mean > maxJPEGMeanPixDelta {
				r.fail("decoded JPEG pixels differ by %.3f on average (max %d) > %g", mean, mx, maxJPEGMeanPixDelta)
			}
		}
	}

	r.bestBox, r.bestConf, err = d.Detect(img)
	if err != nil {
		r.fail("Go detector: %v", err)
		return r
	}
	r.rep, err = e.Check(img)
	if err != nil {
		r.fail("Go check: %v", err)
		return r
	}
	if len(r.rep.Faces) > 0 && r.rep.Faces[0].Box != r.bestBox {
		r.fail("engine's first face %v is not the detector's best box %v", r.rep.Faces[0].Box, r.bestBox)
	}

	refBox, haveBox := ref.box()
	if !haveBox {
		return r
	}
	// The same decode, crop and networks at the reference's own box: isolates detection.
	var crops [2]*preproc.Image
	r.atRefBox, crops, r.atRefBoxErr = n.score(img, refBox)
	if r.atRefBoxErr != nil {
		r.fail("Go pipeline at the reference's box %v: %v", refBox, r.atRefBoxErr)
	} else if v.lossless() && math.Abs(r.atRefBox-r.refScore()) > maxLosslessDelta {
		r.fail("score at the reference's box: Go %.6f, reference %.6f", r.atRefBox, r.refScore())
	}
	for i, name := range modelNames {
		p := ref.Dump[name]
		if p == "" || crops[i] == nil {
			continue
		}
		rc, err := readPNG(p)
		if err != nil {
			r.fail("reference crop: %v", err)
			continue
		}
		if mx, _, ok := pixDiff(crops[i], rc); ok {
			r.cropMax = max(r.cropMax, mx)
		} else {
			r.fail("%s crop size differs", name)
		}
		if m, ok := ref.Models[name]; ok {
			l, tp, rt, b, err := preproc.CropBox(img.W, img.H, refBox, modelScales[i])
			if err == nil && !slices.Equal(m.CropLTRB, []int{l, tp, rt, b}) {
				r.fail("%s crop box: Go %v, reference %v", name, []int{l, tp, rt, b}, m.CropLTRB)
			}
		}
	}
	if v.lossless() && r.cropMax != 0 {
		r.fail("crops at the reference's box differ on lossless input: max %d", r.cropMax)
	}

	if !ref.Face {
		// No detection: get_bbox takes an all-zero row ([0,0,1,1]); the boxes do not compare.
		if r.goFace() {
			r.note("face/no-face: reference has no detection, Go has a face (conf %.4f)", r.bestConf)
			if v.lossless() {
				r.fail("reference has no detection on lossless input, Go finds a face")
			}
		}
		return r
	}
	r.boxMatch = r.bestBox == refBox
	dconf := math.Abs(float64(r.bestConf) - ref.Conf)
	if v.lossless() {
		if !r.boxMatch {
			r.fail("box: Go %v, reference %v", r.bestBox, refBox)
		}
		if dconf > maxLosslessConfDelta {
			r.fail("detector confidence: Go %.6f, reference %.6f", r.bestConf, ref.Conf)
		}
	}
	if r.goFace() != r.refFace() {
		r.note("face/no-face: Go %v (conf %.4f, %s), reference %v (conf %.4f)", r.goFace(), r.bestConf, reasonOr(r.rep.Reason, "scored"), r.refFace(), ref.Conf)
		if v.lossless() {
			r.fail("face/no-face disagreement on lossless input")
		}
	}
	if r.rep.Reason == "" {
		delta := math.Abs(r.rep.Score - r.refScore())
		bound := maxJPEGDelta
		if v.lossless() {
			bound = maxLosslessDelta
		}
		if !(delta <= bound) {
			r.fail("score: Go %.6f, reference %.6f, |Δ| %.6f > %g (boxes Go %v, reference %v; at the reference's box |Δ| %.6f; decoded pixels max %d, mean %.3f)",
				r.rep.Score, r.refScore(), delta, bound, r.bestBox, refBox, math.Abs(r.atRefBox-r.refScore()), r.pixMax, r.pixMean)
		}
	}
	return r
}

func reasonOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9.+-]+`)

func TestMinivisionReference(t *testing.T) {
	requireReference(t)

	d, err := detect.New()
	if err != nil {
		t.Fatal(err)
	}
	e, err := antispoof.Load()
	if err != nil {
		t.Fatal(err)
	}
	n := newNets(t)

	t0 := time.Now()
	faces := loadFaces(t, d)
	vs := corpus(t, faces)
	genTime := time.Since(t0)

	dir := os.Getenv("LIVENESS_REFERENCE_KEEP")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	var list []string
	refPath := make([]string, len(vs))
	for i, v := range vs {
		if names[v.name] {
			t.Fatalf("two variants named %s", v.name)
		}
		names[v.name] = true
		base := fmt.Sprintf("%03d-%s", i, unsafeName.ReplaceAllString(v.name, "_"))
		p := filepath.Join(dir, base+"."+v.ext)
		if err := os.WriteFile(p, v.data, 0o644); err != nil {
			t.Fatal(err)
		}
		refPath[i] = p
		if v.refData != nil {
			refPath[i] = filepath.Join(dir, base+".ref."+v.refExt)
			if err := os.WriteFile(refPath[i], v.refData, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		list = append(list, refPath[i])
	}

	t1 := time.Now()
	refs, header := runReference(t, list, filepath.Join(dir, "reference"))
	refTime := time.Since(t1)
	t.Logf("reference: %s", header)

	t2 := time.Now()
	results := make([]*result, len(vs))
	for i, v := range vs {
		results[i] = compare(v, refs[refPath[i]], e, d, n)
	}
	goTime := time.Since(t2)

	logTable(t, results)
	logSummary(t, results)
	t.Logf("time: %d variants generated in %v; minivision.py (OpenCV DNN, with PNG dumps) %v; Go decode + detector + check + pipeline at the reference's box %v",
		len(vs), genTime.Round(time.Millisecond), refTime.Round(time.Millisecond), goTime.Round(time.Millisecond))

	for _, r := range results {
		if r.v.divergence != "" {
			if len(r.problems) == 0 {
				t.Logf("%s: the known divergence is gone, the pipelines agree: %s", r.v.name, r.v.divergence)
			} else {
				t.Logf("%s: known divergence (%s): %s", r.v.name, r.v.divergence, strings.Join(r.problems, "; "))
			}
			continue
		}
		for _, p := range r.problems {
			t.Errorf("%s: %s", r.v.name, p)
		}
	}
}

func fmtBox(b [4]int) string { return fmt.Sprintf("%d,%d,%d,%d", b[0], b[1], b[2], b[3]) }

func logTable(t *testing.T, rs []*result) {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 1, ' ', 0)
	fmt.Fprintln(tw, "variant\tkind\tsize\tref box\tref conf\tGo box\tGo conf\tGo\tref score\tGo score\t|Δ|\tΔ at ref box\tpx max/mean\tcrop max\tnotes")
	for _, r := range rs {
		refBox, conf := "-", "-"
		if bx, ok := r.ref.box(); ok {
			refBox = fmtBox(bx)
			conf = fmt.Sprintf("%.4f", r.ref.Conf)
			if !r.ref.Face {
				refBox += "(none)"
			}
		}
		goScore, delta := "-", "-"
		if r.rep.Reason == "" && len(r.rep.Faces) > 0 {
			goScore = fmt.Sprintf("%.5f", r.rep.Score)
			if r.ref.Face {
				delta = fmt.Sprintf("%.2e", math.Abs(r.rep.Score-r.refScore()))
			}
		}
		atRef := "-"
		if !math.IsNaN(r.atRefBox) {
			atRef = fmt.Sprintf("%.2e", math.Abs(r.atRefBox-r.refScore()))
		}
		notes := strings.Join(append(append([]string{}, r.notes...), r.problems...), "; ")
		if r.v.note != "" {
			notes = strings.TrimPrefix(r.v.note+"; "+notes, "; ")
			notes = strings.TrimSuffix(notes, "; ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%dx%d\t%s\t%s\t%s\t%.4f\t%s\t%.5f\t%s\t%s\t%s\t%d/%.3f\t%d\t%s\n",
			r.v.name, r.v.kind, r.goSize[0], r.goSize[1], refBox, conf, fmtBox(r.bestBox), r.bestConf,
			reasonOr(r.rep.Reason, "scored"), r.refScore(), goScore, delta, atRef, r.pixMax, r.pixMean, r.cropMax, notes)
	}
	tw.Flush()
	t.Log("per variant (Go box/conf: the detector's best box before the face policy; Δ at ref box: Go's decode, crop and networks at the reference's box):\n" + b.String())
}

type stats struct {
	n, scored, refNone, boxes, boxMismatch, faceDisagree int
	maxDelta, maxAtRef, maxConf                          float64
	maxPix, maxCrop                                      int
	maxPixMean                                           float64
	worst                                                string
}

func logSummary(t *testing.T, rs []*result) {
	groups := []string{"png", "bmp", "gif", "lossless", "jpeg", "all"}
	st := map[string]*stats{}
	for _, g := range groups {
		st[g] = &stats{}
	}
	reasons := map[string]int{}
	var disagreements, mismatches, belowPolicy, noDetection []string
	var divergent []string
	for _, r := range rs {
		if r.v.divergence != "" {
			divergent = append(divergent, fmt.Sprintf("%s (%s): %s", r.v.name, r.v.kind, r.v.divergence))
			continue
		}
		keys := []string{r.v.kind, "all"}
		if r.v.lossless() {
			keys = append(keys, "lossless")
		}
		reasons[reasonOr(r.rep.Reason, "scored")]++
		bx, haveBox := r.ref.box()
		for _, k := range keys {
			s := st[k]
			s.n++
			s.maxPix = max(s.maxPix, r.pixMax)
			s.maxPixMean = max(s.maxPixMean, r.pixMean)
			s.maxCrop = max(s.maxCrop, r.cropMax)
			if !r.ref.Face {
				s.refNone++
			}
			if haveBox && !math.IsNaN(r.atRefBox) && !math.IsNaN(r.refScore()) {
				s.maxAtRef = max(s.maxAtRef, math.Abs(r.atRefBox-r.refScore()))
			}
			if !r.ref.Face {
				continue
			}
			s.boxes++
			if !r.boxMatch {
				s.boxMismatch++
			}
			s.maxConf = max(s.maxConf, math.Abs(float64(r.bestConf)-r.ref.Conf))
			if r.goFace() != r.refFace() {
				s.faceDisagree++
			}
			if r.rep.Reason == "" {
				s.scored++
				if d := math.Abs(r.rep.Score - r.refScore()); s.worst == "" || d > s.maxDelta {
					s.maxDelta, s.worst = d, r.v.name
				}
			}
		}
		if r.ref.Face && !r.boxMatch {
			mismatches = append(mismatches, fmt.Sprintf("%s (%s): Go %v conf %.4f, reference %v conf %.4f", r.v.name, r.v.kind, r.bestBox, r.bestConf, bx, r.ref.Conf))
		}
		if r.ref.Face && !r.refFace() {
			belowPolicy = append(belowPolicy, fmt.Sprintf("%s (%s): reference box %v conf %.4f, score %.4f; Go %s", r.v.name, r.v.kind, bx, r.ref.Conf, r.refScore(), reasonOr(r.rep.Reason, "scored")))
		}
		if !r.ref.Face && r.ref.Score != nil {
			noDetection = append(noDetection, fmt.Sprintf("%s: %.4f", r.v.name, r.refScore()))
		}
		if (r.ref.Face && r.goFace() != r.refFace()) || (!r.ref.Face && r.goFace()) {
			disagreements = append(disagreements, fmt.Sprintf("%s (%s): Go %s (best conf %.4f), reference face=%v conf %.4f", r.v.name, r.v.kind, reasonOr(r.rep.Reason, "scored"), r.bestConf, r.ref.Face, r.ref.Conf))
		}
	}
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "kind\tvariants\tref: no detection\tboxes compared\tbox mismatches\tmax |Δconf|\tscored by both\tmax |Δscore|\tworst\tmax |Δscore| at ref box\tdecode px max / worst mean\tcrop px max")
	for _, g := range groups {
		s := st[g]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%.2e\t%d\t%.2e\t%s\t%.2e\t%d / %.3f\t%d\n", g, s.n, s.refNone, s.boxes, s.boxMismatch, s.maxConf, s.scored, s.maxDelta, s.worst, s.maxAtRef, s.maxPix, s.maxPixMean, s.maxCrop)
	}
	tw.Flush()
	var rk []string
	for k, v := range reasons {
		rk = append(rk, fmt.Sprintf("%s %d", k, v))
	}
	slices.Sort(rk)
	fmt.Fprintf(&b, "Go check outcomes: %s\n", strings.Join(rk, ", "))
	fmt.Fprintf(&b, "bounds: lossless |Δscore| <= %g, identical box, |Δconf| <= %g, identical pixels and crops; JPEG |Δscore| <= %g, mean |Δpixel| <= %g; decoded sizes equal\n", maxLosslessDelta, maxLosslessConfDelta, maxJPEGDelta, maxJPEGMeanPixDelta)
	fmt.Fprintf(&b, "box mismatches (%d):\n", len(mismatches))
	for _, m := range mismatches {
		fmt.Fprintf(&b, "  %s\n", m)
	}
	fmt.Fprintf(&b, "face/no-face disagreements at confidence %g (%d):\n", antispoof.DefaultPolicy.MinConfidence, len(disagreements))
	for _, m := range disagreements {
		fmt.Fprintf(&b, "  %s\n", m)
	}
	fmt.Fprintf(&b, "reference detections below confidence %g — get_bbox takes them and test.py scores them, the Go check declines (%d):\n", antispoof.DefaultPolicy.MinConfidence, len(belowPolicy))
	for _, m := range belowPolicy {
		fmt.Fprintf(&b, "  %s\n", m)
	}
	fmt.Fprintf(&b, "no detection at all — get_bbox returns [0 0 1 1] from DetectionOutput's zero rows and test.py scores the image's corner (%d): %s\n", len(noDetection), strings.Join(noDetection, ", "))
	fmt.Fprintf(&b, "known divergences, not in the numbers above (%d):\n", len(divergent))
	for _, m := range divergent {
		fmt.Fprintf(&b, "  %s\n", m)
	}
	t.Log("summary:\n" + b.String())
}
