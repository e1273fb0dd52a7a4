// Package golden reads the golden data the offline check's tests compare
// with (gzipped JSON and PNG files of minivision's own pipeline).
package golden

import (
	"compress/gzip"
	"encoding/json"
	"image"
	"image/png"
	"os"
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
