//go:build browser

// Package browser tests the selfie page of examples/site in a real
// browser: headless Chromium (Debian's, /usr/bin/chromium) driven by
// playwright-core (selfie.js) against the built ./caddy running a copy of
// examples/Caddyfile, with the emulator's echo as the upstream. The camera
// is Chromium's fake capture device playing a Y4M file made from the sample
// faces at test time. Run it with browser/run.sh, which installs what it
// needs; it talks only to loopback and stops by itself.
//
// Environment: LIVENESS_BROWSER_REQUIRED=1 fails the test instead of
// skipping it when Chromium, node or node_modules are missing;
// BROWSER_SCREENSHOTS=<dir> keeps the screenshots there (else they go to
// a temporary directory removed after the test); BROWSER_UPDATE_SCREENSHOT=1
// writes docs/selfie-page.png from the live camera case.
package browser

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/caddy-liveness/caddy-liveness/internal/caddyproc"
	"github.com/caddy-liveness/caddy-liveness/vendors/vendortest"
)

const (
	chromiumPath = "/usr/bin/chromium"
	docsShot     = "docs/selfie-page.png"
	docsShotMax  = 150 << 10
	// The case whose screenshot becomes docsShot.
	docsCase = "camera-T1-multipart"
)

// A case of the page, as selfie.js runs it.
type pageCase struct {
	Name       string `json:"name"`
	Source     string `json:"source"` // camera or file
	Shape      string `json:"shape"`  // multipart or json
	File       string `json:"file,omitempty"`
	Screenshot string `json:"screenshot"`

	status  int
	verdict string
	words   string // in the result's text
}

type session struct {
	UserDataDir string      `json:"userDataDir"`
	Video       string      `json:"video,omitempty"`
	Cases       []*pageCase `json:"cases"`
}

// What selfie.js printed for a case.
type caseResult struct {
	Name    string   `json:"name"`
	State   string   `json:"state"`
	Status  int      `json:"status"`
	Verdict string   `json:"verdict"`
	Text    string   `json:"text"`
	Ms      int      `json:"ms"`
	Error   string   `json:"error"`
	Logs    []string `json:"logs"`
}

func TestSelfiePage(t *testing.T) {
	start := time.Now()
	here, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Dir(here)

	// What the browser side needs: missing is a skip, or a failure when
	// LIVENESS_BROWSER_REQUIRED=1.
	var missing []string
	if _, err := os.Stat(chromiumPath); err != nil {
		missing = append(missing, chromiumPath+" (Debian package chromium)")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing = append(missing, "node")
	}
	if _, err := os.Stat(filepath.Join(here, "node_modules/playwright-core/package.json")); err != nil {
		missing = append(missing, "browser/node_modules (playwright-core)")
	}
	if len(missing) > 0 {
		msg := "missing " + strings.Join(missing, ", ") + "; run browser/install.sh (or browser/run.sh)"
		if os.Getenv("LIVENESS_BROWSER_REQUIRED") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg + "; LIVENESS_BROWSER_REQUIRED=1 makes this a failure")
	}
	caddyBin := filepath.Join(root, "caddy")
	if _, err := os.Stat(caddyBin); err != nil {
		t.Fatalf("%s is missing: build it first with make -f xcaddy.mk build (from the repository root)", caddyBin)
	}

	dir := t.TempDir()
	shots := os.Getenv("BROWSER_SCREENSHOTS")
	if shots == "" {
		shots = filepath.Join(dir, "artifacts")
		t.Logf("screenshots in %s (removed after the test; set BROWSER_SCREENSHOTS=<dir> to keep them)", shots)
	} else {
		if shots, err = filepath.Abs(shots); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshots in %s", shots)
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}

	// The demo upstream: the emulator's echo (its vendor APIs idle on
	// another free port).
	emulator := filepath.Join(dir, "liveness-emulator")
	build := exec.Command("go", "build", "-o", emulator, "./cmd/liveness-emulator")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the emulator: %v\n%s", err, out)
	}
	echoAddr := caddyproc.FreeAddr(t)
	startProcess(t, dir, "emulator", emulator, "-listen", caddyproc.FreeAddr(t), "-echo", echoAddr)

	// Caddy with a copy of examples/Caddyfile on free ports, bound to
	// loopback, serving the page from this checkout.
	site := filepath.Join(root, "examples/site")
	port := freePort(t)
	cfg := caddyfile(t, filepath.Join(root, "examples/Caddyfile"), []replacement{
		{"admin localhost:2019", "admin " + caddyproc.FreeAddr(t) + "\n\tdefault_bind 127.0.0.1"},
		{"http://localhost:8080 {", "http://localhost:" + port + " {"},
		{"reverse_proxy 127.0.0.1:9781", "reverse_proxy " + echoAddr},
		{"root * examples/site", "root * " + strconv.Quote(site)},
	})
	base := "http://localhost:" + port + "/"
	p := caddyproc.Start(t, caddyBin, "caddy", cfg)
	waitTCP(t, echoAddr)
	p.WaitReady(t, base)
	checkServed(t, base)
	t.Logf("caddy serving the page at %s, upstream %s (ready after %s)", base, echoAddr, time.Since(start).Round(time.Millisecond))

	// The pictures: Y4M files for the fake camera from the upright sample
	// faces, the sample JPEGs for the file input, and a grey PNG (no face).
	faces := filepath.Join(root, "vendors/local/preproc/testdata/local-model")
	video := map[string]string{}
	for _, f := range []string{"T1", "F1", "F2"} {
		video[f] = filepath.Join(dir, f+".y4m")
		writeY4M(t, filepath.Join(faces, "golden_retinaface/minivision_image_"+f+".oriented.png"), video[f], 3)
	}
	grey := filepath.Join(dir, "grey.png")
	if err := os.WriteFile(grey, vendortest.FacelessPNG(480, 640), 0o600); err != nil {
		t.Fatal(err)
	}
	jpg := func(f string) string { return filepath.Join(faces, "faces/minivision_image_"+f+".jpg") }

	const liveWords = "A live face"
	const spoofWords = "not a live face (print, screen or mask)"
	const noFaceWords = "No face was found"
	var sessions []*session
	addSession := func(video string, cases ...*pageCase) {
		profile := filepath.Join(dir, fmt.Sprintf("profile-%d", len(sessions)))
		if err := os.Mkdir(profile, 0o700); err != nil {
			t.Fatal(err)
		}
		sessions = append(sessions, &session{UserDataDir: profile, Video: video, Cases: cases})
	}
	both := func(name, source, file string, status int, verdict, words string) []*pageCase {
		var out []*pageCase
		for _, shape := range []string{"multipart", "json"} {
			n := name + "-" + shape
			out = append(out, &pageCase{Name: n, Source: source, Shape: shape, File: file,
				Screenshot: filepath.Join(shots, n+".png"), status: status, verdict: verdict, words: words})
		}
		return out
	}
	addSession(video["T1"], append(both("camera-T1", "camera", "", 200, "live", liveWords),
		append(append(
			both("file-T1", "file", jpg("T1"), 200, "live", liveWords),
			both("file-F2", "file", jpg("F2"), 403, "spoof", spoofWords)...),
			both("file-grey", "file", grey, 422, "no_face", noFaceWords)...)...)...)
	addSession(video["F1"], both("camera-F1", "camera", "", 403, "spoof", spoofWords)...)
	addSession(video["F2"], both("camera-F2", "camera", "", 403, "spoof", spoofWords)...)

	spec, err := json.Marshal(map[string]any{"chromium": chromiumPath, "url": base, "sessions": sessions})
	if err != nil {
		t.Fatal(err)
	}
	specPath := filepath.Join(dir, "spec.json")
	if err := os.WriteFile(specPath, spec, 0o600); err != nil {
		t.Fatal(err)
	}

	browserStart := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(here, "selfie.js"), specPath)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // so a timeout ends Chromium too
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	browserTook := time.Since(browserStart)
	results := map[string]caseResult{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r caseResult
		if json.Unmarshal(sc.Bytes(), &r) == nil && r.Name != "" {
			results[r.Name] = r
		}
	}
	if err != nil {
		t.Errorf("selfie.js: %v\n%s", err, stderr.String())
	}

	for _, s := range sessions {
		for _, c := range s.Cases {
			r, ok := results[c.Name]
			switch {
			case !ok:
				t.Errorf("%s: no result from selfie.js", c.Name)
				continue
			case r.Error != "":
				t.Errorf("%s: %s\nbrowser console:\n%s", c.Name, r.Error, strings.Join(r.Logs, "\n"))
				continue
			}
			t.Logf("%-22s status %d, verdict %-7s %5d ms  %s", c.Name, r.Status, r.Verdict, r.Ms, firstLine(r.Text))
			if r.Status != c.status || r.Verdict != c.verdict {
				t.Errorf("%s: data-status %d, data-verdict %q; want %d, %q\n%s", c.Name, r.Status, r.Verdict, c.status, c.verdict, r.Text)
			}
			if !strings.Contains(r.Text, c.words) {
				t.Errorf("%s: the result does not say %q:\n%s", c.Name, c.words, r.Text)
			}
			if c.status == 200 && (!strings.Contains(r.Text, "Score") || !strings.Contains(r.Text, "never see scores")) {
				t.Errorf("%s: the result does not show the echoed score and that clients never see it:\n%s", c.Name, r.Text)
			}
			if _, err := os.Stat(c.Screenshot); err != nil {
				t.Errorf("%s: no screenshot: %v", c.Name, err)
			}
		}
	}
	t.Logf("browser part: %d cases in %s; whole test %s", len(results), browserTook.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))

	if os.Getenv("BROWSER_UPDATE_SCREENSHOT") == "1" && !t.Failed() {
		dst := filepath.Join(root, docsShot)
		n := writeDocsShot(t, filepath.Join(shots, docsCase+".png"), dst)
		t.Logf("wrote %s (%d KB)", docsShot, n>>10)
	}
}

type replacement struct{ old, new string }

// caddyfile returns the file at path with each old string, which must
// occur exactly once, replaced.
func caddyfile(t *testing.T, path string, reps []replacement) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, r := range reps {
		if n := strings.Count(s, r.old); n != 1 {
			t.Fatalf("%s has %q %d times, the test expects it once", path, r.old, n)
		}
		s = strings.Replace(s, r.old, r.new, 1)
	}
	return s
}

// checkServed fails the test unless base serves the page and its script.
func checkServed(t *testing.T, base string) {
	t.Helper()
	for _, c := range []struct{ path, ctype, has string }{
		{"", "text/html", `id="result"`},
		{"app.js", "javascript", "/upload"},
		{"style.css", "text/css", ".result"},
	} {
		resp, err := http.Get(base + c.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), c.ctype) || !bytes.Contains(body, []byte(c.has)) {
			t.Fatalf("GET /%s: %d %s\n%s", c.path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
}

// startProcess runs a helper process, logging to a file, and stops it at
// the end of the test (its log shown if the test failed).
func startProcess(t *testing.T, dir, name string, argv ...string) {
	t.Helper()
	logPath := filepath.Join(dir, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("%s's log:\n%s", name, b)
		}
	})
}

func freePort(t *testing.T) string {
	_, port, err := net.SplitHostPort(caddyproc.FreeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	return port
}

func waitTCP(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// writeY4M writes frames identical frames of the image at src as a Y4M
// file (4:2:0, BT.601 limited range, the colours Chromium assumes for its
// capture frames), the format --use-file-for-fake-video-capture plays.
func writeY4M(t *testing.T, src, dst string, frames int) {
	t.Helper()
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	img, _, err := image.Decode(f)
	f.Close()
	if err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	b := img.Bounds()
	w, h := b.Dx()&^1, b.Dy()&^1
	ys := make([]byte, w*h)
	us := make([]byte, w*h/4)
	vs := make([]byte, w*h/4)
	for y := 0; y < h; y += 2 {
		for x := 0; x < w; x += 2 {
			var su, sv float64
			for _, d := range [4][2]int{{0, 0}, {1, 0}, {0, 1}, {1, 1}} {
				r, g, bl, _ := img.At(b.Min.X+x+d[0], b.Min.Y+y+d[1]).RGBA()
				R, G, B := float64(r>>8), float64(g>>8), float64(bl>>8)
				ys[(y+d[1])*w+x+d[0]] = clamp(16 + (65.481*R+128.553*G+24.966*B)/255)
				su += 128 + (-37.797*R-74.203*G+112.0*B)/255
				sv += 128 + (112.0*R-93.786*G-18.214*B)/255
			}
			i := (y/2)*(w/2) + x/2
			us[i], vs[i] = clamp(su/4), clamp(sv/4)
		}
	}
	var out bytes.Buffer
	fmt.Fprintf(&out, "YUV4MPEG2 W%d H%d F25:1 Ip A1:1 C420jpeg\n", w, h)
	for range frames {
		out.WriteString("FRAME\n")
		out.Write(ys)
		out.Write(us)
		out.Write(vs)
	}
	if err := os.WriteFile(dst, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

func clamp(v float64) byte {
	switch {
	case v < 0:
		return 0
	case v > 255:
		return 255
	}
	return byte(v + 0.5)
}

// writeDocsShot writes the screenshot at src to dst as a 256-colour PNG
// (a median-cut palette, no dithering) and returns its size; over
// docsShotMax fails.
func writeDocsShot(t *testing.T, src, dst string) int {
	t.Helper()
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	pixels := make([][3]uint8, 0, b.Dx()*b.Dy())
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			pixels = append(pixels, [3]uint8{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8)})
		}
	}
	out := image.NewPaletted(b, medianCut(slices.Clone(pixels), 256))
	index := map[[3]uint8]uint8{}
	for i, px := range pixels {
		ci, ok := index[px]
		if !ok {
			ci = uint8(out.Palette.Index(color.RGBA{px[0], px[1], px[2], 0xff}))
			index[px] = ci
		}
		out.Pix[i] = ci
	}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, out); err != nil {
		t.Fatal(err)
	}
	if buf.Len() > docsShotMax {
		t.Fatalf("%s would be %d KB, more than %d KB", docsShot, buf.Len()>>10, docsShotMax>>10)
	}
	if err := os.WriteFile(dst, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return buf.Len()
}

// medianCut splits the pixels into n boxes, each time halving the box with
// the widest channel at its median, and returns each box's mean colour.
func medianCut(pixels [][3]uint8, n int) color.Palette {
	boxes := [][][3]uint8{pixels}
	for len(boxes) < n {
		best, bestCh, bestRange := -1, 0, 0
		for i, bx := range boxes {
			if len(bx) < 2 {
				continue
			}
			for ch := range 3 {
				lo, hi := uint8(255), uint8(0)
				for _, px := range bx {
					lo, hi = min(lo, px[ch]), max(hi, px[ch])
				}
				if r := int(hi) - int(lo); r > bestRange {
					best, bestCh, bestRange = i, ch, r
				}
			}
		}
		if best < 0 {
			break // every box holds one colour
		}
		bx := boxes[best]
		slices.SortFunc(bx, func(a, b [3]uint8) int { return int(a[bestCh]) - int(b[bestCh]) })
		boxes[best], boxes = bx[:len(bx)/2], append(boxes, bx[len(bx)/2:])
	}
	var pal color.Palette
	for _, bx := range boxes {
		var sum [3]int
		for _, px := range bx {
			for ch := range 3 {
				sum[ch] += int(px[ch])
			}
		}
		k := max(len(bx), 1)
		pal = append(pal, color.RGBA{uint8(sum[0] / k), uint8(sum[1] / k), uint8(sum[2] / k), 0xff})
	}
	return pal
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
