package differential

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"fmt"
	"maps"
	"mime/multipart"
	"mime/quotedprintable"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
)

// Families of the corpus: twelve ways two parsers were found to read one
// upload differently (f01 to f12), then the suite's own.
const (
	FamOrdinary    = "ordinary"
	FamDisposition = "f01-disposition"
	FamBoundary    = "f02-boundary"
	FamContentType = "f03-two-content-types"
	FamDelimiter   = "f04-delimiter"
	FamFieldName   = "f05-field-name"
	FamFileness    = "f06-fileness"
	FamCTE         = "f07-transfer-encoding"
	FamUndecodable = "f08-auto-undecodable"
	FamJSONCase    = "f09-json-case"
	FamBase64      = "f10-base64"
	FamQuery       = "f11-query"
	FamPreamble    = "f12-json-preamble"
	FamHTTP        = "x-http-framing"
	FamMediaType   = "x-media-type"
	FamJSON        = "x-json"
	FamForm        = "x-urlencoded"
	FamPartHeader  = "x-part-headers"
	FamFuzz        = "fuzz"
)

// Modes of the routes: no source line, or the named sources.
const (
	ModeAuto  = "auto"
	ModeNamed = "named"
)

// Case is one request of the corpus. The request line, Host, the framing
// (Content-Length unless Framing says otherwise) and Connection: close are
// added when it is sent.
type Case struct {
	Name   string
	Family string
	// Query is appended to the request path, with its "?".
	Query string
	// Header holds the request header lines in order, without CRLF.
	Header []string
	// Framing, when not nil, replaces the Content-Length line.
	Framing []string
	Body    []byte
	// Images names, by SHA-256, the bytes the case embeds: "decoy" where
	// the gate should look, "hidden" where some framework might.
	Images map[string]string
	// Note says how a fuzzed case was made.
	Note string
	// Want, for ordinary uploads, is the label of the image every upstream
	// must be given (and the gate must judge).
	Want string
	// Modes limits the modes; nil is both.
	Modes []string
}

// Ordinary reports whether c must be forwarded and seen.
func (c *Case) Ordinary() bool { return c.Family == FamOrdinary }

// benign are the text values the corpus sends beside the images: a
// framework that hands one to the application as a file (formidable does
// for a text part with a Content-Type) gives it no image.
var benign = map[string]bool{}

func init() {
	for _, s := range []string{"alice", "x", "note", "a", "1"} {
		benign[Sum([]byte(s))] = true
	}
}

// Benign reports whether sum is one of the corpus's text values, which
// need no judgement.
func Benign(sum string) bool { return benign[sum] }

// Label names an image by its SHA-256.
func (c *Case) Label(sum string) string {
	if l, ok := c.Images[sum]; ok {
		return l
	}
	if benign[sum] {
		return "benign-text"
	}
	return "unlabelled:" + sum[:12]
}

// Request is the raw request sent for c on path (which begins with /).
func (c *Case) Request(path, host string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "POST %s%s HTTP/1.1\r\nHost: %s\r\n", path, c.Query, host)
	for _, h := range c.Header {
		b.WriteString(h + "\r\n")
	}
	if c.Framing != nil {
		for _, h := range c.Framing {
			b.WriteString(h + "\r\n")
		}
	} else {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(c.Body))
	}
	b.WriteString("Connection: close\r\n\r\n")
	b.Write(c.Body)
	return b.Bytes()
}

// part is one multipart part: header lines and content.
type part struct {
	hdr  []string
	data []byte
}

func filePart(name, filename, ctype string, data []byte) part {
	h := []string{fmt.Sprintf(`Content-Disposition: form-data; name="%s"; filename="%s"`, name, filename)}
	if ctype != "" {
		h = append(h, "Content-Type: "+ctype)
	}
	return part{h, data}
}

func textPart(name, value string) part {
	return part{[]string{fmt.Sprintf(`Content-Disposition: form-data; name="%s"`, name)}, []byte(value)}
}

// cdPart is a part with the given Content-Disposition value (and more
// header lines).
func cdPart(cd string, data []byte, more ...string) part {
	return part{append([]string{"Content-Disposition: " + cd}, more...), data}
}

// multipartBody frames parts as RFC 7578 says, CRLF everywhere.
func multipartBody(boundary string, parts ...part) []byte {
	var b bytes.Buffer
	for _, p := range parts {
		b.WriteString("--" + boundary + "\r\n")
		for _, h := range p.hdr {
			b.WriteString(h + "\r\n")
		}
		b.WriteString("\r\n")
		b.Write(p.data)
		b.WriteString("\r\n")
	}
	b.WriteString("--" + boundary + "--\r\n")
	return b.Bytes()
}

func cat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

func b64(b []byte) string    { return base64.StdEncoding.EncodeToString(b) }
func b64url(b []byte) string { return base64.URLEncoding.EncodeToString(b) }
func dataURI(mt string, b []byte) string {
	return "data:" + mt + ";base64," + b64(b)
}

func jsonStr(s string) string { return strconv.Quote(s) }

const (
	bGate  = "gateBoundary7MA4YWxk"
	bOther = "otherBoundaryZu0gW9q"
	ctMP   = "Content-Type: multipart/form-data; boundary="
)

// builder builds the corpus, handing each case new images.
type builder struct {
	img   images
	cases []Case
	names map[string]int
}

// pair is a case's two images.
type pair struct{ decoy, hidden []byte }

func (b *builder) pair() pair { return pair{b.img.JPEG(), b.img.PNG()} }

func (b *builder) add(c Case, labels map[string][]byte) {
	if b.names == nil {
		b.names = map[string]int{}
	}
	c.Name = strings.ReplaceAll(c.Name, " ", "_")
	if n := b.names[c.Name]; n > 0 {
		c.Name = fmt.Sprintf("%s#%d", c.Name, n+1)
	}
	b.names[c.Name]++
	c.Images = labelImages(labels)
	b.cases = append(b.cases, c)
}

// labelImages names each image by its SHA-256, and the forms a framework
// may hand over instead (the encoded text of a part it did not decode, a
// line break it kept), so that a bypass line says which image it was.
func labelImages(labels map[string][]byte) map[string]string {
	out := map[string]string{}
	for _, l := range sortedKeys(labels) {
		img := labels[l]
		for suffix, v := range map[string][]byte{
			"+CR": cat(img, []byte("\r")), "+LF": cat(img, []byte("\n")), "+CRLF": cat(img, []byte("\r\n")),
			"(base64 text)": []byte(b64(img)), "(base64 text, wrapped)": []byte(wrap76(b64(img), "\r\n")),
			"(quoted-printable text)": qp(img),
		} {
			out[Sum(v)] = l + suffix
		}
	}
	for l, img := range labels {
		out[Sum(img)] = l
	}
	return out
}

func (b *builder) addPair(c Case, p pair) {
	b.add(c, map[string][]byte{"decoy": p.decoy, "hidden": p.hidden})
}

// Corpus returns the ordinary uploads and the attacks, in a fixed order
// with fixed images.
func Corpus() []Case {
	b := &builder{}
	b.ordinary()
	b.disposition()
	b.boundary()
	b.contentTypes()
	b.delimiter()
	b.fieldName()
	b.fileness()
	b.cte()
	b.undecodable()
	b.jsonCase()
	b.base64()
	b.query()
	b.preamble()
	b.httpFraming()
	b.mediaType()
	b.jsonMisc()
	b.form()
	b.partHeaders()
	return b.cases
}

// --- (a) ordinary uploads -------------------------------------------------

func (b *builder) ordinaryMultipart(name string, header []string, body []byte, img []byte) {
	b.add(Case{Name: name, Family: FamOrdinary, Header: header, Body: body, Want: "selfie"},
		map[string][]byte{"selfie": img})
}

func (b *builder) ordinary() {
	// curl 7.88 -F user=alice -F selfie=@selfie.jpg, as captured.
	img := b.img.JPEG()
	bd := "------------------------06752e041c68b3e6"
	b.ordinaryMultipart("curl-F", []string{"User-Agent: curl/7.88.1", "Accept: */*", ctMP + bd},
		multipartBody(bd, textPart("user", "alice"), filePart("selfie", "selfie.jpg", "image/jpeg", img)), img)

	// Chromium's FormData from a <form> / fetch.
	img = b.img.JPEG()
	bd = "----WebKitFormBoundary7MA4YWxkTrZu0gW"
	chromeHdr := []string{
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		"Accept: */*", "Accept-Encoding: gzip, deflate, br, zstd", "Accept-Language: en-US,en;q=0.9",
		ctMP + bd, "Origin: http://127.0.0.1", "Sec-Fetch-Mode: cors", "Sec-Fetch-Site: same-origin",
	}
	b.ordinaryMultipart("chromium-formdata", chromeHdr,
		multipartBody(bd, textPart("user", "alice"), filePart("selfie", "selfie.jpg", "image/jpeg", img)), img)
	img = b.img.PNG()
	b.ordinaryMultipart("chromium-formdata-png", chromeHdr,
		multipartBody(bd, filePart("selfie", "selfie.png", "image/png", img), textPart("user", "alice")), img)

	// Firefox: old and new boundary styles.
	img = b.img.JPEG()
	bd = "---------------------------3423584711391236101937826791"
	ffHdr := []string{"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
		"Accept: */*", "Accept-Language: en-US,en;q=0.5", "Accept-Encoding: gzip, deflate, br, zstd", ctMP + bd}
	b.ordinaryMultipart("firefox-formdata", ffHdr,
		multipartBody(bd, textPart("user", "alice"), filePart("selfie", "selfie.jpg", "image/jpeg", img)), img)
	img = b.img.JPEG()
	bd = "----geckoformboundary9c2a45b8e1f0d4a7b3c6e2f81d9a0b4c"
	ffHdr = append(slices.Clone(ffHdr[:len(ffHdr)-1]), ctMP+bd)
	b.ordinaryMultipart("firefox-formdata-gecko", ffHdr,
		multipartBody(bd, textPart("user", "alice"), filePart("selfie", "selfie.jpg", "image/jpeg", img)), img)

	// Python requests: files={"selfie": ("selfie.jpg", f, "image/jpeg")}, data={"user": "alice"}.
	img = b.img.JPEG()
	bd = "9431149156168aeb6b1d8f4a5c3e2d10"
	b.ordinaryMultipart("python-requests", []string{"User-Agent: python-requests/2.31.0", "Accept-Encoding: gzip, deflate",
		"Accept: */*", ctMP + bd},
		multipartBody(bd, textPart("user", "alice"), filePart("selfie", "selfie.jpg", "image/jpeg", img)), img)

	// Node 20 fetch with FormData (undici), as captured: lower-case headers.
	img = b.img.JPEG()
	bd = "----formdata-undici-036935280668"
	b.ordinaryMultipart("node20-fetch-formdata", []string{"content-type: multipart/form-data; boundary=" + bd,
		"accept: */*", "accept-language: *", "sec-fetch-mode: cors", "user-agent: node", "accept-encoding: gzip, deflate"},
		multipartBody(bd, textPart("user", "alice"), filePart("selfie", "selfie.jpg", "image/jpeg", img)), img)

	// Go's mime/multipart Writer: CreateFormFile (application/octet-stream)
	// and CreatePart with image/jpeg.
	img = b.img.JPEG()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	w.SetBoundary("4f7a3c9d2e1b0a8f6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f")
	w.WriteField("user", "alice")
	fw, _ := w.CreateFormFile("selfie", "selfie.jpg")
	fw.Write(img)
	w.Close()
	b.ordinaryMultipart("go-multipart-createformfile", []string{"User-Agent: Go-http-client/1.1", "Content-Type: " + w.FormDataContentType(),
		"Accept-Encoding: gzip"}, buf.Bytes(), img)
	img = b.img.JPEG()
	buf = bytes.Buffer{}
	w = multipart.NewWriter(&buf)
	w.SetBoundary("b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0")
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="selfie"; filename="selfie.jpg"`)
	h.Set("Content-Type", "image/jpeg")
	pw, _ := w.CreatePart(h)
	pw.Write(img)
	w.WriteField("user", "alice")
	w.Close()
	b.ordinaryMultipart("go-multipart-createpart", []string{"User-Agent: Go-http-client/1.1", "Content-Type: " + w.FormDataContentType(),
		"Accept-Encoding: gzip"}, buf.Bytes(), img)

	// OkHttp 4 MultipartBody.Builder().setType(FORM): a Content-Length on
	// each part.
	img = b.img.JPEG()
	bd = "3f1c9e2a-7b4d-4c8e-9a6f-1d2e3b4c5a6f"
	b.ordinaryMultipart("okhttp4-multipartbody", []string{ctMP + bd, "Accept-Encoding: gzip", "User-Agent: okhttp/4.12.0"},
		multipartBody(bd,
			part{[]string{`Content-Disposition: form-data; name="user"`, "Content-Length: 5"}, []byte("alice")},
			part{[]string{`Content-Disposition: form-data; name="selfie"; filename="selfie.jpg"`, "Content-Type: image/jpeg",
				"Content-Length: " + strconv.Itoa(len(img))}, img}), img)

	// iOS URLSession with a hand-built body, as Apple's samples build it.
	img = b.img.JPEG()
	bd = "Boundary-6F1E2D3C-4B5A-4978-8695-A4B3C2D1E0F9"
	b.ordinaryMultipart("ios-urlsession", []string{"Accept: */*", ctMP + bd, "User-Agent: Selfie/1 CFNetwork/1490.0.4 Darwin/23.2.0",
		"Accept-Language: en-GB,en;q=0.9", "Accept-Encoding: gzip, deflate, br"},
		multipartBody(bd, textPart("user", "alice"), filePart("selfie", "selfie.jpg", "image/jpeg", img)), img)

	// .NET HttpClient with MultipartFormDataContent: quoted GUID boundary,
	// unquoted names, and filename* beside filename (Add(content, name,
	// fileName) sets both); StringContent carries its own Content-Type.
	img = b.img.JPEG()
	bd = "8d3f5c2e-1a4b-4f6d-9e8c-7b6a5d4c3b2a"
	b.ordinaryMultipart("dotnet-httpclient", []string{`Content-Type: multipart/form-data; boundary="` + bd + `"`},
		multipartBody(bd,
			part{[]string{"Content-Type: text/plain; charset=utf-8", "Content-Disposition: form-data; name=user"}, []byte("alice")},
			part{[]string{"Content-Type: image/jpeg", "Content-Disposition: form-data; name=selfie; filename=selfie.jpg; filename*=utf-8''selfie.jpg"}, img}), img)

	// JSON: a data URI and raw base64, with a text field beside.
	img = b.img.JPEG()
	b.add(Case{Name: "json-data-uri", Family: FamOrdinary, Header: []string{"Content-Type: application/json"},
		Body: []byte(`{"user":"alice","selfie":` + jsonStr(dataURI("image/jpeg", img)) + `}`), Want: "selfie"},
		map[string][]byte{"selfie": img})
	img = b.img.JPEG()
	b.add(Case{Name: "json-raw-base64", Family: FamOrdinary, Header: []string{"Content-Type: application/json"},
		Body: []byte(`{"selfie":` + jsonStr(b64(img)) + `,"user":"alice"}`), Want: "selfie"},
		map[string][]byte{"selfie": img})
	img = b.img.PNG()
	b.add(Case{Name: "json-data-uri-pretty-charset", Family: FamOrdinary, Header: []string{"Content-Type: application/json; charset=utf-8"},
		Body: []byte("{\n  \"user\": \"alice\",\n  \"selfie\": " + jsonStr(dataURI("image/png", img)) + "\n}\n"), Want: "selfie"},
		map[string][]byte{"selfie": img})

	// urlencoded: selfie=<percent-encoded base64>, as a browser form or
	// URLSearchParams sends it.
	img = b.img.JPEG()
	b.add(Case{Name: "urlencoded-base64", Family: FamOrdinary, Header: []string{"Content-Type: application/x-www-form-urlencoded"},
		Body: []byte("user=alice&selfie=" + url.QueryEscape(b64(img))), Want: "selfie"},
		map[string][]byte{"selfie": img})
	img = b.img.JPEG()
	b.add(Case{Name: "urlencoded-data-uri", Family: FamOrdinary, Header: []string{"Content-Type: application/x-www-form-urlencoded;charset=UTF-8"},
		Body: []byte("selfie=" + url.QueryEscape(dataURI("image/jpeg", img)) + "&user=alice"), Want: "selfie"},
		map[string][]byte{"selfie": img})

	// A raw image/jpeg body: auto mode only (the named routes have no
	// source body).
	img = b.img.JPEG()
	b.add(Case{Name: "raw-image-jpeg", Family: FamOrdinary, Header: []string{"Content-Type: image/jpeg"},
		Body: img, Want: "selfie", Modes: []string{ModeAuto}}, map[string][]byte{"selfie": img})
}

// --- (b) attacks ------------------------------------------------------------

// hiddenBeside adds two cases: the decoy's normal selfie file part before
// and after the hidden part.
func (b *builder) hiddenBeside(name, fam string, hidden func(p pair) part, extraHdr ...string) {
	for _, order := range []string{"after", "before"} {
		p := b.pair()
		decoy := filePart("selfie", "selfie.jpg", "image/jpeg", p.decoy)
		parts := []part{decoy, hidden(p)}
		if order == "before" {
			parts = []part{hidden(p), decoy}
		}
		b.addPair(Case{Name: name + "/hidden-" + order, Family: fam,
			Header: append([]string{ctMP + bGate}, extraHdr...), Body: multipartBody(bGate, parts...)}, p)
	}
}

func (b *builder) disposition() {
	cds := map[string]string{
		"dup-name-differing":       `form-data; name="other"; name="selfie"; filename="h.png"`,
		"dup-name-differing-rev":   `form-data; name="selfie"; name="other"; filename="h.png"`,
		"dup-filename-differing":   `form-data; name="selfie"; filename="h.png"; filename="x.txt"`,
		"param-without-equals":     `form-data; name="selfie"; filename="h.png"; junk`,
		"param-without-equals-mid": `form-data; junk; name="selfie"; filename="h.png"`,
		"unterminated-quote":       `form-data; name="selfie"; filename="h.png`,
		"unterminated-quote-name":  `form-data; filename="h.png"; name="selfie`,
		"no-disposition-type":      `name="selfie"; filename="h.png"`,
		"empty-disposition-type":   `; name="selfie"; filename="h.png"`,
		"double-semicolon":         `form-data;; name="selfie"; filename="h.png"`,
		"trailing-semicolon":       `form-data; name="selfie"; filename="h.png";`,
		"stray-quote-in-name":      `form-data; name=selfie"; filename="h.png"`,
		"space-before-equals":      `form-data; name ="selfie"; filename="h.png"`,
		"space-after-equals":       `form-data; name= "selfie"; filename="h.png"`,
		"unquoted-tokens":          `form-data; name=selfie; filename=h.png`,
		"backslash-in-filename":    `form-data; name="selfie"; filename="C:\fakepath\h.png"`,
		"escaped-quote-filename":   `form-data; name="selfie"; filename="h\".png"`,
		"single-quotes":            `form-data; name='selfie'; filename='h.png'`,
		"uppercase-type-params":    `FORM-DATA; NAME="selfie"; FILENAME="h.png"`,
		"comma-separated":          `form-data, name="selfie", filename="h.png"`,
		"nul-in-value":             "form-data; name=\"selfie\x00\"; filename=\"h.png\"",
		"utf8-in-filename":         `form-data; name="selfie"; filename="sélfie.png"`,
		"quoted-pair-name":         `form-data; name="sel\fie"; filename="h.png"`,
	}
	for _, k := range sortedKeys(cds) {
		cd := cds[k]
		b.hiddenBeside("cd-"+k, FamDisposition, func(p pair) part { return cdPart(cd, p.hidden, "Content-Type: image/png") })
	}
}

// polyglot is one body that is a multipart body under either boundary:
// under a the parts of pa (pb's body is its preamble or epilogue), under b
// those of pb.
func polyglot(a string, pa []part, b string, pb []part) []byte {
	return cat(multipartBody(a, pa...), multipartBody(b, pb...))
}

func (b *builder) twoBoundaries(name, fam string, header func(a, b string) []string, a, bb string) {
	// The decoy under a, the hidden under b, and the other way round; each
	// order of the two bodies.
	for _, v := range []struct {
		suffix string
		swap   bool
		first  bool
	}{{"decoy-a", false, true}, {"decoy-b", true, true}, {"decoy-a-second", false, false}, {"decoy-b-second", true, false}} {
		p := b.pair()
		da := []part{filePart("selfie", "selfie.jpg", "image/jpeg", p.decoy)}
		hb := []part{filePart("selfie", "selfie.png", "image/png", p.hidden)}
		if v.swap {
			da, hb = []part{filePart("selfie", "selfie.png", "image/png", p.hidden)}, []part{filePart("selfie", "selfie.jpg", "image/jpeg", p.decoy)}
		}
		body := polyglot(a, da, bb, hb)
		if !v.first {
			body = polyglot(bb, hb, a, da)
		}
		b.addPair(Case{Name: name + "/" + v.suffix, Family: fam, Header: header(a, bb), Body: body}, p)
	}
}

func (b *builder) boundary() {
	ct := func(format string) func(a, b string) []string {
		return func(a, bb string) []string {
			return []string{"Content-Type: multipart/form-data; " + strings.NewReplacer("A", a, "B", bb).Replace(format)}
		}
	}
	const a, o = "gateAAAA1111", "otherBBBB2222"
	b.twoBoundaries("boundary-star-after", FamBoundary, ct(`boundary=A; boundary*=B`), a, o)
	b.twoBoundaries("boundary-star-utf8", FamBoundary, ct(`boundary=A; boundary*=UTF-8''B`), a, o)
	b.twoBoundaries("boundary-star-before", FamBoundary, ct(`boundary*=UTF-8''B; boundary=A`), a, o)
	b.twoBoundaries("boundary-star-continuation", FamBoundary, ct(`boundary=A; boundary*0=B`), a, o)
	b.twoBoundaries("xboundary-before", FamBoundary, ct(`xboundary=B; boundary=A`), a, o)
	b.twoBoundaries("xboundary-after", FamBoundary, ct(`boundary=A; xboundary=B`), a, o)
	b.twoBoundaries("boundary-in-quoted-param", FamBoundary, ct(`foo="x; boundary=B"; boundary=A`), a, o)
	b.twoBoundaries("boundary-in-quoted-param-after", FamBoundary, ct(`boundary=A; foo="boundary=B"`), a, o)
	b.twoBoundaries("boundary-duplicate", FamBoundary, ct(`boundary=A; boundary=B`), a, o)
	b.twoBoundaries("boundary-uppercase-dup", FamBoundary, ct(`BOUNDARY=B; boundary=A`), a, o)
	b.twoBoundaries("boundary-uppercase-dup-after", FamBoundary, ct(`boundary=A; Boundary=B`), a, o)
	b.twoBoundaries("boundary-comma-list", FamBoundary, ct(`boundary=A, multipart/form-data; boundary=B`), a, o)
	b.twoBoundaries("boundary-charset-between", FamBoundary, ct(`boundary=A; charset=utf-8; boundary=B`), a, o)
	b.twoBoundaries("boundary-quoted-and-not", FamBoundary, ct(`boundary="A"; boundary=B`), a, o)
	b.twoBoundaries("boundary-unterminated-quote", FamBoundary, ct(`boundary="A; boundary=B`), a, o)
	b.twoBoundaries("boundary-space-before-value", FamBoundary, ct(`boundary= B; boundary=A`), a, o)
	// Backslash escapes in a quoted boundary: Go unescapes, others keep it.
	b.twoBoundaries("boundary-backslash-escape", FamBoundary, func(_, _ string) []string {
		return []string{`Content-Type: multipart/form-data; boundary="gate\AAAA1111"`}
	}, "gateAAAA1111", `gate\AAAA1111`)
	b.twoBoundaries("boundary-escaped-quote", FamBoundary, func(_, _ string) []string {
		return []string{`Content-Type: multipart/form-data; boundary="gate\"AAAA"`}
	}, `gate"AAAA`, `gate\"AAAA`)
	// A boundary with a trailing space, or too long: how each reader trims.
	b.twoBoundaries("boundary-trailing-space-quoted", FamBoundary, func(_, _ string) []string {
		return []string{`Content-Type: multipart/form-data; boundary="gateAAAA1111 "`}
	}, "gateAAAA1111 ", "gateAAAA1111")
	long := strings.Repeat("L", 80)
	b.twoBoundaries("boundary-over-70", FamBoundary, ct(`boundary=A`), long, "other"+long)
	// Boundaries that are prefixes of each other.
	b.twoBoundaries("boundary-prefix", FamBoundary, ct(`boundary=A; boundary=B`), "gateAAAA", "gateAAAA1111")
}

func (b *builder) contentTypes() {
	two := func(first, second string) func(a, b string) []string {
		return func(a, bb string) []string {
			return []string{"Content-Type: multipart/form-data; boundary=" + strings.ReplaceAll(first, "X", a),
				"Content-Type: multipart/form-data; boundary=" + strings.ReplaceAll(second, "X", bb)}
		}
	}
	b.twoBoundaries("two-ct-headers", FamContentType, two("X", "X"), "gateAAAA1111", "otherBBBB2222")
	b.twoBoundaries("two-ct-headers-lowercase", FamContentType, func(a, bb string) []string {
		return []string{ctMP + a, "content-type: multipart/form-data; boundary=" + bb}
	}, "gateAAAA1111", "otherBBBB2222")
	b.twoBoundaries("two-ct-headers-apart", FamContentType, func(a, bb string) []string {
		return []string{ctMP + a, "Accept: */*", "User-Agent: x", ctMP + bb}
	}, "gateAAAA1111", "otherBBBB2222")
	b.twoBoundaries("ct-header-empty-then-real", FamContentType, func(a, bb string) []string {
		return []string{"Content-Type:", ctMP + a}
	}, "gateAAAA1111", "otherBBBB2222")

	// A JPEG body that is also a multipart body (its preamble is the JPEG).
	for _, v := range []struct {
		name string
		hdrs []string
	}{
		{"image-then-multipart", []string{"Content-Type: image/jpeg", ctMP + bGate}},
		{"multipart-then-image", []string{ctMP + bGate, "Content-Type: image/jpeg"}},
		{"json-then-multipart", []string{"Content-Type: application/json", ctMP + bGate}},
		{"form-then-multipart", []string{"Content-Type: application/x-www-form-urlencoded", ctMP + bGate}},
		{"multipart-then-form", []string{ctMP + bGate, "Content-Type: application/x-www-form-urlencoded"}},
	} {
		p := b.pair()
		body := cat(p.decoy, []byte("\r\n"), multipartBody(bGate, filePart("selfie", "h.png", "image/png", p.hidden)))
		if strings.Contains(v.name, "json") {
			body = cat([]byte(`{"selfie":`+jsonStr(dataURI("image/jpeg", p.decoy))+`}`), []byte("\r\n"),
				multipartBody(bGate, filePart("selfie", "h.png", "image/png", p.hidden)))
		}
		if strings.Contains(v.name, "form") {
			body = cat([]byte("selfie="+url.QueryEscape(dataURI("image/jpeg", p.decoy))+"&x="), []byte("\r\n"),
				multipartBody(bGate, filePart("selfie", "h.png", "image/png", p.hidden)))
		}
		b.addPair(Case{Name: v.name, Family: FamContentType, Header: v.hdrs, Body: body}, p)
	}
	// JSON and form, two Content-Types.
	p := b.pair()
	b.addPair(Case{Name: "json-and-form-ct", Family: FamContentType,
		Header: []string{"Content-Type: application/json", "Content-Type: application/x-www-form-urlencoded"},
		Body:   []byte(`{"selfie":` + jsonStr(dataURI("image/jpeg", p.decoy)) + `,"x":"&selfie=` + url.QueryEscape(b64(p.hidden)) + `"}`)}, p)
}

func (b *builder) delimiter() {
	// The hidden part's framing inside a text part's value, introduced by
	// each line break Go does not take for a delimiter's.
	inner := func(p pair, nl, after string) []byte {
		return []byte("note" + nl + "--" + bGate + after + "Content-Disposition: form-data; name=\"selfie\"; filename=\"h.png\"\r\nContent-Type: image/png\r\n\r\n" +
			string(p.hidden) + "\r\n")
	}
	for _, v := range []struct{ name, nl, after string }{
		{"bare-lf-before", "\n", "\r\n"},
		{"bare-cr-before", "\r", "\r\n"},
		{"no-linebreak-before", "", "\r\n"},
		{"lf-lf", "\n", "\n"},
		{"cr-cr", "\r", "\r"},
		{"junk-after", "\r\n", "junk\r\n"},
		{"dash-junk-after", "\r\n", "-x\r\n"},
		{"space-junk-after", "\r\n", " junk\r\n"},
		{"tab-after", "\r\n", "\t\r\n"},
		{"lf-after-only", "\r\n", "\n"},
		{"cr-after-only", "\r\n", "\r"},
		{"nothing-after", "\r\n", ""},
	} {
		for _, where := range []string{"text", "file"} {
			p := b.pair()
			var carrier part
			if where == "text" {
				carrier = textPart("note", string(inner(p, v.nl, v.after)))
			} else {
				carrier = filePart("selfie", "selfie.jpg", "image/jpeg", cat(p.decoy, inner(p, v.nl, v.after)))
			}
			parts := []part{filePart("selfie", "selfie.jpg", "image/jpeg", p.decoy), carrier}
			if where == "file" {
				parts = []part{carrier}
			}
			b.addPair(Case{Name: "delim-" + v.name + "/in-" + where, Family: FamDelimiter,
				Header: []string{ctMP + bGate}, Body: multipartBody(bGate, parts...)}, p)
		}
	}
	// Parts after the close delimiter (the epilogue), and a close
	// delimiter followed by junk.
	p := b.pair()
	b.addPair(Case{Name: "delim-parts-after-close", Family: FamDelimiter, Header: []string{ctMP + bGate},
		Body: cat(multipartBody(bGate, filePart("selfie", "selfie.jpg", "image/jpeg", p.decoy)),
			multipartBody(bGate, filePart("selfie", "h.png", "image/png", p.hidden)))}, p)
	p = b.pair()
	b.addPair(Case{Name: "delim-close-with-junk", Family: FamDelimiter, Header: []string{ctMP + bGate},
		Body: cat([]byte("--"+bGate+"\r\n"+`Content-Disposition: form-data; name="selfie"; filename="selfie.jpg"`+"\r\nContent-Type: image/jpeg\r\n\r\n"),
			p.decoy, []byte("\r\n--"+bGate+"--junk\r\n"+`Content-Disposition: form-data; name="selfie"; filename="h.png"`+"\r\n\r\n"),
			p.hidden, []byte("\r\n--"+bGate+"--\r\n"))}, p)
	// LF-only framing: the whole body, or only the first delimiter line.
	p = b.pair()
	lf := bytes.ReplaceAll(multipartBody(bGate, filePart("selfie", "selfie.jpg", "image/jpeg", []byte("@DECOY@")),
		filePart("selfie", "h.png", "image/png", []byte("@HIDDEN@"))), []byte("\r\n"), []byte("\n"))
	lf = bytes.Replace(bytes.Replace(lf, []byte("@DECOY@"), p.decoy, 1), []byte("@HIDDEN@"), p.hidden, 1)
	b.addPair(Case{Name: "delim-lf-only-body", Family: FamDelimiter, Header: []string{ctMP + bGate}, Body: lf}, p)
	p = b.pair()
	mixed := multipartBody(bGate, filePart("selfie", "selfie.jpg", "image/jpeg", p.decoy), textPart("note", "a\n--"+bGate+"\nContent-Disposition: form-data; name=\"selfie\"; filename=\"h.png\"\n\n"+string(p.hidden)+"\n"))
	mixed = bytes.Replace(mixed, []byte("--"+bGate+"\r\n"), []byte("--"+bGate+"\n"), 1)
	b.addPair(Case{Name: "delim-first-line-lf-then-crlf", Family: FamDelimiter, Header: []string{ctMP + bGate}, Body: mixed}, p)
	// Preamble holding a part introduced by a bare LF.
	p = b.pair()
	b.addPair(Case{Name: "delim-preamble-part", Family: FamDelimiter, Header: []string{ctMP + bGate},
		Body: cat([]byte("preamble\n--"+bGate+"\r\nContent-Disposition: form-data; name=\"selfie\"; filename=\"h.png\"\r\n\r\n"), p.hidden,
			[]byte("\r\n"), multipartBody(bGate, filePart("selfie", "selfie.jpg", "image/jpeg", p.decoy)))}, p)
	// No final delimiter at all.
	p = b.pair()
	body := multipartBody(bGate, filePart("selfie", "selfie.jpg", "image/jpeg", p.decoy), filePart("selfie", "h.png", "image/png", p.hidden))
	b.addPair(Case{Name: "delim-no-close", Family: FamDelimiter, Header: []string{ctMP + bGate},
		Body: body[:len(body)-len("--"+bGate+"--\r\n")]}, p)
}

func (b *builder) fieldName() {
	cds := map[string]string{
		"attachment":             `attachment; name="selfie"; filename="h.png"`,
		"inline":                 `inline; name="selfie"; filename="h.png"`,
		"name-star-beside":       `form-data; name="other"; name*=UTF-8''selfie; filename="h.png"`,
		"name-star-before":       `form-data; name*=UTF-8''selfie; name="other"; filename="h.png"`,
		"name-star-only":         `form-data; name*=UTF-8''selfie; filename="h.png"`,
		"name-leading-space":     `form-data; name=" selfie"; filename="h.png"`,
		"name-trailing-space":    `form-data; name="selfie "; filename="h.png"`,
		"name-capitalised":       `form-data; name="Selfie"; filename="h.png"`,
		"name-uppercase":         `form-data; name="SELFIE"; filename="h.png"`,
		"name-long-s":            `form-data; name="ſelfie"; filename="h.png"`,
		"name-array":             `form-data; name="selfie[]"; filename="h.png"`,
		"name-array-index":       `form-data; name="selfie[0]"; filename="h.png"`,
		"name-dot":               `form-data; name="selfie."; filename="h.png"`,
		"name-nul":               "form-data; name=\"selfie\x00x\"; filename=\"h.png\"",
		"name-percent-encoded":   `form-data; name="%73elfie"; filename="h.png"`,
		"name-tab":               "form-data; name=\"\tselfie\"; filename=\"h.png\"",
		"name-zero-width":        "form-data; name=\"selfie\u200b\"; filename=\"h.png\"",
		"name-fullwidth":         `form-data; name="ｓｅｌｆｉｅ"; filename="h.png"`,
		"name-encoded-word":      `form-data; name="=?utf-8?q?selfie?="; filename="h.png"`,
		"name-unquoted-trailing": `form-data; name=selfie ; filename="h.png"`,
	}
	for _, k := range sortedKeys(cds) {
		cd := cds[k]
		b.hiddenBeside("name-"+k, FamFieldName, func(p pair) part { return cdPart(cd, p.hidden, "Content-Type: image/png") })
	}
	// Two Content-Disposition headers in one part, in both orders.
	b.hiddenBeside("two-cd-other-then-selfie", FamFieldName, func(p pair) part {
		return part{[]string{`Content-Disposition: form-data; name="other"; filename="h.png"`,
			`Content-Disposition: form-data; name="selfie"; filename="h.png"`, "Content-Type: image/png"}, p.hidden}
	})
	b.hiddenBeside("two-cd-selfie-then-other", FamFieldName, func(p pair) part {
		return part{[]string{`Content-Disposition: form-data; name="selfie"; filename="h.png"`,
			`Content-Disposition: form-data; name="other"; filename="h.png"`, "Content-Type: image/png"}, p.hidden}
	})
	b.hiddenBeside("two-cd-text-then-file", FamFieldName, func(p pair) part {
		return part{[]string{`Content-Disposition: form-data; name="note"`,
			`Content-Disposition: form-data; name="selfie"; filename="h.png"`}, p.hidden}
	})
	// Only a lone hidden part whose name some framework normalises to
	// selfie, with the decoy under the real name in JSON-less forms.
	for _, n := range []string{"selfie%00x", "+selfie", "%20selfie", "selfie%5B%5D", "selfie.", "selfie[", "Selfie", "selfie%00", " selfie", "selfie "} {
		p := b.pair()
		b.addPair(Case{Name: "form-name-" + n, Family: FamFieldName, Header: []string{"Content-Type: application/x-www-form-urlencoded"},
			Body: []byte("selfie=" + url.QueryEscape(dataURI("image/jpeg", p.decoy)) + "&" + n + "=" + url.QueryEscape(b64(p.hidden)))}, p)
		p = b.pair()
		b.addPair(Case{Name: "form-name-" + n + "/first", Family: FamFieldName, Header: []string{"Content-Type: application/x-www-form-urlencoded"},
			Body: []byte(n + "=" + url.QueryEscape(b64(p.hidden)) + "&selfie=" + url.QueryEscape(dataURI("image/jpeg", p.decoy)))}, p)
	}
	// The same as multipart names (PHP mangles those too).
	for _, n := range []string{" selfie", "selfie\x00x", "selfie[", "selfie[a"} {
		name := n
		b.hiddenBeside("mp-php-name-"+strconv.Quote(n), FamFieldName, func(p pair) part {
			return cdPart(`form-data; name="`+name+`"; filename="h.png"`, p.hidden, "Content-Type: image/png")
		})
	}
}

func (b *builder) fileness() {
	type v struct {
		name string
		cd   string
		more []string
	}
	vs := []v{
		{"filename-empty", `form-data; name="selfie"; filename=""`, []string{"Content-Type: image/png"}},
		{"filename-empty-no-ct", `form-data; name="selfie"; filename=""`, nil},
		{"filename-star-utf8", `form-data; name="selfie"; filename*=UTF-8''h.png`, []string{"Content-Type: image/png"}},
		{"filename-star-latin1", `form-data; name="selfie"; filename*=ISO-8859-1''h%E9.png`, []string{"Content-Type: image/png"}},
		{"ct-without-filename", `form-data; name="selfie"`, []string{"Content-Type: image/png"}},
		{"octet-stream-without-filename", `form-data; name="selfie"`, []string{"Content-Type: application/octet-stream"}},
		{"no-ct-no-filename", `form-data; name="selfie"`, nil},
		{"text-plain-ct", `form-data; name="selfie"; filename="h.txt"`, []string{"Content-Type: text/plain"}},
		{"filename-no-ext", `form-data; name="selfie"; filename="blob"`, nil},
		{"filename-only-space", `form-data; name="selfie"; filename=" "`, []string{"Content-Type: image/png"}},
		{"other-field-file", `form-data; name="photo"; filename="h.png"`, []string{"Content-Type: image/png"}},
		{"other-field-value", `form-data; name="photo"`, nil},
		{"other-field-ct-only", `form-data; name="photo"`, []string{"Content-Type: image/png"}},
		{"other-field-filename-empty", `form-data; name="photo"; filename=""`, []string{"Content-Type: image/png"}},
		{"other-field-filename-star", `form-data; name="photo"; filename*=UTF-8''h.png`, nil},
	}
	for _, x := range vs {
		x := x
		b.hiddenBeside("file-"+x.name, FamFileness, func(p pair) part { return cdPart(x.cd, p.hidden, x.more...) })
	}
}

func qp(b []byte) []byte {
	var buf bytes.Buffer
	w := quotedprintable.NewWriter(&buf)
	w.Binary = true
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func wrap76(s string, nl string) string {
	var out strings.Builder
	for len(s) > 76 {
		out.WriteString(s[:76] + nl)
		s = s[76:]
	}
	out.WriteString(s)
	return out.String()
}

func (b *builder) cte() {
	type v struct {
		name string
		hdr  string
		enc  func([]byte) []byte
	}
	vs := []v{
		{"base64", "Content-Transfer-Encoding: base64", func(d []byte) []byte { return []byte(b64(d)) }},
		{"base64-wrapped", "Content-Transfer-Encoding: base64", func(d []byte) []byte { return []byte(wrap76(b64(d), "\r\n")) }},
		{"base64-uppercase", "Content-Transfer-Encoding: BASE64", func(d []byte) []byte { return []byte(b64(d)) }},
		{"quoted-printable", "Content-Transfer-Encoding: quoted-printable", qp},
		{"quoted-printable-upper", "content-transfer-encoding: Quoted-Printable", qp},
		{"binary", "Content-Transfer-Encoding: binary", func(d []byte) []byte { return d }},
		{"8bit", "Content-Transfer-Encoding: 8bit", func(d []byte) []byte { return d }},
		{"x-unknown", "Content-Transfer-Encoding: x-uuencode", func(d []byte) []byte { return d }},
	}
	for _, x := range vs {
		x := x
		for _, named := range []string{"selfie", "photo"} {
			b.hiddenBeside("cte-"+x.name+"/"+named, FamCTE, func(p pair) part {
				return cdPart(`form-data; name="`+named+`"; filename="h.png"`, x.enc(p.hidden), "Content-Type: image/png", x.hdr)
			})
		}
	}
	// The decoy itself sent under quoted-printable: Go decodes it to other
	// bytes than the gate judged.
	p := b.pair()
	b.add(Case{Name: "cte-qp-on-raw-decoy", Family: FamCTE, Header: []string{ctMP + bGate},
		Body: multipartBody(bGate, cdPart(`form-data; name="selfie"; filename="selfie.jpg"`, p.decoy, "Content-Type: image/jpeg", "Content-Transfer-Encoding: quoted-printable"))},
		map[string][]byte{"decoy": p.decoy})
	// A part that is both: a JPEG whose QP decoding is the hidden image is
	// not constructible in general; send a QP body that is itself base64 of
	// the hidden, under base64 CTE (double decoding).
	p = b.pair()
	b.addPair(Case{Name: "cte-two-headers", Family: FamCTE, Header: []string{ctMP + bGate},
		Body: multipartBody(bGate, filePart("selfie", "selfie.jpg", "image/jpeg", p.decoy),
			cdPart(`form-data; name="selfie"; filename="h.png"`, []byte(b64(p.hidden)), "Content-Transfer-Encoding: 7bit", "Content-Transfer-Encoding: base64"))}, p)
}

func (b *builder) undecodable() {
	// Files of types the gate cannot check, under selfie and beside it.
	for _, kind := range []string{"tiff", "heic"} {
		for _, name := range []string{"selfie", "photo"} {
			for _, order := range []string{"after", "before"} {
				p := b.pair()
				blob := b.img.TIFF()
				ct := "image/tiff"
				if kind == "heic" {
					blob, ct = b.img.HEIC(), "image/heic"
				}
				decoy := filePart("selfie", "selfie.jpg", "image/jpeg", p.decoy)
				hid := filePart(name, "h."+kind, ct, blob)
				parts := []part{decoy, hid}
				if order == "before" {
					parts = []part{hid, decoy}
				}
				b.add(Case{Name: "undecodable-" + kind + "-" + name + "/" + order, Family: FamUndecodable, Header: []string{ctMP + bGate},
					Body: multipartBody(bGate, parts...)}, map[string][]byte{"decoy": p.decoy, "hidden-" + kind: blob})
			}
		}
	}
	// TIFF as the raw body, and base64 TIFF in JSON and forms.
	t := b.img.TIFF()
	b.add(Case{Name: "undecodable-raw-tiff-body", Family: FamUndecodable, Header: []string{"Content-Type: image/tiff"}, Body: t},
		map[string][]byte{"hidden-tiff": t})
	p := b.pair()
	t = b.img.TIFF()
	b.add(Case{Name: "undecodable-json-tiff-beside", Family: FamUndecodable, Header: []string{"Content-Type: application/json"},
		Body: []byte(`{"selfie":` + jsonStr(dataURI("image/jpeg", p.decoy)) + `,"document":` + jsonStr(dataURI("image/tiff", t)) + `}`)},
		map[string][]byte{"decoy": p.decoy, "hidden-tiff": t})
	p = b.pair()
	t = b.img.TIFF()
	b.add(Case{Name: "undecodable-json-tiff-selfie-raw", Family: FamUndecodable, Header: []string{"Content-Type: application/json"},
		Body: []byte(`{"photo":` + jsonStr(dataURI("image/jpeg", p.decoy)) + `,"selfie":` + jsonStr(b64(t)) + `}`)},
		map[string][]byte{"decoy": p.decoy, "hidden-tiff": t})

	// Images auto mode does not recognise as such beside a data:image decoy.
	enc := map[string]func([]byte) string{
		"raw-base64":        b64,
		"raw-base64url":     b64url,
		"raw-base64-nopad":  func(d []byte) string { return base64.RawStdEncoding.EncodeToString(d) },
		"data-octet-stream": func(d []byte) string { return dataURI("application/octet-stream", d) },
		"data-no-type":      func(d []byte) string { return "data:;base64," + b64(d) },
		"data-uppercase":    func(d []byte) string { return "DATA:image/png;base64," + b64(d) },
		"data-text-plain":   func(d []byte) string { return dataURI("text/plain", d) },
		"data-params":       func(d []byte) string { return "data:image/png;name=h.png;base64," + b64(d) },
		"data-space":        func(d []byte) string { return "data: image/png;base64," + b64(d) },
		"binary-string":     func(d []byte) string { return string(d) },
	}
	for _, k := range sortedKeys(enc) {
		e := enc[k]
		for _, field := range []string{"photo", "selfie"} {
			p := b.pair()
			decoyField := "selfie"
			if field == "selfie" {
				decoyField = "photo"
			}
			if k != "binary-string" {
				b.addPair(Case{Name: "auto-json-" + k + "/" + field, Family: FamUndecodable, Header: []string{"Content-Type: application/json"},
					Body: []byte(`{"` + decoyField + `":` + jsonStr(dataURI("image/jpeg", p.decoy)) + `,"` + field + `":` + jsonStr(e(p.hidden)) + `}`)}, p)
			}
			p = b.pair()
			b.addPair(Case{Name: "auto-form-" + k + "/" + field, Family: FamUndecodable, Header: []string{"Content-Type: application/x-www-form-urlencoded"},
				Body: []byte(decoyField + "=" + url.QueryEscape(dataURI("image/jpeg", p.decoy)) + "&" + field + "=" + url.QueryEscape(e(p.hidden)))}, p)
			p = b.pair()
			b.addPair(Case{Name: "auto-multipart-value-" + k + "/" + field, Family: FamUndecodable, Header: []string{ctMP + bGate},
				Body: multipartBody(bGate, filePart("selfie", "selfie.jpg", "image/jpeg", p.decoy), textPart(field, e(p.hidden)))}, p)
		}
	}
	// Nested and in arrays: auto mode only (named mode judges /selfie).
	p = b.pair()
	b.addPair(Case{Name: "auto-json-nested-raw", Family: FamUndecodable, Header: []string{"Content-Type: application/json"}, Modes: []string{ModeAuto},
		Body: []byte(`{"selfie":` + jsonStr(dataURI("image/jpeg", p.decoy)) + `,"meta":{"images":[` + jsonStr(b64(p.hidden)) + `]}}`)}, p)
}

func (b *builder) jsonCase() {
	keys := []string{"Selfie", "SELFIE", "ſelfie", `\u017felfie`, "selfiE", "sElfie", `self\u0069e`, "selfie", "SELFİE", "ſelfıe"}
	for _, k := range keys {
		for _, order := range []string{"after", "before"} {
			p := b.pair()
			d := `"selfie":` + jsonStr(dataURI("image/jpeg", p.decoy))
			h := `"` + k + `":` + jsonStr(dataURI("image/png", p.hidden))
			body := "{" + d + "," + h + "}"
			if order == "before" {
				body = "{" + h + "," + d + "}"
			}
			b.addPair(Case{Name: "json-key-" + k + "/" + order, Family: FamJSONCase, Header: []string{"Content-Type: application/json"}, Body: []byte(body)}, p)
		}
	}
	// Hidden raw base64 under a case variant (auto mode skips raw).
	p := b.pair()
	b.addPair(Case{Name: "json-key-Selfie-raw", Family: FamJSONCase, Header: []string{"Content-Type: application/json"},
		Body: []byte(`{"selfie":` + jsonStr(dataURI("image/jpeg", p.decoy)) + `,"Selfie":` + jsonStr(b64(p.hidden)) + `}`)}, p)
	// Case variants of the key only, no exact selfie.
	p = b.pair()
	b.addPair(Case{Name: "json-key-only-Selfie", Family: FamJSONCase, Header: []string{"Content-Type: application/json"},
		Body: []byte(`{"photo":` + jsonStr(dataURI("image/jpeg", p.decoy)) + `,"Selfie":` + jsonStr(dataURI("image/png", p.hidden)) + `}`)}, p)
}

// mixAlphabets returns the standard base64 of d up to about the middle and
// the URL-safe one after it, so that the string holds both alphabets.
func mixAlphabets(d []byte) string {
	std, u := b64(d), b64url(d)
	k := len(std) / 2 / 4 * 4
	return std[:k] + u[k:]
}

func (b *builder) base64() {
	enc := map[string]func([]byte) string{
		"mixed-alphabets":       mixAlphabets,
		"url-alphabet":          b64url,
		"url-alphabet-nopad":    func(d []byte) string { return base64.RawURLEncoding.EncodeToString(d) },
		"dash-inserted":         func(d []byte) string { s := b64(d); return s[:8] + "-" + s[8:] },
		"underscore-inserted":   func(d []byte) string { s := b64(d); return s[:8] + "_" + s[8:] },
		"newlines-76":           func(d []byte) string { return wrap76(b64(d), "\n") },
		"crlf-76":               func(d []byte) string { return wrap76(b64(d), "\r\n") },
		"spaces":                func(d []byte) string { return wrap76(b64(d), " ") },
		"tabs":                  func(d []byte) string { return wrap76(b64(d), "\t") },
		"extra-padding":         func(d []byte) string { return b64(d) + "==" },
		"missing-padding":       func(d []byte) string { return strings.TrimRight(b64(d), "=") },
		"padding-in-middle":     func(d []byte) string { s := b64(d); return s[:4] + "=" + s[4:] },
		"nonzero-trailing-bits": nonCanonical,
		"junk-chars":            func(d []byte) string { s := b64(d); return s[:12] + "!*" + s[12:] },
		"leading-space":         func(d []byte) string { return " " + b64(d) },
		"trailing-newline":      func(d []byte) string { return b64(d) + "\n" },
	}
	for _, k := range sortedKeys(enc) {
		e := enc[k]
		for _, where := range []string{"json-data", "json-raw", "form", "multipart-value"} {
			p := b.pair()
			var c Case
			switch where {
			case "json-data":
				c = Case{Header: []string{"Content-Type: application/json"}, Body: []byte(`{"selfie":` + jsonStr("data:image/png;base64,"+e(p.hidden)) + `}`)}
			case "json-raw":
				c = Case{Header: []string{"Content-Type: application/json"}, Body: []byte(`{"selfie":` + jsonStr(e(p.hidden)) + `}`)}
			case "form":
				c = Case{Header: []string{"Content-Type: application/x-www-form-urlencoded"}, Body: []byte("selfie=" + url.QueryEscape("data:image/png;base64,"+e(p.hidden)))}
			case "multipart-value":
				c = Case{Header: []string{ctMP + bGate}, Body: multipartBody(bGate, filePart("selfie", "selfie.jpg", "image/jpeg", p.decoy), textPart("photo", "data:image/png;base64,"+e(p.hidden)))}
			}
			c.Name, c.Family = "b64-"+k+"/"+where, FamBase64
			b.addPair(c, p)
		}
	}
	// Concatenations: two images in one string.
	p := b.pair()
	b.addPair(Case{Name: "b64-concatenated-padded", Family: FamBase64, Header: []string{"Content-Type: application/json"},
		Body: []byte(`{"selfie":` + jsonStr("data:image/jpeg;base64,"+padded(p.decoy)+b64(p.hidden)) + `}`)}, p)
	p = b.pair()
	b.addPair(Case{Name: "b64-concatenated-form", Family: FamBase64, Header: []string{"Content-Type: application/x-www-form-urlencoded"},
		Body: []byte("selfie=" + url.QueryEscape("data:image/jpeg;base64,"+padded(p.decoy)+b64(p.hidden)))}, p)
	// Unescaped '+' in a urlencoded value: it reads as a space.
	p = b.pair()
	b.addPair(Case{Name: "b64-form-unescaped-plus", Family: FamBase64, Header: []string{"Content-Type: application/x-www-form-urlencoded"},
		Body: []byte("selfie=" + strings.ReplaceAll(dataURI("image/jpeg", p.decoy), "/", "%2F"))}, p)
}

// padded is the base64 of d, made to end in padding by adding a byte.
func padded(d []byte) string {
	if len(d)%3 == 0 {
		d = append(d[:len(d):len(d)], 0)
	}
	return b64(d)
}

// nonCanonical is the padded base64 of d with non-zero unused bits in its
// last character.
func nonCanonical(d []byte) string {
	if len(d)%3 == 0 {
		d = append(d[:len(d):len(d)], 0xD9)
	}
	s := []byte(b64(d))
	i := bytes.IndexByte(s, '=') - 1
	const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	v := strings.IndexByte(alpha, s[i])
	s[i] = alpha[v|1]
	return string(s)
}

func (b *builder) query() {
	type v struct {
		name string
		q    func(p pair) string
	}
	qs := []v{
		{"selfie-base64", func(p pair) string { return "?selfie=" + url.QueryEscape(b64(p.hidden)) }},
		{"selfie-data-uri", func(p pair) string { return "?selfie=" + url.QueryEscape(dataURI("image/png", p.hidden)) }},
		{"selfie-raw-bytes", func(p pair) string { return "?selfie=" + url.QueryEscape(string(p.hidden)) }},
		{"photo-base64", func(p pair) string { return "?photo=" + url.QueryEscape(b64(p.hidden)) }},
		{"selfie-array", func(p pair) string { return "?selfie[]=" + url.QueryEscape(b64(p.hidden)) }},
		{"semicolon", func(p pair) string { return "?a=1;selfie=" + url.QueryEscape(b64(p.hidden)) }},
		{"Selfie", func(p pair) string { return "?Selfie=" + url.QueryEscape(dataURI("image/png", p.hidden)) }},
	}
	for _, x := range qs {
		for _, body := range []string{"multipart", "form", "json", "raw"} {
			p := b.pair()
			c := Case{Name: "query-" + x.name + "/" + body, Family: FamQuery, Query: x.q(p)}
			switch body {
			case "multipart":
				c.Header, c.Body = []string{ctMP + bGate}, multipartBody(bGate, filePart("selfie", "selfie.jpg", "image/jpeg", p.decoy))
			case "form":
				c.Header, c.Body = []string{"Content-Type: application/x-www-form-urlencoded"}, []byte("selfie="+url.QueryEscape(b64(p.decoy)))
			case "json":
				c.Header, c.Body = []string{"Content-Type: application/json"}, []byte(`{"selfie":`+jsonStr(dataURI("image/jpeg", p.decoy))+`}`)
			case "raw":
				c.Header, c.Body, c.Modes = []string{"Content-Type: image/jpeg"}, p.decoy, []string{ModeAuto}
			}
			b.addPair(c, p)
		}
	}
}

func (b *builder) preamble() {
	type v struct {
		name, ct string
		json     func(p pair) string
		after    bool
	}
	vs := []v{
		{"data-uri", ctMP + bGate, func(p pair) string { return `{"selfie":` + jsonStr(dataURI("image/png", p.hidden)) + `}` }, false},
		{"raw-base64", ctMP + bGate, func(p pair) string { return `{"selfie":` + jsonStr(b64(p.hidden)) + `}` }, false},
		{"Selfie-key", ctMP + bGate, func(p pair) string { return `{"Selfie":` + jsonStr(b64(p.hidden)) + `}` }, false},
		{"no-newline", ctMP + bGate, func(p pair) string { return `{"selfie":` + jsonStr(b64(p.hidden)) + `}` }, false},
		{"epilogue", ctMP + bGate, func(p pair) string { return `{"selfie":` + jsonStr(b64(p.hidden)) + `}` }, true},
	}
	for _, x := range vs {
		p := b.pair()
		sep := "\r\n"
		if x.name == "no-newline" {
			sep = ""
		}
		mp := multipartBody(bGate, filePart("selfie", "selfie.jpg", "image/jpeg", p.decoy))
		body := cat([]byte(x.json(p)+sep), mp)
		if x.after {
			body = cat(mp, []byte(x.json(p)))
		}
		b.addPair(Case{Name: "preamble-json-" + x.name, Family: FamPreamble, Header: []string{x.ct}, Body: body}, p)
	}
	// JSON then something else, under other types.
	for _, ct := range []string{"text/plain", "application/octet-stream", "application/x-www-form-urlencoded", "image/jpeg"} {
		p := b.pair()
		b.addPair(Case{Name: "preamble-json-under-" + ct, Family: FamPreamble, Header: []string{"Content-Type: " + ct},
			Body: cat([]byte(`{"selfie":`+jsonStr(b64(p.hidden))+"}\r\n"), p.decoy)}, p)
	}
	// Two JSON values in a JSON body: a decoder reads the first, the gate
	// maybe the other.
	for _, order := range []string{"hidden-first", "decoy-first"} {
		p := b.pair()
		d, h := `{"selfie":`+jsonStr(dataURI("image/jpeg", p.decoy))+`}`, `{"selfie":`+jsonStr(dataURI("image/png", p.hidden))+`}`
		body := h + "\n" + d
		if order == "decoy-first" {
			body = d + "\n" + h
		}
		b.addPair(Case{Name: "preamble-two-json-values/" + order, Family: FamPreamble, Header: []string{"Content-Type: application/json"}, Body: []byte(body)}, p)
	}
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func chunked(b []byte, ext string) []byte {
	var out bytes.Buffer
	for len(b) > 0 {
		n := min(len(b), 700)
		fmt.Fprintf(&out, "%x%s\r\n", n, ext)
		out.Write(b[:n])
		out.WriteString("\r\n")
		b = b[n:]
	}
	out.WriteString("0\r\n\r\n")
	return out.Bytes()
}

func (b *builder) httpFraming() {
	mp := func(p pair) []byte {
		return multipartBody(bGate, filePart("selfie", "selfie.jpg", "image/jpeg", p.decoy), filePart("photo", "h.png", "image/png", p.hidden))
	}
	p := b.pair()
	b.addPair(Case{Name: "http-gzip-hidden", Family: FamHTTP, Header: []string{ctMP + bGate, "Content-Encoding: gzip"},
		Body: gz(multipartBody(bGate, filePart("selfie", "h.png", "image/png", p.hidden)))}, p)
	p = b.pair()
	b.addPair(Case{Name: "http-gzip-label-plain-body", Family: FamHTTP, Header: []string{ctMP + bGate, "Content-Encoding: gzip"},
		Body: multipartBody(bGate, filePart("selfie", "selfie.jpg", "image/jpeg", p.decoy))}, p)
	p = b.pair()
	b.addPair(Case{Name: "http-gzip-json", Family: FamHTTP, Header: []string{"Content-Type: application/json", "Content-Encoding: gzip"},
		Body: gz([]byte(`{"selfie":` + jsonStr(b64(p.hidden)) + `}`))}, p)
	p = b.pair()
	b.addPair(Case{Name: "http-content-encoding-identity-and-gzip", Family: FamHTTP, Header: []string{ctMP + bGate, "Content-Encoding: identity", "Content-Encoding: gzip"},
		Body: mp(p)}, p)
	p = b.pair()
	body := mp(p)
	b.addPair(Case{Name: "http-duplicate-content-length", Family: FamHTTP, Header: []string{ctMP + bGate},
		Framing: []string{"Content-Length: " + strconv.Itoa(len(body)), "Content-Length: " + strconv.Itoa(len(body))}, Body: body}, p)
	p = b.pair()
	body = mp(p)
	b.addPair(Case{Name: "http-content-length-list", Family: FamHTTP, Header: []string{ctMP + bGate},
		Framing: []string{"Content-Length: " + strconv.Itoa(len(body)) + ", " + strconv.Itoa(len(body))}, Body: body}, p)
	p = b.pair()
	b.addPair(Case{Name: "http-chunked", Family: FamHTTP, Header: []string{ctMP + bGate},
		Framing: []string{"Transfer-Encoding: chunked"}, Body: chunked(mp(p), "")}, p)
	p = b.pair()
	b.addPair(Case{Name: "http-chunked-extensions", Family: FamHTTP, Header: []string{ctMP + bGate},
		Framing: []string{"Transfer-Encoding: chunked"}, Body: chunked(mp(p), ";x=\"y\"")}, p)
	p = b.pair()
	body = chunked(mp(p), "")
	b.addPair(Case{Name: "http-chunked-and-length", Family: FamHTTP, Header: []string{ctMP + bGate},
		Framing: []string{"Content-Length: " + strconv.Itoa(len(body)), "Transfer-Encoding: chunked"}, Body: body}, p)
	p = b.pair()
	b.addPair(Case{Name: "http-expect-continue", Family: FamHTTP, Header: []string{ctMP + bGate, "Expect: 100-continue"}, Body: mp(p)}, p)
	// Lone CR, folding and odd spellings in the request's own headers.
	b.twoBoundaries("http-ct-folded", FamHTTP, func(a, bb string) []string {
		return []string{"Content-Type: multipart/form-data;\r\n boundary=" + a}
	}, bGate, bOther)
	b.twoBoundaries("http-ct-folded-second-boundary", FamHTTP, func(a, bb string) []string {
		return []string{ctMP + a + ";\r\n\tboundary=" + bb}
	}, bGate, bOther)
	b.twoBoundaries("http-ct-lone-cr", FamHTTP, func(a, bb string) []string {
		return []string{ctMP + a + "\rContent-Type: multipart/form-data; boundary=" + bb}
	}, bGate, bOther)
	b.twoBoundaries("http-ct-space-before-colon", FamHTTP, func(a, bb string) []string {
		return []string{ctMP + a, "Content-Type : multipart/form-data; boundary=" + bb}
	}, bGate, bOther)
	b.twoBoundaries("http-ct-underscore-name", FamHTTP, func(a, bb string) []string {
		return []string{ctMP + a, "Content_Type: multipart/form-data; boundary=" + bb}
	}, bGate, bOther)
	// Forged verdict headers naming the hidden image, which sits in a text
	// value: the suite also checks every judged hash against the images
	// the vendor was asked about, so a forged header cannot hide a bypass.
	for _, forged := range []string{"X-Liveness-Image-Sha256", "X_Liveness_Image_Sha256", "x-liveness.image-sha256", "X-LIVENESS-IMAGE-SHA256"} {
		p = b.pair()
		b.addPair(Case{Name: "http-forged-" + forged, Family: FamHTTP,
			Header: []string{ctMP + bGate, "X-Liveness-Verdict: live", forged + ": " + Sum(p.hidden)},
			Body:   multipartBody(bGate, filePart("selfie", "selfie.jpg", "image/jpeg", p.decoy), textPart("photo", b64(p.hidden)))}, p)
	}
}

func (b *builder) mediaType() {
	cts := []string{
		"Multipart/Form-Data; boundary=" + bGate,
		"MULTIPART/FORM-DATA; BOUNDARY=" + bGate,
		"multipart/form-data; charset=utf-8; boundary=" + bGate,
		"multipart/form-data; boundary=" + bGate + "; charset=utf-8",
		"multipart/form-data;boundary=" + bGate,
		"multipart/form-data ; boundary=" + bGate,
		"multipart/form-data; boundary=" + bGate + ";",
		"multipart/form-data; boundary=\"" + bGate + "\"",
		"multipart/form-data; boundary=" + bGate + "; boundary=" + bGate,
		"multipart/form-datax; boundary=" + bGate,
		"multipart/form-data-x; boundary=" + bGate,
		"multipart/mixed; boundary=" + bGate,
		"multipart/related; boundary=" + bGate,
		"multipart/; boundary=" + bGate,
		"text/plain; boundary=" + bGate,
		"multipart/form-data",
		"form-data; boundary=" + bGate,
		"multipart/form-data boundary=" + bGate,
		"multipart/form-data; boundary=" + bGate + " x",
	}
	for _, ct := range cts {
		// The JPEG decoy as the preamble: a reader that does not take the
		// type for multipart may sniff the body as an image.
		p := b.pair()
		b.addPair(Case{Name: "ct-" + ct, Family: FamMediaType, Header: []string{"Content-Type: " + ct},
			Body: cat(p.decoy, []byte("\r\n"), multipartBody(bGate, filePart("selfie", "h.png", "image/png", p.hidden)))}, p)
	}
	p := b.pair()
	b.addPair(Case{Name: "ct-absent-multipart-body", Family: FamMediaType,
		Body: cat(p.decoy, []byte("\r\n"), multipartBody(bGate, filePart("selfie", "h.png", "image/png", p.hidden)))}, p)
	for _, ct := range []string{"application/JSON", "text/json", "application/vnd.api+json", "application/json; charset=latin1", "application/jsonx", "application/x-json", "text/plain"} {
		p := b.pair()
		b.addPair(Case{Name: "ct-json-" + ct, Family: FamMediaType, Header: []string{"Content-Type: " + ct},
			Body: []byte(`{"selfie":` + jsonStr(dataURI("image/jpeg", p.decoy)) + `,"Selfie":` + jsonStr(b64(p.hidden)) + `}`)}, p)
	}
	for _, ct := range []string{"application/X-WWW-Form-Urlencoded", "application/x-www-form-urlencoded; charset=utf-16", "application/x-www-form-urlencodedx", "text/plain"} {
		p := b.pair()
		b.addPair(Case{Name: "ct-form-" + ct, Family: FamMediaType, Header: []string{"Content-Type: " + ct},
			Body: []byte("selfie=" + url.QueryEscape(dataURI("image/jpeg", p.decoy)) + "&photo=" + url.QueryEscape(b64(p.hidden)))}, p)
	}
}

func utf16le(s string, bom bool) []byte {
	var out []byte
	if bom {
		out = append(out, 0xFF, 0xFE)
	}
	for _, u := range utf16.Encode([]rune(s)) {
		out = append(out, byte(u), byte(u>>8))
	}
	return out
}

func (b *builder) jsonMisc() {
	j := func(name string, ct string, body func(p pair) []byte) {
		p := b.pair()
		b.addPair(Case{Name: "json-" + name, Family: FamJSON, Header: []string{"Content-Type: " + ct}, Body: body(p)}, p)
	}
	dk := func(p pair) string { return `"selfie":` + jsonStr(dataURI("image/jpeg", p.decoy)) }
	hv := func(p pair) string { return jsonStr(dataURI("image/png", p.hidden)) }
	j("utf16le", "application/json; charset=utf-16", func(p pair) []byte { return utf16le(`{"selfie":`+hv(p)+`}`, false) })
	j("utf16le-bom", "application/json", func(p pair) []byte { return utf16le(`{"selfie":`+hv(p)+`}`, true) })
	j("utf8-bom", "application/json", func(p pair) []byte { return []byte("\xEF\xBB\xBF{" + dk(p) + `,"Selfie":` + hv(p) + "}") })
	j("invalid-utf8-key", "application/json", func(p pair) []byte { return []byte("{" + dk(p) + ",\"selfie\xff\":" + hv(p) + "}") })
	j("invalid-utf8-key-prefix", "application/json", func(p pair) []byte { return []byte("{" + dk(p) + ",\"\xc5selfie\":" + hv(p) + "}") })
	j("lone-surrogate-key", "application/json", func(p pair) []byte { return []byte("{" + dk(p) + `,"selfie\ud800":` + hv(p) + "}") })
	j("lone-surrogate-key-prefix", "application/json", func(p pair) []byte { return []byte("{" + dk(p) + `,"\udc00selfie":` + hv(p) + "}") })
	j("nul-in-key", "application/json", func(p pair) []byte { return []byte("{" + dk(p) + `,"selfie\u0000":` + hv(p) + "}") })
	j("exact-duplicate", "application/json", func(p pair) []byte { return []byte("{" + dk(p) + `,"selfie":` + hv(p) + "}") })
	j("exact-duplicate-raw", "application/json", func(p pair) []byte { return []byte("{" + dk(p) + `,"selfie":` + jsonStr(b64(p.hidden)) + "}") })
	j("trailing-garbage", "application/json", func(p pair) []byte { return []byte("{" + dk(p) + "}x{\"selfie\":" + hv(p) + "}") })
	j("trailing-comma", "application/json", func(p pair) []byte { return []byte("{" + dk(p) + `,"Selfie":` + hv(p) + ",}") })
	j("comment", "application/json", func(p pair) []byte { return []byte("{" + dk(p) + `,/*x*/"Selfie":` + hv(p) + "}") })
	j("nan", "application/json", func(p pair) []byte { return []byte("{" + dk(p) + `,"n":NaN,"Selfie":` + hv(p) + "}") })
	j("single-quotes", "application/json", func(p pair) []byte {
		return []byte("{" + dk(p) + `,'Selfie':'` + dataURI("image/png", p.hidden) + "'}")
	})
	j("top-level-array", "application/json", func(p pair) []byte { return []byte("[{" + dk(p) + `},{"selfie":` + hv(p) + "}]") })
	j("escaped-solidus-data", "application/json", func(p pair) []byte {
		return []byte("{" + dk(p) + `,"photo":` + strings.ReplaceAll(jsonStr(b64(p.hidden)), "/", `\/`) + "}")
	})
	j("unicode-escaped-value", "application/json", func(p pair) []byte {
		return []byte("{" + dk(p) + `,"photo":"\u0064ata:image/png;base64,` + b64(p.hidden) + `"}`)
	})
	j("deep-nesting", "application/json", func(p pair) []byte {
		return []byte("{" + dk(p) + `,"a":` + strings.Repeat("[", 600) + jsonStr(b64(p.hidden)) + strings.Repeat("]", 600) + "}")
	})
	j("big-number", "application/json", func(p pair) []byte { return []byte("{" + dk(p) + `,"n":1e999,"Selfie":` + hv(p) + "}") })
	j("whitespace-vt", "application/json", func(p pair) []byte { return []byte("{" + dk(p) + ",\v\"Selfie\":" + hv(p) + "}") })
}

func (b *builder) form() {
	f := func(name string, body func(p pair) string) {
		p := b.pair()
		b.addPair(Case{Name: "form-" + name, Family: FamForm, Header: []string{"Content-Type: application/x-www-form-urlencoded"}, Body: []byte(body(p))}, p)
	}
	d := func(p pair) string { return "selfie=" + url.QueryEscape(dataURI("image/jpeg", p.decoy)) }
	h := func(p pair) string { return url.QueryEscape(b64(p.hidden)) }
	f("semicolon-separator", func(p pair) string { return d(p) + ";selfie=" + h(p) })
	f("semicolon-then-amp", func(p pair) string { return "a=1;" + d(p) + "&selfie=" + h(p) })
	f("invalid-percent", func(p pair) string { return d(p) + "&x=%zz&selfie=" + h(p) })
	f("invalid-percent-in-name", func(p pair) string { return d(p) + "&selfi%g5=" + h(p) })
	f("truncated-percent", func(p pair) string { return d(p) + "&selfie=" + h(p) + "%" })
	f("duplicate-selfie", func(p pair) string { return d(p) + "&selfie=" + h(p) })
	f("duplicate-selfie-hidden-first", func(p pair) string { return "selfie=" + h(p) + "&" + d(p) })
	f("percent-encoded-name", func(p pair) string { return d(p) + "&%73elfie=" + h(p) })
	f("empty-pairs", func(p pair) string { return "&&" + d(p) + "&&=&selfie=" + h(p) })
	f("equals-in-value", func(p pair) string { return d(p) + "&x=selfie=" + h(p) })
	f("newline-separator", func(p pair) string { return d(p) + "\r\nselfie=" + h(p) })
	f("utf8-bom", func(p pair) string { return "\xEF\xBB\xBF" + d(p) + "&selfie=" + h(p) })
	f("plus-in-name", func(p pair) string { return d(p) + "&selfie+=" + h(p) })
	f("raw-bytes-value", func(p pair) string { return d(p) + "&photo=" + url.QueryEscape(string(p.hidden)) })
}

func (b *builder) partHeaders() {
	type v struct {
		name string
		hdr  []string
	}
	vs := []v{
		{"lone-cr-between-cds", []string{"Content-Disposition: form-data; name=\"note\"\rContent-Disposition: form-data; name=\"selfie\"; filename=\"h.png\""}},
		{"lone-lf-between-cds", []string{"Content-Disposition: form-data; name=\"note\"\nContent-Disposition: form-data; name=\"selfie\"; filename=\"h.png\""}},
		{"folded-filename", []string{"Content-Disposition: form-data; name=\"selfie\";", " filename=\"h.png\""}},
		{"folded-name", []string{"Content-Disposition: form-data;", "\tname=\"selfie\"; filename=\"h.png\""}},
		{"folded-second-name", []string{"Content-Disposition: form-data; name=\"note\"", " name=\"selfie\"; filename=\"h.png\""}},
		{"space-before-colon", []string{"Content-Disposition : form-data; name=\"selfie\"; filename=\"h.png\""}},
		{"no-space-after-colon", []string{"Content-Disposition:form-data; name=\"selfie\"; filename=\"h.png\""}},
		{"lowercase-header", []string{"content-disposition: form-data; name=\"selfie\"; filename=\"h.png\""}},
		{"underscore-header", []string{"Content_Disposition: form-data; name=\"selfie\"; filename=\"h.png\""}},
		{"header-without-colon", []string{"X-Junk", "Content-Disposition: form-data; name=\"selfie\"; filename=\"h.png\""}},
		{"nul-in-header", []string{"Content-Disposition: form-data; name=\"selfie\"; filename=\"h.png\"\x00junk"}},
		{"duplicate-content-type", []string{"Content-Disposition: form-data; name=\"selfie\"; filename=\"h.png\"", "Content-Type: image/png", "Content-Type: text/plain"}},
		{"huge-header-count", append([]string{"Content-Disposition: form-data; name=\"selfie\"; filename=\"h.png\""}, repeatLines("X-A: b", 200)...)},
		{"long-header-line", []string{"Content-Disposition: form-data; name=\"selfie\"; filename=\"" + strings.Repeat("h", 5000) + ".png\""}},
	}
	for _, x := range vs {
		x := x
		b.hiddenBeside("ph-"+x.name, FamPartHeader, func(p pair) part { return part{x.hdr, p.hidden} })
	}
	// Part headers ending in a bare LF blank line, or a CR CR.
	for _, sep := range []string{"\n\n", "\r\n\n", "\n\r\n", "\r\r"} {
		p := b.pair()
		body := cat([]byte("--"+bGate+"\r\n"+`Content-Disposition: form-data; name="note"`+"\r\n\r\nx\r\n--"+bGate+"\r\n"+
			`Content-Disposition: form-data; name="selfie"; filename="h.png"`+sep), p.hidden,
			[]byte("\r\n"), multipartBody(bGate, filePart("selfie", "selfie.jpg", "image/jpeg", p.decoy)))
		b.addPair(Case{Name: "ph-blank-line-" + strconv.Quote(sep), Family: FamPartHeader, Header: []string{ctMP + bGate}, Body: body}, p)
	}
}

func repeatLines(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
