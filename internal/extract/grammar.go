package extract

import (
	"fmt"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Error is a request the gate cannot check: the client's fault. Msg is
// for the client and the logs and never holds request data; Where and
// Rule are for logs only (Where is client-chosen text).
type Error struct {
	Status int    // 400, 413 or 415
	Reason string // machine-readable, for the Reason header and logs
	Rule   string // the grammar rule a refused request broke, for logs
	Msg    string
	Where  string // the field or pointer at fault
}

func (e *Error) Error() string { return e.Msg }

// ambiguous is a request outside the one grammar every framework reads
// alike: 400, reason ambiguous_request.
func ambiguous(rule, format string, a ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Reason: "ambiguous_request", Rule: rule, Msg: "ambiguous request: " + fmt.Sprintf(format, a...)}
}

func unsupported(where, format string, a ...any) *Error {
	return &Error{Status: http.StatusUnsupportedMediaType, Reason: "unsupported_media", Msg: fmt.Sprintf(format, a...), Where: where}
}

func tooLarge(where, format string, a ...any) *Error {
	return &Error{Status: http.StatusRequestEntityTooLarge, Reason: "too_large", Msg: fmt.Sprintf(format, a...), Where: where}
}

// overloaded is a decoded image the caller had no memory for (alloc gave
// nil): 503.
func overloaded() *Error {
	return &Error{Status: http.StatusServiceUnavailable, Reason: "overloaded", Msg: "too many uploads at once, try again later"}
}

func (e *Error) at(where string) *Error { e.Where = where; return e }

// param is one parameter of a header value, its name in lower case.
type param struct{ name, value string }

func isTchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func token(s string) (tok, rest string) {
	i := 0
	for i < len(s) && isTchar(s[i]) {
		i++
	}
	return s[:i], s[i:]
}

func trimOWS(s string) string { return strings.Trim(s, " \t") }

// parseValue reads a header value of the strict form
//
//	type *( OWS ";" OWS name "=" ( token / quoted-string ) )
//
// where type is token "/" token when media is set, else one token;
// parameter names are tokens without "*" (no RFC 2231 forms; ext allows
// filename*, which .NET's HttpClient sends beside filename), each given
// once whatever its case; there is no space around "=" and no empty or
// trailing ";"; a quoted string holds no backslash (no escapes, which
// parsers read differently), no control character, and bytes >= 0x80
// only when utf8 is set and they are valid UTF-8. The type and the names
// are lower-cased.
func parseValue(v string, media, utf8ok, ext bool) (typ string, params []param, rule string) {
	s := trimOWS(v)
	t, s := token(s)
	if t == "" {
		return "", nil, "no type"
	}
	if media {
		if s == "" || s[0] != '/' {
			return "", nil, "no subtype"
		}
		sub, rest := token(s[1:])
		if sub == "" {
			return "", nil, "no subtype"
		}
		t, s = t+"/"+sub, rest
	}
	typ = strings.ToLower(t)
	for {
		s = trimOWS(s)
		if s == "" {
			return typ, params, ""
		}
		if s[0] != ';' {
			return "", nil, "bytes after a value"
		}
		s = trimOWS(s[1:])
		name, rest := token(s)
		if name == "" {
			return "", nil, "an empty parameter"
		}
		if strings.IndexByte(name, '*') >= 0 && !(ext && strings.EqualFold(name, "filename*")) {
			return "", nil, "an RFC 2231 parameter"
		}
		if rest == "" || rest[0] != '=' {
			return "", nil, "a parameter without ="
		}
		name = strings.ToLower(name)
		for _, p := range params {
			if p.name == name {
				return "", nil, "a parameter given twice"
			}
		}
		rest = rest[1:]
		var val string
		if rest != "" && rest[0] == '"' {
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				return "", nil, "an unterminated quoted string"
			}
			val, rest = rest[1:1+end], rest[2+end:]
			for i := 0; i < len(val); i++ {
				c := val[i]
				if c == '\\' {
					return "", nil, "a backslash in a quoted string"
				}
				if c < 0x20 || c == 0x7f || c >= 0x80 && !utf8ok {
					return "", nil, "a control or non-ASCII character in a quoted string"
				}
			}
			if !utf8.ValidString(val) {
				return "", nil, "invalid UTF-8 in a quoted string"
			}
		} else {
			val, rest = token(rest)
			if val == "" {
				return "", nil, "an empty parameter value"
			}
			if strings.IndexByte(val, '\'') >= 0 && !(ext && name == "filename*") {
				// PHP reads 'x' as x.
				return "", nil, "a single quote in a parameter value"
			}
		}
		params = append(params, param{name, val})
		s = rest
	}
}

func lookup(params []param, name string) (string, bool) {
	for _, p := range params {
		if p.name == name {
			return p.value, true
		}
	}
	return "", false
}

// validBoundary reports whether b is an RFC 2046 boundary of 1 to 70
// characters, without the space and the single quote it allows (parsers
// disagree on where an unquoted boundary with a space ends, and PHP
// strips single quotes around one).
func validBoundary(b string) bool {
	if b == "" || len(b) > 70 {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("()+_,-./:=?", c) >= 0) {
			return false
		}
	}
	return true
}

// Field names. Frameworks normalise names before an application sees
// them: Django strips spaces, Go's encoding/json and many routers fold
// case (Unicode simple folding: "ſ" is "s", "K" is "k"), PHP cuts a name
// at NUL, drops its leading spaces, turns spaces, dots and a stray "["
// into "_" and reads "a[b]" as key b of array a. The gate refuses names
// that differ and normalise alike, and names that normalise like a
// configured source without being it.

// badName reports a field name frameworks do not agree on: invalid
// UTF-8, a character that does not print (NUL, tabs, a BOM, which
// Express's body parser drops, zero-width characters, space other than
// U+0020), white space at its ends, or square brackets that are not
// whole "[...]" groups after a non-empty base (PHP and qs read "a[" and
// "a]b[c" each their own way).
func badName(n string) bool {
	if n != strings.TrimSpace(n) || !utf8.ValidString(n) {
		return true
	}
	for _, r := range n {
		if !unicode.IsPrint(r) {
			return true
		}
	}
	i := strings.IndexAny(n, "[]")
	if i < 0 {
		return false
	}
	if i == 0 {
		return true
	}
	for rest := n[i:]; rest != ""; {
		if rest[0] != '[' {
			return true
		}
		end := strings.IndexByte(rest, ']')
		if end < 0 || strings.IndexByte(rest[1:end], '[') >= 0 {
			return true
		}
		rest = rest[end+1:]
	}
	return false
}

// fold maps each rune to the smallest of its Unicode simple-folding
// orbit, so that fold(a) == fold(b) exactly when strings.EqualFold(a, b).
func fold(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 || 'a' <= s[i] && s[i] <= 'z' {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		b.WriteRune(m)
	}
	return b.String()
}

// phpName is the name PHP gives a field: cut at NUL, leading spaces
// dropped, and up to the first "[" that has a "]" after it, spaces, dots
// and "[" turned into "_"; base is that top-level part alone (PHP reads
// "a[b]" as key b of array a).
func phpName(n string) (name, base string) {
	if i := strings.IndexByte(n, 0); i >= 0 {
		n = n[:i]
	}
	n = strings.TrimLeft(n, " ")
	end := len(n)
	if i := strings.IndexByte(n, '['); i >= 0 && strings.IndexByte(n[i:], ']') >= 0 {
		end = i
	}
	b := []byte(n)
	for i, c := range b[:end] {
		if c == ' ' || c == '.' || c == '[' {
			b[i] = '_'
		}
	}
	return string(b), string(b[:end])
}

// names checks the field names of one request against each other and the
// configured ones.
type names struct {
	sources []string          // the configured field names
	seen    map[string]string // normal form -> the name that had it
}

// add records a field name and refuses it when it is malformed (strict),
// or normalises like another name or a configured one without being
// equal to it.
func (ns *names) add(n string, strict bool) *Error {
	if strict && badName(n) {
		return ambiguous("field-name", "a field name with control characters, white space at its ends or invalid UTF-8")
	}
	if ns.seen == nil {
		ns.seen = make(map[string]string)
	}
	php, base := phpName(n)
	keys := [2]string{fold(strings.TrimSpace(n)), fold(php)}
	for _, k := range keys {
		if prev, ok := ns.seen[k]; ok && prev != n {
			return ambiguous("field-name-alike", "two field names that frameworks may read as one")
		}
	}
	for _, k := range keys {
		ns.seen[k] = n
	}
	fb := fold(base)
	for _, s := range ns.sources {
		if n == s {
			continue
		}
		if sk := fold(s); keys[0] == sk || keys[1] == sk || fb == sk {
			return ambiguous("field-name-source", "a field name that frameworks may read as a configured source").at(s)
		}
	}
	return nil
}
