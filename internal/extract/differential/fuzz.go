package differential

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
)

// Mutations returns n requests made from the ordinary upload shapes by
// seeded random byte-level and structural mutations, each with a decoy and
// usually a hidden image. The same seed and n give the same cases.
func Mutations(seed uint64, n int) []Case {
	b := &builder{}
	b.img.n = 100000 // images distinct from the corpus's
	out := make([]Case, 0, n)
	for i := range n {
		r := rand.New(rand.NewPCG(seed, uint64(i)))
		p := b.pair()
		m := &mutator{r: r, p: p}
		var c Case
		switch k := r.IntN(10); {
		case k < 6:
			c = m.multipart()
		case k < 8:
			c = m.json()
		default:
			c = m.form()
		}
		c.Name = fmt.Sprintf("fuzz-%04d-%s", i, c.Name)
		c.Family = FamFuzz
		c.Note = strings.Join(m.ops, " ")
		c.Images = labelImages(map[string][]byte{"decoy": p.decoy, "hidden": p.hidden})
		out = append(out, c)
	}
	return out
}

type mutator struct {
	r   *rand.Rand
	p   pair
	ops []string
}

func (m *mutator) op(format string, a ...any) { m.ops = append(m.ops, fmt.Sprintf(format, a...)) }

func (m *mutator) pick(s []string) string { return s[m.r.IntN(len(s))] }

// shapes of the ordinary multipart clients: request headers (with %s for
// the boundary) and the boundary.
var shapes = []struct {
	name, boundary string
	header         []string
	dotnet, okhttp bool
}{
	{"curl", "------------------------06752e041c68b3e6", []string{"User-Agent: curl/7.88.1", "Accept: */*", ctMP + "%s"}, false, false},
	{"chromium", "----WebKitFormBoundary7MA4YWxkTrZu0gW", []string{"User-Agent: Mozilla/5.0 Chrome/131.0.0.0", "Accept: */*", ctMP + "%s"}, false, false},
	{"requests", "9431149156168aeb6b1d8f4a5c3e2d10", []string{"User-Agent: python-requests/2.31.0", "Accept: */*", ctMP + "%s"}, false, false},
	{"undici", "----formdata-undici-036935280668", []string{"content-type: multipart/form-data; boundary=%s", "accept: */*"}, false, false},
	{"okhttp", "3f1c9e2a-7b4d-4c8e-9a6f-1d2e3b4c5a6f", []string{ctMP + "%s", "User-Agent: okhttp/4.12.0"}, false, true},
	{"ios", "Boundary-6F1E2D3C-4B5A-4978-8695-A4B3C2D1E0F9", []string{"Accept: */*", ctMP + "%s"}, false, false},
	{"dotnet", "8d3f5c2e-1a4b-4f6d-9e8c-7b6a5d4c3b2a", []string{`Content-Type: multipart/form-data; boundary="%s"`}, true, false},
}

var (
	nameVariants = []string{"Selfie", "SELFIE", " selfie", "selfie ", "selfie[]", "selfie.", "ſelfie", "selfie\x00", "sel\\fie", "selfie[0]", "photo"}
	weirdCDs     = []string{
		`form-data; name="selfie"; name="x"; filename="h.png"`, `form-data; name="x"; name="selfie"; filename="h.png"`,
		`form-data; name="selfie"; filename="h.png"; junk`, `form-data; name="selfie"; filename="h.png`, `name="selfie"; filename="h.png"`,
		`attachment; name="selfie"; filename="h.png"`, `form-data; name*=UTF-8''selfie; filename="h.png"`, `form-data; name="selfie"; filename=""`,
		`form-data; name="selfie"; filename*=UTF-8''h.png`, `form-data; name="selfie"`, `form-data; name=" selfie"; filename="h.png"`,
		`form-data; name="Selfie"; filename="h.png"`, `form-data; name=selfie; filename=h.png`, `form-data;name="selfie";filename="h.png"`,
	}
	partHeaderLines = []string{
		"Content-Transfer-Encoding: base64", "Content-Transfer-Encoding: quoted-printable", "Content-Type: image/png",
		"Content-Type: text/plain", "Content-Type: application/octet-stream", `Content-Disposition: form-data; name="selfie"; filename="h.png"`,
		`Content-Disposition: form-data; name="other"`, "Content-Length: 3", "X-Junk: 1", "Content-Type: multipart/mixed; boundary=" + bOther,
	}
	requestHeaderLines = []string{
		ctMP + bOther, "Content-Type: application/json", "Content-Type: application/x-www-form-urlencoded", "Content-Type: image/jpeg",
		"Content-Encoding: gzip", "Content-Encoding: identity", "X-Liveness-Verdict: live", "Content-Type: multipart/form-data",
		"Content-Type: text/plain", "Expect: 100-continue",
	}
	framingBytes = []string{"\r", "\n", "\r\n", " ", "\"", "\\", ";", "\t", "=", "-", "*", "'", "\x00"}
)

func (m *mutator) multipart() Case {
	s := shapes[m.r.IntN(len(shapes))]
	bd := s.boundary
	hdr := make([]string, len(s.header))
	for i, h := range s.header {
		hdr[i] = strings.ReplaceAll(h, "%s", bd)
	}
	fileHdr := []string{`Content-Disposition: form-data; name="selfie"; filename="selfie.jpg"`, "Content-Type: image/jpeg"}
	textHdr := []string{`Content-Disposition: form-data; name="user"`}
	if s.dotnet {
		fileHdr = []string{"Content-Type: image/jpeg", "Content-Disposition: form-data; name=selfie; filename=selfie.jpg; filename*=utf-8''selfie.jpg"}
		textHdr = []string{"Content-Type: text/plain; charset=utf-8", "Content-Disposition: form-data; name=user"}
	}
	if s.okhttp {
		fileHdr = append(fileHdr, "Content-Length: "+strconv.Itoa(len(m.p.decoy)))
		textHdr = append(textHdr, "Content-Length: 5")
	}
	parts := []part{{textHdr, []byte("alice")}, {fileHdr, m.p.decoy}}
	delims := map[int]string{}

	for range 1 + m.r.IntN(3) {
		switch m.r.IntN(11) {
		case 0, 1, 2: // duplicate a part, the decoy swapped for the hidden
			i := m.r.IntN(len(parts))
			cp := part{append([]string(nil), parts[i].hdr...), parts[i].data}
			if bytes.Equal(cp.data, m.p.decoy) || m.r.IntN(2) == 0 {
				cp.data = m.p.hidden
			}
			if m.r.IntN(2) == 0 {
				v := m.pick(nameVariants)
				cp.hdr = renamed(cp.hdr, v)
				m.op("dup-part[%d]-as-%q", i, v)
			} else {
				m.op("dup-part[%d]", i)
			}
			j := m.r.IntN(len(parts) + 1)
			parts = append(parts[:j], append([]part{cp}, parts[j:]...)...)
		case 3: // add a hidden part with an odd disposition
			cd := m.pick(weirdCDs)
			j := m.r.IntN(len(parts) + 1)
			parts = append(parts[:j], append([]part{{[]string{"Content-Disposition: " + cd, "Content-Type: image/png"}, m.p.hidden}}, parts[j:]...)...)
			m.op("add-part@%d:%q", j, cd)
		case 4: // a part header line added
			i := m.r.IntN(len(parts))
			l := m.pick(partHeaderLines)
			h := parts[i].hdr
			j := m.r.IntN(len(h) + 1)
			parts[i].hdr = append(h[:j:j], append([]string{l}, h[j:]...)...)
			m.op("part[%d]-add-header:%q", i, l)
		case 5: // a part header line deleted or duplicated
			i := m.r.IntN(len(parts))
			h := parts[i].hdr
			if len(h) == 0 {
				continue
			}
			j := m.r.IntN(len(h))
			if m.r.IntN(2) == 0 {
				parts[i].hdr = append(h[:j:j], h[j+1:]...)
				m.op("part[%d]-del-header[%d]", i, j)
			} else {
				parts[i].hdr = append(h[:j+1:j+1], h[j:]...)
				m.op("part[%d]-dup-header[%d]", i, j)
			}
		case 6: // rename one part
			i := m.r.IntN(len(parts))
			v := m.pick(nameVariants)
			parts[i].hdr = renamed(parts[i].hdr, v)
			m.op("part[%d]-rename-%q", i, v)
		case 7: // the boundary changed in one delimiter
			i := m.r.IntN(len(parts) + 1)
			v := m.pick([]string{"--" + bd + "x", "--" + bd[:len(bd)-1], "--" + strings.ToUpper(bd), " --" + bd, "--" + bd + " ", "-" + bd, "--" + bd + "--"})
			delims[i] = v
			m.op("delim[%d]=%q", i, v)
		case 8: // the Content-Type's boundary parameter changed
			for k, h := range hdr {
				if strings.HasPrefix(strings.ToLower(h), "content-type:") {
					v := m.pick([]string{"; boundary=" + bOther, "; boundary*=" + bOther, "; BOUNDARY=" + bd, "; charset=utf-8", "; boundary=\"" + bd + "\"", ";", "; x"})
					hdr[k] = h + v
					m.op("ct+=%q", v)
					break
				}
			}
		case 9: // a request header inserted, deleted or duplicated
			switch k := m.r.IntN(3); {
			case k > 0 && len(hdr) == 0:
			case k == 0:
				l := m.pick(requestHeaderLines)
				j := m.r.IntN(len(hdr) + 1)
				hdr = append(hdr[:j:j], append([]string{l}, hdr[j:]...)...)
				m.op("hdr-add:%q", l)
			case k == 1:
				j := m.r.IntN(len(hdr))
				m.op("hdr-del:%q", hdr[j])
				hdr = append(hdr[:j:j], hdr[j+1:]...)
			default:
				j := m.r.IntN(len(hdr))
				hdr = append(hdr[:j+1:j+1], hdr[j:]...)
				m.op("hdr-dup:%q", hdr[j])
			}
		case 10: // the hidden image smuggled in a text value
			enc := m.pick([]string{"b64", "data", "raw"})
			v := b64(m.p.hidden)
			switch enc {
			case "data":
				v = dataURI("image/png", m.p.hidden)
			case "raw":
				v = string(m.p.hidden)
			}
			parts = append(parts, part{[]string{`Content-Disposition: form-data; name="` + m.pick([]string{"selfie", "photo", "note"}) + `"`}, []byte(v)})
			m.op("add-value-%s", enc)
		}
	}
	body, framing := serialize(bd, parts, delims)
	body, hdr = m.bytes(body, framing, hdr)
	return Case{Name: "mp-" + s.name, Header: hdr, Body: body}
}

// renamed sets the name parameter of the part's Content-Disposition.
func renamed(hdr []string, name string) []string {
	out := append([]string(nil), hdr...)
	for i, h := range out {
		if strings.HasPrefix(strings.ToLower(h), "content-disposition:") {
			if j := strings.Index(h, "name="); j >= 0 {
				rest := h[j+5:]
				end := strings.IndexByte(rest, ';')
				if end < 0 {
					end = len(rest)
				}
				out[i] = h[:j+5] + `"` + name + `"` + rest[end:]
			}
		}
	}
	return out
}

// serialize frames the parts, with the delimiter line of part i (or of
// the close delimiter, i == len(parts)) replaced by delims[i], and returns
// the ranges of the framing: delimiter lines and part headers.
func serialize(bd string, parts []part, delims map[int]string) ([]byte, [][2]int) {
	var b bytes.Buffer
	var framing [][2]int
	for i, p := range parts {
		start := b.Len()
		if d, ok := delims[i]; ok {
			b.WriteString(d + "\r\n")
		} else {
			b.WriteString("--" + bd + "\r\n")
		}
		for _, h := range p.hdr {
			b.WriteString(h + "\r\n")
		}
		b.WriteString("\r\n")
		framing = append(framing, [2]int{start, b.Len()})
		b.Write(p.data)
		b.WriteString("\r\n")
	}
	start := b.Len() - 2
	if d, ok := delims[len(parts)]; ok {
		b.WriteString(d + "\r\n")
	} else {
		b.WriteString("--" + bd + "--\r\n")
	}
	framing = append(framing, [2]int{start, b.Len()})
	return b.Bytes(), framing
}

// bytes applies 0 to 2 byte-level mutations within the framing or the
// request header lines.
func (m *mutator) bytes(body []byte, framing [][2]int, hdr []string) ([]byte, []string) {
	for range m.r.IntN(3) {
		if m.r.IntN(3) == 0 && len(hdr) > 0 {
			j := m.r.IntN(len(hdr))
			h := []byte(hdr[j])
			at := m.r.IntN(len(h) + 1)
			h = m.mutateAt(h, at)
			m.op("hdr[%d]-byte@%d", j, at)
			hdr[j] = string(h)
			continue
		}
		if len(framing) == 0 {
			continue
		}
		f := framing[m.r.IntN(len(framing))]
		at := min(f[0]+m.r.IntN(f[1]-f[0]+1), len(body))
		body = m.mutateAt(body, at)
		// The ranges after the mutation move; the rest are approximate,
		// which a fuzzer tolerates.
	}
	return body, hdr
}

func (m *mutator) mutateAt(b []byte, at int) []byte {
	switch m.r.IntN(4) {
	case 0, 1:
		ins := m.pick(framingBytes)
		m.op("ins%q@%d", ins, at)
		return append(b[:at:at], append([]byte(ins), b[at:]...)...)
	case 2:
		if at < len(b) {
			m.op("del@%d", at)
			return append(b[:at:at], b[at+1:]...)
		}
	case 3:
		if at < len(b) {
			c := b[at]
			switch {
			case c >= 'a' && c <= 'z':
				c -= 32
			case c >= 'A' && c <= 'Z':
				c += 32
			}
			m.op("case@%d", at)
			out := append([]byte(nil), b...)
			out[at] = c
			return out
		}
	}
	return b
}

var jsonKeys = []string{"Selfie", "SELFIE", "ſelfie", `\u017felfie`, "selfie", `self\u0069e`, "selfie\\u0000", "photo", " selfie"}

func (m *mutator) json() Case {
	type kv struct{ k, v string }
	pairs := []kv{{"user", `"alice"`}, {"selfie", jsonStr(dataURI("image/jpeg", m.p.decoy))}}
	if m.r.IntN(2) == 0 {
		pairs[1].v = jsonStr(b64(m.p.decoy))
	}
	ct := "Content-Type: application/json"
	prefix, suffix := "", ""
	for range 1 + m.r.IntN(3) {
		switch m.r.IntN(7) {
		case 0, 1, 2:
			k := m.pick(jsonKeys)
			enc := m.pick([]string{"data", "b64", "url", "mixed", "wrapped"})
			var v string
			switch enc {
			case "data":
				v = dataURI("image/png", m.p.hidden)
			case "b64":
				v = b64(m.p.hidden)
			case "url":
				v = b64url(m.p.hidden)
			case "mixed":
				v = mixAlphabets(m.p.hidden)
			case "wrapped":
				v = wrap76(b64(m.p.hidden), "\n")
			}
			j := m.r.IntN(len(pairs) + 1)
			pairs = append(pairs[:j:j], append([]kv{{k, jsonStr(v)}}, pairs[j:]...)...)
			m.op("add-key@%d:%q:%s", j, k, enc)
		case 3:
			prefix = m.pick([]string{"\xEF\xBB\xBF", " ", "[", "\x00"})
			m.op("prefix:%q", prefix)
		case 4:
			suffix = m.pick([]string{"x", `{"selfie":` + jsonStr(b64(m.p.hidden)) + "}", "\n", ",", "]"})
			m.op("suffix:%.12q", suffix)
		case 5:
			ct = m.pick([]string{"Content-Type: text/plain", "Content-Type: application/x-www-form-urlencoded", "Content-Type: application/JSON",
				"Content-Type: application/json; charset=utf-16", ctMP + bGate})
			m.op("ct:%q", ct)
		case 6:
			i := m.r.IntN(len(pairs))
			pairs[i].k = m.pick(jsonKeys)
			m.op("rekey[%d]:%q", i, pairs[i].k)
		}
	}
	var b strings.Builder
	b.WriteString(prefix + "{")
	var framing [][2]int
	for i, p := range pairs {
		if i > 0 {
			b.WriteString(",")
		}
		start := b.Len()
		b.WriteString(`"` + p.k + `":`)
		framing = append(framing, [2]int{start, b.Len()})
		b.WriteString(p.v)
	}
	b.WriteString("}" + suffix)
	framing = append(framing, [2]int{b.Len() - 1 - len(suffix), b.Len()})
	body, hdr := m.bytes([]byte(b.String()), framing, []string{ct})
	return Case{Name: "json", Header: hdr, Body: body}
}

var formNames = []string{"Selfie", "selfie[]", "selfie%00x", "+selfie", "%20selfie", "selfie.", "photo", "selfie", "%73elfie", "selfie;"}

func (m *mutator) form() Case {
	type kv struct{ k, v string }
	pairs := []kv{{"user", "alice"}, {"selfie", url.QueryEscape(b64(m.p.decoy))}}
	if m.r.IntN(2) == 0 {
		pairs[1].v = url.QueryEscape(dataURI("image/jpeg", m.p.decoy))
	}
	query := ""
	for range 1 + m.r.IntN(3) {
		switch m.r.IntN(5) {
		case 0, 1, 2:
			k := m.pick(formNames)
			v := url.QueryEscape(m.pick([]string{b64(m.p.hidden), dataURI("image/png", m.p.hidden), b64url(m.p.hidden), string(m.p.hidden)}))
			j := m.r.IntN(len(pairs) + 1)
			pairs = append(pairs[:j:j], append([]kv{{k, v}}, pairs[j:]...)...)
			m.op("add@%d:%q", j, k)
		case 3:
			query = "?" + m.pick([]string{"selfie", "photo", "Selfie"}) + "=" + url.QueryEscape(b64(m.p.hidden))
			m.op("query")
		case 4:
			i := m.r.IntN(len(pairs))
			pairs[i].k = m.pick(formNames)
			m.op("rename[%d]:%q", i, pairs[i].k)
		}
	}
	var b strings.Builder
	var framing [][2]int
	for i, p := range pairs {
		start := b.Len()
		if i > 0 {
			b.WriteString("&")
		}
		b.WriteString(p.k + "=")
		framing = append(framing, [2]int{start, b.Len()})
		b.WriteString(p.v)
	}
	body, hdr := m.bytes([]byte(b.String()), framing, []string{"Content-Type: application/x-www-form-urlencoded"})
	return Case{Name: "form", Header: hdr, Body: body, Query: query}
}
