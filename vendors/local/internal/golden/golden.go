// Package golden reads the golden data the offline check's tests compare
// with (gzipped JSON and PNG files of minivision's own pipeline).
package golden

import (
	"compress/gzip"
	"encoding/json"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// ReadJSON decodes the gzipped JSON file at path into v, failing the test
// on any error.
func ReadJSON(t testing.TB, path string, v any) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.NewDecoder(zr).Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// PNG decodes the PNG file at path, failing the test on any error.
func PNG(t testing.TB, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

// ModelDir returns the directory of the golden data: $LIVENESS_LOCAL_MODEL
// when set, else fallback (the copy kept with package preproc's test data,
// as seen from the calling package). It fails the test when the golden
// JSON is not there.
func ModelDir(t testing.TB, fallback string) string {
	t.Helper()
	dir := os.Getenv("LIVENESS_LOCAL_MODEL")
	if dir == "" {
		dir = fallback
	}
	if _, err := os.Stat(filepath.Join(dir, "golden_retinaface", "golden_retinaface.json.gz")); err != nil {
		t.Fatalf("golden data not found in %s: %v", dir, err)
	}
	return dir
}
