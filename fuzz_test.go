package caddyliveness

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"net/http"
	"testing"

	"github.com/caddy-liveness/caddy-liveness/vendors/vendortest"
)

// fuzzSources are the extraction setups every input is tried with.
var fuzzSources = [][]Source{
	nil,
	{{Type: "multipart", Fields: []string{"selfie", "id"}}},
	{{Type: "json", Fields: []string{"/img", "/a/0/b", ""}}},
	{{Type: "form", Fields: []string{"photo"}}},
	{{Type: "body"}},
}

// FuzzExtract: multipart, JSON pointers, data URIs, form fields and raw
// bodies either give media that are what they claim or a 400/413/415.
func FuzzExtract(f *testing.F) {
	live := vendortest.SampleJPEG("live")
	ct, mp := multipartBody(f, "selfie", live)
	f.Add(ct, mp)
	f.Add("application/json", []byte(`{"img":"`+dataURI("image/jpeg", live)+`","a":[{"b":"aGVsbG8="}]}`))
	f.Add("application/x-www-form-urlencoded", []byte("photo=data%3Aimage%2Fpng%3Bbase64%2CiVBORw0KGgo%3D&x=1"))
	f.Add("image/jpeg", live)
	f.Add("image/png", hugePNG(100000, 100000))
	f.Add("multipart/form-data; boundary=X", []byte("--X\r\nContent-Disposition: form-data; name=\"selfie\"; filename=\"a\"\r\n\r\nGIF89a\r\n--X--\r\n"))
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		orig := bytes.Clone(body)
		for _, sources := range fuzzSources {
			x := extractor{sources: sources, maxPixels: 1_000_000}
			media, err := x.extract(contentType, body, nil)
			if err != nil {
				var ie *inputError
				if !errors.As(err, &ie) {
					t.Fatalf("untyped error %v", err)
				}
				if ie.status != http.StatusBadRequest && ie.status != http.StatusRequestEntityTooLarge && ie.status != http.StatusUnsupportedMediaType {
					t.Fatalf("status %d", ie.status)
				}
				continue
			}
			for _, m := range media {
				if len(m.Data) == 0 || !isMedia(m.MIME) || sniff(m.Data) != m.MIME || m.sum != sha256.Sum256(m.Data) {
					t.Fatalf("bad medium: %d bytes, %s", len(m.Data), m.MIME)
				}
			}
		}
		if !bytes.Equal(body, orig) {
			t.Fatal("extraction modified the body")
		}
	})
}

// FuzzDataURI: decoding never panics and yields a sniffed image or a 415.
func FuzzDataURI(f *testing.F) {
	f.Add(dataURI("image/jpeg", vendortest.SampleJPEG("live")))
	f.Add("data:image/png;base64,")
	f.Add("data:text/plain;base64,aGVsbG8=")
	f.Add("aGVsbG8")
	f.Add("data:image/png,raw")
	f.Fuzz(func(t *testing.T, s string) {
		x := extractor{maxPixels: 1_000_000}
		m, err := x.encoded([]byte(s), "/x", &scratch{})
		if err != nil {
			var ie *inputError
			if !errors.As(err, &ie) || (ie.status != http.StatusUnsupportedMediaType && ie.status != http.StatusRequestEntityTooLarge) {
				t.Fatalf("err %v", err)
			}
			return
		}
		if !isMedia(m.MIME) || len(m.Data) == 0 {
			t.Fatalf("medium %s of %d bytes", m.MIME, len(m.Data))
		}
	})
}
