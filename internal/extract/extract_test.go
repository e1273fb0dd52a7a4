package extract

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"net/url"
	"strings"
	"testing"
)

var (
	live, other = testJPEG(10), testJPEG(200)
	pngImg      = testPNG(90)
	mpCT        = "multipart/form-data; boundary=B"
	named       = []Source{{Type: "multipart", Fields: []string{"selfie"}}, {Type: "form", Fields: []string{"selfie"}}, {Type: "json", Fields: []string{"/selfie"}}}
)

// extractCase is one request and what the reader must make of it: the
// media in order, or a refusal with its status and rule.
type extractCase struct {
	name    string
	sources []Source
	h       []string // header name, value pairs
	query   string
	body    string
	want    [][]byte
	status  int
	rule    string // the refusal's rule, "" for any
}

func (c extractCase) check(t *testing.T) {
	t.Helper()
	got, err := run(c.sources, header(c.h...), c.query, []byte(c.body))
	if c.status != 0 {
		if err == nil {
			t.Fatalf("accepted (%d media), want %d %s", len(got), c.status, c.rule)
		}
		if err.Status != c.status || c.rule != "" && err.Rule != c.rule {
			t.Fatalf("refused %d %s (%s), want %d %s", err.Status, err.Rule, err.Msg, c.status, c.rule)
		}
		return
	}
	if err != nil {
		t.Fatalf("refused %d %s: %s", err.Status, err.Rule, err.Msg)
	}
	if len(got) != len(c.want) {
		t.Fatalf("%d media, want %d", len(got), len(c.want))
	}
	for i := range got {
		if !bytes.Equal(got[i].Data, c.want[i]) {
			t.Errorf("medium %d differs", i)
		}
	}
}

func runCases(t *testing.T, cases []extractCase) {
	for _, c := range cases {
		t.Run(c.name, c.check)
	}
}

// TestExtract covers what is read where, in both modes.
func TestExtract(t *testing.T) {
	goCT, goBody := goMultipart(t, "selfie", live, "id", other)
	jsonBody := `{"user":{"selfie":"` + dataURI("image/jpeg", live) + `"},"list":["plain","` + dataURI("image/png", pngImg) + `"],"raw":"` + b64(other) + `"}`
	form := url.Values{"photo": {b64(live)}, "other": {dataURI("image/png", pngImg)}, "note": {"hello"}}.Encode()
	src := func(typ string, f ...string) []Source { return []Source{{Type: typ, Fields: f}} }
	runCases(t, []extractCase{
		{name: "auto multipart: every file part", h: []string{"Content-Type", goCT}, body: string(goBody), want: [][]byte{live, other}},
		{name: "auto JSON: every image string, data URI or bare base64", h: []string{"Content-Type", "application/json"}, body: jsonBody, want: [][]byte{live, pngImg, other}},
		{name: "auto form: every image value", h: []string{"Content-Type", "application/x-www-form-urlencoded"}, body: form, want: [][]byte{pngImg, live}},
		{name: "auto raw body", h: []string{"Content-Type", "application/octet-stream"}, body: string(live), want: [][]byte{live}},
		{name: "auto raw body without a Content-Type", body: string(pngImg), want: [][]byte{pngImg}},
		{name: "auto raw base64 body", h: []string{"Content-Type", "text/plain"}, body: b64(live), want: [][]byte{live}},
		{name: "auto nothing", h: []string{"Content-Type", "text/plain"}, body: "hello"},
		{name: "auto text part holding base64", h: []string{"Content-Type", mpCT}, body: string(mp(textPart("photo", b64(live)))), want: [][]byte{live}},
		{name: "auto text part holding raw JPEG bytes", h: []string{"Content-Type", mpCT}, body: string(mp(textPart("photo", string(live)))), want: [][]byte{live}},
		{name: "auto empty file input", h: []string{"Content-Type", mpCT}, body: string(mp("Content-Disposition: form-data; name=\"doc\"; filename=\"\"\r\nContent-Type: application/octet-stream\r\n\r\n", filePart("selfie", live))), want: [][]byte{live}},
		{name: "auto data URI declaring octet-stream", h: []string{"Content-Type", "application/json"}, body: `{"a":"` + dataURI("application/octet-stream", live) + `"}`, want: [][]byte{live}},
		{name: "auto JWT-like strings are not images", h: []string{"Content-Type", "application/json"}, body: `{"t":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl","n":"BMW 320i"}`},
		{name: "named multipart field", sources: src("multipart", "id"), h: []string{"Content-Type", goCT}, body: string(goBody), want: [][]byte{other}},
		{name: "named field as a text part", sources: named, h: []string{"Content-Type", mpCT}, body: string(mp(textPart("selfie", dataURI("image/jpeg", live)))), want: [][]byte{live}},
		{name: "named: other file parts are not judged", sources: named, h: []string{"Content-Type", goCT}, body: string(goBody), want: [][]byte{live}},
		{name: "named JSON pointers, request order", sources: src("json", "/raw", "/user/selfie", "/absent"), h: []string{"Content-Type", "application/json"}, body: jsonBody, want: [][]byte{live, other}},
		{name: "json pointer to null is absent", sources: src("json", "/n"), h: []string{"Content-Type", "application/json"}, body: `{"n":null}`},
		{name: "json pointer into an array", sources: src("json", "/faces/1/img"), h: []string{"Content-Type", "application/json"}, body: `{"faces":[{"img":"x"},{"img":"` + dataURI("image/png", pngImg) + `"}]}`, want: [][]byte{pngImg}},
		{name: "json pointer escapes", sources: src("json", "/a~1b/c~0d"), h: []string{"Content-Type", "application/json"}, body: `{"a/b":{"c~d":"` + dataURI("image/jpeg", live) + `"}}`, want: [][]byte{live}},
		{name: "json root string", sources: src("json", ""), h: []string{"Content-Type", "application/json"}, body: `"` + dataURI("image/png", pngImg) + `"`, want: [][]byte{pngImg}},
		{name: "json pointer to an object", sources: src("json", "/user"), h: []string{"Content-Type", "application/json"}, body: jsonBody, status: 415},
		{name: "json pointer to plain text", sources: src("json", "/list/0"), h: []string{"Content-Type", "application/json"}, body: jsonBody, status: 415},
		{name: "named form field", sources: src("form", "photo"), h: []string{"Content-Type", "application/x-www-form-urlencoded"}, body: form, want: [][]byte{live}},
		{name: "source body", sources: []Source{{Type: "body"}}, h: []string{"Content-Type", "image/jpeg"}, body: string(live), want: [][]byte{live}},
		{name: "source body claims png, holds text", sources: []Source{{Type: "body"}}, h: []string{"Content-Type", "image/png"}, body: "not a png", status: 415},
		{name: "unpadded base64", sources: src("json", "/x"), h: []string{"Content-Type", "application/json"}, body: `{"x":"` + base64.RawStdEncoding.EncodeToString(live) + `"}`, want: [][]byte{live}},
		{name: "URL-safe base64", sources: src("json", "/x"), h: []string{"Content-Type", "application/json"}, body: `{"x":"` + base64.RawURLEncoding.EncodeToString(live) + `"}`, status: 400, rule: "base64-alphabet"},
		{name: "named value not base64", sources: src("json", "/x"), h: []string{"Content-Type", "application/json"}, body: `{"x":"@@@ not base64"}`, status: 415},
		{name: "data URI not base64", h: []string{"Content-Type", "application/json"}, body: `{"x":"data:image/png,abc"}`, status: 415},
		{name: "data URI claims png, holds text", h: []string{"Content-Type", "application/json"}, body: `{"x":"` + dataURI("image/png", []byte("plain text here")) + `"}`, status: 415},
		{name: "zero-length data URI image", h: []string{"Content-Type", "application/json"}, body: `{"x":"data:image/png;base64,"}`, status: 415},
		{name: "PNG header declaring 100000x100000", h: []string{"Content-Type", "image/png"}, body: string(hugePNG(100000, 100000)), status: 413},
		{name: "truncated JPEG header", h: []string{"Content-Type", "image/jpeg"}, body: string(live[:40]), status: 415},
		{name: "JSON nested 64 deep is fine", h: []string{"Content-Type", "application/json"}, body: strings.Repeat("[", 64) + strings.Repeat("]", 64)},
		{name: "JSON nested 65 deep", h: []string{"Content-Type", "application/json"}, body: strings.Repeat("[", 65) + strings.Repeat("]", 65), status: 400, rule: "json-depth"},
		{name: "equal keys in different objects", h: []string{"Content-Type", "application/json"}, body: `{"a":{"img":"` + dataURI("image/jpeg", live) + `"},"b":{"img":"` + dataURI("image/jpeg", other) + `"}}`, want: [][]byte{live, other}},
	})
}

// TestRefusals: one or more cases for each family of requests that two
// parsers can read differently, and each rule of the grammar.
func TestRefusals(t *testing.T) {
	file := filePart("selfie", live)
	hidden := filePart("selfie", other)
	ct := []string{"Content-Type", mpCT}
	jsonCT := []string{"Content-Type", "application/json"}
	formCT := []string{"Content-Type", "application/x-www-form-urlencoded"}
	cd := func(disposition string, data []byte) string {
		return "Content-Disposition: " + disposition + "\r\nContent-Type: image/jpeg\r\n\r\n" + string(data)
	}
	var cases []extractCase
	add := func(rule string, status int, sources []Source, h []string, query, body string, names ...string) {
		for _, n := range names {
			cases = append(cases, extractCase{name: n, sources: sources, h: h, query: query, body: body, status: status, rule: rule})
		}
	}
	for _, s := range [][]Source{nil, named} {
		mode := " (auto)"
		if s != nil {
			mode = " (named)"
		}
		// 1. Content-Disposition that other parsers still read.
		for _, d := range []string{
			`form-data; name="selfie"; name="other"; filename="a.jpg"`,
			`form-data; name="selfie"; filename`,
			`form-data; name="selfie; filename="a.jpg"`,
			`name="selfie"; filename="a.jpg"`,
			`form-data; name="selfie"; filename="a.jpg";`,
			`form-data; name = "selfie"; filename="a.jpg"`,
			`form-data; name="sel\"fie"; filename="a.jpg"`,
			`attachment; name="selfie"; filename="a.jpg"`,
			`form-data; name*=UTF-8''selfie; filename="a.jpg"`,
			`form-data; name="x"; name*=UTF-8''selfie; filename="a.jpg"`,
			`form-data; name="selfie"; filename="a.jpg"; size=10`,
			`form-data; filename="a.jpg"`,
		} {
			add("part-disposition", 400, s, ct, "", string(mp(file, cd(d, other))), "disposition "+d+mode)
		}
		// 2. Boundary parameters.
		for _, h := range []string{
			"multipart/form-data; boundary=B; boundary*=C",
			"multipart/form-data; boundary*=B",
			"multipart/form-data; xboundary=C; boundary=B",
			`multipart/form-data; charset="boundary=C"; boundary=B`,
			`multipart/form-data; boundary="B\"C"`,
			`multipart/form-data; boundary=B; BOUNDARY=C`,
			"multipart/form-data; boundary=B C",
			"multipart/form-data; boundary=" + strings.Repeat("x", 71),
			"multipart/form-data",
			"multipart/form-data; boundary=B, boundary=C",
		} {
			add("", 400, s, []string{"Content-Type", h}, "", string(mp(file)), "boundary "+h+mode)
		}
		// 3. Two Content-Type headers, and other framing headers.
		add("content-type-twice", 400, s, []string{"Content-Type", mpCT, "Content-Type", "multipart/form-data; boundary=C"}, "", string(mp(file)), "two Content-Types"+mode)
		add("content-length-twice", 400, s, []string{"Content-Type", mpCT, "Content-Length", "10", "Content-Length", "10"}, "", string(mp(file)), "two Content-Lengths"+mode)
		add("content-encoding", 400, s, []string{"Content-Type", mpCT, "Content-Encoding", "gzip"}, "", string(mp(file)), "gzip"+mode)
		add("header-spelling", 400, s, []string{"Content-Type", mpCT, "Content_type", "text/plain"}, "", string(mp(file)), "Content_Type"+mode)
		// 4. Delimiters that only some parsers see.
		for name, text := range map[string]string{
			"bare LF":          "x\n--B\r\n" + hidden,
			"bare CR":          "x\r--B\r\n" + hidden,
			"no line break":    "x--B\r\n" + hidden,
			"followed by junk": "x\r\n--Bjunk\r\n" + hidden,
			"transport pad":    "x\r\n--B \r\n" + hidden,
			"LF after":         "x\r\n--B\n" + hidden,
		} {
			add("", 400, s, ct, "", string(mp(file, textPart("note", text))), "delimiter "+name+mode)
		}
		add("multipart-preamble", 400, s, ct, "", `{"selfie":"`+dataURI("image/jpeg", other)+`"}`+"\r\n"+string(mp(file)), "JSON preamble"+mode)
		add("multipart-epilogue", 400, s, ct, "", string(mp(file))+"--B\r\n"+hidden+"\r\n--B--\r\n", "parts after the close delimiter"+mode)
		add("part-header-line", 400, s, ct, "", string(mp("Content-Disposition: form-data; name=\"note\"\nContent-Type: text/plain\r\n\r\nx", file)), "bare LF in a part header"+mode)
		add("", 400, s, ct, "", string(mp("Content-Disposition: form-data;\r\n name=\"selfie\"; filename=\"a.jpg\"\r\n\r\n"+string(other), file)), "folded part header"+mode)
		add("part-header-end", 400, s, ct, "", string(mp(file, "Content-Disposition: form-data; name=\"selfie\"; filename=\"a.jpg\"\n\n"+string(other))), "LF-only part header"+mode)
		// 5. Names frameworks normalise.
		add("part-header-twice", 400, s, ct, "", string(mp("Content-Disposition: form-data; name=\"x\"\r\nContent-Disposition: form-data; name=\"selfie\"; filename=\"a.jpg\"\r\n\r\n"+string(other), file)), "two Content-Dispositions"+mode)
		add("field-name", 400, s, ct, "", string(mp(file, filePart(" selfie ", other))), "spaces around the name"+mode)
		add("field-name", 400, s, formCT, "", "selfie="+url.QueryEscape(b64(live))+"&selfie%00x="+url.QueryEscape(b64(other)), "NUL in a form name"+mode)
		add("field-name", 400, s, formCT, "", "selfie="+url.QueryEscape(b64(live))+"&+selfie="+url.QueryEscape(b64(other)), "leading + in a form name"+mode)
		add("", 400, s, ct, "", string(mp(textPart("Selfie", "x"), textPart("selfie", "y"))), "Selfie beside selfie"+mode)
		add("field-name-alike", 400, s, ct, "", string(mp(textPart("sel.fie", "x"), textPart("sel_fie", "y"))), "PHP's dot mangling"+mode)
		add("part-disposition", 400, s, ct, "", string(mp(file, "Content-Disposition: form-data; name='selfie'; filename='a.jpg'\r\n\r\n"+string(other))), "single-quoted name"+mode)
		add("content-type", 400, s, []string{"Content-Type", "multipart/form-data; boundary='B'"}, "", string(mp(file)), "single-quoted boundary"+mode)
		for _, n := range []string{"selfie[", "selfie]", "[selfie]", "a]b[c", "a[b[c]]", "\ufeffselfie", "sel\u200bfie", "selfie\u00a0"} {
			add("field-name", 400, s, formCT, "", url.QueryEscape(n)+"=1&x=1", "form name "+n+mode)
		}
		add("", 400, s, jsonCT, "", `{"selfie":"`+dataURI("image/jpeg", live)+`","Selfie":"x"}`, "JSON Selfie after selfie"+mode)
		add("", 400, s, jsonCT, "", `{"selfie":"`+dataURI("image/jpeg", live)+`","ſelfie":"x"}`, "JSON ſelfie"+mode)
		add("", 400, s, jsonCT, "", `{"selfie":"`+dataURI("image/jpeg", live)+`","SELFIE":"x"}`, "JSON SELFIE"+mode)
		// 7. Transfer encodings.
		for _, cte := range []string{"base64", "quoted-printable", "x-uuencode"} {
			add("part-transfer-encoding", 400, s, ct, "", string(mp(file, "Content-Disposition: form-data; name=\"note\"\r\nContent-Transfer-Encoding: "+cte+"\r\n\r\n"+b64(other))), "Content-Transfer-Encoding "+cte+mode)
		}
		add("part-header-unknown", 400, s, ct, "", string(mp(file, "Content-Disposition: form-data; name=\"note\"\r\nContent-Encoding: gzip\r\n\r\nx")), "part Content-Encoding"+mode)
		add("part-content-length", 400, s, ct, "", string(mp("Content-Disposition: form-data; name=\"selfie\"; filename=\"a.jpg\"\r\nContent-Length: 3\r\n\r\n"+string(live))), "part Content-Length that lies"+mode)
		add("part-content-type", 400, s, ct, "", string(mp(file, "Content-Disposition: form-data; name=\"note\"\r\nContent-Type: text/plain; charset=utf-16\r\n\r\nx")), "UTF-16 text part"+mode)
		// 10. One base64 string, two images.
		mixed := b64(live)
		mixed = mixed[:40] + "-" + mixed[40:]
		add("base64-alphabet", 400, s, jsonCT, "", `{"selfie":"data:image/jpeg;base64,`+mixed+`"}`, "base64 mixing alphabets"+mode)
		wrapped := b64(live)
		wrapped = wrapped[:76] + "\\r\\n" + wrapped[76:]
		add("base64-line-breaks", 400, s, jsonCT, "", `{"selfie":"`+wrapped+`"}`, "MIME-wrapped base64"+mode)
		add("base64-strict", 400, s, jsonCT, "", `{"selfie":"`+strings.TrimRight(b64(live), "=")+`="}`, "wrong padding"+mode)
		add("base64-strict", 400, s, jsonCT, "", `{"selfie":"`+b64(live)+` "}`, "a space in base64"+mode)
		add("encoded-after-comma", 400, s, jsonCT, "", `{"selfie":"data:text/plain,hello,`+b64(other)+`"}`, "base64 after the last comma"+mode)
		// 11. The query string.
		add("query-image", 400, s, ct, "photo="+url.QueryEscape(b64(other)), string(mp(file)), "image in the query"+mode)
		add("query-image", 400, s, ct, "p="+url.QueryEscape(dataURI("image/png", pngImg)), string(mp(file)), "data URI in the query"+mode)
		// 12 and other bodies that lenient readers take as JSON.
		add("", 400, s, []string{"Content-Type", "text/plain"}, "", `{"selfie":"`+dataURI("image/jpeg", other)+`"} trailing`, "JSON with trailing bytes as text/plain"+mode)
		add("json-syntax", 400, s, []string{"Content-Type", "application/json"}, "", "\xef\xbb\xbf{}", "BOM"+mode)
		add("json-syntax", 400, s, jsonCT, "", "{\"a\":\"\xff\",\"selfie\":\""+dataURI("image/jpeg", live)+"\"}", "invalid UTF-8 in JSON"+mode)
		add("json-syntax", 400, s, jsonCT, "", `{"\ud800selfie":"`+dataURI("image/jpeg", other)+`"}`, "lone surrogate"+mode)
		add("content-type-params", 400, s, []string{"Content-Type", "application/json; charset=utf-16"}, "", `{}`, "UTF-16 JSON"+mode)
		for _, h := range []string{"multipart/form-datax; boundary=B", "multipart/mixed; boundary=B", "text/plain; x=multipart/form-data", "application/jsonx", "application/x-www-form-urlencodedx"} {
			add("content-type", 400, s, []string{"Content-Type", h}, "", string(mp(file)), "Content-Type "+h+mode)
		}
		add("content-type", 400, s, []string{"Content-Type", "multipart/form-data; boundary=B junk"}, "", string(mp(file)), "bytes after the Content-Type"+mode)
		add("form-semicolon", 400, s, formCT, "", "a=1;selfie="+url.QueryEscape(b64(other)), "semicolon in a form"+mode)
		add("form-escape", 400, s, formCT, "", "a=%zz&selfie="+url.QueryEscape(b64(live)), "bad percent escape"+mode)
		add("form-escape", 400, s, formCT, "", "a=%ff", "invalid UTF-8 in a form value"+mode)
	}
	// Named mode: names that frameworks may read as the source.
	for _, n := range []string{"Selfie", "SELFIE", "ſelfie", "selfie[]", "selfie[0]"} {
		add("field-name-source", 400, named, ct, "", string(mp(filePart(n, other))), "part named "+n)
	}
	add("field-name-source", 400, named, formCT, "", "%C5%BFelfie="+url.QueryEscape(b64(other)), "form name with U+017F")
	add("query-source", 400, named, ct, "selfie=x", string(mp(file)), "source name in the query")
	add("query-source", 400, named, jsonCT, "selfie=x", `{"selfie":"`+dataURI("image/jpeg", live)+`"}`, "JSON source name in the query")
	add("field-name-source", 400, named, ct, "Selfie=x", string(mp(file)), "folded source name in the query")
	add("json-pointer-alike", 400, []Source{{Type: "json", Fields: []string{"/user/selfie"}}}, jsonCT, "", `{"User":{"selfie":"`+dataURI("image/jpeg", other)+`"}}`, "JSON pointer with another case")
	// 6 and 8. Auto mode: every file and every image is judged or refused.
	add("", 415, nil, ct, "", string(mp(file, filePart("doc", tiff))), "TIFF file")
	add("", 415, nil, ct, "", string(mp(file, "Content-Disposition: form-data; name=\"doc\"; filename*=ISO-8859-1''a.txt\r\n\r\nnot an image")), "filename* makes a file")
	add("", 415, nil, ct, "", string(mp(file, "Content-Disposition: form-data; name=\"doc\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4")), "a file part without a filename")
	add("", 415, nil, ct, "", string(mp(file, "Content-Disposition: form-data; name=\"doc\"; filename=\"\"\r\n\r\nnot empty")), "filename=\"\" with content")
	add("", 415, nil, jsonCT, "", `{"selfie":"`+dataURI("image/jpeg", live)+`","doc":"`+b64(tiff)+`"}`, "raw base64 TIFF beside a decoy")
	add("", 415, named, ct, "", string(mp(filePart("selfie", tiff))), "named TIFF")
	runCases(t, cases)
}

// TestOrdinaryUploads: the shapes real clients send all pass, in both
// modes, with the image found.
func TestOrdinaryUploads(t *testing.T) {
	goCT, goBody := goMultipart(t, "selfie", live)
	b := func(boundary string, parts ...string) string {
		var s strings.Builder
		for _, p := range parts {
			s.WriteString("--" + boundary + "\r\n" + p + "\r\n")
		}
		s.WriteString("--" + boundary + "--\r\n")
		return s.String()
	}
	chromium := "----WebKitFormBoundary7MA4YWxkTrZu0gW"
	cases := []struct {
		name, ct, body string
	}{
		{"Go mime/multipart", goCT, string(goBody)},
		{"curl -F", "multipart/form-data; boundary=------------------------d74496d66958873e",
			b("------------------------d74496d66958873e", textPart("user", "alice"), "Content-Disposition: form-data; name=\"selfie\"; filename=\"live.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"+string(live))},
		{"Chromium FormData", "multipart/form-data; boundary=" + chromium,
			b(chromium, textPart("user", "alice"), "Content-Disposition: form-data; name=\"selfie\"; filename=\"selfie.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"+string(live))},
		{"Chromium FormData with an empty file input", "multipart/form-data; boundary=" + chromium,
			b(chromium, "Content-Disposition: form-data; name=\"doc\"; filename=\"\"\r\nContent-Type: application/octet-stream\r\n\r\n", "Content-Disposition: form-data; name=\"selfie\"; filename=\"selfie.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"+string(live))},
		{"Python requests", "multipart/form-data; boundary=8f1e6e2a5ac0b0d3a6a1c5f7e1a0d9c4",
			b("8f1e6e2a5ac0b0d3a6a1c5f7e1a0d9c4", textPart("user", "alice"), "Content-Disposition: form-data; name=\"selfie\"; filename=\"live.jpg\"\r\n\r\n"+string(live))},
		{"OkHttp with part Content-Length", "multipart/form-data; boundary=3f1b7c4e-2f0a-4a8e-9d4b-6e3c2a1b0f9d",
			b("3f1b7c4e-2f0a-4a8e-9d4b-6e3c2a1b0f9d", "Content-Disposition: form-data; name=\"user\"\r\nContent-Length: 5\r\n\r\nalice",
				"Content-Disposition: form-data; name=\"selfie\"; filename=\"selfie.jpg\"\r\nContent-Type: image/jpeg\r\nContent-Length: "+itoa(len(live))+"\r\n\r\n"+string(live))},
		{".NET HttpClient", `multipart/form-data; boundary="9c1d3f0e-8a7b-4c2d-b1e0-f3a4c5d6e7f8"`,
			b("9c1d3f0e-8a7b-4c2d-b1e0-f3a4c5d6e7f8", "Content-Type: image/jpeg\r\nContent-Disposition: form-data; name=selfie; filename=selfie.jpg; filename*=utf-8''selfie.jpg\r\n\r\n"+string(live))},
		{".NET quoted boundary", `multipart/form-data; boundary="a5b6c7d8-0000-1111-2222-333344445555"`,
			b("a5b6c7d8-0000-1111-2222-333344445555", "Content-Type: text/plain; charset=utf-8\r\nContent-Disposition: form-data; name=user\r\n\r\nalice",
				"Content-Type: image/jpeg\r\nContent-Disposition: form-data; name=selfie; filename=selfie.jpg\r\n\r\n"+string(live))},
		{"URLSession hand-built", "multipart/form-data; boundary=Boundary-7C4A1E2B-5D3F-4E6A-8B9C-0D1E2F3A4B5C",
			b("Boundary-7C4A1E2B-5D3F-4E6A-8B9C-0D1E2F3A4B5C", "Content-Disposition: form-data; name=\"selfie\"; filename=\"photo.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"+string(live))},
		{"Dart http (boundary word in the boundary)", "multipart/form-data; boundary=dart-http-boundary-abcdefghijklmnopqrstuvwxyz0123456789abcdefghij",
			b("dart-http-boundary-abcdefghijklmnopqrstuvwxyz0123456789abcdefghij", "content-type: image/jpeg\r\ncontent-disposition: form-data; name=\"selfie\"; filename=\"a.jpg\"\r\n\r\n"+string(live))},
		{"JSON data URI", "application/json", `{"user":"alice","selfie":"` + dataURI("image/jpeg", live) + `"}`},
		{"JSON raw base64, charset", "application/json; charset=utf-8", `{"selfie": "` + b64(live) + `"}`},
		{"JSON escaped slashes (PHP json_encode)", "application/json", `{"selfie":"` + strings.ReplaceAll(dataURI("image/jpeg", live), "/", `\/`) + `"}`},
		{"urlencoded base64", "application/x-www-form-urlencoded", "user=alice&selfie=" + url.QueryEscape(b64(live))},
		{"urlencoded with bracket names", "application/x-www-form-urlencoded", "user%5Bname%5D=a&user%5Bid%5D=7&tags%5B%5D=x&tags%5B%5D=y&selfie=" + url.QueryEscape(b64(live))},
		{"urlencoded data URI", "application/x-www-form-urlencoded; charset=UTF-8", "selfie=" + url.QueryEscape(dataURI("image/jpeg", live)) + "&user=a+b"},
	}
	for _, c := range cases {
		for _, s := range [][]Source{nil, named} {
			t.Run(c.name, func(t *testing.T) {
				got, err := run(s, header("Content-Type", c.ct), "utm_source=mail&id=7", []byte(c.body))
				if err != nil {
					t.Fatalf("sources %v: refused %d %s: %s", s, err.Status, err.Rule, err.Msg)
				}
				if len(got) != 1 || !bytes.Equal(got[0].Data, live) {
					t.Fatalf("sources %v: %d media", s, len(got))
				}
			})
		}
	}
}

func itoa(n int) string {
	return strings.TrimSpace(strings.Repeat(" ", 0) + string(binary.AppendUvarint(nil, 0)[:0]) + fmtInt(n))
}

func fmtInt(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// BenchmarkExtract is the reader alone on 512 KB uploads, hashing
// included, beside SHA-256 of the same bytes (the floor): multipart,
// JSON with a data URI (base64 decoding included) and urlencoded.
func BenchmarkExtract(b *testing.B) {
	img := bytes.Repeat(live, (512<<10)/len(live)+1)[:512<<10]
	img = append(append([]byte{}, live[:len(live)-2]...), img...) // a JPEG header, then filler
	ct, mpBody := goMultipart(b, "selfie", img)
	jsonBody := []byte(`{"user":"alice","selfie":"` + dataURI("image/jpeg", img) + `"}`)
	formBody := []byte("user=alice&selfie=" + url.QueryEscape(b64(img)))
	x := Extractor{MaxPixels: testMaxPixels}
	buf := make([]byte, len(img))
	alloc := func(n int) []byte { return buf[:n] }
	for _, c := range []struct {
		name, ct string
		body     []byte
	}{{"multipart", ct, mpBody}, {"json", "application/json", jsonBody}, {"form", "application/x-www-form-urlencoded", formBody}} {
		b.Run(c.name, func(b *testing.B) {
			r := Request{Header: header("Content-Type", c.ct), Body: c.body}
			b.SetBytes(int64(len(img)))
			b.ReportAllocs()
			for range b.N {
				m, err := x.Extract(r, alloc)
				if err != nil || len(m) != 1 {
					b.Fatal(err, len(m))
				}
			}
		})
	}
	b.Run("sha256", func(b *testing.B) {
		b.SetBytes(int64(len(img)))
		for range b.N {
			sha256.Sum256(img)
		}
	})
}
