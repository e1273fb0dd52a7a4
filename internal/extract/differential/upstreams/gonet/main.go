// Command gonet is the Go net/http upstream of the differential suite: it
// answers every POST with the images an application on net/http could take
// from the request, each as the SHA-256 of the bytes the application would
// get, so the suite can check that the gate judged every one.
//
//	go run ./internal/extract/differential/upstreams/gonet -listen 127.0.0.1:PORT
//
// GET / answers "ready". Every POST answers 200 with
//
//	{"framework": "gonet", "ok": true, "error": "", "verdict": "...", "judged": "...",
//	 "images": [{"field": "selfie", "via": "file", "sha256": "..."}]}
//
// The readings, each on its own copy of the body: r.ParseMultipartForm
// (every file of every field, and r.FormFile for the first; every value of
// r.Form, r.PostForm and r.FormValue, which include the query string),
// encoding/json when the Content-Type is JSON (json.Unmarshal into a struct
// with a "selfie" field, which Go matches case-insensitively, and into
// map[string]any, walked for every image-like string), a json.Decoder on
// the raw body whatever the Content-Type (it reads the first value and
// stops), and the raw body when it starts with an image magic.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

type image struct {
	Field  string `json:"field"`
	Via    string `json:"via"`
	SHA256 string `json:"sha256"`
	Magic  bool   `json:"magic"` // the bytes start with an image or video signature
}

type report struct {
	Framework string  `json:"framework"`
	OK        bool    `json:"ok"`
	Error     string  `json:"error"`
	Verdict   string  `json:"verdict"`
	Judged    string  `json:"judged"`
	Images    []image `json:"images"`
}

const maxBody = 64 << 20

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	flag.Parse()
	srv := &http.Server{Addr: *listen, Handler: http.HandlerFunc(serve), ErrorLog: log.New(io.Discard, "", 0)}
	log.Fatal(srv.ListenAndServe())
}

func serve(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if p := recover(); p != nil {
			b, _ := json.Marshal(report{Framework: "gonet", Error: fmt.Sprintf("panic: %v", p), Images: []image{}})
			w.Header().Set("Content-Type", "application/json")
			w.Write(b)
		}
	}()
	if r.Method != http.MethodPost {
		io.WriteString(w, "ready")
		return
	}
	rep := report{
		Framework: "gonet",
		OK:        true,
		Verdict:   r.Header.Get("X-Liveness-Verdict"),
		Judged:    r.Header.Get("X-Liveness-Image-Sha256"),
		Images:    []image{},
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		rep.OK, rep.Error = false, "reading body: "+err.Error()
	} else {
		c := &collector{seen: map[image]bool{}}
		errs := c.readAll(r, raw)
		rep.Images = c.images
		if len(errs) > 0 {
			// The strict readings failed: an application checking errors
			// uses nothing; the images still listed are those an
			// application ignoring errors (r.FormValue does) would use.
			rep.OK, rep.Error = false, strings.Join(errs, "; ")
		}
	}
	b, _ := json.Marshal(rep)
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

type collector struct {
	images []image
	seen   map[image]bool
}

func (c *collector) add(field, via string, data []byte) {
	if len(data) == 0 {
		return
	}
	sum := sha256.Sum256(data)
	im := image{field, via, hex.EncodeToString(sum[:]), magic(data)}
	if !c.seen[im] {
		c.seen[im] = true
		c.images = append(c.images, im)
	}
}

// addString adds every image that s is or encodes.
func (c *collector) addString(field, via, s string) {
	for _, b := range imagesIn(s) {
		c.add(field, via, b)
	}
}

func clone(r *http.Request, raw []byte) *http.Request {
	r2 := r.Clone(r.Context())
	r2.Body = io.NopCloser(bytes.NewReader(raw))
	r2.ContentLength = int64(len(raw))
	r2.Form, r2.PostForm, r2.MultipartForm = nil, nil, nil
	return r2
}

// readAll runs every reading, each recovering from a panic of its own, and
// returns the errors of the strict ones.
func (c *collector) readAll(r *http.Request, raw []byte) (errs []string) {
	run := func(name string, f func() error) {
		defer func() {
			if p := recover(); p != nil {
				errs = append(errs, fmt.Sprintf("%s: panic: %v", name, p))
			}
		}()
		if err := f(); err != nil {
			errs = append(errs, name+": "+err.Error())
		}
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	run("form", func() error { return c.form(clone(r, raw)) })
	run("formvalue", func() error { c.formValue(clone(r, raw)); return nil })
	run("query", func() error {
		q, _ := url.ParseQuery(r.URL.RawQuery)
		for _, k := range sortedKeys(q) {
			for _, v := range q[k] {
				c.addString(k, "query", v)
			}
		}
		return nil
	})
	if mt == "application/json" || strings.HasSuffix(mt, "+json") {
		run("json", func() error { return c.jsonUnmarshal(raw) })
	}
	run("jsondecoder", func() error { c.jsonDecoder(raw); return nil })
	if magic(raw) {
		c.add("", "body", raw)
	}
	return errs
}

// form is r.ParseMultipartForm as an application would call it; an error
// that only says the body is not multipart is not one.
func (c *collector) form(r *http.Request) error {
	err := r.ParseMultipartForm(32 << 20)
	if err != nil && !errors.Is(err, http.ErrNotMultipart) {
		// r.Form may hold what was parsed before the error.
		c.values(r)
		return err
	}
	if r.MultipartForm != nil {
		for _, k := range sortedKeys(r.MultipartForm.File) {
			for _, fh := range r.MultipartForm.File[k] {
				f, err := fh.Open()
				if err != nil {
					continue
				}
				b, _ := io.ReadAll(f)
				f.Close()
				c.add(k, "file", b)
			}
			if f, _, err := r.FormFile(k); err == nil {
				b, _ := io.ReadAll(f)
				f.Close()
				c.add(k, "file", b)
			}
		}
	}
	c.values(r)
	return nil
}

func (c *collector) values(r *http.Request) {
	for _, vs := range []url.Values{r.Form, r.PostForm} {
		for _, k := range sortedKeys(vs) {
			for _, v := range vs[k] {
				c.addString(k, "form", v)
			}
		}
	}
	if r.MultipartForm != nil {
		for _, k := range sortedKeys(r.MultipartForm.Value) {
			for _, v := range r.MultipartForm.Value[k] {
				c.addString(k, "form", v)
			}
		}
	}
}

// formValue is r.FormValue, which parses on its own and ignores errors.
func (c *collector) formValue(r *http.Request) {
	r.FormValue("selfie")
	for _, k := range sortedKeys(r.Form) {
		c.addString(k, "form", r.FormValue(k))
	}
}

type selfieStruct struct {
	Selfie string `json:"selfie"`
}

func (c *collector) jsonUnmarshal(raw []byte) error {
	var s selfieStruct
	err1 := json.Unmarshal(raw, &s)
	if err1 == nil {
		c.addString("selfie", "json", s.Selfie)
	}
	var v any
	err2 := json.Unmarshal(raw, &v)
	if err2 == nil {
		c.walk("", v)
	}
	return errors.Join(err1, err2)
}

// jsonDecoder reads the first JSON value of the body whatever the
// Content-Type, as json.NewDecoder(r.Body).Decode does, and stops there.
func (c *collector) jsonDecoder(raw []byte) {
	var s selfieStruct
	if json.NewDecoder(bytes.NewReader(raw)).Decode(&s) == nil {
		c.addString("selfie", "json", s.Selfie)
	}
	var v any
	if json.NewDecoder(bytes.NewReader(raw)).Decode(&v) == nil {
		c.walk("", v)
	}
}

func (c *collector) walk(key string, v any) {
	switch v := v.(type) {
	case string:
		c.addString(key, "json", v)
	case []any:
		for _, e := range v {
			c.walk(key, e)
		}
	case map[string]any:
		for _, k := range sortedKeys(v) {
			c.walk(k, v[k])
		}
	}
}

// imagesIn returns the images s is: its bytes when they start with an
// image magic, and every decoding of it (after an optional data: prefix
// through the first comma) under the four base64 encodings that does.
func imagesIn(s string) [][]byte {
	var out [][]byte
	if magic([]byte(s)) {
		out = append(out, []byte(s))
	}
	p := s
	if strings.HasPrefix(p, "data:") {
		if _, after, ok := strings.Cut(p, ","); ok {
			p = after
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		b, err := enc.DecodeString(p)
		if err == nil && magic(b) {
			dup := false
			for _, o := range out {
				dup = dup || bytes.Equal(o, b)
			}
			if !dup {
				out = append(out, b)
			}
		}
	}
	return out
}

func magic(b []byte) bool {
	switch {
	case bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}),
		bytes.HasPrefix(b, []byte{0x89, 0x50, 0x4E, 0x47}),
		bytes.HasPrefix(b, []byte("GIF8")),
		len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP",
		bytes.HasPrefix(b, []byte("BM")),
		bytes.HasPrefix(b, []byte("II*\x00")),
		bytes.HasPrefix(b, []byte("MM\x00*")),
		len(b) >= 8 && string(b[4:8]) == "ftyp",
		bytes.HasPrefix(b, []byte{0x1A, 0x45, 0xDF, 0xA3}):
		return true
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
