// Package extract is the gate's request reader: it finds the images and
// videos in a buffered request under one strict grammar, the one that
// every mainstream framework (Werkzeug, Django, Starlette with
// python-multipart, busboy, multer, formidable, PHP, Go's net/http) reads
// the same way, and refuses every request outside it, so that the media
// the gate judges are the media the upstream uses. It imports neither
// Caddy nor the vendors.
package extract

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"image"
	_ "image/gif" // registers the GIF header reader for DecodeConfig
	_ "image/jpeg"
	_ "image/png"
	"net/http"
	"strings"

	_ "golang.org/x/image/bmp"
	_ "golang.org/x/image/webp"
)

// Source names where images are looked for in a request.
type Source struct {
	// Type is one of "multipart", "json", "form" or "body".
	Type string `json:"type"`
	// Fields are multipart or form field names, or RFC 6901 JSON pointers
	// for "json". Unused for "body".
	Fields []string `json:"fields,omitempty"`
}

// Medium is one image or video found in a request.
type Medium struct {
	Data  []byte // a slice of the body, or of a buffer from alloc when decoded from base64
	MIME  string // sniffed from Data
	Sum   [32]byte
	Where string // the field, pointer or "body" it came from, for logs: client-chosen
}

// Request is what the reader looks at: the headers, the query string and
// the whole body.
type Request struct {
	Header   http.Header
	RawQuery string
	Body     []byte
}

// Extractor finds the media of requests.
type Extractor struct {
	// Sources, empty: look everywhere (auto). Else only the named places
	// are judged, and the rest of the request must still be in the
	// grammar.
	Sources   []Source
	MaxPixels int64
	// MaxImages bounds the media of one request (each a vendor call):
	// past it the request is 413 before any image is hashed. 0: no bound.
	MaxImages int
}

// Extract returns every medium of r in request order, or the *Error that
// refuses r. An empty result with a nil error means r holds no image.
// Decoded media are put in buffers from alloc (nil: allocated), which
// returns nil when it has no memory for one: then r is refused with 503.
func (x *Extractor) Extract(r Request, alloc func(int) []byte) ([]Medium, error) {
	if alloc == nil {
		alloc = func(n int) []byte { return make([]byte, n) }
	}
	rd := &reading{x: x, alloc: alloc, auto: len(x.Sources) == 0}
	for _, s := range x.Sources {
		switch s.Type {
		case "multipart", "form":
			rd.fields = append(rd.fields, s.Fields...)
		case "json":
			rd.pointers = append(rd.pointers, s.Fields...)
		case "body":
			rd.body = true
		}
	}
	rd.names.sources = rd.fields
	if err := rd.read(r); err != nil {
		return nil, err
	}
	return rd.out, nil
}

// reading is the state of one Extract.
type reading struct {
	x        *Extractor
	alloc    func(int) []byte
	auto     bool
	fields   []string // named multipart and form fields
	pointers []string // named JSON pointers
	body     bool     // source body
	names    names
	out      []Medium
}

func (rd *reading) named(field string) bool {
	for _, f := range rd.fields {
		if f == field {
			return true
		}
	}
	return false
}

// frameHeaders are the request headers that decide how the body is read.
var frameHeaders = map[string]string{
	"content-type": "Content-Type", "content-length": "Content-Length",
	"content-encoding": "Content-Encoding", "transfer-encoding": "Transfer-Encoding",
}

// contentType checks the request headers that frame the body: one
// Content-Type (Werkzeug and gunicorn read the last, Go the first), one
// Content-Length, no Content-Encoding but identity, none of them spelled
// with "_" or "." (which CGI-style servers read as "-"). It returns the
// Content-Type, "" when there is none.
func contentType(h http.Header) (string, *Error) {
	for k := range h {
		if n := len(k); n != 12 && n != 14 && n != 16 && n != 17 {
			continue // no framing header is spelled with another length
		}
		if canon, ok := frameHeaders[headerSpelling.Replace(strings.ToLower(k))]; ok && k != canon {
			return "", ambiguous("header-spelling", "a %s header spelled otherwise", canon)
		}
	}
	if len(h["Content-Type"]) > 1 {
		return "", ambiguous("content-type-twice", "more than one Content-Type header")
	}
	if len(h["Content-Length"]) > 1 {
		return "", ambiguous("content-length-twice", "more than one Content-Length header")
	}
	for _, v := range h["Content-Encoding"] {
		if !strings.EqualFold(trimOWS(v), "identity") {
			return "", ambiguous("content-encoding", "a Content-Encoding other than identity")
		}
	}
	if len(h["Content-Type"]) == 0 {
		return "", nil
	}
	return h["Content-Type"][0], nil
}

func isJSON(typ string) bool { return typ == "application/json" || strings.HasSuffix(typ, "+json") }

func (rd *reading) read(r Request) *Error {
	ct, err := contentType(r.Header)
	if err != nil {
		return err
	}
	if err := scanQuery(r.RawQuery, rd.query); err != nil {
		return err
	}
	if ct == "" {
		return rd.other("", r.Body)
	}
	typ, params, rule := parseValue(ct, true, false, false)
	if rule != "" {
		return ambiguous("content-type", "a Content-Type with %s", rule)
	}
	lower := strings.ToLower(ct)
	switch {
	case typ == "multipart/form-data":
		return rd.multipart(lower, params, r.Body)
	case isJSON(typ), typ == "application/x-www-form-urlencoded":
		for _, p := range params {
			if p.name != "charset" || !strings.EqualFold(p.value, "utf-8") {
				return ambiguous("content-type-params", "a %s Content-Type with a parameter other than charset=utf-8", typ)
			}
		}
		if isJSON(typ) {
			return rd.json(r.Body)
		}
		if err := splitForm(r.Body, rd.alloc, rd.form); err != nil {
			return err
		}
		return rd.lenientJSON(r.Body)
	case strings.HasPrefix(typ, "multipart/") || strings.Contains(lower, "form-data") ||
		strings.Contains(lower, "urlencoded") || strings.Contains(lower, "json"):
		// busboy matches /^multipart\/form-data/i, formidable /multipart/i,
		// /urlencoded/i and /json/i, anywhere in the header.
		return ambiguous("content-type", "a Content-Type that some framework reads as a form or JSON")
	}
	return rd.other(typ, r.Body)
}

// multipart reads a multipart/form-data body. Its Content-Type has a
// boundary and at most a charset; "boundary=" occurs once in it (parsers
// that search the header for it cannot find another); the boundary is
// RFC 2046's.
func (rd *reading) multipart(lower string, params []param, body []byte) *Error {
	boundary, ok := lookup(params, "boundary")
	if !ok {
		return ambiguous("multipart-boundary", "a multipart Content-Type without a boundary")
	}
	for _, p := range params {
		if p.name != "boundary" && p.name != "charset" {
			return ambiguous("multipart-boundary", "a multipart Content-Type with a parameter other than boundary and charset")
		}
	}
	if strings.Count(lower, "boundary=") != 1 {
		return ambiguous("multipart-boundary", "boundary= more than once in the Content-Type")
	}
	if !validBoundary(boundary) {
		return ambiguous("multipart-boundary", "a boundary outside RFC 2046's characters or over 70 of them")
	}
	return splitMultipart(body, boundary, rd.part)
}

func (rd *reading) part(p *part) *Error {
	if err := rd.names.add(p.name, true); err != nil {
		return err
	}
	switch {
	case rd.auto && p.isFile():
		if len(p.data) == 0 {
			return nil // an empty file input: no image
		}
		return rd.judge(p.data, p.name)
	case rd.auto:
		return rd.value(p.data, p.name, false)
	case rd.named(p.name):
		if p.isFile() && len(p.data) == 0 {
			return nil
		}
		if p.isFile() {
			return rd.judge(p.data, p.name)
		}
		return rd.value(p.data, p.name, true)
	}
	return nil
}

func (rd *reading) form(name string, value []byte) *Error {
	if err := rd.names.add(name, true); err != nil {
		return err
	}
	if rd.auto || rd.named(name) {
		return rd.value(value, name, !rd.auto)
	}
	return nil
}

// query refuses a query string that holds a configured field or an
// image: Werkzeug's request.values, PHP's $_REQUEST and Go's r.FormValue
// fall back to it, and the gate does not judge it.
func (rd *reading) query(name string, value []byte) *Error {
	if err := rd.names.add(name, false); err != nil {
		return err
	}
	if rd.named(name) {
		return ambiguous("query-source", "a configured source field in the query string").at(name)
	}
	for _, p := range rd.pointers {
		if seg, _, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/"); seg != "" && seg == name {
			return ambiguous("query-source", "a configured source field in the query string").at(name)
		}
	}
	if len(value) > 0 && (looksLikeMedia(value) || encodedMedia(value) || afterComma(value)) {
		return ambiguous("query-image", "an image in the query string").at(name)
	}
	return nil
}

// json reads a JSON body: every string in auto mode, the pointers else.
func (rd *reading) json(body []byte) *Error {
	err := walkJSON(body, func(ptr []byte, v jsonValue) error {
		if rd.auto {
			if v.kind == '"' {
				s, err := rd.jsonString(v)
				if err == nil {
					err = rd.value(s, string(ptr), false)
				}
				if err != nil {
					return err
				}
			}
			return nil
		}
		for _, p := range rd.pointers {
			if string(ptr) != p {
				if len(ptr) > 0 && strings.EqualFold(string(ptr), p) {
					return ambiguous("json-pointer-alike", "a JSON key that frameworks may read as a configured pointer").at(p)
				}
				continue
			}
			switch v.kind {
			case 'n': // null: the field is absent in all but name
			case '"':
				s, err := rd.jsonString(v)
				if err == nil {
					err = rd.value(s, p, true)
				}
				if err != nil {
					return err
				}
			default:
				return unsupported(p, "JSON value is not a string")
			}
		}
		return nil
	})
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return e
		}
		return ambiguous("json-syntax", "%v", err)
	}
	return nil
}

// lenientJSON reads as JSON too a body whose Content-Type does not say
// JSON but that starts as JSON: Flask's get_json(force=True), Express's
// json() with a wide type, or a streaming decoder that reads one value
// and stops would read it. It must then be exactly one JSON value.
func (rd *reading) lenientJSON(body []byte) *Error {
	t := bytes.TrimLeft(body, " \t\r\n")
	if len(t) == 0 || t[0] != '{' && t[0] != '[' && t[0] != '"' {
		return nil
	}
	return rd.json(body)
}

// other reads a body of any other type: the image of source body
// (image/* and video/* only); else as JSON if it starts so (see
// lenientJSON); else, in auto mode, as a value that may be an image.
func (rd *reading) other(typ string, body []byte) *Error {
	if len(body) == 0 {
		return nil
	}
	if rd.body && (strings.HasPrefix(typ, "image/") || strings.HasPrefix(typ, "video/")) {
		return rd.judge(body, "body")
	}
	if t := bytes.TrimLeft(body, " \t\r\n"); len(t) > 0 && (t[0] == '{' || t[0] == '[' || t[0] == '"') {
		return rd.json(body)
	}
	if rd.auto {
		return rd.value(body, "body", false)
	}
	return nil
}

// value judges a text value (a form or JSON value, a text part, a raw
// body) that is an image, a base64 data URI or a bare base64 string of
// one, or one that a lenient decoder would read as one. named values must
// hold an image; others that do not are no image.
func (rd *reading) value(v []byte, where string, named bool) *Error {
	if len(v) == 0 {
		return nil
	}
	if looksLikeMedia(v) {
		return rd.judge(v, where)
	}
	payload, declared, isData := cutDataURI(v)
	if isData && !strings.HasSuffix(strings.ToLower(declared), ";base64") {
		if afterComma(v) {
			return ambiguous("encoded-after-comma", "an encoded image after a comma in a value that is not a base64 data URI").at(where)
		}
		if named || mediaType(declared) || looksLikeMedia(percentPrefix(payload)) {
			return unsupported(where, "data URI is not base64")
		}
		return nil
	}
	if !encodedMedia(payload) && !(isData && mediaType(declared)) {
		if afterComma(v) {
			return ambiguous("encoded-after-comma", "an encoded image after a comma in a value that is not a base64 data URI").at(where)
		}
		if named {
			return unsupported(where, "not an image, a data URI or base64 of one")
		}
		return nil
	}
	data, err := decodeBase64(payload, rd.alloc)
	if err != nil {
		return err.at(where)
	}
	return rd.judge(data, where)
}

// afterComma reports whether what follows the first or the last comma of
// v decodes as an image under a lenient decoder: applications that cut a
// data URI at a comma without checking its prefix read it.
func afterComma(v []byte) bool {
	i := bytes.IndexByte(v, ',')
	if i < 0 {
		return false
	}
	j := bytes.LastIndexByte(v, ',')
	return encodedMedia(v[i+1:]) || j != i && encodedMedia(v[j+1:])
}

// cutDataURI splits "data:<declared>,<payload>"; isData is false for
// anything else (then payload is v).
func cutDataURI(v []byte) (payload []byte, declared string, isData bool) {
	rest, ok := bytes.CutPrefix(v, []byte("data:"))
	if !ok {
		return v, "", false
	}
	meta, data, ok := bytes.Cut(rest, []byte(","))
	if !ok {
		return v, "", false
	}
	return data, string(meta), true
}

func mediaType(declared string) bool {
	d := strings.ToLower(declared)
	return strings.HasPrefix(d, "image/") || strings.HasPrefix(d, "video/")
}

// percentPrefix is the start of a percent-encoded data URI payload,
// decoded.
func percentPrefix(p []byte) []byte {
	b, _ := unescape(p[:min(len(p), 3*sniffChars)], false, nil)
	return b
}

func (rd *reading) judge(data []byte, where string) *Error {
	if rd.x.MaxImages > 0 && len(rd.out) == rd.x.MaxImages {
		return tooLarge(where, "more than %d images in one request", rd.x.MaxImages)
	}
	m, err := rd.x.Medium(data, where)
	if err != nil {
		return err
	}
	rd.out = append(rd.out, m)
	return nil
}

// Medium sniffs data's real type and checks its pixel count from the
// header, before anything decodes it.
func (x *Extractor) Medium(data []byte, where string) (Medium, *Error) {
	if len(data) == 0 {
		return Medium{}, unsupported(where, "empty image")
	}
	mt := Sniff(data)
	if !Checkable(mt) {
		return Medium{}, unsupported(where, "not an image or video the gate checks (%s)", mt)
	}
	if strings.HasPrefix(mt, "image/") {
		cfg, _, err := image.DecodeConfig(&peeker{data})
		if err != nil {
			return Medium{}, unsupported(where, "undecodable %s", mt)
		}
		if px := int64(cfg.Width) * int64(cfg.Height); px > x.MaxPixels || cfg.Width <= 0 || cfg.Height <= 0 {
			if px > x.MaxPixels {
				return Medium{}, tooLarge(where, "image of %dx%d pixels is over the limit of %d", cfg.Width, cfg.Height, x.MaxPixels)
			}
			return Medium{}, unsupported(where, "image has no pixels")
		}
	}
	return Medium{Data: data, MIME: mt, Sum: sha256.Sum256(data), Where: where}, nil
}

// jsonString returns a JSON string value's decoded bytes: the body's own
// bytes when it holds no escape, else its decoded copy in a buffer from
// alloc (the decoded string is never longer than its text).
func (rd *reading) jsonString(v jsonValue) ([]byte, *Error) {
	if v.plain || bytes.IndexByte(v.raw, '\\') < 0 {
		return v.raw, nil
	}
	dst := rd.alloc(len(v.raw))
	if dst == nil {
		return nil, overloaded()
	}
	return wsUnescape(dst[:0], v.raw), nil
}

// ValidPointer reports whether p is a syntactically valid RFC 6901 pointer.
func ValidPointer(p string) error {
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
