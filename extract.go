package caddyliveness

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
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
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		v, err := parseJSON(body)
		if err != nil {
			return nil, err
		}
		var out []medium
		err = walkJSON(v, "", func(ptr, s string) error {
			if !strings.HasPrefix(s, "data:image/") && !strings.HasPrefix(s, "data:video/") {
				return nil
			}
			m, err := x.encoded(s, ptr)
			out = append(out, m)
			return err
		})
		return out, err
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
	r := multipart.NewReader(bytes.NewReader(body), boundary)
	var out []medium
	for {
		p, err := r.NextRawPart()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, badRequest("malformed multipart body")
		}
		name := p.FormName()
		explicit := fields != nil && slices.Contains(fields, name)
		if !explicit && (fields != nil || p.FileName() == "") {
			continue
		}
		data, err := io.ReadAll(p)
		if err != nil {
			return nil, badRequest("malformed multipart body")
		}
		if !explicit && !isMedia(sniff(data)) {
			continue
		}
		m, err := x.medium(data, name)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
}

// jsonPointers returns the base64 or data-URI strings at the pointers.
func (x *extractor) jsonPointers(mt string, body []byte, ptrs []string) ([]medium, error) {
	if mt != "application/json" && !strings.HasSuffix(mt, "+json") {
		return nil, nil
	}
	v, err := parseJSON(body)
	if err != nil {
		return nil, err
	}
	var out []medium
	for _, p := range ptrs {
		target, ok := resolvePointer(v, p)
		if !ok || target == nil {
			continue
		}
		s, ok := target.(string)
		if !ok {
			return nil, unsupported(p, "JSON value is not a string")
		}
		m, err := x.encoded(s, p)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

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

// decodeBase64 accepts standard or URL-safe base64, padded or not.
func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	enc := base64.RawStdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.RawURLEncoding
	}
	return enc.DecodeString(s)
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
	mt := http.DetectContentType(data)
	if i := strings.IndexByte(mt, ';'); i >= 0 {
		mt = mt[:i]
	}
	return mt
}

var decodable = map[string]bool{
	"image/jpeg": true, "image/png": true, "image/gif": true,
	"image/webp": true, "image/bmp": true, "video/mp4": true,
}

func isMedia(mt string) bool { return decodable[mt] }

// maxJSONDepth bounds nesting; no upload form nests deeper, and a deep
// document is an attempt at exhausting the parser.
const maxJSONDepth = 64

func parseJSON(body []byte) (any, error) {
	if depth := jsonDepth(body); depth > maxJSONDepth {
		return nil, badRequest("JSON nested deeper than %d levels", maxJSONDepth)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, badRequest("malformed JSON body")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, badRequest("malformed JSON body: data after the value")
	}
	return v, nil
}

// jsonDepth returns the deepest nesting of brackets outside strings.
func jsonDepth(b []byte) int {
	depth, most, inStr, esc := 0, 0, false, false
	for _, c := range b {
		switch {
		case inStr:
			if esc {
				esc = false
			} else if c == '\\' {
				esc = true
			} else if c == '"' {
				inStr = false
			}
		case c == '"':
			inStr = true
		case c == '{' || c == '[':
			depth++
			most = max(most, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return most
}

// walkJSON calls fn for every string in v, with its JSON pointer, in
// document order for arrays and key order for objects.
func walkJSON(v any, ptr string, fn func(ptr, s string) error) error {
	switch t := v.(type) {
	case string:
		return fn(ptr, t)
	case []any:
		for i, e := range t {
			if err := walkJSON(e, ptr+"/"+strconv.Itoa(i), fn); err != nil {
				return err
			}
		}
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(t)) {
			esc := strings.NewReplacer("~", "~0", "/", "~1").Replace(k)
			if err := walkJSON(t[k], ptr+"/"+esc, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// resolvePointer follows an RFC 6901 JSON pointer.
func resolvePointer(v any, ptr string) (any, bool) {
	if ptr == "" {
		return v, true
	}
	if !strings.HasPrefix(ptr, "/") {
		return nil, false
	}
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch t := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = t[tok]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(t) || (len(tok) > 1 && tok[0] == '0') {
				return nil, false
			}
			v = t[i]
		default:
			return nil, false
		}
	}
	return v, true
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
