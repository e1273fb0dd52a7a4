package extract

import (
	"bytes"
	"strconv"
	"strings"
	"unicode/utf8"
)

// part is one part of a multipart/form-data body, its content a slice of
// the body (never a copy).
type part struct {
	name        string
	filename    string
	hasFilename bool
	ctype       string // the media type of its Content-Type, lower case; "" when absent
	data        []byte
}

// isFile reports whether some framework hands the part to applications as
// a file: it has a filename (even an empty one) or a Content-Type other
// than text/plain (formidable's rule).
func (p *part) isFile() bool { return p.hasFilename || p.ctype != "" && p.ctype != "text/plain" }

// splitMultipart reads a multipart/form-data body under the strict
// grammar of RFC 7578 and RFC 2046 that every framework reads alike, and
// calls fn for each part in order:
//
//   - the body starts with the first delimiter "--" boundary CRLF (no
//     preamble) and ends with the close delimiter "--" boundary "--" and an
//     optional CRLF (no epilogue); there is no transport padding;
//   - the string "--" boundary occurs nowhere else: every occurrence is
//     CRLF "--" boundary followed by CRLF or "--". Werkzeug, Django and PHP
//     also split at a boundary after a bare LF or CR, or one followed by
//     other bytes; Go does not. Refusing every other occurrence leaves one
//     reading, at the cost of one bytes.Index pass over the body;
//   - each part's header lines end in CRLF, with no bare CR or LF and no
//     folding, and hold exactly one Content-Disposition (see
//     disposition), at most one Content-Type, Content-Transfer-Encoding
//     (7bit, 8bit or binary: Django, formidable and Go decode base64 and
//     quoted-printable, others do not) and Content-Length (equal to the
//     content's length, as OkHttp sends it); no other Content-* header
//     and no header twice, names compared case-insensitively and with "_"
//     and "." read as "-".
func splitMultipart(body []byte, boundary string, fn func(*part) *Error) *Error {
	dash := []byte("--" + boundary)
	if !bytes.HasPrefix(body, dash) {
		return ambiguous("multipart-preamble", "a multipart body that does not start with its boundary")
	}
	pos := 0 // at a "--boundary" that is a delimiter
	for {
		after := pos + len(dash)
		switch {
		case bytes.HasPrefix(body[after:], []byte("--")):
			rest := body[after+2:]
			if len(rest) != 0 && string(rest) != "\r\n" {
				return ambiguous("multipart-epilogue", "bytes after the close delimiter")
			}
			return nil
		case bytes.HasPrefix(body[after:], []byte("\r\n")):
		default:
			return ambiguous("multipart-delimiter", "a delimiter not followed by CRLF")
		}
		start := after + 2
		i := bytes.Index(body[start:], dash)
		if i < 0 {
			return ambiguous("multipart-unterminated", "a multipart body without its close delimiter")
		}
		next := start + i
		if next-start < 2 || string(body[next-2:next]) != "\r\n" {
			return ambiguous("multipart-boundary-in-part", "the boundary inside a part, not after CRLF")
		}
		p, err := parsePart(body[start : next-2])
		if err != nil {
			return err
		}
		if err := fn(p); err != nil {
			return err
		}
		pos = next
	}
}

// headerSpelling reads "_" and "." in a header name as "-", as CGI-style
// servers and some proxies do.
var headerSpelling = strings.NewReplacer("_", "-", ".", "-")

// parsePart reads one part: its header lines, an empty line, its content.
func parsePart(b []byte) (*part, *Error) {
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if bytes.HasPrefix(b, []byte("\r\n")) {
		return nil, ambiguous("part-disposition", "a part without Content-Disposition")
	}
	if end < 0 {
		return nil, ambiguous("part-header-end", "a part whose header does not end in an empty line")
	}
	head, data := b[:end], b[end+4:]
	if n := bytes.Count(head, []byte("\r\n")); bytes.Count(head, []byte("\r")) != n || bytes.Count(head, []byte("\n")) != n {
		return nil, ambiguous("part-header-line", "a bare CR or LF in a part header")
	}
	p := &part{data: data}
	var seen [4]bool // disposition, type, transfer encoding, length
	for line := range strings.SplitSeq(string(head), "\r\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok || name == "" || line[0] == ' ' || line[0] == '\t' {
			return nil, ambiguous("part-header-line", "a part header line that is not name: value")
		}
		if tok, rest := token(name); tok != name || rest != "" {
			return nil, ambiguous("part-header-line", "a part header name that is not a token")
		}
		if !utf8.ValidString(value) || strings.ContainsFunc(value, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) {
			return nil, ambiguous("part-header-line", "a control character or invalid UTF-8 in a part header")
		}
		value = trimOWS(value)
		norm := headerSpelling.Replace(strings.ToLower(name))
		idx := -1
		switch norm {
		case "content-disposition":
			idx = 0
		case "content-type":
			idx = 1
		case "content-transfer-encoding":
			idx = 2
		case "content-length":
			idx = 3
		default:
			if strings.HasPrefix(norm, "content-") {
				return nil, ambiguous("part-header-unknown", "a part header Content-* other than Disposition, Type, Transfer-Encoding and Length")
			}
			continue
		}
		if norm != strings.ToLower(name) {
			return nil, ambiguous("part-header-spelling", "a Content-* part header spelled with _ or .")
		}
		if seen[idx] {
			return nil, ambiguous("part-header-twice", "a part header given twice")
		}
		seen[idx] = true
		switch idx {
		case 0:
			if err := p.disposition(value); err != nil {
				return nil, err
			}
		case 1:
			typ, params, rule := parseValue(value, true, false, false)
			if rule != "" {
				return nil, ambiguous("part-content-type", "a part Content-Type with %s", rule)
			}
			for _, pr := range params {
				if pr.name != "charset" || !strings.EqualFold(pr.value, "utf-8") && !strings.EqualFold(pr.value, "us-ascii") {
					return nil, ambiguous("part-content-type", "a part Content-Type parameter other than charset=utf-8")
				}
			}
			p.ctype = typ
		case 2:
			switch strings.ToLower(value) {
			case "7bit", "8bit", "binary":
			default:
				return nil, ambiguous("part-transfer-encoding", "a part Content-Transfer-Encoding other than 7bit, 8bit or binary")
			}
		case 3:
			n, err := strconv.ParseUint(value, 10, 63)
			if err != nil || n != uint64(len(data)) || value[0] == '+' {
				return nil, ambiguous("part-content-length", "a part Content-Length that is not its length")
			}
		}
	}
	if !seen[0] {
		return nil, ambiguous("part-disposition", "a part without Content-Disposition")
	}
	return p, nil
}

// disposition reads a part's Content-Disposition: type form-data (any
// case), exactly one name, at most one filename and one filename*,
// nothing else; no name* (RFC 7578 forbids it and parsers prefer one or
// the other name); quoted strings without escapes (browsers
// percent-encode quotes).
func (p *part) disposition(v string) *Error {
	typ, params, rule := parseValue(v, false, true, true)
	if rule != "" {
		return ambiguous("part-disposition", "a Content-Disposition with %s", rule)
	}
	if typ != "form-data" {
		return ambiguous("part-disposition", "a Content-Disposition type other than form-data")
	}
	hasName := false
	for _, pr := range params {
		switch pr.name {
		case "name":
			p.name, hasName = pr.value, true
		case "filename":
			p.filename, p.hasFilename = pr.value, true
		case "filename*":
			// Which file name a framework shows does not change which
			// bytes it hands over; that the part is a file does, and
			// every reading of filename* makes it one.
			p.hasFilename = true
		default:
			return ambiguous("part-disposition", "a Content-Disposition parameter other than name and filename")
		}
	}
	if !hasName {
		return ambiguous("part-disposition", "a Content-Disposition without a name")
	}
	return nil
}
