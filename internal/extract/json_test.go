package extract

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// wsCall is one call of fn, as scanJSON or walkJSON made it.
type wsCall struct {
	ptr  string
	kind byte   // as jsonValue.kind
	val  string // strings: decoded; numbers: the literal; others: ""
}

func (c wsCall) String() string { return fmt.Sprintf("%q %c %q", c.ptr, c.kind, c.val) }

// errWSStop is what fn returns at the k-th call in the early-stop variant.
var errWSStop = errors.New("stop here")

// wsOracleCalls runs scanJSON, recording its calls; fn returns errWSStop at
// call number stopAt (1-based) when stopAt > 0.
func wsOracleCalls(body []byte, stopAt int) ([]wsCall, error) {
	var calls []wsCall
	err := scanJSON(body, func(ptr string, tok json.Token) error {
		c := wsCall{ptr: ptr}
		switch tok := tok.(type) {
		case json.Delim:
			c.kind = byte(tok)
		case string:
			c.kind, c.val = '"', tok
		case json.Number:
			c.kind, c.val = '0', string(tok)
		case bool:
			c.kind = 'f'
			if tok {
				c.kind = 't'
			}
		case nil:
			c.kind = 'n'
		default:
			panic(fmt.Sprintf("scanJSON passed a %T", tok))
		}
		calls = append(calls, c)
		if len(calls) == stopAt {
			return errWSStop
		}
		return nil
	})
	return calls, err
}

// wsWalkCalls runs walkJSON the same way, and checks every jsonValue on the
// way: plain exactly when raw has no backslash and no byte >= 0x80, and
// str() == string(raw) then.
func wsWalkCalls(t *testing.T, body []byte, stopAt int) ([]wsCall, error) {
	t.Helper()
	var calls []wsCall
	err := walkJSON(body, func(ptr []byte, v jsonValue) error {
		c := wsCall{ptr: string(ptr), kind: v.kind}
		switch v.kind {
		case '"':
			c.val = v.str()
			wantPlain := bytes.IndexByte(v.raw, '\\') < 0 && !wsHasHigh(v.raw)
			if v.plain != wantPlain {
				t.Errorf("string %q: plain = %v, want %v", v.raw, v.plain, wantPlain)
			}
			if v.plain && string(v.raw) != c.val {
				t.Errorf("plain string %q: str() = %q", v.raw, c.val)
			}
		case '0':
			c.val = string(v.raw)
		case '{', '[', 't', 'f', 'n':
		default:
			t.Errorf("kind %q", v.kind)
		}
		calls = append(calls, c)
		if len(calls) == stopAt {
			return errWSStop
		}
		return nil
	})
	return calls, err
}

func wsHasHigh(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return true
		}
	}
	return false
}

// wsCompare runs both with the same stopAt and reports any difference: in
// the calls, in error versus no error, in the error's identity for errors
// from fn, and in the *inputError's status and exact message otherwise.
// The messages match exactly, "data after the value" included.
func wsCompare(t *testing.T, body []byte, stopAt int) (calls []wsCall, err error) {
	t.Helper()
	want, wantErr := wsOracleCalls(body, stopAt)
	got, gotErr := wsWalkCalls(t, body, stopAt)
	short := func(b []byte) string {
		if len(b) > 200 {
			return fmt.Sprintf("%q... (%d bytes)", b[:200], len(b))
		}
		return fmt.Sprintf("%q", b)
	}
	var gotIE, wantIE *Error
	if errors.As(gotErr, &gotIE) && gotIE.Rule == "json-syntax" && strictRefusal(body) && isPrefix(got, want) {
		// encoding/json reads invalid UTF-8 and lone surrogates (as
		// U+FFFD); walkJSON refuses them where it meets them.
		return got, gotErr
	}
	if len(got) != len(want) {
		t.Errorf("body %s stop %d: walkJSON made %d calls, scanJSON %d\n got: %v\nwant: %v", short(body), stopAt, len(got), len(want), got, want)
	} else {
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("body %s stop %d: call %d is %v, scanJSON's is %v", short(body), stopAt, i, got[i], want[i])
				break
			}
		}
	}
	switch {
	case (gotErr == nil) != (wantErr == nil):
		t.Errorf("body %s stop %d: walkJSON error %v, scanJSON error %v", short(body), stopAt, gotErr, wantErr)
	case errors.Is(wantErr, errWSStop) || errors.Is(gotErr, errWSStop):
		if gotErr != errWSStop || wantErr != errWSStop {
			t.Errorf("body %s stop %d: walkJSON error %v, scanJSON error %v", short(body), stopAt, gotErr, wantErr)
		}
	case wantErr != nil:
		if !errors.As(gotErr, &gotIE) || !errors.As(wantErr, &wantIE) {
			t.Errorf("body %s: errors %T %v and %T %v, want two *Error", short(body), gotErr, gotErr, wantErr, wantErr)
		} else if gotIE.Status != wantIE.Status || gotIE.Msg != wantIE.Msg || gotIE.Reason != wantIE.Reason {
			t.Errorf("body %s stop %d: walkJSON error %d %q, scanJSON error %d %q", short(body), stopAt, gotIE.Status, gotIE.Msg, wantIE.Status, wantIE.Msg)
		}
	}
	return want, wantErr
}

// strictRefusal reports whether body holds what walkJSON refuses and
// encoding/json reads: invalid UTF-8 or a surrogate escape.
func strictRefusal(body []byte) bool {
	return !utf8.Valid(body) || surrogateEscape.Match(body)
}

var surrogateEscape = regexp.MustCompile(`\\u[dD][89a-fA-F]`)

func isPrefix(a, b []wsCall) bool {
	if len(a) > len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// wsDataURIBody is an upload as clients send it: a little text and one
// image as a data URI, of about size bytes of base64. With escSlash, every
// "/" is written "\/", as PHP's json_encode does.
func wsDataURIBody(size int, escSlash bool) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	img := make([]byte, size*3/4)
	for i := range img {
		img[i] = byte(r.Uint32())
	}
	b64 := base64.StdEncoding.EncodeToString(img)
	uri := "data:image/jpeg;base64," + b64
	if escSlash {
		uri = strings.ReplaceAll(uri, "/", `\/`)
	}
	return []byte(`{"user": "alice", "image": "` + uri + `"}`)
}

const (
	wsMalformed = "ambiguous request: a body that is not one RFC 8259 JSON value in UTF-8"
	wsAfter     = "ambiguous request: data after the JSON value"
	wsDeep      = "ambiguous request: JSON nested deeper than 64 levels"
	wsDup       = "ambiguous request: two keys of one JSON object equal when case is ignored"
)

func wsNest(open, close string, n int, inner string) string {
	return strings.Repeat(open, n) + inner + strings.Repeat(close, n)
}

func wsManyKeys(n int, extra string) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"k%d":%d`, i, i)
	}
	if extra != "" {
		b.WriteString("," + extra)
	}
	b.WriteString("}")
	return b.String()
}

// wsCases are hand-picked bodies and scanJSON's verdict on each ("" for
// none); TestWalkJSON checks the verdict and compares walkJSON's calls and
// error with scanJSON's.
var wsCases = []struct {
	body string
	want string
}{
	// every kind, at the root and nested
	{`null`, ""}, {`true`, ""}, {`false`, ""}, {`0`, ""}, {`-0`, ""},
	{`123`, ""}, {`1.5e10`, ""}, {`-12.5E-3`, ""}, {`1E+2`, ""}, {`0.0e0`, ""},
	{`"abc"`, ""}, {`""`, ""}, {`{}`, ""}, {`[]`, ""},
	{" \t\r\n{} \n", ""}, {" 1 ", ""}, {"1\n", ""},
	{`{"a":1,"b":[true,false,null,{"c":"d"}],"e":{},"f":[],"g":-1.5e-7}`, ""},
	{`[[],[[]],{},[{"x":[1,[2]]}]]`, ""},
	{`[1,"2",3.0,null,true,false]`, ""},
	{`{ "a" : [ 1 , 2 ] , "b" : { } }`, ""},
	{`["a","b","c","d","e","f","g","h","i","j","k","l"]`, ""},
	// escapes in keys and values
	{`{"\u0061":1}`, ""},
	{`{"a\/b":"x\/y"}`, ""},
	{`{"k":"\ud83d\ude00"}`, ""},
	{`"\ud83d"`, wsMalformed},
	{`"\ude00x"`, wsMalformed},
	{`"\ud83dx\ude00"`, wsMalformed},
	{`"\ud83d\u0041"`, wsMalformed},
	{`"\u00e9\n\t\"\\\b\f\r\/"`, ""},
	{`"\u00E9\uABCD\uabcd"`, ""},
	{`{"\"":1,"\\":2}`, ""},
	{`{"~a/b~1":0}`, ""},
	{`{"a/b":{"c~d":[0,{"~":"/"}]}}`, ""},
	{`{"":1,"/":2,"~":3,"~0":4,"~1":5}`, ""},
	{`{"a\u002fb":{"c\u007ed":1}}`, ""},
	// invalid UTF-8 and lone surrogates are refused (encoding/json decodes
	// them to U+FFFD); valid non-ASCII is kept
	{"\"\xff\xfe\"", wsMalformed},
	{"{\"\xff\":1}", wsMalformed},
	{"\"é\"", ""},
	{"{\"é\":\"ü\"}", ""},
	{"\"\xed\xa0\x80\"", wsMalformed},
	{"\"\xe2\x82\"", wsMalformed},
	{"\"a\x7fb\"", ""},
	{"\"\xc3\"", wsMalformed},
	{"\"\\n\xff\"", wsMalformed},
	// duplicate keys, compared decoded and ignoring case (Unicode simple
	// folding, as encoding/json matches struct fields)
	{`{"a":1,"a":2}`, wsDup},
	{`{"a":1,"\u0061":2}`, wsDup},
	{`{"\u0061":1,"a":2}`, wsDup},
	{`{"a/":1,"a\/":2}`, wsDup},
	{"{\"\xff\":1,\"\xfe\":2}", wsMalformed},
	{"{\"\xff\":1,\"\\ufffd\":2}", wsMalformed},
	{"{\"\xef\xbf\xbd\":1,\"\xff\":2}", wsMalformed},
	{`{"\ud800":1,"\udc00":2}`, wsMalformed},
	{`{"\ud800":1,"\ufffd":2}`, wsMalformed},
	{`{"a":{"a":1},"b":{"a":2}}`, ""},
	{`{"a":1,"b":{"a":1},"a":3}`, wsDup},
	{`[{"a":1},{"a":1}]`, ""},
	{`{"a":1,"a":2,`, wsDup},
	{`{"a":1,"a"`, wsDup},
	{`{"a":1,"A":2}`, wsDup}, {"{\"s\":1,\"\u017f\":2}", wsDup}, {`{"k":1,"\u212a":2}`, wsDup},
	{`{"\ud83d\ude00":1,"\ud83d\ude01":2}`, ""}, {`{"selfie":1,"SELFIE":2}`, wsDup}, {wsManyKeys(40, `"K7":0`), wsDup},
	{`{"é":1,"\u00e9":2}`, wsDup},
	{wsManyKeys(40, ""), ""},
	{wsManyKeys(40, `"k0":0`), wsDup},
	{wsManyKeys(40, `"k39":0`), wsDup},
	{wsManyKeys(15, `"k3":0`), wsDup},
	{wsManyKeys(16, `"k15":0`), wsDup},
	{wsManyKeys(40, `"\u006b7":0`), wsDup},
	{wsManyKeys(40, `"k40":{"k0":1}`), ""},
	{`{"x":` + wsManyKeys(20, `"k0":0`) + `}`, wsDup},
	// bad numbers
	{`01`, wsAfter}, {`[01]`, wsMalformed}, {`{"a":01}`, wsMalformed},
	{`1.`, wsMalformed}, {`[1.]`, wsMalformed}, {`-`, wsMalformed}, {`[-]`, wsMalformed},
	{`1e`, wsMalformed}, {`1e+`, wsMalformed}, {`[1e]`, wsMalformed}, {`1E-`, wsMalformed},
	{`.5`, wsMalformed}, {`+1`, wsMalformed}, {`[+1]`, wsMalformed},
	{`0x1`, wsMalformed}, {`1.5.3`, wsMalformed}, {`--1`, wsMalformed}, {`-a`, wsMalformed},
	{`[1e5x]`, wsMalformed}, {`1ex`, wsMalformed}, {`1.x`, wsMalformed}, {`-01`, wsAfter},
	{`00`, wsAfter}, {`1-`, wsMalformed}, {`1-2`, wsAfter}, {`[1-2]`, wsMalformed},
	{`1e5e5`, wsMalformed}, {`-.5`, wsMalformed}, {`1.e5`, wsMalformed},
	// bad literals
	{`tru`, wsMalformed}, {`nul`, wsMalformed}, {`[tru]`, wsMalformed}, {`truex`, wsMalformed},
	{`true1`, wsAfter}, {`[truex]`, wsMalformed}, {`falsy`, wsMalformed}, {`nulll`, wsMalformed},
	{`True`, wsMalformed}, {`NaN`, wsMalformed}, {`[nullnull]`, wsMalformed}, {`truefalse`, wsAfter},
	{`{"a":t}`, wsMalformed}, {`f`, wsMalformed}, {`nullx`, wsMalformed}, {`null"a"`, wsAfter},
	// raw control characters in strings
	{"\"a\x01b\"", wsMalformed}, {"\"a\nb\"", wsMalformed}, {"{\"a\tb\":1}", wsMalformed},
	{"\"\x00\"", wsMalformed}, {"\"\x1f\"", wsMalformed},
	{"\"" + strings.Repeat("a", 100) + "\x1f" + strings.Repeat("b", 100) + "\"", wsMalformed},
	{"\"" + strings.Repeat("a", 40) + "\x1f\"", wsMalformed},
	{"\"" + strings.Repeat("a", 33) + "\\n" + strings.Repeat("a", 40) + "\x19" + "\"", wsMalformed},
	{"\"" + strings.Repeat("\xa0", 40) + "\"", wsMalformed}, {"\"" + strings.Repeat("\u00a0", 40) + "\"", ""},
	{"\"" + strings.Repeat(" ", 40) + "\"", ""},
	// bad escapes
	{`"\x"`, wsMalformed}, {`"\u12"`, wsMalformed}, {`"\u12g4"`, wsMalformed}, {`"\`, wsMalformed},
	{`"\u`, wsMalformed}, {`"\U0041"`, wsMalformed}, {`"\'"`, wsMalformed}, {`"\u123"`, wsMalformed},
	{`{"\x":1}`, wsMalformed}, {`"\a"`, wsMalformed}, {"\"\\\x01\"", wsMalformed}, {`"\"`, wsMalformed},
	{`"\\"`, ""}, {`"\\\""`, ""}, {`"\""`, ""},
	// unterminated
	{`"abc`, wsMalformed}, {`{"a":1`, wsMalformed}, {`[1,2`, wsMalformed}, {`{"a"`, wsMalformed},
	{`{"a":`, wsMalformed}, {`[`, wsMalformed}, {`{`, wsMalformed}, {`["a"`, wsMalformed},
	{`[1`, wsMalformed}, {`{"a":"b`, wsMalformed}, {`[[[]]`, wsMalformed},
	// missing colon or comma, stray punctuation
	{`{"a" 1}`, wsMalformed}, {`[1 2]`, wsMalformed}, {`{"a":1 "b":2}`, wsMalformed},
	{`{"a"::1}`, wsMalformed}, {`[1,,2]`, wsMalformed}, {`[,1]`, wsMalformed}, {`{,}`, wsMalformed},
	{`["a" "b"]`, wsMalformed}, {`["a":1]`, wsMalformed}, {`{"a",1}`, wsMalformed},
	{`]`, wsMalformed}, {`}`, wsMalformed}, {`:`, wsMalformed}, {`,`, wsMalformed},
	{`[}`, wsMalformed}, {`{]`, wsMalformed}, {`{1:2}`, wsMalformed}, {`{"a":1]`, wsMalformed},
	{`[1}`, wsMalformed}, {`{"a"}`, wsMalformed}, {`{"a":}`, wsMalformed}, {`{null:1}`, wsMalformed},
	{`{[]:1}`, wsMalformed}, {`{"a":1,{}}`, wsMalformed}, {`x`, wsMalformed}, {`'a'`, wsMalformed},
	// trailing comma
	{`[1,]`, wsMalformed}, {`{"a":1,}`, wsMalformed}, {`[[],]`, wsMalformed},
	// data after the value
	{`{} {}`, wsAfter}, {`{}{}`, wsAfter}, {`{} x`, wsMalformed}, {`{} 1`, wsAfter},
	{`1 2`, wsAfter}, {`"a""b"`, wsAfter}, {`{} "abc`, wsMalformed}, {`{} ]`, wsMalformed},
	{`{} ,`, wsMalformed}, {`[] tru`, wsMalformed}, {`[] true`, wsAfter}, {`0 -`, wsMalformed},
	{`{} [`, wsAfter}, {`{} }`, wsMalformed}, {`{} :`, wsMalformed}, {`"a" "\x"`, wsMalformed},
	{`1 1.`, wsMalformed}, {`1 1x`, wsAfter}, {`{}` + "\x00", wsMalformed}, {"[]\xef\xbb\xbf", wsMalformed},
	{`"a"x`, wsMalformed}, {`"a"1`, wsAfter}, {`{"a":1}{`, wsAfter}, {`[]"`, wsMalformed},
	// empty and blank bodies, odd whitespace
	{``, wsMalformed}, {`   `, wsMalformed}, {"\t\n\r ", wsMalformed},
	{"\xef\xbb\xbf{}", wsMalformed}, {"\f{}", wsMalformed}, {"{}\v", wsMalformed}, {"\x00", wsMalformed},
	{"[1,\u00a02]", wsMalformed},
	// depth: 64 levels accepted, 65 refused
	{wsNest("[", "]", 64, ""), ""},
	{wsNest("[", "]", 65, ""), wsDeep},
	{wsNest("[", "]", 64, "1"), ""},
	{wsNest(`{"a":`, "}", 64, "1"), ""},
	{wsNest(`{"a":`, "}", 63, "{}"), ""},
	{wsNest(`{"a":`, "}", 64, "{}"), wsDeep},
	{wsNest(`[{"a/~":`, "}]", 32, "1"), ""},
	{wsNest(`[{"a/~":`, "}]", 32, "[]"), wsDeep},
	{wsNest("[", "]", 100, ""), wsDeep},
	{wsNest("[", "", 65, ""), wsDeep},
	{wsNest("[", "", 64, ""), wsMalformed},
	{wsNest("[1,", "]", 64, "2"), ""},
}

func TestWalkJSON(t *testing.T) {
	for _, c := range wsCases {
		_, err := wsCompare(t, []byte(c.body), 0)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != c.want {
			t.Errorf("scanJSON(%q) = %q, the table says %q", c.body, got, c.want)
		}
	}
	for _, esc := range []bool{false, true} {
		body := wsDataURIBody(700_000, esc)
		calls, err := wsCompare(t, body, 0)
		if err != nil || len(calls) != 3 {
			t.Errorf("data URI body: %d calls, error %v", len(calls), err)
		}
	}
}

// TestWalkJSONStop checks that when fn fails at the k-th call, both stop
// there with fn's error.
func TestWalkJSONStop(t *testing.T) {
	for _, c := range wsCases {
		calls, _ := wsCompare(t, []byte(c.body), 0)
		for k := 1; k <= len(calls); k++ {
			wsCompare(t, []byte(c.body), k)
		}
	}
}

// TestWalkJSONPointers checks pointers against hand-written ones, so the
// pointer format does not rest on the oracle alone.
func TestWalkJSONPointers(t *testing.T) {
	body := `{"a":[1,{"b/c":"x","d~e":[true]}],"\u0066":null,"":{"":0}}`
	want := []string{"", "/a", "/a/0", "/a/1", "/a/1/b~1c", "/a/1/d~0e", "/a/1/d~0e/0", "/f", "/", "//"}
	var got []string
	if err := walkJSON([]byte(body), func(ptr []byte, v jsonValue) error {
		got = append(got, string(ptr))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("pointers %q, want %q", got, want)
	}
}

// TestWalkJSONPlain checks plain on strings holding every byte value, at
// every offset of a word, and str() against encoding/json.
func TestWalkJSONPlain(t *testing.T) {
	for c := 0x20; c < 0x100; c++ {
		for off := range 41 {
			s := append(bytes.Repeat([]byte{'a'}, off), byte(c))
			s = append(s, bytes.Repeat([]byte{'b'}, 40-off)...)
			if c == '"' {
				continue
			}
			if c == '\\' {
				s = append(s[:off+1], append([]byte{'n'}, s[off+1:]...)...)
			}
			body := append(append([]byte{'"'}, s...), '"')
			var got jsonValue
			n := 0
			err := walkJSON(body, func(ptr []byte, v jsonValue) error {
				got = v
				n++
				return nil
			})
			if c >= 0x80 { // a lone byte >= 0x80 is invalid UTF-8
				if err == nil {
					t.Errorf("%q accepted", body)
				}
				continue
			}
			if err != nil || n != 1 {
				t.Fatalf("%q: %d calls, error %v", body, n, err)
			}
			wantPlain := c < 0x80 && c != '\\'
			if got.plain != wantPlain || !bytes.Equal(got.raw, s) {
				t.Errorf("%q: raw %q plain %v, want plain %v", body, got.raw, got.plain, wantPlain)
			}
			var want string
			if err := json.Unmarshal(body, &want); err != nil {
				t.Fatal(err)
			}
			if got.str() != want {
				t.Errorf("%q: str() = %q, want %q", body, got.str(), want)
			}
			if got.plain && string(got.raw) != got.str() {
				t.Errorf("%q: plain but str() = %q", body, got.str())
			}
		}
	}
	// A control byte anywhere in a long stretch is refused.
	for c := range 0x20 {
		for off := range 70 {
			body := []byte("\"" + strings.Repeat("a", off) + string(rune(c)) + strings.Repeat("é", 69-off) + "\"")
			if err := walkJSON(body, func([]byte, jsonValue) error { return nil }); err == nil {
				t.Errorf("%q accepted", body)
			}
		}
	}
}

// TestWalkJSONSoup compares the two on bodies glued from JSON fragments,
// valid and not, which reach more of the grammar's corners per body than
// random bytes do.
func TestWalkJSONSoup(t *testing.T) {
	frags := []string{
		"{", "}", "[", "]", ":", ",", " ", "\t", "\n", `"a"`, `"b"`, `"\u0061"`, `"\/"`,
		`"~/"`, "\"\xff\"", `"\ud800"`, `"\ufffd"`, `"`, `\`, "0", "1", "-", ".", "e", "+",
		"12", "-0.5e+3", "true", "false", "null", "tru", "x", "\x01", "\x80", `"\u12`, `"a\"b"`,
	}
	r := rand.New(rand.NewPCG(3, 4))
	n := 100000
	if testing.Short() {
		n = 2000
	}
	for range n {
		var b strings.Builder
		for range 1 + r.IntN(24) {
			b.WriteString(frags[r.IntN(len(frags))])
		}
		body := []byte(b.String())
		calls, _ := wsCompare(t, body, 0)
		if len(calls) > 0 {
			wsCompare(t, body, 1+r.IntN(len(calls)))
		}
		if t.Failed() {
			t.Fatal("stopped at the first difference")
		}
	}
}

func FuzzWalkJSON(f *testing.F) {
	for i, c := range wsCases {
		f.Add([]byte(c.body), uint16(i))
	}
	f.Add(wsDataURIBody(12_000, false), uint16(2))
	f.Add(wsDataURIBody(12_000, true), uint16(3))
	f.Fuzz(func(t *testing.T, body []byte, k uint16) {
		calls, _ := wsCompare(t, body, 0)
		// The early-stop variant: fn fails at call 1+k%n.
		if n := len(calls); n > 0 {
			wsCompare(t, body, 1+int(k)%n)
		}
	})
}

var wsBenchSink int

func BenchmarkWalkJSON(b *testing.B) {
	body := wsDataURIBody(700_000, false)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		if err := walkJSON(body, func(ptr []byte, v jsonValue) error {
			n += len(ptr) + len(v.raw)
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		wsBenchSink += n
	}
}

func BenchmarkScanJSON(b *testing.B) {
	body := wsDataURIBody(700_000, false)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		if err := scanJSON(body, func(ptr string, tok json.Token) error {
			n += len(ptr)
			if s, ok := tok.(string); ok {
				n += len(s)
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		wsBenchSink += n
	}
}

// BenchmarkWalkJSONEscaped is the same image with every "/" written "\/".
func BenchmarkWalkJSONEscaped(b *testing.B) {
	body := wsDataURIBody(700_000, true)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := walkJSON(body, func(ptr []byte, v jsonValue) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}

// The oracle of the differential tests: scanJSON walks the document with
// encoding/json's Decoder.Token, as the handler did before walkJSON.

var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")

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
				return ambiguous("json-syntax", "a body that is not one RFC 8259 JSON value in UTF-8")
			}
			return nil
		}
		if err != nil {
			return ambiguous("json-syntax", "a body that is not one RFC 8259 JSON value in UTF-8")
		}
		if done {
			return ambiguous("json-trailing", "data after the JSON value")
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
				if _, dup := top.keys[fold(key)]; dup {
					return ambiguous("json-duplicate-key", "two keys of one JSON object equal when case is ignored")
				}
				top.keys[fold(key)] = struct{}{}
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
				return ambiguous("json-depth", "JSON nested deeper than %d levels", maxJSONDepth)
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

// FuzzWSUnescape: what wsString accepts, wsUnescape decodes as
// encoding/json does.
func FuzzWSUnescape(f *testing.F) {
	f.Add([]byte(`a\/b\\c\"d\u00e9\ud83d\ude00\n\t\b\f\r`))
	f.Add([]byte(`plain`))
	f.Fuzz(func(t *testing.T, s []byte) {
		body := append(append([]byte{'"'}, s...), '"')
		end, _, ok := wsString(body, 1)
		if !ok || end != len(body)-1 {
			return
		}
		var want string
		if err := json.Unmarshal(body, &want); err != nil {
			t.Fatalf("encoding/json refuses %q: %v", body, err)
		}
		if got := wsUnescape(nil, s); string(got) != want {
			t.Fatalf("%q: %q, encoding/json %q", s, got, want)
		}
	})
}
