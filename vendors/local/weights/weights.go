// Package weights embeds the weights of the local liveness check —
// minivision's MiniFASNetV2 and MiniFASNetV1SE and its RetinaFace detector,
// as ONNX files (Apache-2.0, see NOTICE and LICENSE-minivision) — and checks
// their SHA-256 digests when they are read. It opens no file and depends
// only on the standard library.
package weights

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
)

// The embedded models.
const (
	MiniFASNetV2   = "MiniFASNetV2.onnx"   // 80x80 BGR 0..255 input, face box x2.7; 3 logits, class 1 = real
	MiniFASNetV1SE = "MiniFASNetV1SE.onnx" // 80x80 BGR 0..255 input, face box x4.0; 3 logits, class 1 = real
	RetinaFace     = "RetinaFace-minivision.onnx"
)

// digests are the expected SHA-256 digests (hex) of the embedded files.
var digests = map[string]string{
	MiniFASNetV2:   "4eed38f0bde33c9b805942a5f25e42ce1161e2bda545254be622be957727794e",
	MiniFASNetV1SE: "d819a69bac6b9ade2a0f4d9b60b618e1260f7bf3ba1fddff6c5d82131cb1083f",
	RetinaFace:     "c41026aa6899965d4e926d5e562fc2c714d2528b4d532936b5b880a97e75785b",
}

//go:embed MiniFASNetV2.onnx MiniFASNetV1SE.onnx RetinaFace-minivision.onnx
var files embed.FS

// Names lists the embedded models.
func Names() []string { return []string{MiniFASNetV2, MiniFASNetV1SE, RetinaFace} }

// Digest returns the expected SHA-256 digest (hex) of the named model, or ""
// for an unknown name. It is what Load checks, fit for a cache key.
func Digest(name string) string { return digests[name] }

// Load returns a fresh copy of the named model's bytes after checking its
// SHA-256 digest.
func Load(name string) ([]byte, error) { return load(files, name) }

func load(fsys fs.FS, name string) ([]byte, error) {
	want, ok := digests[name]
	if !ok {
		return nil, fmt.Errorf("weights: unknown model %q", name)
	}
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("weights: %w", err)
	}
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); got != want {
		return nil, fmt.Errorf("weights: %s: SHA-256 %s, want %s: the embedded file is corrupt", name, got, want)
	}
	return b, nil
}
