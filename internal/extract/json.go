package extract

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// walkJSON is a fast equivalent of scanJSON. scanJSON drives
// encoding/json's Decoder.Token, which is correct but costs about 4 ns a
// byte in a long string; walkJSON finds the end of a string with
// bytes.IndexByte and checks its bytes eight at a time, so a body that is
// mostly one base64 image is walked at memory speed.
//
// walkJSON reproduces Decoder.Token's state machine token by token (the
// same tokenState values, the same checks in the same order), and scanJSON's
// logic on top of it, so that it accepts and refuses exactly the same
// bodies, with exactly the same error messages (including "data after the
// value" versus plain "malformed JSON body" for trailing bytes), and calls
// fn for the same values in the same order before meeting a fault. In
// particular, like Decoder.Token, it reads a scalar as soon as its end is
// known: "[1x" calls fn for "[" and 1 before refusing the "x", and a root
// "01" is the number 0 followed by a second value. FuzzWalkJSON checks all
// of this against scanJSON.

// maxJSONDepth bounds nesting; no upload form nests deeper, and a deep
// document is an attempt at exhausting the parser.
const maxJSONDepth = 64

// jsonValue is one JSON value met by walkJSON.
type jsonValue struct {
	kind  byte   // '"' string, '{' object (its start), '[' array (its start), 'n' null, 't' true, 'f' false, '0' number
	raw   []byte // strings: the bytes between the quotes, as in the body (escapes not decoded); numbers: the literal; others: nil or the literal
	plain bool   // strings only: raw holds no backslash and only ASCII bytes, so raw IS the decoded string
}

// str returns a string value decoded exactly as encoding/json decodes it
// (escapes, and invalid UTF-8 replaced by U+FFFD): string(raw) when plain,
// else json.Unmarshal of the quoted bytes (rare: escaped or non-ASCII).
// For other kinds it returns string(raw).
func (v jsonValue) str() string {
	if v.kind != '"' || v.plain {
		return string(v.raw)
	}
	if bytes.IndexByte(v.raw, '\\') < 0 && utf8.Valid(v.raw) {
		// encoding/json's unquote returns such bytes unchanged.
		return string(v.raw)
	}
	q := make([]byte, 0, len(v.raw)+2)
	q = append(q, '"')
	q = append(q, v.raw...)
	q = append(q, '"')
	var s string
	if err := json.Unmarshal(q, &s); err != nil {
		// Unreachable: walkJSON hands out only strings it has validated
		// with encoding/json's own grammar.
		return string(utf8.RuneError)
	}
	return s
}

// Decoder.Token's states (encoding/json/stream.go).
const (
	wsTopValue = iota
	wsArrayStart
	wsArrayValue
	wsArrayComma
	wsObjectStart
	wsObjectKey
	wsObjectColon
	wsObjectValue
	wsObjectComma
)

// wsKeyMapAt is the number of keys an object holds before walkJSON stops
// comparing a new key with each earlier one and builds a map of them.
const wsKeyMapAt = 16

// wsFrame is one open object or array.
type wsFrame struct {
	obj      bool
	next     int                 // arrays: index of the next element
	ptrLen   int                 // length of the container's own pointer
	keyStart int                 // objects: its first key in walkJSON's keys
	keySet   map[string]struct{} // objects with many keys: all of them
}

// walkJSON: same contract as scanJSON, but fn gets the pointer as bytes
// (valid only during the call; fn must copy it to keep it) and a jsonValue.
func walkJSON(body []byte, fn func(ptr []byte, v jsonValue) error) error {
	var (
		frames [maxJSONDepth]wsFrame
		depth  int
		keyBuf [32][]byte
		keys   = keyBuf[:0] // decoded keys of the open objects
		ptr    = make([]byte, 0, 128)
		state  = wsTopValue
		done   bool // the root value is complete
		pos    int
	)
	malformed := func() error { return ambiguous("json-syntax", "a body that is not one RFC 8259 JSON value in UTF-8") }
	// endValue closes the current value: its reference token goes, and the
	// enclosing container expects a comma or its end.
	endValue := func() {
		if depth == 0 {
			done = true
			state = wsTopValue
			return
		}
		f := &frames[depth-1]
		ptr = ptr[:f.ptrLen]
		if f.obj {
			state = wsObjectComma
		} else {
			state = wsArrayComma
		}
	}
	for {
		// Decoder.peek
		for pos < len(body) && wsIsSpace(body[pos]) {
			pos++
		}
		if pos == len(body) {
			if !done {
				return malformed()
			}
			return nil
		}
		c := body[pos]
		var v jsonValue
		switch c {
		case '[', '{':
			if !wsValueAllowed(state) {
				return malformed()
			}
			pos++
			v.kind = c
		case ']', '}':
			if c == ']' && state != wsArrayStart && state != wsArrayComma ||
				c == '}' && state != wsObjectStart && state != wsObjectComma {
				return malformed()
			}
			pos++
			if depth == 0 { // unreachable: these states need an open container
				return malformed()
			}
			f := &frames[depth-1]
			keys = keys[:f.keyStart]
			f.keySet = nil
			depth--
			endValue()
			continue
		case ':':
			if state != wsObjectColon {
				return malformed()
			}
			pos++
			state = wsObjectValue
			continue
		case ',':
			switch state {
			case wsArrayComma:
				state = wsArrayValue
			case wsObjectComma:
				state = wsObjectKey
			default:
				return malformed()
			}
			pos++
			continue
		default:
			if c == '"' && (state == wsObjectStart || state == wsObjectKey) {
				end, plain, ok := wsString(body, pos+1)
				if !ok {
					return malformed()
				}
				v = jsonValue{kind: '"', raw: body[pos+1 : end], plain: plain}
				pos = end + 1
				// done is false here: a key needs an open object.
				if err := wsAddKey(&frames[depth-1], &keys, v); err != nil {
					return err
				}
				ptr = append(ptr, '/')
				ptr = wsAppendEscaped(ptr, keys[len(keys)-1])
				state = wsObjectColon
				continue
			}
			if !wsValueAllowed(state) {
				return malformed()
			}
			var ok bool
			v, pos, ok = wsScalar(body, pos)
			if !ok {
				return malformed()
			}
		}
		// v is a value: a scalar or the opening of an object or array.
		if done {
			return ambiguous("json-trailing", "data after the JSON value")
		}
		if depth > 0 {
			if f := &frames[depth-1]; !f.obj {
				ptr = append(ptr, '/')
				ptr = strconv.AppendInt(ptr, int64(f.next), 10)
				f.next++
			}
		}
		if err := fn(ptr, v); err != nil {
			return err
		}
		if v.kind == '[' || v.kind == '{' {
			if depth == maxJSONDepth {
				return ambiguous("json-depth", "JSON nested deeper than %d levels", maxJSONDepth)
			}
			frames[depth] = wsFrame{obj: v.kind == '{', ptrLen: len(ptr), keyStart: len(keys)}
			depth++
			if v.kind == '{' {
				state = wsObjectStart
			} else {
				state = wsArrayStart
			}
			continue
		}
		endValue()
	}
}

func wsIsSpace(c byte) bool {
	return c <= ' ' && (c == ' ' || c == '\t' || c == '\r' || c == '\n')
}

func wsValueAllowed(state int) bool {
	switch state {
	case wsTopValue, wsArrayStart, wsArrayValue, wsObjectValue:
		return true
	}
	return false
}

// wsAddKey records the key v of object f, refusing a key equal after
// decoding, ignoring case, to an earlier one of the same object.
func wsAddKey(f *wsFrame, keys *[][]byte, v jsonValue) error {
	key := v.raw // the decoded key when plain
	if !v.plain && bytes.IndexByte(key, '\\') >= 0 {
		key = []byte(v.str())
	}
	// Go's encoding/json matches struct fields case-insensitively (with
	// Unicode simple folding), and the last of two such keys wins: keys
	// equal under folding are duplicates.
	own := (*keys)[f.keyStart:]
	if f.keySet != nil {
		fk := fold(string(key))
		if _, dup := f.keySet[fk]; dup {
			return ambiguous("json-duplicate-key", "two keys of one JSON object equal when case is ignored")
		}
		f.keySet[fk] = struct{}{}
	} else {
		for _, k := range own {
			if bytes.EqualFold(k, key) {
				return ambiguous("json-duplicate-key", "two keys of one JSON object equal when case is ignored")
			}
		}
		if len(own)+1 >= wsKeyMapAt {
			f.keySet = make(map[string]struct{}, 2*wsKeyMapAt)
			for _, k := range own {
				f.keySet[fold(string(k))] = struct{}{}
			}
			f.keySet[fold(string(key))] = struct{}{}
		}
	}
	*keys = append(*keys, key)
	return nil
}

// wsAppendEscaped appends key as an RFC 6901 reference token, as
// pointerEscaper does: "~" becomes "~0" and "/" becomes "~1".
func wsAppendEscaped(dst, key []byte) []byte {
	if bytes.IndexByte(key, '~') < 0 && bytes.IndexByte(key, '/') < 0 {
		return append(dst, key...)
	}
	for _, c := range key {
		switch c {
		case '~':
			dst = append(dst, '~', '0')
		case '/':
			dst = append(dst, '~', '1')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// wsScalar reads the string, number or literal at body[pos], as
// Decoder.Decode's scanner does: the value ends where the grammar says it
// ends, whatever byte follows (the next token is checked on its own).
func wsScalar(body []byte, pos int) (v jsonValue, next int, ok bool) {
	switch c := body[pos]; c {
	case '"':
		end, plain, ok := wsString(body, pos+1)
		if !ok {
			return v, pos, false
		}
		return jsonValue{kind: '"', raw: body[pos+1 : end], plain: plain}, end + 1, true
	case 't', 'f', 'n':
		lit := "null"
		if c == 't' {
			lit = "true"
		} else if c == 'f' {
			lit = "false"
		}
		if len(body)-pos < len(lit) || string(body[pos:pos+len(lit)]) != lit {
			return v, pos, false
		}
		return jsonValue{kind: c, raw: body[pos : pos+len(lit)]}, pos + len(lit), true
	default:
		end, ok := wsNumber(body, pos)
		if !ok {
			return v, pos, false
		}
		return jsonValue{kind: '0', raw: body[pos:end]}, end, true
	}
}

func wsIsDigit(c byte) bool { return '0' <= c && c <= '9' }

// wsNumber reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? at
// body[i], the longest such prefix, and fails where encoding/json's scanner
// fails: on a '-', '.', 'e' or exponent sign not followed by a digit.
func wsNumber(b []byte, i int) (end int, ok bool) {
	n := len(b)
	if b[i] == '-' {
		i++
		if i == n {
			return i, false
		}
	}
	switch c := b[i]; {
	case c == '0':
		i++
	case '1' <= c && c <= '9':
		i++
		for i < n && wsIsDigit(b[i]) {
			i++
		}
	default:
		return i, false
	}
	if i < n && b[i] == '.' {
		i++
		if i == n || !wsIsDigit(b[i]) {
			return i, false
		}
		for i < n && wsIsDigit(b[i]) {
			i++
		}
	}
	if i < n && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < n && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i == n || !wsIsDigit(b[i]) {
			return i, false
		}
		for i < n && wsIsDigit(b[i]) {
			i++
		}
	}
	return i, true
}

// wsString reads the string whose contents start at body[start], just after
// its opening quote. It returns the index of the closing quote, and whether
// the contents are plain: no backslash and no byte >= 0x80. It fails on a
// byte < 0x20, an invalid escape or a missing closing quote, like
// encoding/json's scanner; any other byte, invalid UTF-8 included, is
// accepted.
//
// The closing quote is found with bytes.IndexByte, backslashes too, and the
// bytes between are checked eight at a time, so a long string costs no Go
// loop per byte. A string with escapes is handled escape by escape, each
// stretch between two escapes still checked eight bytes at a time, so a
// base64 image with every "/" written "\/" is also fast.
func wsString(body []byte, start int) (end int, plain, ok bool) {
	i := start
	q := -1 // the next quote at or after i, once found
	plain = true
	for {
		if q < i {
			k := bytes.IndexByte(body[i:], '"')
			if k < 0 {
				return 0, false, false
			}
			q = i + k
		}
		span := body[i:q]
		b := bytes.IndexByte(span, '\\')
		if b >= 0 {
			span = span[:b]
		}
		ctrl, high := wsScanSpan(span)
		if ctrl {
			return 0, false, false
		}
		if high {
			plain = false
			// RFC 8259 text is UTF-8: Go replaces invalid bytes, Python
			// and PHP refuse them.
			if !utf8.Valid(span) {
				return 0, false, false
			}
		}
		if b < 0 {
			return q, plain, true
		}
		plain = false
		e := i + b + 1 // the byte after the backslash
		if e >= len(body) {
			return 0, false, false
		}
		switch body[e] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			i = e + 1
		case 'u':
			if len(body)-e < 5 {
				return 0, false, false
			}
			r, ok := wsHex4(body[e+1 : e+5])
			if !ok {
				return 0, false, false
			}
			i = e + 5
			// A surrogate must come in a pair: Go replaces a lone one
			// with U+FFFD, Python keeps it, PHP refuses it.
			switch {
			case 0xDC00 <= r && r < 0xE000:
				return 0, false, false
			case 0xD800 <= r && r < 0xDC00:
				if len(body)-i < 6 || body[i] != '\\' || body[i+1] != 'u' {
					return 0, false, false
				}
				lo, ok := wsHex4(body[i+2 : i+6])
				if !ok || lo < 0xDC00 || lo >= 0xE000 {
					return 0, false, false
				}
				i += 6
			}
		default:
			return 0, false, false
		}
	}
}

// wsUnescape appends the decoded form of a string's text (without its
// quotes) that wsString accepted: escapes decoded, surrogate pairs joined;
// it is what encoding/json decodes for such text.
func wsUnescape(dst, raw []byte) []byte {
	for len(raw) > 0 {
		i := bytes.IndexByte(raw, '\\')
		if i < 0 {
			return append(dst, raw...)
		}
		dst = append(dst, raw[:i]...)
		c := raw[i+1]
		raw = raw[i+2:]
		switch c {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, _ := wsHex4(raw[:4])
			raw = raw[4:]
			if 0xD800 <= r && r < 0xDC00 { // wsString checked the pair
				lo, _ := wsHex4(raw[2:6])
				raw = raw[6:]
				r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
			}
			dst = utf8.AppendRune(dst, r)
		default: // '"', '\\', '/'
			dst = append(dst, c)
		}
	}
	return dst
}

// wsHex4 reads four hex digits.
func wsHex4(h []byte) (rune, bool) {
	var r rune
	for _, c := range h {
		d, ok := unhex(c)
		if !ok {
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}

const (
	wsOnes  = 0x0101010101010101
	wsHighs = 0x8080808080808080
)

// wsScanSpan reports whether s holds a byte < 0x20 and whether it holds a
// byte >= 0x80. It works on eight bytes at a time: (x - 0x20 in every byte)
// &^ x has a byte's high bit set for some byte exactly when x holds a byte
// < 0x20 (a borrow starts only at such a byte), and x's high bits are the
// bytes >= 0x80. A hit for a control byte is confirmed byte by byte.
func wsScanSpan(s []byte) (ctrl, high bool) {
	var hi uint64
	i := 0
	for ; len(s)-i >= 32; i += 32 {
		w := s[i : i+32 : i+32]
		a := binary.LittleEndian.Uint64(w[0:8])
		b := binary.LittleEndian.Uint64(w[8:16])
		c := binary.LittleEndian.Uint64(w[16:24])
		d := binary.LittleEndian.Uint64(w[24:32])
		hi |= a | b | c | d
		if ((a-0x20*wsOnes)&^a|(b-0x20*wsOnes)&^b|(c-0x20*wsOnes)&^c|(d-0x20*wsOnes)&^d)&wsHighs != 0 {
			if wsHasCtrl(w) {
				return true, false
			}
		}
	}
	for ; len(s)-i >= 8; i += 8 {
		a := binary.LittleEndian.Uint64(s[i : i+8])
		hi |= a
		if (a-0x20*wsOnes)&^a&wsHighs != 0 {
			if wsHasCtrl(s[i : i+8]) {
				return true, false
			}
		}
	}
	for _, c := range s[i:] {
		if c < 0x20 {
			return true, false
		}
		hi |= uint64(c)
	}
	return false, hi&wsHighs != 0
}

func wsHasCtrl(s []byte) bool {
	for _, c := range s {
		if c < 0x20 {
			return true
		}
	}
	return false
}
