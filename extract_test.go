package caddyliveness

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"hash/crc32"
	"net/url"
	"strings"
	"testing"

	"github.com/caddy-liveness/caddy-liveness/vendors/vendortest"
)

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

// hugeJPEG is a JFIF header and a SOF0 declaring w x h pixels.
func hugeJPEG(w, h uint16) []byte {
	b := []byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0}
	b = append(b, 0xFF, 0xC0, 0, 11, 8)
	b = binary.BigEndian.AppendUint16(b, h)
	b = binary.BigEndian.AppendUint16(b, w)
	return append(b, 1, 1, 0x11, 0)
}

func dataURI(mime string, b []byte) string {
	return "data:" + mime + ";base64," + base64.StdEncoding.EncodeToString(b)
}

func TestExtract(t *testing.T) {
	live, spoof := vendortest.SampleJPEG("live"), vendortest.SampleJPEG("spoof")
	png := vendortest.SamplePNG("live")
	mpCT, mpBody := multipartBody(t, "selfie", live, "id", spoof)
	_, notImage := multipartBody(t, "doc", []byte("%PDF-1.4 not an image"))
	form := url.Values{"photo": {base64.StdEncoding.EncodeToString(live)}, "other": {dataURI("image/png", png)}}.Encode()
	jsonBody := `{"user":{"selfie":"` + dataURI("image/jpeg", live) + `"},"list":["plain","` + dataURI("image/png", png) + `"],"raw":"` + base64.StdEncoding.EncodeToString(spoof) + `"}`

	tests := []struct {
		name    string
		sources []Source
		ct      string
		body    []byte
		want    [][]byte // media in order
		status  int      // inputError status, 0 for none
	}{
		{"auto multipart: all file parts", nil, mpCT, mpBody, [][]byte{live, spoof}, 0},
		{"auto multipart: non-image parts skipped", nil, strings.Replace(mpCT, mpCT[strings.Index(mpCT, "=")+1:], "", 1) + mpBoundary(t, notImage), notImage, nil, 0},
		{"auto raw body", nil, "application/octet-stream", live, [][]byte{live}, 0},
		{"auto raw png", nil, "image/png", png, [][]byte{png}, 0},
		{"auto JSON data URIs in document order, bare base64 ignored", nil, "application/json", []byte(jsonBody), [][]byte{live, png}, 0},
		{"duplicate JSON keys", nil, "application/json", []byte(`{"a":{"img":"` + dataURI("image/jpeg", live) + `","img":"` + dataURI("image/jpeg", spoof) + `"}}`), nil, 400},
		{"equal keys in different objects", nil, "application/json", []byte(`{"a":{"img":"` + dataURI("image/jpeg", live) + `"},"b":{"img":"` + dataURI("image/jpeg", spoof) + `"}}`), [][]byte{live, spoof}, 0},
		{"json pointer to null is absent", []Source{{Type: "json", Fields: []string{"/n"}}}, "application/json", []byte(`{"n":null}`), nil, 0},
		{"json pointer into an array of objects", []Source{{Type: "json", Fields: []string{"/faces/1/img"}}}, "application/json", []byte(`{"faces":[{"img":"x"},{"img":"` + dataURI("image/png", png) + `"}]}`), [][]byte{png}, 0},
		{"json pointer to an object", []Source{{Type: "json", Fields: []string{"/user"}}}, "application/json", []byte(jsonBody), nil, 415},
		{"json root string", []Source{{Type: "json", Fields: []string{""}}}, "application/json", []byte(`"` + dataURI("image/png", png) + `"`), [][]byte{png}, 0},
		{"unclosed JSON", nil, "application/json", []byte(`{"a":[1,2`), nil, 400},
		{"JSON nested 64 deep is fine", nil, "application/json", []byte(strings.Repeat("[", 64) + strings.Repeat("]", 64)), nil, 0},
		{"JSON nested 65 deep", nil, "application/json", []byte(strings.Repeat("[", 65) + strings.Repeat("]", 65)), nil, 400},
		{"auto form data URIs", nil, "application/x-www-form-urlencoded", []byte(form), [][]byte{png}, 0},
		{"auto nothing", nil, "text/plain", []byte("hello"), nil, 0},
		{"named multipart field", []Source{{Type: "multipart", Fields: []string{"id"}}}, mpCT, mpBody, [][]byte{spoof}, 0},
		{"named multipart field holding a non-image", []Source{{Type: "multipart", Fields: []string{"doc"}}}, "multipart/form-data; boundary=" + mpBoundary(t, notImage), notImage, nil, 415},
		{"json pointers incl. bare base64", []Source{{Type: "json", Fields: []string{"/raw", "/user/selfie", "/absent"}}}, "application/json", []byte(jsonBody), [][]byte{spoof, live}, 0},
		{"json pointer to a non-string", []Source{{Type: "json", Fields: []string{"/list"}}}, "application/json", []byte(jsonBody), nil, 415},
		{"json pointer to plain text", []Source{{Type: "json", Fields: []string{"/list/0"}}}, "application/json", []byte(jsonBody), nil, 415},
		{"form field base64", []Source{{Type: "form", Fields: []string{"photo"}}}, "application/x-www-form-urlencoded", []byte(form), [][]byte{live}, 0},
		{"source body", []Source{{Type: "body"}}, "image/jpeg", live, [][]byte{live}, 0},
		{"source body with a non-image content type", []Source{{Type: "body"}}, "application/json", live, nil, 0},
		{"source body claims png, holds text", []Source{{Type: "body"}}, "image/png", []byte("not a png at all"), nil, 415},
		{"several sources in order", []Source{{Type: "json", Fields: []string{"/raw"}}, {Type: "multipart", Fields: []string{"selfie"}}}, "application/json", []byte(jsonBody), [][]byte{spoof}, 0},
		{"invalid base64", []Source{{Type: "json", Fields: []string{"/x"}}}, "application/json", []byte(`{"x":"@@@notbase64"}`), nil, 415},
		{"data URI with a non-image type", []Source{{Type: "json", Fields: []string{"/x"}}}, "application/json", []byte(`{"x":"` + dataURI("text/plain", live) + `"}`), nil, 415},
		{"data URI not base64", nil, "application/json", []byte(`{"x":"data:image/png,abc"}`), nil, 415},
		{"data URI claims png, holds text", nil, "application/json", []byte(`{"x":"` + dataURI("image/png", []byte("plain text here")) + `"}`), nil, 415},
		{"zero-length data URI image", nil, "application/json", []byte(`{"x":"data:image/png;base64,"}`), nil, 415},
		{"PNG header declaring 100000x100000", nil, "image/png", hugePNG(100000, 100000), nil, 413},
		{"JPEG header declaring 65000x65000", nil, "image/jpeg", hugeJPEG(65000, 65000), nil, 413},
		{"truncated JPEG header", nil, "image/jpeg", live[:40], nil, 415},
		{"deeply nested JSON", nil, "application/json", []byte(strings.Repeat("[", 100000) + strings.Repeat("]", 100000)), nil, 400},
		{"trailing data after JSON", nil, "application/json", []byte(`{} {}`), nil, 400},
		{"URL-safe unpadded base64", []Source{{Type: "json", Fields: []string{"/x"}}}, "application/json", []byte(`{"x":"` + base64.RawURLEncoding.EncodeToString(live) + `"}`), [][]byte{live}, 0},
		{"base64 mixing both alphabets", []Source{{Type: "json", Fields: []string{"/x"}}}, "application/json", []byte(`{"x":"` + base64.StdEncoding.EncodeToString(live)[:40] + `-_+/"}`), nil, 415},
		{"JSON pointer escapes", []Source{{Type: "json", Fields: []string{"/a~1b/c~0d"}}}, "application/json", []byte(`{"a/b":{"c~d":"` + dataURI("image/jpeg", live) + `"}}`), [][]byte{live}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := extractor{sources: tt.sources, maxPixels: DefaultMaxPixels}
			got, err := x.extract(tt.ct, tt.body, nil)
			if tt.status != 0 {
				ie, ok := err.(*inputError)
				if !ok || ie.status != tt.status {
					t.Fatalf("err %v, want status %d", err, tt.status)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("%d media, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if !bytes.Equal(got[i].Data, tt.want[i]) {
					t.Errorf("medium %d differs", i)
				}
			}
		})
	}
}

// mpBoundary returns the boundary multipartBody used for body.
func mpBoundary(t *testing.T, body []byte) string {
	t.Helper()
	line, _, _ := bytes.Cut(body, []byte("\r\n"))
	return strings.TrimPrefix(string(line), "--")
}

func TestSniffMP4(t *testing.T) {
	mp4 := append([]byte{0, 0, 0, 0x18}, []byte("ftypisom\x00\x00\x02\x00isommp41")...)
	if got := sniff(mp4); got != "video/mp4" {
		t.Fatalf("sniff %q", got)
	}
	x := extractor{maxPixels: DefaultMaxPixels}
	m, err := x.extract("application/octet-stream", mp4, nil)
	if err != nil || len(m) != 1 || m[0].MIME != "video/mp4" {
		t.Fatalf("mp4 not found as a medium: %v %v", m, err)
	}
}

func TestInputErrorMessagesHoldNoClientText(t *testing.T) {
	x := extractor{sources: []Source{{Type: "multipart", Fields: []string{`"}<script>`}}}, maxPixels: DefaultMaxPixels}
	ct, body := multipartBody(t, `"}<script>`, []byte("not an image"))
	_, err := x.extract(ct, body, nil)
	ie, ok := err.(*inputError)
	if !ok || strings.Contains(ie.msg, "script") || ie.where != `"}<script>` {
		t.Fatalf("err %#v", err)
	}
}

func TestSniffMP4Brands(t *testing.T) {
	ftyp := func(brands string) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(8+len(brands)))
		return append(append(b, "ftyp"...), brands...)
	}
	tests := map[string]string{
		"isom\x00\x00\x02\x00isomiso2avc1mp41": "video/mp4",
		"mp42\x00\x00\x00\x00mp42isom":         "video/mp4",
		"isom\x00\x00\x02\x00":                 "video/mp4",
		"qt  \x00\x00\x02\x00qt  ":             "application/octet-stream", // QuickTime is not MP4
		"heic\x00\x00\x00\x00mif1heic":         "application/octet-stream",
		"M4A \x00\x00\x00\x00M4A mp42":         "video/mp4", // audio-only MP4 still sniffs as MP4; the vendor decides
	}
	for brands, want := range tests {
		if got := sniff(ftyp(brands)); got != want {
			t.Errorf("%q: %s, want %s", brands, got, want)
		}
	}
	if got := sniff(vendortest.SampleMP4("live")); got != "video/mp4" {
		t.Errorf("SampleMP4 sniffs as %s", got)
	}
	if isMP4([]byte("\x00\x00\x10\x00ftypisom")) {
		t.Error("a box larger than the data is not an MP4")
	}
}
