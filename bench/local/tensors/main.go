// Command tensors writes the input tensors of the three networks of the offline liveness check
// (vendors/local/antispoof) for each sample face, exactly as the Go pipeline builds them, so that
// another runtime can be timed on the same inputs:
//
//   - detector: detect.Input of the decoded, EXIF-oriented image (1x3xHxW, BGR minus the mean);
//   - MiniFASNetV2 and MiniFASNetV1SE: preproc.Crop of the detected face box at scales 2.7 and
//     4.0, 80x80, as CHW (1x3x80x80, BGR 0..255).
//
// Each tensor is a file of raw little-endian float32 values; manifest.json lists the files, their
// shapes, and what the Go check gives on the image (the box, the detector's confidence and each
// model's logits), for checking the other runtime's outputs.
//
//	go run ./bench/local/tensors -out DIR [-faces DIR]
//
// The faces directory defaults to $LIVENESS_LOCAL_MODEL/faces, else to
// vendors/local/preproc/testdata/local-model/faces relative to the working directory.
package main

import (
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/caddy-liveness/caddy-liveness/vendors/local/antispoof"
	"github.com/caddy-liveness/caddy-liveness/vendors/local/detect"
	"github.com/caddy-liveness/caddy-liveness/vendors/local/preproc"
	"github.com/caddy-liveness/caddy-liveness/vendors/local/weights"
)

// images are the sample faces, in the order the manifest lists them.
var images = []string{"minivision_image_T1.jpg", "minivision_image_F1.jpg", "minivision_image_F2.jpg"}

// tensorFile is one written tensor.
type tensorFile struct {
	Model string `json:"model"` // file name of the ONNX model it is the input of
	File  string `json:"file"`  // relative to the manifest
	Shape []int  `json:"shape"`
}

// sample is the manifest entry of one image.
type sample struct {
	Image    string        `json:"image"`
	Width    int           `json:"width"` // after EXIF orientation
	Height   int           `json:"height"`
	Box      [4]int        `json:"box_xywh"`
	Conf     float32       `json:"detector_conf"`
	Logits   [2][3]float32 `json:"logits"` // MiniFASNetV2, MiniFASNetV1SE
	Score    float64       `json:"score"`
	Detector tensorFile    `json:"detector"`
	Models   []tensorFile  `json:"models"` // MiniFASNetV2, MiniFASNetV1SE
}

type manifest struct {
	Models  map[string]string `json:"models"` // ONNX file name -> SHA-256 of the embedded weights
	Samples []sample          `json:"samples"`
}

func main() {
	out := flag.String("out", "", "directory to write the tensors and manifest.json to (created if missing)")
	faces := flag.String("faces", "", "directory of the sample JPEG files")
	flag.Parse()
	if *out == "" {
		flag.Usage()
		os.Exit(2)
	}
	if *faces == "" {
		if d := os.Getenv("LIVENESS_LOCAL_MODEL"); d != "" {
			*faces = filepath.Join(d, "faces")
		} else {
			*faces = filepath.Join("vendors", "local", "preproc", "testdata", "local-model", "faces")
		}
	}
	if err := run(*out, *faces); err != nil {
		log.Fatal(err)
	}
}

func run(out, faces string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	e, err := antispoof.Load()
	if err != nil {
		return err
	}
	m := manifest{Models: map[string]string{}}
	for _, n := range weights.Names() {
		m.Models[n] = weights.Digest(n)
	}
	for _, name := range images {
		s, err := writeSample(e, out, faces, name)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		m.Samples = append(m.Samples, s)
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "manifest.json"), append(b, '\n'), 0o644)
}

func writeSample(e *antispoof.Engine, out, faces, name string) (sample, error) {
	data, err := os.ReadFile(filepath.Join(faces, name))
	if err != nil {
		return sample{}, err
	}
	img, err := preproc.Decode(data, 0)
	if err != nil {
		return sample{}, err
	}
	r, err := e.Screen(img)
	if err != nil {
		return sample{}, err
	}
	if r.Reason != "" {
		return sample{}, fmt.Errorf("not scored: %s", r.Reason)
	}
	full, err := e.Check(img)
	if err != nil || full.Reason != "" {
		return sample{}, fmt.Errorf("check: reason %q, err %v", full.Reason, err)
	}
	box := r.Faces[0].Box
	base := strings.TrimSuffix(name, filepath.Ext(name))
	s := sample{Image: name, Width: img.W, Height: img.H, Box: box, Conf: r.Faces[0].Conf, Logits: full.Logits, Score: full.Score}

	in, err := detect.Input(img)
	if err != nil {
		return sample{}, err
	}
	if s.Detector, err = writeTensor(out, base+".detector.f32", weights.RetinaFace, in.Shape, in.Data); err != nil {
		return sample{}, err
	}
	for _, c := range []struct {
		model string
		scale float64
	}{{weights.MiniFASNetV2, 2.7}, {weights.MiniFASNetV1SE, 4.0}} {
		crop, err := preproc.Crop(img, box, c.scale, 80, 80)
		if err != nil {
			return sample{}, err
		}
		file := base + "." + strings.TrimSuffix(c.model, ".onnx") + ".f32"
		t, err := writeTensor(out, file, c.model, []int{1, 3, 80, 80}, crop.CHW([3]float32{}))
		if err != nil {
			return sample{}, err
		}
		s.Models = append(s.Models, t)
	}
	return s, nil
}

func writeTensor(dir, file, model string, shape []int, data []float32) (tensorFile, error) {
	n := 1
	for _, d := range shape {
		n *= d
	}
	if n != len(data) {
		return tensorFile{}, fmt.Errorf("%s: shape %v holds %d values, data has %d", file, shape, n, len(data))
	}
	b := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	if err := os.WriteFile(filepath.Join(dir, file), b, 0o644); err != nil {
		return tensorFile{}, err
	}
	return tensorFile{Model: model, File: file, Shape: shape}, nil
}
