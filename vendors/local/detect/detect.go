// Package detect is the face detector of the offline liveness check (`vendor local`): minivision's
// RetinaFace (Silent-Face-Anti-Spoofing, resources/detection_model, Apache-2.0) run by
// vendors/local/graph, followed by the post-processing that OpenCV DNN's Caffe PriorBox and
// DetectionOutput layers perform in minivision's Detection.get_bbox (src/anti_spoof_predict.py).
//
// The ONNX graph (weights.RetinaFace) outputs only the six raw head tensors, NCHW:
//
//	stride  8: loc [1,8,H8,W8]   conf [1,4,H8,W8]    priors 16, 32
//	stride 16: loc [1,8,H16,W16] conf [1,4,H16,W16]  priors 64, 128
//	stride 32: loc [1,8,H32,W32] conf [1,4,H32,W32]  priors 256, 512
//
// and this package does the rest the way deploy.prototxt describes it:
//
//   - Permute(0,2,3,1) + Flatten + Concat: priors are ordered stride by stride, then cell by cell
//     (row-major), then by min size; loc channel a*4+k and conf channel a*2+c belong to prior a of
//     a cell.
//   - PriorBox (OpenCV prior_box_layer.cpp; clip false, offset 0.5, square boxes of each min_size,
//     no max_size, aspect ratio 1 only so flip changes nothing): centre ((x+0.5)*step,
//     (y+0.5)*step), corners normalised by the detector input's width and height.
//   - Softmax over the two classes of each prior (mbox_conf_softmax, axis 2); class 1 is the face.
//   - DetectionOutput CENTER_SIZE decode with variances 0.1, 0.1, 0.2, 0.2 (OpenCV
//     detection_output_layer.cpp DecodeBBox, normalised boxes).
//   - get_bbox takes the row with the highest confidence (np.argmax of the output's column 2). The
//     highest-scoring box always survives DetectionOutput's NMS, so no NMS is needed to find it;
//     on ties the prior that comes first wins (OpenCV's stable sort).
//   - bbox = [int(l), int(t), int(r-l+1), int(b-t+1)] with l, t, r, b the relative corners times
//     the width and height of the image given to get_bbox (not of the resized detector input),
//     computed in double precision as NumPy 1.x does (float32 box × Python int → float64), with
//     truncation toward zero.
//
// One difference is deliberate: DetectionOutput drops every box whose confidence is not above 0.1
// (confidence_threshold), so on an image without a face minivision's get_bbox has nothing to take
// (and fails). Best always returns the highest-confidence box and its confidence; deciding that
// there is no face (whatever the threshold) is the caller's job.
//
// The package is free of Caddy: it depends on the standard library and on vendors/local/graph,
// preproc and weights.
package detect

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"

	"github.com/caddy-liveness/caddy-liveness/vendors/local/graph"
	"github.com/caddy-liveness/caddy-liveness/vendors/local/preproc"
	"github.com/caddy-liveness/caddy-liveness/vendors/local/weights"
)

// Mean is the per-channel (B, G, R) mean subtracted from the detector input, as
// cv2.dnn.blobFromImage(img, 1, mean=(104, 117, 123)) does in get_bbox.
var Mean = [3]float32{104, 117, 123}

// FaceClass is the index of the face class in each prior's two confidences (0 is background).
const FaceClass = 1

// OpenCVConfidenceThreshold is deploy.prototxt's DetectionOutput confidence_threshold: boxes whose
// confidence is not above it are not in OpenCV's output. Best does not apply it (see the package
// documentation); it is here for callers that want minivision's exact behaviour.
const OpenCVConfidenceThreshold = 0.1

// level is one stride of the detector: its step and its two prior min sizes.
type level struct {
	step     float32
	minSizes [2]float32
}

// levels are deploy.prototxt's three PriorBox layers, in the order of the mbox Concat layers.
var levels = [3]level{
	{8, [2]float32{16, 32}},
	{16, [2]float32{64, 128}},
	{32, [2]float32{256, 512}},
}

// variance is the PriorBox variance (all four prior_box_param variance entries).
var variance = [4]float32{0.1, 0.1, 0.2, 0.2}

// Input builds the detector input from img (the oriented image given to get_bbox): resized to
// preproc.DetectorInputSize with preproc.ResizeLinear (unchanged below 192x192 pixels), BGR minus
// Mean, NCHW with N = 1.
func Input(img *preproc.Image) (graph.Tensor, error) {
	if img == nil || img.W <= 0 || img.H <= 0 || len(img.Pix) != 3*img.W*img.H {
		return graph.Tensor{}, errors.New("detect: empty or malformed image")
	}
	w, h := preproc.DetectorInputSize(img.W, img.H)
	if w <= 0 || h <= 0 {
		return graph.Tensor{}, fmt.Errorf("detect: image %dx%d is too elongated for the detector", img.W, img.H)
	}
	in := img
	if w != img.W || h != img.H {
		in = preproc.ResizeLinear(img, w, h)
	}
	return graph.Tensor{Shape: []int{1, 3, h, w}, Data: in.CHW(Mean)}, nil
}

// Best runs the detector on img with sess (a Session of the weights.RetinaFace graph, used by one
// goroutine at a time) and returns the highest-confidence face box in img's pixels as
// [x, y, width, height] — get_bbox's list — and its face-class confidence (softmax, 0..1).
func Best(img *preproc.Image, sess *graph.Session) (box [4]int, conf float32, err error) {
	if sess == nil {
		return box, 0, errors.New("detect: nil session")
	}
	in, err := Input(img)
	if err != nil {
		return box, 0, err
	}
	heads, err := sess.Run(in)
	if err != nil {
		return box, 0, fmt.Errorf("detect: %w", err)
	}
	rel, conf, err := BestRelative(heads, in.Shape[3], in.Shape[2])
	if err != nil {
		return box, 0, err
	}
	return PixelBox(rel, img.W, img.H), conf, nil
}

// PixelBox converts a relative box (xmin, ymin, xmax, ymax, as DetectionOutput gives it) to
// get_bbox's [int(l), int(t), int(r-l+1), int(b-t+1)] for an image of w x h pixels.
func PixelBox(rel [4]float32, w, h int) [4]int {
	l := float64(rel[0]) * float64(w)
	t := float64(rel[1]) * float64(h)
	r := float64(rel[2]) * float64(w)
	b := float64(rel[3]) * float64(h)
	return [4]int{int(l), int(t), int(r - l + 1), int(b - t + 1)}
}

// head is one stride's pair of tensors.
type head struct {
	h, w      int
	loc, conf []float32
}

// sortHeads pairs the six head tensors by spatial size and orders them stride 8, 16, 32 (largest
// feature map first). The tensors are recognised by their shapes, so their order does not matter.
func sortHeads(heads []graph.Tensor) ([3]head, error) {
	var out [3]head
	if len(heads) != 6 {
		return out, fmt.Errorf("detect: %d head tensors, want 6", len(heads))
	}
	var locs, confs []graph.Tensor
	for _, t := range heads {
		s := t.Shape
		if len(s) != 4 || s[0] != 1 || s[2] <= 0 || s[3] <= 0 || len(t.Data) != s[1]*s[2]*s[3] {
			return out, fmt.Errorf("detect: head tensor of shape %v", s)
		}
		switch s[1] {
		case 8:
			locs = append(locs, t)
		case 4:
			confs = append(confs, t)
		default:
			return out, fmt.Errorf("detect: head tensor of shape %v (want 8 loc or 4 conf channels)", s)
		}
	}
	if len(locs) != 3 || len(confs) != 3 {
		return out, fmt.Errorf("detect: %d loc and %d conf heads, want 3 and 3", len(locs), len(confs))
	}
	bySize := func(ts []graph.Tensor) {
		sort.SliceStable(ts, func(i, j int) bool { return ts[i].Shape[2]*ts[i].Shape[3] > ts[j].Shape[2]*ts[j].Shape[3] })
	}
	bySize(locs)
	bySize(confs)
	for i := range out {
		l, c := locs[i], confs[i]
		if l.Shape[2] != c.Shape[2] || l.Shape[3] != c.Shape[3] {
			return out, fmt.Errorf("detect: loc head %v has no conf head of the same size", l.Shape)
		}
		if i > 0 && l.Shape[2]*l.Shape[3] == out[i-1].h*out[i-1].w {
			return out, fmt.Errorf("detect: two heads of size %dx%d", l.Shape[3], l.Shape[2])
		}
		out[i] = head{h: l.Shape[2], w: l.Shape[3], loc: l.Data, conf: c.Data}
	}
	return out, nil
}

// BestRelative decodes the six head tensors of a detector input of inW x inH pixels and returns
// the highest-confidence box, relative to the input (xmin, ymin, xmax, ymax, not clipped), with its
// face-class confidence.
func BestRelative(heads []graph.Tensor, inW, inH int) (rel [4]float32, conf float32, err error) {
	if inW <= 0 || inH <= 0 {
		return rel, 0, fmt.Errorf("detect: input size %dx%d", inW, inH)
	}
	hs, err := sortHeads(heads)
	if err != nil {
		return rel, 0, err
	}
	best := float32(-1)
	var bl, bi, ba int // level, cell, prior of the best box
	for li, hd := range hs {
		n := hd.h * hd.w
		for i := 0; i < n; i++ {
			for a := 0; a < 2; a++ {
				c := faceProb(hd.conf[(2*a)*n+i], hd.conf[(2*a+1)*n+i])
				if c > best { // strict: the first of equal scores wins
					best, bl, bi, ba = c, li, i, a
				}
			}
		}
	}
	hd := hs[bl]
	n := hd.h * hd.w
	var loc [4]float32
	for k := range loc {
		loc[k] = hd.loc[(4*ba+k)*n+bi]
	}
	prior := priorBox(levels[bl], ba, bi%hd.w, bi/hd.w, float32(inW), float32(inH))
	return decode(prior, loc), best, nil
}

// faceProb is the face-class probability of a prior: OpenCV's softmax over the two classes
// (max subtracted, exp, divided by the sum), in float32.
func faceProb(bg, face float32) float32 {
	m := max(bg, face)
	e0 := float32(math.Exp(float64(bg - m)))
	e1 := float32(math.Exp(float64(face - m)))
	return e1 / (e0 + e1)
}

// priorBox is OpenCV's PriorBox for prior a of cell (x, y): normalised corners xmin, ymin, xmax,
// ymax (offset 0.5, no clipping).
func priorBox(lv level, a, x, y int, imgW, imgH float32) [4]float32 {
	cx := (float32(x) + 0.5) * lv.step
	cy := (float32(y) + 0.5) * lv.step
	half := lv.minSizes[a] * 0.5
	return [4]float32{
		(cx - half) / imgW,
		(cy - half) / imgH,
		(cx + half) / imgW,
		(cy + half) / imgH,
	}
}

// decode is OpenCV's DecodeBBox for CENTER_SIZE codes, normalised boxes, variance not encoded in
// the target.
func decode(p, loc [4]float32) [4]float32 {
	pw := p[2] - p[0]
	ph := p[3] - p[1]
	pcx := float32(float64(p[0]+p[2]) * .5)
	pcy := float32(float64(p[1]+p[3]) * .5)
	cx := float32(variance[0]*loc[0])*pw + pcx
	cy := float32(variance[1]*loc[1])*ph + pcy
	w := float32(math.Exp(float64(variance[2]*loc[2]))) * pw
	h := float32(math.Exp(float64(variance[3]*loc[3]))) * ph
	return [4]float32{
		float32(float64(cx) - float64(w)*.5),
		float32(float64(cy) - float64(h)*.5),
		float32(float64(cx) + float64(w)*.5),
		float32(float64(cy) + float64(h)*.5),
	}
}

// Detector holds the compiled RetinaFace graph and a pool of sessions, so that Detect can be
// called from several goroutines at once.
type Detector struct {
	g    *graph.Graph
	pool sync.Pool
}

// New loads the embedded weights.RetinaFace model.
func New() (*Detector, error) {
	b, err := weights.Load(weights.RetinaFace)
	if err != nil {
		return nil, fmt.Errorf("detect: %w", err)
	}
	g, err := graph.Load(b)
	if err != nil {
		return nil, fmt.Errorf("detect: %w", err)
	}
	return NewFromGraph(g)
}

// NewFromGraph wraps an already compiled RetinaFace graph (one input, six head outputs).
func NewFromGraph(g *graph.Graph) (*Detector, error) {
	if n := len(g.InputNames()); n != 1 {
		return nil, fmt.Errorf("detect: graph has %d inputs, want 1", n)
	}
	if n := len(g.OutputNames()); n != 6 {
		return nil, fmt.Errorf("detect: graph has %d outputs, want 6", n)
	}
	d := &Detector{g: g}
	d.pool.New = func() any { return g.NewSession() }
	return d, nil
}

// Graph returns the detector's graph (for making sessions to give to Best).
func (d *Detector) Graph() *graph.Graph { return d.g }

// Detect is Best with a session from the detector's pool; it is safe for concurrent use.
func (d *Detector) Detect(img *preproc.Image) (box [4]int, conf float32, err error) {
	s := d.pool.Get().(*graph.Session)
	defer d.pool.Put(s)
	return Best(img, s)
}

// Face is one detected face: its box in the image's pixels as [x, y, width, height] (get_bbox's
// list) and its face-class confidence.
type Face struct {
	Box  [4]int
	Conf float32
}

// NMSThreshold is deploy.prototxt's DetectionOutput nms_threshold: of two boxes overlapping by more
// than this intersection over union, the less confident is dropped.
const NMSThreshold = 0.3

// Faces decodes the six head tensors of a detector input of inW x inH pixels, given for an image
// of imgW x imgH pixels, and returns the faces whose confidence is at least minConf after
// DetectionOutput's non-maximum suppression (OpenCV's NMSFast: most confident first, on ties the
// prior that comes first, a box kept when it overlaps no kept box by more than NMSThreshold; at
// most 400 candidates, deploy.prototxt's top_k). The first face, when there is one, is the box
// BestRelative returns.
func Faces(heads []graph.Tensor, inW, inH, imgW, imgH int, minConf float32) ([]Face, error) {
	if inW <= 0 || inH <= 0 {
		return nil, fmt.Errorf("detect: input size %dx%d", inW, inH)
	}
	hs, err := sortHeads(heads)
	if err != nil {
		return nil, err
	}
	type cand struct {
		rel  [4]float32
		conf float32
	}
	var cands []cand
	for li, hd := range hs {
		n := hd.h * hd.w
		for i := 0; i < n; i++ {
			for a := 0; a < 2; a++ {
				c := faceProb(hd.conf[(2*a)*n+i], hd.conf[(2*a+1)*n+i])
				if c < minConf {
					continue
				}
				var loc [4]float32
				for k := range loc {
					loc[k] = hd.loc[(4*a+k)*n+i]
				}
				prior := priorBox(levels[li], a, i%hd.w, i/hd.w, float32(inW), float32(inH))
				cands = append(cands, cand{decode(prior, loc), c})
			}
		}
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].conf > cands[j].conf })
	const topK = 400
	if len(cands) > topK {
		cands = cands[:topK]
	}
	var kept []cand
	for _, c := range cands {
		ok := true
		for _, k := range kept {
			if iou(c.rel, k.rel) > NMSThreshold {
				ok = false
				break
			}
		}
		if ok {
			kept = append(kept, c)
		}
	}
	faces := make([]Face, len(kept))
	for i, k := range kept {
		faces[i] = Face{Box: PixelBox(k.rel, imgW, imgH), Conf: k.conf}
	}
	return faces, nil
}

// iou is the intersection over union of two boxes (xmin, ymin, xmax, ymax), as OpenCV's
// JaccardOverlap for normalised boxes: 0 when they do not intersect.
func iou(a, b [4]float32) float32 {
	if b[0] > a[2] || b[2] < a[0] || b[1] > a[3] || b[3] < a[1] {
		return 0
	}
	iw := min(a[2], b[2]) - max(a[0], b[0])
	ih := min(a[3], b[3]) - max(a[1], b[1])
	inter := iw * ih
	area := func(r [4]float32) float32 {
		if r[2] < r[0] || r[3] < r[1] {
			return 0
		}
		return (r[2] - r[0]) * (r[3] - r[1])
	}
	u := area(a) + area(b) - inter
	if u <= 0 {
		return 0
	}
	return inter / u
}

// DetectFaces runs the detector on img with a session from the pool and returns Faces' result for
// img; it is safe for concurrent use.
func (d *Detector) DetectFaces(img *preproc.Image, minConf float32) ([]Face, error) {
	in, err := Input(img)
	if err != nil {
		return nil, err
	}
	s := d.pool.Get().(*graph.Session)
	defer d.pool.Put(s)
	heads, err := s.Run(in)
	if err != nil {
		return nil, fmt.Errorf("detect: %w", err)
	}
	return Faces(heads, in.Shape[3], in.Shape[2], img.W, img.H, minConf)
}
