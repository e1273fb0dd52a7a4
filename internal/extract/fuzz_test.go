package extract

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"testing"
)

// fuzzSources are the setups every input is tried with.
var fuzzSources = [][]Source{
	nil,
	named,
	{{Type: "multipart", Fields: []string{"selfie", "id"}}},
	{{Type: "json", Fields: []string{"/img", "/a/0/b", ""}}},
	{{Type: "form", Fields: []string{"photo"}}},
	{{Type: "body"}},
}

// FuzzExtract: every request either gives media that are what they claim
// or a typed 400/413/415, and the body is never changed.
func FuzzExtract(f *testing.F) {
	ct, body := goMultipart(f, "selfie", live)
	f.Add(ct, "", body)
	f.Add("application/json", "a=1", []byte(`{"img":"`+dataURI("image/jpeg", live)+`","a":[{"b":"aGVsbG8="}]}`))
	f.Add("application/x-www-form-urlencoded", "", []byte("photo=data%3Aimage%2Fpng%3Bbase64%2CiVBORw0KGgo%3D&x=1"))
	f.Add("image/jpeg", "", live)
	f.Add("image/png", "", hugePNG(100000, 100000))
	f.Add(mpCT, "selfie=1", mp(filePart("selfie", live), textPart("note", "x\n--B")))
	f.Fuzz(func(t *testing.T, contentType, query string, body []byte) {
		orig := bytes.Clone(body)
		for _, sources := range fuzzSources {
			media, err := run(sources, header("Content-Type", contentType), query, body)
			if err != nil {
				switch err.Status {
				case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
				default:
					t.Fatalf("status %d", err.Status)
				}
				if err.Status == http.StatusBadRequest && err.Rule == "" {
					t.Fatalf("a 400 without its rule: %s", err.Msg)
				}
				continue
			}
			for _, m := range media {
				if len(m.Data) == 0 || !Checkable(m.MIME) || Sniff(m.Data) != m.MIME || m.Sum != sha256.Sum256(m.Data) {
					t.Fatalf("bad medium: %d bytes, %s", len(m.Data), m.MIME)
				}
			}
		}
		if !bytes.Equal(body, orig) {
			t.Fatal("extraction modified the body")
		}
	})
}

// FuzzMultipartIsReadAlikeByGo: a body splitMultipart accepts is read by
// mime/multipart as the same parts: the same names, filenames and bytes.
// (The other frameworks are compared by the differential suite.)
func FuzzMultipartIsReadAlikeByGo(f *testing.F) {
	_, body := goMultipart(f, "selfie", live)
	b, _, _ := bytes.Cut(body[2:], []byte("\r\n"))
	f.Add(string(b), body)
	f.Add("B", mp(filePart("selfie", live), textPart("note", "a\r\n-B-"), "Content-Disposition: form-data; name=n; filename=\"é.jpg\"\r\nContent-Length: 1\r\n\r\nx"))
	f.Add("B", []byte("--B--"))
	f.Fuzz(func(t *testing.T, boundary string, body []byte) {
		if !validBoundary(boundary) {
			return
		}
		var ours []*part
		if err := splitMultipart(body, boundary, func(p *part) *Error { ours = append(ours, p); return nil }); err != nil {
			return
		}
		r := multipart.NewReader(bytes.NewReader(body), boundary)
		for i := 0; ; i++ {
			p, err := r.NextRawPart()
			if err == io.EOF {
				if i != len(ours) {
					t.Fatalf("mime/multipart read %d parts, splitMultipart %d", i, len(ours))
				}
				return
			}
			if err != nil {
				t.Fatalf("part %d: mime/multipart refuses what splitMultipart accepts: %v", i, err)
			}
			if i >= len(ours) {
				t.Fatalf("mime/multipart reads more than %d parts", len(ours))
			}
			data, err := io.ReadAll(p)
			if err != nil {
				t.Fatalf("part %d: %v", i, err)
			}
			_, params, err := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
			fn, hasFn := params["filename"]
			if err != nil || params["name"] != ours[i].name || fn != ours[i].filename || hasFn != ours[i].hasFilename || !bytes.Equal(data, ours[i].data) {
				t.Fatalf("part %d differs: name %q/%q filename %q/%q, %d/%d bytes (%v)", i, params["name"], ours[i].name, fn, ours[i].filename, len(data), len(ours[i].data), err)
			}
		}
	})
}

// FuzzFormIsReadAlikeByGo: a body splitForm accepts is read by
// url.ParseQuery as the same names and values, in the same order per name.
func FuzzFormIsReadAlikeByGo(f *testing.F) {
	f.Add("a=1&b=%41+c&&=x&a=2&d")
	f.Add("selfie=" + url.QueryEscape(b64(live)))
	f.Fuzz(func(t *testing.T, body string) {
		got := url.Values{}
		if err := splitForm([]byte(body), nil, func(n string, v []byte) *Error { got.Add(n, string(v)); return nil }); err != nil {
			return
		}
		want, err := url.ParseQuery(body)
		if err != nil {
			t.Fatalf("url.ParseQuery refuses what splitForm accepts: %v", err)
		}
		// Go skips a sequence with an empty name before "=" no more than
		// WHATWG does: both keep it under "".
		for k, vs := range want {
			if !slices.Equal(got[k], vs) {
				t.Fatalf("%q: %q, url.ParseQuery %q", k, got[k], vs)
			}
		}
		if len(got) != len(want) {
			t.Fatalf("%d names, url.ParseQuery %d", len(got), len(want))
		}
	})
}

// FuzzBase64: what decodeBase64 accepts, every lenient decoder reads as
// the same bytes.
func FuzzBase64(f *testing.F) {
	f.Add(b64(live))
	f.Add("aGVsbG8")
	f.Add("aGVsbG8-_w")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := decodeBase64([]byte(s), nil2)
		if err != nil {
			return
		}
		for _, url := range []bool{false, true} {
			if lenient := lenientAll([]byte(s), url); !bytes.Equal(lenient, got) {
				t.Fatalf("strict %x, lenient (url %v) %x", got, url, lenient)
			}
		}
	})
}

func nil2(n int) []byte { return make([]byte, n) }

// lenientAll decodes s as Python's b64decode (url false) or Node's
// Buffer.from (url true) do: characters outside the alphabet dropped.
func lenientAll(s []byte, url bool) []byte {
	var chars []byte
	for _, c := range s {
		if url {
			switch c {
			case '-':
				c = '+'
			case '_':
				c = '/'
			}
		}
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' {
			chars = append(chars, c)
		}
	}
	dst := make([]byte, len(chars))
	if len(chars)%4 == 1 {
		chars = chars[:len(chars)-1]
	}
	n, _ := base64.RawStdEncoding.Decode(dst, chars)
	return dst[:n]
}
