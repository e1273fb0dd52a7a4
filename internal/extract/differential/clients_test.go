//go:build differential

package differential

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestRealClients makes real client software upload a JPEG through the
// running Caddy at test time — curl, Python requests (Debian's, on
// /usr/bin/python3), Node's fetch, Go's mime/multipart and net/http, and
// headless Chromium driven by playwright-core — in the shapes each sends
// (multipart with a text field beside the selfie; JSON with a data URI and
// urlencoded raw base64 where the client can), on /auto/F/ and /named/F/
// of gonet and werkzeug (DIFF_CLIENT_FRAMEWORKS, comma-separated, another
// list). Every upload must be forwarded (200 with the upstream's report),
// the upstream must report the image (named: under the field "selfie") and
// the gate must have judged it: its SHA-256 in X-Liveness-Image-Sha256 and
// asked of the vendor. The clients talk to a recording proxy on loopback in
// front of Caddy, so the test also logs what each one sent: the request
// header lines and each part's header lines. upstreams/install.sh installs
// every client; a missing one fails the test.
func TestRealClients(t *testing.T) {
	start := time.Now()
	frameworks := []string{"gonet", "werkzeug"}
	if v := os.Getenv("DIFF_CLIENT_FRAMEWORKS"); v != "" {
		frameworks = strings.Split(v, ",")
	}
	here, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	clientsDir := filepath.Join(here, "clients")
	var missing []string
	if _, err := exec.LookPath("curl"); err != nil {
		missing = append(missing, "curl")
	}
	if err := exec.Command("/usr/bin/python3", "-I", "-c", "import requests").Run(); err != nil {
		missing = append(missing, "/usr/bin/python3 with requests (Debian package python3-requests)")
	}
	if _, err := exec.LookPath("node"); err != nil {
		missing = append(missing, "node")
	}
	if _, err := os.Stat(filepath.Join(here, "upstreams/node/node_modules/playwright-core/package.json")); err != nil {
		missing = append(missing, "node package playwright-core (upstreams/node)")
	}
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		missing = append(missing, "/usr/bin/chromium (Debian package chromium)")
	}
	if len(missing) > 0 {
		t.Fatalf("missing clients: %s; run internal/extract/differential/upstreams/install.sh", strings.Join(missing, ", "))
	}

	r := startRig(t, frameworks, clientPageSite)
	rec := startRecorder(t, r.listen)
	base := "http://" + rec.addr
	var routes []string
	for _, fw := range frameworks {
		routes = append(routes, ModeAuto+"/"+fw, ModeNamed+"/"+fw)
	}
	dir := t.TempDir()
	imgs := &clientImages{dir: dir}
	var results []clientResult
	facts := map[string]string{} // client/shape -> what it sent, from its first run
	versions := map[string]string{}
	note := func(res clientResult) {
		results = append(results, res)
		t.Log(res.line())
		if k := res.client + " " + res.shape; facts[k] == "" && res.sent != nil {
			facts[k] = res.sent.describe()
		}
	}

	// One process per upload for the command-line clients.
	type cli struct {
		name   string
		shapes []string
		cmd    func(url, shape, img string) []string
	}
	clis := []cli{
		{"curl", []string{"multipart", "multipart-photo", "json", "urlencoded"}, func(u, shape, img string) []string {
			out := img + ".out"
			args := []string{"curl", "-sS", "--max-time", "30", "-o", out, "-w", "%{http_code}"}
			switch shape {
			case "multipart", "multipart-photo":
				args = append(args, "-F", "selfie=@"+img, "-F", "user=alice")
			case "json":
				args = append(args, "--json", "@"+imgs.file(img, "json"))
			case "urlencoded":
				args = append(args, "--data-urlencode", "selfie@"+imgs.file(img, "b64"), "--data-urlencode", "user=alice")
			}
			return append(args, u)
		}},
		{"python-requests", []string{"multipart", "multipart-photo", "json", "urlencoded"}, func(u, shape, img string) []string {
			return []string{"/usr/bin/python3", "-I", filepath.Join(clientsDir, "requests_client.py"), u, strings.TrimSuffix(shape, "-photo"), img}
		}},
		{"node-fetch", []string{"multipart", "multipart-photo", "json", "urlencoded"}, func(u, shape, img string) []string {
			return []string{"node", filepath.Join(clientsDir, "fetch_client.mjs"), u, strings.TrimSuffix(shape, "-photo"), img}
		}},
	}
	for _, c := range clis {
		for _, shape := range c.shapes {
			for _, route := range routes {
				img, sum := imgs.next(shape == "multipart-photo")
				u := base + "/" + route + "/upload"
				res := clientResult{client: c.name, shape: shape, route: route, sum: sum}
				mark := rec.mark()
				out, err := runClient(dir, c.cmd(u, shape, img))
				if err == nil {
					res.status, res.body, res.version, err = parseClientOutput(c.name, out, img)
				}
				res.err = err
				res.sent = rec.postOne(mark)
				if res.version != "" {
					versions[c.name] = res.version
				}
				res.judge(r.v)
				note(res)
			}
		}
	}

	// Go, in process: mime/multipart's Writer and net/http's client.
	goClient := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{Proxy: nil}}
	for _, shape := range []string{"multipart", "multipart-createpart", "json", "urlencoded"} {
		for _, route := range routes {
			img, sum := imgs.next(false)
			data, _ := os.ReadFile(img)
			res := clientResult{client: "go-net/http", shape: shape, route: route, sum: sum}
			mark := rec.mark()
			res.status, res.body, res.err = goUpload(goClient, base+"/"+route+"/upload", shape, data)
			res.sent = rec.postOne(mark)
			res.judge(r.v)
			note(res)
		}
	}
	versions["go-net/http"] = "Go-http-client/1.1, " + runtime.Version()

	// Chromium: one browser, every job from a page of Caddy's own origin
	// (through the recorder), so fetch reads the response.
	chromiumStart := time.Now()
	type job struct {
		URL   string `json:"url"`
		Shape string `json:"shape"`
		Image string `json:"image"`
		sum   string
	}
	var jobs []job
	for _, shape := range []string{"multipart", "json", "urlencoded", "form-input", "form-submit"} {
		for _, route := range routes {
			img, sum := imgs.next(false)
			jobs = append(jobs, job{"/" + route + "/upload", shape, img, sum})
		}
	}
	spec, _ := json.Marshal(map[string]any{"page": base + "/clients/page", "userDataDir": filepath.Join(dir, "chromium-profile"), "jobs": jobs})
	specPath := filepath.Join(dir, "chromium-jobs.json")
	if err := os.WriteFile(specPath, spec, 0o600); err != nil {
		t.Fatal(err)
	}
	mark := rec.mark()
	out, err := runClient(dir, []string{"node", filepath.Join(clientsDir, "chromium.js"), specPath})
	chromiumTook := time.Since(chromiumStart)
	answers := map[string]clientResult{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var a struct {
			Client string `json:"client"`
			URL    string `json:"url"`
			Shape  string `json:"shape"`
			Status int    `json:"status"`
			Body   string `json:"body"`
		}
		if json.Unmarshal(sc.Bytes(), &a) != nil {
			continue
		}
		if a.Client != "" {
			versions["chromium"] = a.Client
			continue
		}
		answers[a.Shape+" "+a.URL] = clientResult{status: a.Status, body: []byte(a.Body)}
	}
	sent := rec.postSince(mark, len(jobs))
	for i, j := range jobs {
		res := clientResult{client: "chromium", shape: j.Shape, route: strings.TrimSuffix(strings.TrimPrefix(j.URL, "/"), "/upload"), sum: j.sum}
		if a, ok := answers[j.Shape+" "+j.URL]; ok {
			res.status, res.body = a.status, a.body
		} else {
			res.err = fmt.Errorf("chromium gave no answer for this job (%v): %s", err, lastLines(out, 10))
		}
		// The recorder keeps the POSTs in the order the page sent them.
		if i < len(sent) && sent[i].path == j.URL {
			res.sent = &sent[i]
		}
		res.judge(r.v)
		note(res)
	}
	t.Logf("chromium: %d uploads in %s", len(jobs), chromiumTook.Round(time.Millisecond))
	if chromiumTook > 30*time.Second {
		t.Errorf("the Chromium part took %s (more than 30 s)", chromiumTook.Round(time.Millisecond))
	}

	var b strings.Builder
	b.WriteString("\nclients:\n")
	for _, c := range []string{"curl", "python-requests", "node-fetch", "go-net/http", "chromium"} {
		fmt.Fprintf(&b, "  %-16s %s\n", c, versions[c])
	}
	b.WriteString("\nwhat each client sent (its first upload of each shape):\n")
	for _, res := range results {
		k := res.client + " " + res.shape
		if f, ok := facts[k]; ok {
			fmt.Fprintf(&b, "%s %s:\n%s", res.client, res.shape, f)
			delete(facts, k)
		}
	}
	failed := 0
	for _, res := range results {
		if !res.ok() {
			failed++
		}
	}
	fmt.Fprintf(&b, "\n%d uploads, %d failed, in %s\n", len(results), failed, time.Since(start).Round(time.Millisecond))
	t.Log(b.String())
	for _, res := range results {
		if !res.ok() {
			t.Errorf("FAILED %s", res.line())
			if res.sent != nil {
				t.Logf("what %s %s sent on %s:\n%s", res.client, res.shape, res.route, res.sent.describe())
			}
		}
	}
}

// clientPageSite is the page Chromium uploads from, on Caddy's own origin.
const clientPageSite = `	handle /clients/page {
		header Content-Type "text/html; charset=utf-8"
		respond "<!doctype html><html><head><title>clients</title></head><body><form id='f' method='post' enctype='multipart/form-data'><input type='file' id='selfie' name='selfie' accept='image/jpeg'><input type='text' name='user' value='alice'></form></body></html>" 200
	}
`

// clientImages writes a new JPEG for every upload, each in a directory of
// its own as selfie.jpg, so every verdict is about that upload alone: 320x240
// (about 27 KB), or for a photo 2400x1800 (about 1.4 MB, a phone camera's
// size, over curl's 1 MB threshold for Expect: 100-continue).
type clientImages struct {
	dir string
	n   int
}

func (g *clientImages) next(photo bool) (path, sum string) {
	g.n++
	rng := rand.New(rand.NewPCG(uint64(g.n), 20261202))
	w, h := 320, 240
	if photo {
		w, h = 2400, 1800
	}
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.SetRGBA(x, y, color.RGBA{uint8(x*255/w) ^ uint8(rng.IntN(48)), uint8(y*255/h) ^ uint8(rng.IntN(48)), uint8(g.n * 37), 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: 85}); err != nil {
		panic(err)
	}
	d := filepath.Join(g.dir, fmt.Sprintf("upload-%02d", g.n))
	if err := os.MkdirAll(d, 0o755); err != nil {
		panic(err)
	}
	path = filepath.Join(d, "selfie.jpg")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		panic(err)
	}
	return path, Sum(b.Bytes())
}

// file writes, beside img, what curl reads: kind "json" the JSON document
// with a data URI, "b64" the bare base64.
func (g *clientImages) file(img, kind string) string {
	data, err := os.ReadFile(img)
	if err != nil {
		panic(err)
	}
	b64 := base64.StdEncoding.EncodeToString(data)
	var content []byte
	switch kind {
	case "json":
		content, _ = json.Marshal(map[string]string{"selfie": "data:image/jpeg;base64," + b64, "user": "alice"})
	case "b64":
		content = []byte(b64)
	}
	p := img + "." + kind
	if err := os.WriteFile(p, content, 0o644); err != nil {
		panic(err)
	}
	return p
}

// runClient runs one client, for at most 60 s, in a process group of its
// own (killed whole at the end: Chromium's children too), with no proxy
// settings.
func runClient(dir string, argv []string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch strings.ToLower(k) {
		case "http_proxy", "https_proxy", "all_proxy", "no_proxy", "pythonpath", "pythonhome", "node_options", "node_path":
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	cmd.Env = append(cmd.Env, "NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // whatever it left behind
	}
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after 60s")
	}
	if err != nil {
		return stdout.Bytes(), fmt.Errorf("%s: %v: %s", filepath.Base(argv[0]), err, lastLines(stderr.Bytes(), 10))
	}
	return stdout.Bytes(), nil
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// parseClientOutput reads what a command-line client printed: curl the
// status (its body is in img.out), the scripts one JSON line.
func parseClientOutput(client string, out []byte, img string) (status int, body []byte, version string, err error) {
	if client == "curl" {
		if _, err := fmt.Sscanf(string(out), "%d", &status); err != nil {
			return 0, nil, "", fmt.Errorf("curl printed %q", out)
		}
		body, err = os.ReadFile(img + ".out")
		v, _ := exec.Command("curl", "--version").Output()
		version, _, _ = strings.Cut(string(v), "\n")
		return status, body, version, err
	}
	var a struct {
		Status int    `json:"status"`
		Body   string `json:"body"`
		Client string `json:"client"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(out), &a); err != nil {
		return 0, nil, "", fmt.Errorf("%s printed %q", client, out)
	}
	return a.Status, []byte(a.Body), a.Client, nil
}

// goUpload sends img with Go's mime/multipart Writer (CreateFormFile, or
// CreatePart with image/jpeg), encoding/json or url.Values.
func goUpload(c *http.Client, u, shape string, img []byte) (int, []byte, error) {
	var body bytes.Buffer
	var ctype string
	b64 := base64.StdEncoding.EncodeToString(img)
	switch shape {
	case "multipart", "multipart-createpart":
		w := multipart.NewWriter(&body)
		var part io.Writer
		if shape == "multipart" {
			part, _ = w.CreateFormFile("selfie", "selfie.jpg")
		} else {
			h := textproto.MIMEHeader{}
			h.Set("Content-Disposition", `form-data; name="selfie"; filename="selfie.jpg"`)
			h.Set("Content-Type", "image/jpeg")
			part, _ = w.CreatePart(h)
		}
		part.Write(img)
		w.WriteField("user", "alice")
		w.Close()
		ctype = w.FormDataContentType()
	case "json":
		j, _ := json.Marshal(map[string]string{"selfie": "data:image/jpeg;base64," + b64, "user": "alice"})
		body.Write(j)
		ctype = "application/json"
	case "urlencoded":
		body.WriteString(url.Values{"selfie": {b64}, "user": {"alice"}}.Encode())
		ctype = "application/x-www-form-urlencoded"
	}
	resp, err := c.Post(u, ctype, &body)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// clientResult is one upload by one client in one shape on one route.
type clientResult struct {
	client, shape, route string
	sum                  string // the image's SHA-256
	status               int
	body                 []byte
	version              string
	err                  error
	sent                 *capturedRequest

	rep      *report
	seen     bool     // the upstream reported the image (named: field selfie)
	judged   bool     // in X-Liveness-Image-Sha256, and the vendor saw it
	unjudged []string // other images the upstream reported that the gate did not judge
}

func (r *clientResult) judge(v *vendor) {
	if r.err != nil || r.status != http.StatusOK {
		return
	}
	var rep report
	if err := json.Unmarshal(r.body, &rep); err != nil || rep.Framework == "" {
		r.err = fmt.Errorf("not an upstream report: %q", r.body[:min(len(r.body), 120)])
		return
	}
	r.rep = &rep
	judged := map[string]bool{}
	for _, s := range strings.Split(rep.Judged, ",") {
		if s = strings.TrimSpace(s); s != "" && v.saw(s) {
			judged[s] = true
		}
	}
	r.judged = judged[r.sum]
	named := strings.HasPrefix(r.route, ModeNamed+"/")
	for _, im := range rep.Images {
		if named && im.Field != "selfie" {
			continue
		}
		if im.SHA256 == r.sum {
			r.seen = true
		}
		if !judged[im.SHA256] && !Benign(im.SHA256) && im.Magic {
			r.unjudged = append(r.unjudged, im.Field+"/"+im.Via+"/"+im.SHA256[:12])
		}
	}
}

func (r *clientResult) ok() bool {
	return r.err == nil && r.status == http.StatusOK && r.rep != nil && r.seen && r.judged && len(r.unjudged) == 0
}

func (r *clientResult) line() string {
	s := fmt.Sprintf("%-15s %-20s %-15s %3d seen=%-5v judged=%-5v", r.client, r.shape, r.route, r.status, r.seen, r.judged)
	if r.rep != nil {
		s += fmt.Sprintf(" verdict=%s ok=%v", r.rep.Verdict, r.rep.OK)
		if r.rep.Error != "" {
			s += fmt.Sprintf(" error=%q", r.rep.Error)
		}
	} else if r.err == nil && r.status != 0 {
		s += fmt.Sprintf(" refused: %q", strings.TrimSpace(string(r.body[:min(len(r.body), 120)])))
	}
	if len(r.unjudged) > 0 {
		s += " UNJUDGED " + strings.Join(r.unjudged, ",")
	}
	if r.err != nil {
		s += " error: " + r.err.Error()
	}
	return s
}

// recorder is a TCP proxy on loopback in front of Caddy that keeps every
// request the clients send, as the bytes they sent.
type recorder struct {
	addr   string
	target string
	ln     net.Listener
	mu     sync.Mutex
	reqs   []capturedRequest
	conns  map[net.Conn]bool
}

// capturedRequest is one request as a client sent it.
type capturedRequest struct {
	method, path string
	head         []string // the request line and header lines, raw
	body         []byte
}

func startRecorder(t *testing.T, target string) *recorder {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{addr: ln.Addr().String(), target: target, ln: ln, conns: map[net.Conn]bool{}}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go r.proxy(c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		r.mu.Lock()
		for c := range r.conns {
			c.Close()
		}
		r.mu.Unlock()
	})
	return r
}

func (r *recorder) track(c net.Conn, on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if on {
		r.conns[c] = true
	} else {
		delete(r.conns, c)
	}
}

func (r *recorder) proxy(c net.Conn) {
	defer c.Close()
	s, err := net.DialTimeout("tcp", r.target, 5*time.Second)
	if err != nil {
		return
	}
	defer s.Close()
	r.track(c, true)
	r.track(s, true)
	defer r.track(c, false)
	defer r.track(s, false)
	pr, pw := io.Pipe()
	go func() {
		r.parse(bufio.NewReader(pr))
		io.Copy(io.Discard, pr)
	}()
	back := make(chan struct{})
	go func() {
		io.Copy(c, s)
		c.Close() // the server is done: so is the client's connection
		close(back)
	}()
	io.Copy(s, io.TeeReader(c, pw))
	pw.Close()
	if tc, ok := s.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
	<-back
}

// parse splits the client's byte stream into requests.
func (r *recorder) parse(br *bufio.Reader) {
	for {
		var head []string
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimRight(line, "\r\n")
			if line == "" {
				if len(head) == 0 {
					continue
				}
				break
			}
			head = append(head, line)
		}
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(strings.Join(head, "\r\n") + "\r\n\r\n")))
		if err != nil {
			return
		}
		chunked := len(req.TransferEncoding) > 0 && req.TransferEncoding[0] == "chunked"
		var body []byte
		if chunked {
			body, err = io.ReadAll(httputil.NewChunkedReader(br))
			for err == nil { // trailers
				var line string
				if line, err = br.ReadString('\n'); strings.TrimRight(line, "\r\n") == "" {
					break
				}
			}
		} else if req.ContentLength > 0 {
			body = make([]byte, req.ContentLength)
			_, err = io.ReadFull(br, body)
		}
		r.mu.Lock()
		r.reqs = append(r.reqs, capturedRequest{method: req.Method, path: req.URL.Path, head: head, body: body})
		r.mu.Unlock()
		if err != nil {
			return
		}
	}
}

func (r *recorder) mark() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reqs)
}

// postSince returns the POSTs recorded since mark, waiting up to a second
// for want of them.
func (r *recorder) postSince(mark, want int) []capturedRequest {
	deadline := time.Now().Add(time.Second)
	for {
		r.mu.Lock()
		var posts []capturedRequest
		for _, q := range r.reqs[mark:] {
			if q.method == http.MethodPost {
				posts = append(posts, q)
			}
		}
		r.mu.Unlock()
		if len(posts) >= want || time.Now().After(deadline) {
			return posts
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// postOne is the first POST since mark, or nil.
func (r *recorder) postOne(mark int) *capturedRequest {
	if posts := r.postSince(mark, 1); len(posts) > 0 {
		return &posts[0]
	}
	return nil
}

// describe is what the request shows of its client: the request line and
// header lines, then, for multipart, each part's header lines, and for other
// bodies their start.
func (q *capturedRequest) describe() string {
	var b strings.Builder
	var ctype string
	for _, h := range q.head {
		fmt.Fprintf(&b, "    %s\n", h)
		if k, v, ok := strings.Cut(h, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "Content-Type") {
			ctype = strings.TrimSpace(v)
		}
	}
	mt, params, _ := mime.ParseMediaType(ctype)
	if mt == "multipart/form-data" && params["boundary"] != "" {
		delim := []byte("--" + params["boundary"])
		rest := q.body
		if i := bytes.Index(rest, delim); i > 0 {
			fmt.Fprintf(&b, "    preamble %q\n", rest[:i])
		}
		for n := 1; ; n++ {
			i := bytes.Index(rest, delim)
			if i < 0 {
				break
			}
			rest = rest[i+len(delim):]
			if bytes.HasPrefix(rest, []byte("--")) {
				fmt.Fprintf(&b, "    close delimiter, then %q\n", rest[2:])
				break
			}
			end := bytes.Index(rest, []byte("\r\n\r\n"))
			if end < 0 {
				break
			}
			hdr := strings.TrimPrefix(string(rest[:end]), "\r\n")
			next := bytes.Index(rest[end:], delim)
			size := -1
			if next >= 0 {
				size = next - 4 - 2 // minus the blank line and the CRLF before the delimiter
			}
			fmt.Fprintf(&b, "    part %d (%d bytes): %s\n", n, size, strings.ReplaceAll(hdr, "\r\n", " | "))
		}
	} else if len(q.body) > 0 {
		fmt.Fprintf(&b, "    body (%d bytes) %q...\n", len(q.body), q.body[:min(len(q.body), 72)])
	}
	return b.String()
}
