package caddyliveness

import (
	"bytes"
	"errors"
	"io"
	"mime/multipart"
	"net/textproto"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/caddy-liveness/caddy-liveness/vendors/vendortest"
)

// stdParts is the oracle: every part of body as mime/multipart reads it,
// each read to its end, and whether the body was refused.
func stdParts(body []byte, boundary string) ([]rawPart, bool) {
	r := multipart.NewReader(bytes.NewReader(body), boundary)
	var out []rawPart
	for {
		p, err := r.NextRawPart()
		if err == io.EOF {
			return out, false
		}
		if err != nil {
			return out, true
		}
		data, err := io.ReadAll(p)
		if err != nil {
			return out, true
		}
		out = append(out, rawPart{header: textproto.MIMEHeader(p.Header), data: data})
	}
}

// fastParts collects what splitMultipart delivers, checking that every
// part's content is a slice of body rather than a copy.
func fastParts(t *testing.T, body []byte, boundary string) ([]rawPart, bool) {
	t.Helper()
	var out []rawPart
	err := splitMultipart(body, boundary, func(p rawPart) error {
		if len(p.data) > 0 && !within(p.data, body) {
			t.Fatalf("part content is a copy, not a slice of the body")
		}
		if cap(p.data) != len(p.data) {
			t.Fatalf("part content has capacity past its end: an append would write into the body")
		}
		out = append(out, p)
		return nil
	})
	if err != nil && !errors.Is(err, errMultipart) {
		t.Fatalf("unexpected error %v", err)
	}
	return out, err != nil
}

// within reports whether part lies inside body's memory.
func within(part, body []byte) bool {
	b := uintptr(unsafe.Pointer(unsafe.SliceData(body)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(part)))
	return p >= b && p+uintptr(len(part)) <= b+uintptr(len(body))
}

// sameAsStd fails t when splitMultipart and mime/multipart disagree.
func sameAsStd(t *testing.T, body []byte, boundary string) {
	t.Helper()
	fast, fastErr := fastParts(t, body, boundary)
	if boundary == "" || len(boundary) > maxBoundary || strings.ContainsAny(boundary, "\r\n") {
		if !fastErr {
			t.Fatalf("boundary %q accepted", boundary)
		}
		return
	}
	std, stdErr := stdParts(body, boundary)
	if fastErr != stdErr {
		t.Fatalf("refused: splitMultipart %v, mime/multipart %v\nboundary %q\nbody %q", fastErr, stdErr, boundary, body)
	}
	if len(fast) != len(std) {
		t.Fatalf("parts: splitMultipart %d, mime/multipart %d\nboundary %q\nbody %q", len(fast), len(std), boundary, body)
	}
	for i := range std {
		if !reflect.DeepEqual(fast[i].header, std[i].header) && !(len(fast[i].header) == 0 && len(std[i].header) == 0) {
			t.Fatalf("part %d header: %q, want %q\nbody %q", i, fast[i].header, std[i].header, body)
		}
		if !bytes.Equal(fast[i].data, std[i].data) {
			t.Fatalf("part %d content: %q, want %q\nboundary %q\nbody %q", i, fast[i].data, std[i].data, boundary, body)
		}
	}
}

// multipartCases are bodies for boundary "B" that exercise each rule of
// mime/multipart's reader.
var multipartCases = []string{
	"--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nhello\r\n--B--\r\n",
	"--B\r\nA: 1\r\n\r\nx\r\n--B\r\nB: 2\r\n\r\ny\r\n--B--",
	"preamble line\r\nmore\r\n--B\r\n\r\nx\r\n--B--\r\nepilogue",
	"--B\nA: 1\n\nLF only\n--B--\n",                      // LF-only line endings
	"--B\nA: 1\n\nkeeps the CR\r\n--B--\n",               // the CR belongs to the content
	"--B  \t\r\n\r\nx\r\n--B \t\r\n\r\ny\r\n--B-- \r\n",  // transport padding
	"--B\r\n\r\n--B\r\n\r\nafter an empty part\r\n--B--", // a part that is only the delimiter
	"--B\r\n\r\n--Bx\r\n--B--",                           // "--B" at the start, not a delimiter
	"--B\r\n\r\nx\r\n--Bx\r\n--B--",                      // a near-delimiter inside the content
	"--B\r\n\r\nx\r\n--B-x\r\n--B--",
	"--B\r\n\r\nx\r\n--B--x",                     // final boundary followed by garbage
	"--B\r\n\r\nx\r\n--B junk\r\n\r\ny\r\n--B--", // padding then junk
	"--B\r\n\r\nx\r\n--B",                        // ends at the delimiter
	"--B\r\n\r\nx\r\n--B-",
	"--B\r\n\r\nx\r\n--B\r",
	"--B\r\n\r\nx",                     // unterminated part
	"--B\r\nA: 1\r\n",                  // unterminated header
	"--B\n" + strings.Repeat("0", 256), // a header line cut by the end
	"--B\n" + strings.Repeat("0", lineBuffer+10),
	"--B\n" + strings.Repeat("A: 1", lineBuffer),
	"--B\r\n A: 1\r\n\r\nx\r\n--B--",                   // header starts with a space
	"--B\r\nA: 1\r\n continued\r\n \r\n\r\nx\r\n--B--", // continuation lines
	"--B\r\nno colon\r\n\r\nx\r\n--B--",
	"--B\r\nA: 1\r\r\n\r\nx\r\n--B--",
	"--B\r\n\r\nx\r\n\r\n--B\r\n\r\ny\r\n--B--", // blank line between parts
	"--B\r\n\r\nx\r\n--B\r\n\r\n",               // no final boundary
	"--B--\r\n",                                 // no parts
	"--B--",
	"--B--\n",
	"",
	"\r\n",
	"--B\r\n\r\nx\r\n--B--  \t",
	"--B\r\n\r\nx\r\n--B--\r",
	"--B\r\n\r\nx\n--B\r\n\r\ny\r\n--B--", // LF before a delimiter in CRLF mode is content
	"--B\r\n\r\n--B--\r\n",
	"--B\r\n\r\n--B",
	"--B\r\n\r\n--",
	"--B\n\nx\n--B\r\n\ny\n--B--", // a CRLF delimiter line in LF mode
	"--B\r\n\r\n\r\n--B--",
	"--B\r\nA: 1\n\nmixed\r\n--B--",
	"x\r\n--B--\r\n",
	strings.Repeat("p", lineBuffer-2) + "\r\n--B\r\n\r\nx\r\n--B--", // a preamble line at the limit
	strings.Repeat("p", lineBuffer-1) + "\r\n--B\r\n\r\nx\r\n--B--", // one over
	"--B\r\n\r\nx\r\n--B--" + strings.Repeat(" ", lineBuffer-len("--B--")-1),
	"--B\r\n\r\nx\r\n--B--" + strings.Repeat(" ", lineBuffer-len("--B--")),
	"--B" + strings.Repeat(" ", lineBuffer) + "\r\n\r\nx\r\n--B--",
	"--B\r\n" + strings.Repeat("A: 1\r\n", maxPartHeaders) + "\r\nx\r\n--B--",
	"--B\r\n" + strings.Repeat("A: 1\r\n", maxPartHeaders+1) + "\r\nx\r\n--B--",
}

func TestSplitMultipartAgreesWithStd(t *testing.T) {
	for _, c := range multipartCases {
		sameAsStd(t, []byte(c), "B")
	}
	img := vendortest.SampleJPEGSize("live", 300_000)
	for _, boundary := range []string{"B", "X-boundary_0123", strings.Repeat("b", maxBoundary), "a b", "'()+_,-./:=?"} {
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		if err := w.SetBoundary(boundary); err != nil {
			t.Fatal(err)
		}
		_ = w.WriteField("user", "alice")
		fw, _ := w.CreateFormFile("selfie", "me.jpg")
		_, _ = fw.Write(img)
		fw, _ = w.CreateFormFile("id", "id.jpg")
		_, _ = fw.Write(img[:1000])
		_ = w.Close()
		sameAsStd(t, buf.Bytes(), boundary)
		parts, refused := fastParts(t, buf.Bytes(), boundary)
		if refused || len(parts) != 3 || !bytes.Equal(parts[1].data, img) || parts[0].header.Get("Content-Disposition") != `form-data; name="user"` {
			t.Fatalf("boundary %q: %d parts, refused %v", boundary, len(parts), refused)
		}
	}
}

func TestSplitMultipartRefusesBadBoundaries(t *testing.T) {
	body := []byte("--B\r\n\r\nx\r\n--B--")
	for _, b := range []string{"", strings.Repeat("b", maxBoundary+1), "a\rb", "a\nb"} {
		if _, refused := fastParts(t, body, b); !refused {
			t.Errorf("boundary %q accepted", b)
		}
	}
}

// An error from fn stops the walk and is returned as it is.
func TestSplitMultipartStopsAtCallbackError(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	err := splitMultipart([]byte("--B\r\n\r\nx\r\n--B\r\n\r\ny\r\n--B--"), "B", func(rawPart) error {
		n++
		return stop
	})
	if err != stop || n != 1 {
		t.Fatalf("err %v after %d parts", err, n)
	}
}

// FuzzSplitMultipart is the differential test: for any body and boundary,
// splitMultipart finds exactly the parts mime/multipart finds, with the
// same headers and content, and refuses exactly the bodies it refuses —
// so the gate checks the bytes a Go upstream would read.
func FuzzSplitMultipart(f *testing.F) {
	for _, c := range multipartCases {
		if len(c) < 2000 {
			f.Add("B", []byte(c))
		}
	}
	f.Add("B", []byte("--B\r\nContent-Disposition: form-data; name=\"selfie\"; filename=\"a.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n\xff\xd8\xff\xe0\r\n--B\r\n\r\n--B--\r\n"))
	f.Add("ab", []byte("--ab\n\n--a\n--ab-\n--ab\t\n\n\r\n--ab--"))
	f.Fuzz(func(t *testing.T, boundary string, body []byte) {
		sameAsStd(t, body, boundary)
	})
}
