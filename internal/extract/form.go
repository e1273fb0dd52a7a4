package extract

import (
	"bytes"
	"unicode/utf8"
)

// splitForm reads an application/x-www-form-urlencoded body as the WHATWG
// parser does ("&" separates, the first "=" splits, "+" is a space,
// empty sequences are skipped), under the rules that make every parser
// agree: no ";" (Go refuses it, older Pythons split on it), every "%"
// followed by two hex digits (WHATWG keeps a bad escape as it is, Go
// refuses it), names and values valid UTF-8 once decoded (Werkzeug
// replaces invalid bytes, PHP keeps them). fn gets the decoded name and
// value, decoded into buffers from alloc (nil: allocated) when they hold
// escapes.
func splitForm(body []byte, alloc func(int) []byte, fn func(name string, value []byte) *Error) *Error {
	if bytes.IndexByte(body, ';') >= 0 {
		return ambiguous("form-semicolon", "a ; in an urlencoded body")
	}
	for len(body) > 0 {
		var seq []byte
		seq, body, _ = bytes.Cut(body, []byte("&"))
		if len(seq) == 0 {
			continue
		}
		n, v, _ := bytes.Cut(seq, []byte("="))
		name, ok := unescape(n, true, alloc)
		if !ok {
			return ambiguous("form-escape", "an invalid percent escape or invalid UTF-8 in an urlencoded body")
		}
		value, ok := unescape(v, true, alloc)
		if !ok {
			return ambiguous("form-escape", "an invalid percent escape or invalid UTF-8 in an urlencoded body")
		}
		if name == nil || value == nil {
			return overloaded()
		}
		if err := fn(string(name), value); err != nil {
			return err
		}
	}
	return nil
}

// scanQuery calls fn for every name and value of a query string as any
// framework may read it: split at "&" and ";", bad escapes kept as they
// are (the query is read leniently: the gate does not refuse a URL, it
// refuses the names and values it finds there).
func scanQuery(q string, fn func(name string, value []byte) *Error) *Error {
	b := []byte(q)
	for len(b) > 0 {
		i := bytes.IndexAny(b, "&;")
		seq := b
		if i >= 0 {
			seq, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if len(seq) == 0 {
			continue
		}
		n, v, _ := bytes.Cut(seq, []byte("="))
		name, _ := unescape(n, false, nil)
		value, _ := unescape(v, false, nil)
		if err := fn(string(name), value); err != nil {
			return err
		}
	}
	return nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// unescape decodes "+" and percent escapes. strict refuses a bad escape
// and invalid UTF-8; else a bad escape is kept as it is (WHATWG). It
// returns s itself when there is nothing to decode, else a decoded copy
// in a buffer from alloc (nil: allocated) — nil when alloc has none.
func unescape(s []byte, strict bool, alloc func(int) []byte) ([]byte, bool) {
	if bytes.IndexByte(s, '%') < 0 && bytes.IndexByte(s, '+') < 0 {
		if s == nil {
			s = []byte{}
		}
		return s, !strict || utf8.Valid(s)
	}
	var out []byte
	if alloc == nil {
		out = make([]byte, 0, len(s))
	} else if out = alloc(len(s)); out == nil {
		return nil, true
	}
	out = out[:0]
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '+':
			out = append(out, ' ')
		case '%':
			var hi, lo byte
			ok := i+2 < len(s)
			if ok {
				var ok1, ok2 bool
				hi, ok1 = unhex(s[i+1])
				lo, ok2 = unhex(s[i+2])
				ok = ok1 && ok2
			}
			if !ok {
				if strict {
					return nil, false
				}
				out = append(out, c)
				continue
			}
			out = append(out, hi<<4|lo)
			i += 2
		default:
			out = append(out, c)
		}
	}
	return out, !strict || utf8.Valid(out)
}
