// Package antispoof is the whole offline liveness check of `vendor local`: minivision's
// Silent-Face-Anti-Spoofing pipeline (src/anti_spoof_predict.py, test.py; Apache-2.0) on a decoded,
// EXIF-oriented image.
//
//  1. RetinaFace finds the faces (package detect).
//  2. The face policy (Policy) decides whether the image holds exactly one face large enough to
//     judge; otherwise the check stops with a reason and no score.
//  3. The most confident face is cropped twice (preproc.Crop): its box scaled 2.7x for
//     MiniFASNetV2 and 4.0x for MiniFASNetV1SE, each resized to 80x80, BGR 0..255.
//  4. Both models run (package graph) and the score is the mean of their softmax probabilities
//     for class 1 (real): higher is live.
//
// The package is free of Caddy and opens no file: the weights are embedded (package weights).
package antispoof

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"

	"github.com/caddy-liveness/caddy-liveness/vendors/local/detect"
	"github.com/caddy-liveness/caddy-liveness/vendors/local/graph"
	"github.com/caddy-liveness/caddy-liveness/vendors/local/preproc"
	"github.com/caddy-liveness/caddy-liveness/vendors/local/weights"
)

// Reasons the check gives an image it does not score. None of them is ever live.
const (
	// ReasonNoFace: no face box reached Policy.MinConfidence.
	ReasonNoFace = "face_not_detected"
	// ReasonSeveralFaces: more than one face large enough to judge. The gate would judge one
	// and the service behind it might use another (a printed photo held beside a live face).
	ReasonSeveralFaces = "several_faces"
	// ReasonFaceTooSmall: the face's box is smaller than Policy.MinFace on its shorter side.
	ReasonFaceTooSmall = "face_too_small"
)

// Policy decides which detections are faces and when an image can be judged.
type Policy struct {
	// MinConfidence is the detector confidence from which a box is a face.
	MinConfidence float32
	// MinFace is the shortest side, in image pixels, of a face box that can be judged, and of a
	// second face that makes the image ambiguous.
	MinFace int
}

// DefaultThreshold is the score above which `vendor local` calls a face live when the operator sets
// no threshold. On the three sample faces minivision's pipeline scores 0.994 (live), 0.072 and 0.181 (spoofs), so any
// value between them separates them; 0.5 is minivision's own rule made no more lenient: its demo
// calls a face real when class 1 has the largest mean probability, which every score above 0.5 has.
const DefaultThreshold = 0.5

// DefaultPolicy is the policy of `vendor local` and of the prescreen.
//
// MinConfidence 0.6 is the visualisation threshold of the RetinaFace reference code; on the three
// sample faces the detector gives 0.984-0.992, on pictures without a face 0.002-0.03.
// MinFace 32: the MiniFASNetV2 crop is 2.7 times the box, resized to 80x80, so below about 30
// pixels the model's input is an enlargement that no longer holds the texture the model reads
// (print dots, screen moire).
var DefaultPolicy = Policy{MinConfidence: 0.6, MinFace: 32}

// String describes the policy, for cache keys.
func (p Policy) String() string {
	return fmt.Sprintf("faces>=%g min_face=%d nms=%g", p.MinConfidence, p.MinFace, detect.NMSThreshold)
}

// A model is one of the two anti-spoofing networks with its crop scale.
type model struct {
	name  string
	scale float64
	g     *graph.Graph
	pool  sync.Pool
}

// The crop size of both models.
const cropW, cropH = 80, 80

// RealClass is the index of the "real" class in the models' three outputs.
const RealClass = 1

// Engine holds the compiled networks. It is immutable and safe for concurrent use; each call
// takes its sessions from a pool.
type Engine struct {
	det    *detect.Detector
	models [2]*model
	policy Policy
}

// Load compiles the three embedded networks once per process and returns the shared engine.
var Load = sync.OnceValues(func() (*Engine, error) { return New(DefaultPolicy) })

// New compiles the embedded networks with a policy.
func New(p Policy) (*Engine, error) {
	if !(p.MinConfidence > 0 && p.MinConfidence <= 1) || p.MinFace < 1 {
		return nil, fmt.Errorf("antispoof: invalid policy %+v", p)
	}
	det, err := detect.New()
	if err != nil {
		return nil, err
	}
	e := &Engine{det: det, policy: p}
	for i, m := range []struct {
		name  string
		scale float64
	}{{weights.MiniFASNetV2, 2.7}, {weights.MiniFASNetV1SE, 4.0}} {
		b, err := weights.Load(m.name)
		if err != nil {
			return nil, fmt.Errorf("antispoof: %w", err)
		}
		g, err := graph.Load(b)
		if err != nil {
			return nil, fmt.Errorf("antispoof: %s: %w", m.name, err)
		}
		if len(g.InputNames()) != 1 || len(g.OutputNames()) != 1 {
			return nil, fmt.Errorf("antispoof: %s has %d inputs and %d outputs, want 1 and 1", m.name, len(g.InputNames()), len(g.OutputNames()))
		}
		md := &model{name: m.name, scale: m.scale, g: g}
		md.pool.New = func() any { return g.NewSession() }
		e.models[i] = md
	}
	return e, nil
}

// Fingerprint identifies everything that decides the engine's answers: the SHA-256 digests of
// the three networks and the policy. It belongs in every cache key of a result.
func (e *Engine) Fingerprint() string {
	var b strings.Builder
	for _, n := range weights.Names() {
		b.WriteString(n + "=" + weights.Digest(n) + " ")
	}
	b.WriteString(e.policy.String())
	return b.String()
}

// Policy returns the engine's face policy.
func (e *Engine) Policy() Policy { return e.policy }

// Report is what the check found in one image.
type Report struct {
	// Faces are the detections at or above the policy's confidence, most confident first.
	Faces []detect.Face
	// Reason is empty when the image was scored, else one of the Reason constants.
	Reason string
	// Score is the mean real-class probability of the two models (0..1); set when Reason is empty.
	Score float64
	// Real holds each model's real-class probability (MiniFASNetV2, MiniFASNetV1SE).
	Real [2]float64
	// Logits holds each model's three outputs.
	Logits [2][3]float32
}

// Screen runs only the detector and the face policy: a Report with a Reason, or without one when
// the image holds exactly one face that can be judged (Faces[0]).
func (e *Engine) Screen(img *preproc.Image) (Report, error) {
	faces, err := e.det.DetectFaces(img, e.policy.MinConfidence)
	if err != nil {
		return Report{}, err
	}
	r := Report{Faces: faces}
	switch {
	case len(faces) == 0:
		r.Reason = ReasonNoFace
	case min(faces[0].Box[2], faces[0].Box[3]) < e.policy.MinFace:
		r.Reason = ReasonFaceTooSmall
	default:
		for _, f := range faces[1:] {
			if min(f.Box[2], f.Box[3]) >= e.policy.MinFace {
				r.Reason = ReasonSeveralFaces
				break
			}
		}
	}
	return r, nil
}

// Check runs the whole pipeline on img (decoded and oriented, see preproc.Decode).
func (e *Engine) Check(img *preproc.Image) (Report, error) {
	r, err := e.Screen(img)
	if err != nil || r.Reason != "" {
		return r, err
	}
	box := r.Faces[0].Box
	for i, m := range e.models {
		crop, err := preproc.Crop(img, box, m.scale, cropW, cropH)
		if err != nil {
			return r, fmt.Errorf("antispoof: %s crop: %w", m.name, err)
		}
		logits, err := m.run(crop)
		if err != nil {
			return r, err
		}
		r.Logits[i] = logits
		r.Real[i] = Softmax(logits)[RealClass]
	}
	r.Score = (r.Real[0] + r.Real[1]) / 2
	return r, nil
}

// run runs one model on an 80x80 crop and returns its logits.
func (m *model) run(crop *preproc.Image) ([3]float32, error) {
	var out [3]float32
	s := m.pool.Get().(*graph.Session)
	defer m.pool.Put(s)
	res, err := s.Run(graph.Tensor{Shape: []int{1, 3, cropH, cropW}, Data: crop.CHW([3]float32{})})
	if err != nil {
		return out, fmt.Errorf("antispoof: %s: %w", m.name, err)
	}
	if len(res) != 1 || len(res[0].Data) != 3 {
		return out, fmt.Errorf("antispoof: %s gave %d outputs, want one of 3 values", m.name, len(res))
	}
	copy(out[:], res[0].Data)
	for _, v := range out {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return out, errors.New("antispoof: " + m.name + " gave a non-finite logit")
		}
	}
	return out, nil
}

// Softmax is the softmax of three logits in double precision.
func Softmax(l [3]float32) [3]float64 {
	m := math.Max(float64(l[0]), math.Max(float64(l[1]), float64(l[2])))
	var e [3]float64
	var sum float64
	for i, v := range l {
		e[i] = math.Exp(float64(v) - m)
		sum += e[i]
	}
	for i := range e {
		e[i] /= sum
	}
	return e
}
