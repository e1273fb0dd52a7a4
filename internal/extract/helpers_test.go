package extract

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"mime/multipart"
	"net/http"
	"testing"
)

const testMaxPixels = 40_000_000

// testJPEG and testPNG are small real images, distinct for each seed.
func testJPEG(seed uint8) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, solid(seed), nil); err != nil {
		panic(err)
	}
	return b.Bytes()
}

func testPNG(seed uint8) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, solid(seed)); err != nil {
		panic(err)
	}
	return b.Bytes()
}

func solid(seed uint8) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for i := range img.Pix {
		img.Pix[i] = seed + uint8(i%7)
	}
	img.Set(0, 0, color.RGBA{seed, 255 - seed, 0, 255})
	return img
}

// tiff is the start of a little-endian TIFF file: an image the gate does
// not check.
var tiff = []byte("II*\x00\x08\x00\x00\x00\x01\x00\x00\x01\x03\x00\x01\x00\x00\x00\x10\x00\x00\x00")

// hugePNG is a PNG signature and IHDR declaring w x h pixels, and nothing
// else: DecodeConfig reads it, a full decode would allocate w*h*4 bytes.
func hugePNG(w, h uint32) []byte {
	b := []byte("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6 // 8-bit RGBA
	b = binary.BigEndian.AppendUint32(b, 13)
	chunk := append([]byte("IHDR"), ihdr...)
	b = append(b, chunk...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(chunk))
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func dataURI(mime string, b []byte) string { return "data:" + mime + ";base64," + b64(b) }

// goMultipart is what Go's mime/multipart Writer sends: a text field and
// the files given as name, content pairs.
func goMultipart(t testing.TB, files ...any) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	if err := w.WriteField("user", "alice"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(files); i += 2 {
		fw, err := w.CreateFormFile(files[i].(string), files[i].(string)+".jpg")
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(files[i+1].([]byte))
	}
	w.Close()
	return w.FormDataContentType(), buf.Bytes()
}

// mp builds a multipart body with boundary "B" from raw part texts (each
// its header lines, an empty line and its content).
func mp(parts ...string) []byte {
	var b bytes.Buffer
	for _, p := range parts {
		b.WriteString("--B\r\n" + p + "\r\n")
	}
	b.WriteString("--B--\r\n")
	return b.Bytes()
}

// filePart and textPart are part texts for mp.
func filePart(name string, data []byte) string {
	return "Content-Disposition: form-data; name=\"" + name + "\"; filename=\"f.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n" + string(data)
}

func textPart(name, value string) string {
	return "Content-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" + value
}

func header(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h[kv[i]] = append(h[kv[i]], kv[i+1])
	}
	return h
}

func run(sources []Source, h http.Header, query string, body []byte) ([]Medium, *Error) {
	x := Extractor{Sources: sources, MaxPixels: testMaxPixels}
	m, err := x.Extract(Request{Header: h, RawQuery: query, Body: body}, nil)
	if err != nil {
		return nil, err.(*Error)
	}
	return m, nil
}
