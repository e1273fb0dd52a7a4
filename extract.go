package caddyliveness

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // registers the GIF header reader for DecodeConfig
	_ "image/jpeg"
	_ "image/png"
	"io"
	"maps"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strings"

	_ "golang.org/x/image/bmp"
	_ "golang.org/x/image/webp"

	"github.com/caddy-liveness/caddy-liveness/vendors"
)

// Source names where images are looked for in a request.
type Source struct {
	// Type is one of "multipart", "json", "form" or "body".
	Type string `json:"type"`
	// Fields are multipart or form field names, or RFC 6901 JSON pointers
	// for "json". Unused for "body".
	Fields []string `json:"fields,omitempty"`
}

// medium is one decoded image or video found in a request.
type medium struct {
	vendors.Media
	sum   [32]byte
	where string // the field, pointer or "body" it came from, for logs
}

// inputError is a request the handler cannot check: the client's fault.
type inputError struct {
	status int    // 400, 413 or 415
	reason string // machine-readable, for the Reason header and logs
	msg    string // for the client and the logs; never holds request data
	where  string // the field or pointer at fault, for logs only: client-chosen
}

func (e *inputError) Error() string { return e.msg }

func badRequest(format string, a ...any) *inputError {
	return &inputError{status: http.StatusBadRequest, reason: "malformed_request", msg: fmt.Sprintf(format, a...)}
}

// unsupported and tooLarge take the place at fault apart from the message,
// which is shown to the client: field names come from the client.
func unsupported(where, format string, a ...any) *inputError {
	return &inputError{status: http.StatusUnsupportedMediaType, reason: "unsupported_media", msg: fmt.Sprintf(format, a...), where: where}
}

func tooLarge(where, format string, a ...any) *inputError {
	return &inputError{status: http.StatusRequestEntityTooLarge, reason: "too_large", msg: fmt.Sprintf(format, a...), where: where}
}

// extractor finds the media in a buffered request body.
type extractor struct {
	sources   []Source // empty: look everywhere sensible
	maxPixels int64
}

// extract returns every medium in body, in request order. An empty result
// with a nil error means the request holds no image. Media are slices of
// body or, when decoded from base64, of buffers taken from s (which may be
// nil: then they are allocated).
func (x *extractor) extract(contentType string, body []byte, s *scratch) ([]medium, error) {
	mt, params, _ := mime.ParseMediaType(contentType)
	var out []medium
	if len(x.sources) == 0 {
		return x.auto(mt, params, body, s)
	}
	for _, src := range x.sources {
		var found []medium
		var err error
		switch src.Type {
		case "multipart":
			found, err = x.multipart(mt, params, body, src.Fields)
		case "json":
			found, err = x.jsonPointers(mt, body, src.Fields, s)
		case "form":
			found, err = x.form(mt, body, src.Fields, s)
		case "body":
			if strings.HasPrefix(mt, "image/") || strings.HasPrefix(mt, "video/") {
				var m medium
				m, err = x.medium(body, "body")
				found = []medium{m}
			}
		}
		if err != nil {
			return nil, err
		}
		out = append(out, found...)
	}
	return out, nil
}

// auto looks where the request's content type says images may be: file
// parts of a multipart body, data:image URIs in JSON or form values, or a
// raw body that sniffs as an image. Parts that are neither image nor video
// are skipped.
func (x *extractor) auto(mt string, params map[string]string, body []byte, s *scratch) ([]medium, error) {
	switch {
	case mt == "multipart/form-data":
		return x.multipart(mt, params, body, nil)
	case isJSON(mt):
		var out []medium
		err := walkJSON(body, func(ptr []byte, v jsonValue) error {
			if v.kind != '"' {
				return nil
			}
			str := jsonString(v)
			if !bytes.HasPrefix(str, []byte("data:image/")) && !bytes.HasPrefix(str, []byte("data:video/")) {
				return nil
			}
			m, err := x.encoded(str, string(ptr), s)
			out = append(out, m)
			return err
		})
		if err != nil {
			return nil, err
		}
		return out, nil
	case mt == "application/x-www-form-urlencoded":
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, badRequest("malformed form body")
		}
		var out []medium
		for _, k := range slices.Sorted(maps.Keys(vals)) {
			for _, v := range vals[k] {
				if strings.HasPrefix(v, "data:image/") || strings.HasPrefix(v, "data:video/") {
					m, err := x.encoded([]byte(v), k, s)
					if err != nil {
						return nil, err
					}
					out = append(out, m)
				}
			}
		}
		return out, nil
	}
	if len(body) > 0 && isMedia(sniff(body)) {
		m, err := x.medium(body, "body")
		return []medium{m}, err
	}
	return nil, nil
}

// multipart returns the file parts named in fields (all file parts when
// fields is nil). Named parts must hold an image or video; unnamed ones
// that do not are skipped.
func (x *extractor) multipart(mt string, params map[string]string, body []byte, fields []string) ([]medium, error) {
	if mt != "multipart/form-data" {
		return nil, nil
	}
	boundary := params["boundary"]
	if boundary == "" {
		return nil, badRequest("multipart body without boundary")
	}
	var out []medium
	err := splitMultipart(body, boundary, func(p rawPart) error {
		part := multipart.Part{Header: p.header}
		name := part.FormName()
		explicit := fields != nil && slices.Contains(fields, name)
		if !explicit && (fields != nil || part.FileName() == "") {
			return nil
		}
		if !explicit && !isMedia(sniff(p.data)) {
			return nil
		}
		m, err := x.medium(p.data, name)
		if err != nil {
			return err
		}
		out = append(out, m)
		return nil
	})
	if err != nil {
		if errors.Is(err, errMultipart) {
			return nil, badRequest("malformed multipart body")
		}
		return nil, err
	}
	return out, nil
}

// jsonPointers returns the base64 or data-URI strings at the pointers, in
// the order of the pointers. A pointer that leads nowhere is skipped.
func (x *extractor) jsonPointers(mt string, body []byte, ptrs []string, s *scratch) ([]medium, error) {
	if !isJSON(mt) {
		return nil, nil
	}
	found := make(map[string]medium, len(ptrs))
	err := walkJSON(body, func(ptr []byte, v jsonValue) error {
		i := slices.IndexFunc(ptrs, func(p string) bool { return string(ptr) == p })
		if i < 0 {
			return nil
		}
		where := ptrs[i]
		switch v.kind {
		case 'n': // null: the field is absent in all but name
			return nil
		case '"':
		default:
			return unsupported(where, "JSON value is not a string")
		}
		m, err := x.encoded(jsonString(v), where, s)
		found[where] = m
		return err
	})
	if err != nil {
		return nil, err
	}
	var out []medium
	for _, p := range ptrs {
		if m, ok := found[p]; ok {
			out = append(out, m)
		}
	}
	return out, nil
}

// jsonString returns a JSON string value's decoded bytes: the body's own
// bytes when it holds no escape (with invalid UTF-8 among them, only the
// replaced bytes would differ, and no prefix, base64 or data URI test
// accepts such bytes), else its decoded copy.
func jsonString(v jsonValue) []byte {
	if v.plain || bytes.IndexByte(v.raw, '\\') < 0 {
		return v.raw
	}
	return []byte(v.str())
}

func isJSON(mt string) bool { return mt == "application/json" || strings.HasSuffix(mt, "+json") }

// form returns the base64 or data-URI values of urlencoded fields.
func (x *extractor) form(mt string, body []byte, fields []string, s *scratch) ([]medium, error) {
	if mt != "application/x-www-form-urlencoded" {
		return nil, nil
	}
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, badRequest("malformed form body")
	}
	var out []medium
	for _, f := range fields {
		for _, v := range vals[f] {
			m, err := x.encoded([]byte(v), f, s)
			if err != nil {
				return nil, err
			}
			out = append(out, m)
		}
	}
	return out, nil
}

// encoded decodes a data URI or bare base64 string into a medium.
func (x *extractor) encoded(b []byte, where string, s *scratch) (medium, error) {
	payload := b
	if rest, ok := bytes.CutPrefix(b, []byte("data:")); ok {
		meta, data, ok := bytes.Cut(rest, []byte(","))
		if !ok || !bytes.HasSuffix(meta, []byte(";base64")) {
			return medium{}, unsupported(where, "data URI is not base64")
		}
		declared := bytes.TrimSuffix(meta, []byte(";base64"))
		if !bytes.HasPrefix(declared, []byte("image/")) && !bytes.HasPrefix(declared, []byte("video/")) {
			return medium{}, unsupported(where, "data URI type is not an image")
		}
		payload = data
	}
	data, err := decodeBase64(payload, s)
	if err != nil {
		return medium{}, unsupported(where, "invalid base64")
	}
	return x.medium(data, where)
}

// decodeBase64 accepts standard or URL-safe base64, padded or not, and
// decodes into a buffer from s. The standard alphabet is tried first: it
// is what browsers and most clients send, and a failed attempt costs less
// than a pass looking for - and _.
func decodeBase64(src []byte, s *scratch) ([]byte, error) {
	src = bytes.TrimRight(src, "=")
	dst := s.get(base64.RawStdEncoding.DecodedLen(len(src)))
	n, err := base64.RawStdEncoding.Decode(dst, src)
	if err != nil {
		n, err = base64.RawURLEncoding.Decode(dst, src)
	}
	if err != nil {
		return nil, err
	}
	return dst[:n:n], nil
}

// medium sniffs data's real type and checks its pixel count from the
// header, before anything decodes it.
func (x *extractor) medium(data []byte, where string) (medium, error) {
	if len(data) == 0 {
		return medium{}, unsupported(where, "empty image")
	}
	mt := sniff(data)
	if !isMedia(mt) {
		return medium{}, unsupported(where, "not an image (%s)", mt)
	}
	if strings.HasPrefix(mt, "image/") {
		cfg, _, err := image.DecodeConfig(&peeker{data})
		if err != nil {
			return medium{}, unsupported(where, "undecodable %s", mt)
		}
		if px := int64(cfg.Width) * int64(cfg.Height); px > x.maxPixels || cfg.Width <= 0 || cfg.Height <= 0 {
			if px > x.maxPixels {
				return medium{}, tooLarge(where, "image of %dx%d pixels is over the limit of %d", cfg.Width, cfg.Height, x.maxPixels)
			}
			return medium{}, unsupported(where, "image has no pixels")
		}
	}
	return medium{Media: vendors.Media{Data: data, MIME: mt}, sum: sha256.Sum256(data), where: where}, nil
}

// peeker reads a buffered image for image.DecodeConfig, which would
// otherwise copy it through a bufio.Reader of its own to peek at its
// magic bytes.
type peeker struct{ b []byte }

func (p *peeker) Read(d []byte) (int, error) {
	if len(p.b) == 0 {
		return 0, io.EOF
	}
	n := copy(d, p.b)
	p.b = p.b[n:]
	return n, nil
}

// Peek returns the next n bytes without consuming them, and io.EOF with
// fewer when the image is shorter, as bufio.Reader does.
func (p *peeker) Peek(n int) ([]byte, error) {
	if n > len(p.b) {
		return p.b, io.EOF
	}
	return p.b[:n], nil
}

// sniff returns the media type of data by its content (never trusting the
// client's claim). MP4 is recognised by its ftyp box.
func sniff(data []byte) string {
	if isMP4(data) {
		return "video/mp4"
	}
	mt := http.DetectContentType(data)
	if i := strings.IndexByte(mt, ';'); i >= 0 {
		mt = mt[:i]
	}
	return mt
}

// mp4Brands are the ftyp brands of MP4 files (ISO base media and MPEG-4).
// The standard library's sniffer knows only brands starting "mp4", while
// phones commonly write "isom" with other compatible brands. QuickTime
// ("qt  ") is another format and is not among them.
var mp4Brands = map[string]bool{
	"isom": true, "iso2": true, "iso4": true, "iso5": true, "iso6": true,
	"mp41": true, "mp42": true, "avc1": true, "dash": true, "M4V ": true, "MSNV": true,
}

// isMP4 reports whether data starts with an ftyp box whose major or a
// compatible brand is an MP4 brand.
func isMP4(data []byte) bool {
	if len(data) < 16 || string(data[4:8]) != "ftyp" {
		return false
	}
	size := int(binary.BigEndian.Uint32(data[:4]))
	if size < 16 || size > len(data) || size%4 != 0 {
		return false
	}
	for i := 8; i+4 <= size; i += 4 {
		if i != 12 && mp4Brands[string(data[i:i+4])] { // bytes 12-15 are the minor version
			return true
		}
	}
	return false
}

var decodable = map[string]bool{
	"image/jpeg": true, "image/png": true, "image/gif": true,
	"image/webp": true, "image/bmp": true, "video/mp4": true,
}

func isMedia(mt string) bool { return decodable[mt] }

// validPointer reports whether p is a syntactically valid RFC 6901 pointer.
func validPointer(p string) error {
	if p != "" && !strings.HasPrefix(p, "/") {
		return errors.New("a JSON pointer starts with /")
	}
	for i := 0; i < len(p); i++ {
		if p[i] == '~' && (i+1 == len(p) || (p[i+1] != '0' && p[i+1] != '1')) {
			return errors.New("~ must be followed by 0 or 1 in a JSON pointer")
		}
	}
	return nil
}
