package caddyliveness

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
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
	"strconv"
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
// with a nil error means the request holds no image.
func (x *extractor) extract(contentType string, body []byte) ([]medium, error) {
	mt, params, _ := mime.ParseMediaType(contentType)
	var out []medium
	if len(x.sources) == 0 {
		return x.auto(mt, params, body)
	}
	for _, s := range x.sources {
		var found []medium
		var err error
		switch s.Type {
		case "multipart":
			found, err = x.multipart(mt, params, body, s.Fields)
		case "json":
			found, err = x.jsonPointers(mt, body, s.Fields)
		case "form":
			found, err = x.form(mt, body, s.Fields)
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
func (x *extractor) auto(mt string, params map[string]string, body []byte) ([]medium, error) {
	switch {
	case mt == "multipart/form-data":
		return x.multipart(mt, params, body, nil)
	case isJSON(mt):
		var out []medium
		err := scanJSON(body, func(ptr string, tok json.Token) error {
			s, ok := tok.(string)
			if !ok || (!strings.HasPrefix(s, "data:image/") && !strings.HasPrefix(s, "data:video/")) {
				return nil
			}
			m, err := x.encoded(s, ptr)
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
			for _, s := range vals[k] {
				if strings.HasPrefix(s, "data:image/") || strings.HasPrefix(s, "data:video/") {
					m, err := x.encoded(s, k)
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
func (x *extractor) jsonPointers(mt string, body []byte, ptrs []string) ([]medium, error) {
	if !isJSON(mt) {
		return nil, nil
	}
	found := make(map[string]medium, len(ptrs))
	err := scanJSON(body, func(ptr string, tok json.Token) error {
		if !slices.Contains(ptrs, ptr) {
			return nil
		}
		s, ok := tok.(string)
		if !ok {
			if tok == nil { // null: the field is absent in all but name
				return nil
			}
			return unsupported(ptr, "JSON value is not a string")
		}
		m, err := x.encoded(s, ptr)
		found[ptr] = m
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

func isJSON(mt string) bool { return mt == "application/json" || strings.HasSuffix(mt, "+json") }

// form returns the base64 or data-URI values of urlencoded fields.
func (x *extractor) form(mt string, body []byte, fields []string) ([]medium, error) {
	if mt != "application/x-www-form-urlencoded" {
		return nil, nil
	}
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, badRequest("malformed form body")
	}
	var out []medium
	for _, f := range fields {
		for _, s := range vals[f] {
			m, err := x.encoded(s, f)
			if err != nil {
				return nil, err
			}
			out = append(out, m)
		}
	}
	return out, nil
}

// encoded decodes a data URI or bare base64 string into a medium.
func (x *extractor) encoded(s, where string) (medium, error) {
	payload := s
	if rest, ok := strings.CutPrefix(s, "data:"); ok {
		meta, data, ok := strings.Cut(rest, ",")
		if !ok || !strings.HasSuffix(meta, ";base64") {
			return medium{}, unsupported(where, "data URI is not base64")
		}
		declared := strings.TrimSuffix(meta, ";base64")
		if !strings.HasPrefix(declared, "image/") && !strings.HasPrefix(declared, "video/") {
			return medium{}, unsupported(where, "data URI type is not an image")
		}
		payload = data
	}
	data, err := decodeBase64(payload)
	if err != nil {
		return medium{}, unsupported(where, "invalid base64")
	}
	return x.medium(data, where)
}

// decodeBase64 accepts standard or URL-safe base64, padded or not. The
// standard alphabet is tried first: it is what browsers and most clients
// send, and a failed attempt costs less than a pass looking for - and _.
func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		b, err = base64.RawURLEncoding.DecodeString(s)
	}
	return b, err
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
		cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
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

var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")

// maxJSONDepth bounds nesting; no upload form nests deeper, and a deep
// document is an attempt at exhausting the parser.
const maxJSONDepth = 64

// scanJSON reads one JSON document as a stream of tokens, without building
// it in memory, and calls fn for every value with its RFC 6901 pointer: a
// string, number (json.Number), bool or nil, or the json.Delim that opens
// an object or array. It refuses malformed JSON, nesting deeper than
// maxJSONDepth, trailing data and duplicate keys: where two parsers may
// each take a different one of two equal keys, the gate could check one
// image and the upstream use another.
func scanJSON(body []byte, fn func(ptr string, tok json.Token) error) error {
	type level struct {
		obj       bool
		expectKey bool
		next      int // arrays: index of the next element
		keys      map[string]struct{}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var (
		stack []level
		path  []string // escaped reference tokens of the current value
		done  bool
	)
	pointer := func() string {
		if len(path) == 0 {
			return ""
		}
		return "/" + strings.Join(path, "/")
	}
	// endValue closes the current value: its reference token goes, and an
	// enclosing object expects a key again.
	endValue := func() {
		if len(stack) == 0 {
			done = true
			return
		}
		path = path[:len(path)-1]
		if top := &stack[len(stack)-1]; top.obj {
			top.expectKey = true
		}
	}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			if !done {
				return badRequest("malformed JSON body")
			}
			return nil
		}
		if err != nil {
			return badRequest("malformed JSON body")
		}
		if done {
			return badRequest("malformed JSON body: data after the value")
		}
		if n := len(stack); n > 0 {
			top := &stack[n-1]
			if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
				stack = stack[:n-1]
				endValue()
				continue
			}
			if top.obj && top.expectKey {
				key := tok.(string) // the decoder allows nothing else here
				if _, dup := top.keys[key]; dup {
					return badRequest("duplicate key in a JSON object")
				}
				top.keys[key] = struct{}{}
				path = append(path, pointerEscaper.Replace(key))
				top.expectKey = false
				continue
			}
			if !top.obj {
				path = append(path, strconv.Itoa(top.next))
				top.next++
			}
		}
		if err := fn(pointer(), tok); err != nil {
			return err
		}
		if d, ok := tok.(json.Delim); ok {
			if len(stack) == maxJSONDepth {
				return badRequest("JSON nested deeper than %d levels", maxJSONDepth)
			}
			l := level{obj: d == '{', expectKey: d == '{'}
			if l.obj {
				l.keys = map[string]struct{}{}
			}
			stack = append(stack, l)
			continue
		}
		endValue()
	}
}

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
