//go:build differential

package differential

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/caddy-liveness/caddy-liveness/internal/caddyproc"
	"github.com/caddy-liveness/caddy-liveness/vendors/vendortest"
)

// The frameworks of upstreams/run.sh, and the Go one of upstreams/gonet.
var allFrameworks = []string{"gonet", "werkzeug", "gunicorn", "django", "starlette", "fastapi", "multer", "busboy", "formidable", "php"}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v >= 0 {
		return v
	}
	return def
}

func envUint(name string, def uint64) uint64 {
	if v, err := strconv.ParseUint(os.Getenv(name), 10, 64); err == nil {
		return v
	}
	return def
}

// report is what every upstream answers.
type report struct {
	Framework string `json:"framework"`
	OK        bool   `json:"ok"`
	Error     string `json:"error"`
	Verdict   string `json:"verdict"`
	Judged    string `json:"judged"`
	Images    []struct {
		Field  string `json:"field"`
		Via    string `json:"via"`
		SHA256 string `json:"sha256"`
		Path   string `json:"path"`
		Magic  bool   `json:"magic"` // the bytes start with an image or video signature
	} `json:"images"`
}

// vendor is the SpoofSense emulator, remembering every image it was asked
// about: a hash in X-Liveness-Image-Sha256 counts as judged only if the
// vendor saw it, so a forged header cannot pass for a verdict.
type vendor struct {
	emu  *vendortest.SpoofSense
	mu   sync.Mutex
	seen map[string]bool
}

func (v *vendor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req struct{ Data string }
	if json.Unmarshal(body, &req) == nil {
		if img, err := base64.StdEncoding.DecodeString(req.Data); err == nil {
			v.mu.Lock()
			v.seen[Sum(img)] = true
			v.mu.Unlock()
		}
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	v.emu.ServeHTTP(w, r)
}

func (v *vendor) saw(sum string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.seen[sum]
}

// upstream is one running framework.
type upstream struct {
	name string
	addr string
	cmd  *exec.Cmd
	log  *bytes.Buffer
	mu   *sync.Mutex
}

type lockedBuffer struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (l lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 64<<10 {
		return len(p), nil
	}
	return l.b.Write(p)
}

func startUpstream(t *testing.T, name, gonetBin, runSh string) (*upstream, error) {
	addr := caddyproc.FreeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	var cmd *exec.Cmd
	if name == "gonet" {
		cmd = exec.Command(gonetBin, "-listen", addr)
	} else {
		cmd = exec.Command("bash", runSh, name, port)
	}
	u := &upstream{name: name, addr: addr, cmd: cmd, log: &bytes.Buffer{}, mu: &sync.Mutex{}}
	cmd.Stdout, cmd.Stderr = lockedBuffer{u.mu, u.log}, lockedBuffer{u.mu, u.log}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	t.Cleanup(u.stop)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		if resp, err := client.Get("http://" + addr + "/"); err == nil {
			resp.Body.Close()
			return u, nil
		}
		select {
		case err := <-exited:
			return nil, fmt.Errorf("exited (%v): %s", err, u.output())
		default:
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no answer to GET / within 60s: %s", u.output())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (u *upstream) output() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.log.String()
}

// stop kills the upstream's whole process group.
func (u *upstream) stop() {
	if u.cmd.Process == nil {
		return
	}
	syscall.Kill(-u.cmd.Process.Pid, syscall.SIGKILL)
}

// outcome of one case on one route.
type outcome struct {
	c        *Case
	mode, fw string
	refused  bool
	// upstreamFailed: refused by reverse_proxy (502/504), not the gate.
	upstreamFailed bool
	status         int
	reason         string
	rep            *report
	bypasses       []string // one line each
	wantFound      bool     // ordinary: the upstream reported the image
	err            error
}

// rig is what both tests run against: the upstreams, the vendor emulator
// and one Caddy listening on listen.
type rig struct {
	listen string
	v      *vendor
	ups    map[string]*upstream
}

// startRig starts the upstreams of frameworks, the SpoofSense emulator and
// one Caddy (./caddy, or DIFF_CADDY) with /auto/F/ and /named/F/ in front
// of each framework F; extra is added to the site block before its
// catch-all. Everything stops at the end of the test.
func startRig(t *testing.T, frameworks []string, extra string) *rig {
	t.Helper()
	start := time.Now()
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(root, "caddy")
	if v := os.Getenv("DIFF_CADDY"); v != "" {
		bin = v
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("no Caddy binary at %s (make -f xcaddy.mk build): %v", bin, err)
	}

	// The Go upstream, built once.
	gonetBin := filepath.Join(t.TempDir(), "gonet")
	if out, err := exec.Command("go", "build", "-o", gonetBin, "./upstreams/gonet").CombinedOutput(); err != nil {
		t.Fatalf("building upstreams/gonet: %v\n%s", err, out)
	}
	runSh, _ := filepath.Abs("upstreams/run.sh")
	needRun := slices.ContainsFunc(frameworks, func(f string) bool { return f != "gonet" })
	if _, err := os.Stat(runSh); err != nil && needRun {
		t.Fatalf("upstreams/run.sh is missing (%v): frameworks %v cannot start; DIFF_FRAMEWORKS=gonet runs the Go upstream alone", err, frameworks)
	}

	ups := map[string]*upstream{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var failed []string
	for _, fw := range frameworks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u, err := startUpstream(t, fw, gonetBin, runSh)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed = append(failed, fmt.Sprintf("%s: %v", fw, err))
				return
			}
			ups[fw] = u
		}()
	}
	wg.Wait()
	if len(failed) > 0 {
		slices.Sort(failed)
		t.Fatalf("upstreams failed to start (upstreams/install.sh installs them; DIFF_FRAMEWORKS chooses a subset):\n%s", strings.Join(failed, "\n"))
	}
	t.Logf("upstreams ready after %s", time.Since(start).Round(time.Millisecond))

	v := &vendor{emu: vendortest.NewSpoofSense("k"), seen: map[string]bool{}}
	vsrv := httptest.NewServer(v)
	t.Cleanup(vsrv.Close)

	adminAddr, listen := caddyproc.FreeAddr(t), caddyproc.FreeAddr(t)
	var sites strings.Builder
	for _, fw := range frameworks {
		fmt.Fprintf(&sites, `	handle /auto/%[1]s/* {
		liveness {
			vendor spoofsense {
				api_key k
				base_url %[2]s
			}
			threshold 0
			mode enforce
		}
		reverse_proxy %[3]s
	}
	handle /named/%[1]s/* {
		liveness {
			vendor spoofsense {
				api_key k
				base_url %[2]s
			}
			source multipart selfie
			source json /selfie
			source form selfie
			threshold 0
			mode enforce
		}
		reverse_proxy %[3]s
	}
`, fw, vsrv.URL, ups[fw].addr)
	}
	sites.WriteString(extra)
	caddyfile := fmt.Sprintf(`{
	admin %s
	persist_config off
	auto_https off
	log {
		level FATAL
	}
}
http://%s {
	handle_errors {
		respond "{err.status_code} {err.message}"
	}
%s	handle {
		respond "no route" 404
	}
}
`, adminAddr, listen, sites.String())
	caddyproc.Start(t, bin, "Caddy", caddyfile).WaitReady(t, "http://"+adminAddr+"/config/")
	return &rig{listen: listen, v: v, ups: ups}
}

func TestDifferential(t *testing.T) {
	start := time.Now()
	frameworks := allFrameworks
	if v := os.Getenv("DIFF_FRAMEWORKS"); v != "" {
		frameworks = strings.Split(v, ",")
	}
	seed := envUint("DIFF_SEED", 20261202)
	nMut := envInt("DIFF_MUTATIONS", 1000)
	workers := envInt("DIFF_CONCURRENCY", 12)
	t.Logf("frameworks %v, seed %d (DIFF_SEED), %d mutations (DIFF_MUTATIONS)", frameworks, seed, nMut)
	r := startRig(t, frameworks, "")
	listen, v := r.listen, r.v

	corpus := Corpus()
	muts := Mutations(seed, nMut)
	cases := append(corpus, muts...)
	if pat := os.Getenv("DIFF_CASES"); pat != "" {
		re := regexp.MustCompile(pat)
		cases = slices.DeleteFunc(cases, func(c Case) bool { return !re.MatchString(c.Name) && !re.MatchString(c.Family) })
	}
	type job struct {
		c        *Case
		mode, fw string
	}
	var jobs []job
	for i := range cases {
		c := &cases[i]
		modes := c.Modes
		if modes == nil {
			modes = []string{ModeAuto, ModeNamed}
		}
		for _, m := range modes {
			for _, fw := range frameworks {
				jobs = append(jobs, job{c, m, fw})
			}
		}
	}
	t.Logf("%d cases (%d corpus, %d mutations), %d requests", len(cases), len(corpus), len(muts), len(jobs))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	results := make([]outcome, len(jobs))
	var next atomic.Int64
	var done atomic.Int64
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= len(jobs) {
					return
				}
				j := jobs[i]
				results[i] = run(j.c, j.mode, j.fw, listen, v)
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		t.Errorf("stopped after %d of %d requests: out of time", done.Load(), len(jobs))
	}
	summarize(t, results[:done.Load()], frameworks)
	t.Logf("took %s", time.Since(start).Round(time.Millisecond))
}

// run sends c on one route and judges what the upstream reported.
func run(c *Case, mode, fw, listen string, v *vendor) outcome {
	o := outcome{c: c, mode: mode, fw: fw}
	path := "/" + mode + "/" + fw + "/upload"
	req := c.Request(path, listen)
	var resp *http.Response
	var body []byte
	var err error
	for attempt := range 3 {
		resp, body, err = roundTrip(listen, req)
		if err == nil {
			break
		}
		time.Sleep(time.Duration(attempt+1) * 200 * time.Millisecond)
	}
	if err != nil {
		// Caddy closing the connection without an answer is a refusal too,
		// but say so.
		o.refused, o.err, o.reason = true, err, "no response: "+err.Error()
		return o
	}
	o.status = resp.StatusCode
	var rep report
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &rep) != nil || rep.Framework == "" {
		o.refused = true
		// reverse_proxy's own failures: the gate let the request through
		// and the upstream failed on it (safe, but worth seeing).
		o.upstreamFailed = resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusGatewayTimeout
		o.reason = strings.TrimSpace(string(body[:min(len(body), 100)]))
		if i := strings.IndexAny(o.reason, "\r\n"); i >= 0 {
			o.reason = o.reason[:i]
		}
		return o
	}
	o.rep = &rep
	judged := map[string]bool{}
	for _, s := range strings.Split(rep.Judged, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if v.saw(s) {
			judged[s] = true
			continue
		}
		// The header names an image the vendor was never asked about: a
		// client-forged value got through.
		o.bypasses = append(o.bypasses, fmt.Sprintf("FORGED %-34s %-22s %-5s %-10s X-Liveness-Image-Sha256 %q names %s, which the vendor never saw",
			c.Name, c.Family, mode, fw, rep.Judged, c.Label(s)))
	}
	for _, im := range rep.Images {
		if c.Ordinary() && c.Images[im.SHA256] == c.Want && (mode == ModeAuto || im.Field == "selfie") {
			o.wantFound = true
		}
		if mode == ModeNamed && im.Field != "selfie" {
			continue
		}
		if judged[im.SHA256] || Benign(im.SHA256) {
			continue
		}
		if !im.Magic && c.Images[im.SHA256] == "" {
			// A file whose bytes start as no image or video and are none
			// of the case's images (formidable hands a text part with a
			// Content-Type over as a file): no decoder opens it.
			continue
		}
		where := im.Field
		if im.Path != "" && im.Path != im.Field {
			where += " (" + im.Path + ")"
		}
		o.bypasses = append(o.bypasses, fmt.Sprintf("BYPASS %-34s %-22s %-5s %-10s %-22s via=%-5s field=%q judged=%d verdict=%s%s",
			c.Name, c.Family, mode, fw, c.Label(im.SHA256), im.Via, where, len(judged), rep.Verdict, note(c)))
	}
	return o
}

func note(c *Case) string {
	if c.Note == "" {
		return ""
	}
	return " ops=[" + c.Note + "]"
}

func roundTrip(addr string, req []byte) (*http.Response, []byte, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	// Write and read at once: Caddy may answer (and stop reading) before
	// the whole body is sent.
	werr := make(chan error, 1)
	go func() {
		_, err := conn.Write(req)
		werr <- err
	}()
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	for err == nil && resp.StatusCode >= 100 && resp.StatusCode < 200 {
		resp, err = http.ReadResponse(br, nil) // 100 Continue
	}
	if err != nil {
		if we := <-werr; we != nil {
			return nil, nil, fmt.Errorf("write: %v; read: %v", we, err)
		}
		return nil, nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, body, err
}

type counts struct{ runs, refused, upstreamFailed, forwarded, bypassRuns, bypassImages int }

func (c *counts) add(o *outcome) {
	c.runs++
	if o.upstreamFailed {
		c.upstreamFailed++
	} else if o.refused {
		c.refused++
	} else {
		c.forwarded++
	}
	if len(o.bypasses) > 0 {
		c.bypassRuns++
		c.bypassImages += len(o.bypasses)
	}
}

func summarize(t *testing.T, results []outcome, frameworks []string) {
	perFW := map[string]*counts{}
	perFam := map[string]*counts{}
	perFamFW := map[string]map[string]int{}
	var total counts
	var lines, ordinaryFail []string
	bypassCases := map[string]map[string]bool{} // case -> fw/mode
	statuses := map[string]int{}
	for i := range results {
		o := &results[i]
		if o.c == nil {
			continue
		}
		fam := o.c.Family
		if perFW[o.fw] == nil {
			perFW[o.fw] = &counts{}
		}
		if perFam[fam] == nil {
			perFam[fam] = &counts{}
			perFamFW[fam] = map[string]int{}
		}
		perFW[o.fw].add(o)
		perFam[fam].add(o)
		total.add(o)
		if o.refused {
			statuses[fmt.Sprintf("%d %s", o.status, o.reason)]++
		}
		if len(o.bypasses) > 0 {
			perFamFW[fam][o.fw]++
			lines = append(lines, o.bypasses...)
			if bypassCases[o.c.Name] == nil {
				bypassCases[o.c.Name] = map[string]bool{}
			}
			bypassCases[o.c.Name][o.fw+"/"+o.mode] = true
		}
		if o.c.Ordinary() {
			switch {
			case o.refused:
				ordinaryFail = append(ordinaryFail, fmt.Sprintf("ORDINARY REFUSED %s %s %s: %d %s", o.c.Name, o.mode, o.fw, o.status, o.reason))
			case !o.wantFound:
				ordinaryFail = append(ordinaryFail, fmt.Sprintf("ORDINARY NOT SEEN %s %s %s: the upstream did not report the image (ok=%v error=%q images=%d)",
					o.c.Name, o.mode, o.fw, o.rep.OK, o.rep.Error, len(o.rep.Images)))
			}
		}
	}
	slices.Sort(lines)
	slices.Sort(ordinaryFail)

	var out strings.Builder
	out.WriteString("\n")
	for _, l := range lines {
		out.WriteString(l + "\n")
	}
	for _, l := range ordinaryFail {
		out.WriteString(l + "\n")
	}
	tw := tabwriter.NewWriter(&out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(&out, "\nper framework:\n")
	fmt.Fprintln(tw, "framework\truns\trefused\tupstream 502\tforwarded\tbypass runs\tbypass images\t")
	for _, fw := range frameworks {
		c := perFW[fw]
		if c == nil {
			c = &counts{}
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t\n", fw, c.runs, c.refused, c.upstreamFailed, c.forwarded, c.bypassRuns, c.bypassImages)
	}
	fmt.Fprintf(tw, "total\t%d\t%d\t%d\t%d\t%d\t%d\t\n", total.runs, total.refused, total.upstreamFailed, total.forwarded, total.bypassRuns, total.bypassImages)
	tw.Flush()

	fams := make([]string, 0, len(perFam))
	for f := range perFam {
		fams = append(fams, f)
	}
	slices.Sort(fams)
	fmt.Fprintf(&out, "\nper family (bypass runs per framework):\n")
	tw = tabwriter.NewWriter(&out, 0, 0, 1, ' ', tabwriter.AlignRight)
	hdr := "family\truns\trefused\t502\tfwd\tbypass\t"
	for _, fw := range frameworks {
		hdr += fw + "\t"
	}
	fmt.Fprintln(tw, hdr)
	for _, f := range fams {
		c := perFam[f]
		row := fmt.Sprintf("%s\t%d\t%d\t%d\t%d\t%d\t", f, c.runs, c.refused, c.upstreamFailed, c.forwarded, c.bypassRuns)
		for _, fw := range frameworks {
			row += strconv.Itoa(perFamFW[f][fw]) + "\t"
		}
		fmt.Fprintln(tw, row)
	}
	tw.Flush()

	keys := make([]string, 0, len(statuses))
	for k := range statuses {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return statuses[b] - statuses[a] })
	fmt.Fprintf(&out, "\nrefusals by status and reason (top 15):\n")
	for i, k := range keys {
		if i == 15 {
			break
		}
		fmt.Fprintf(&out, "  %6d  %s\n", statuses[k], k)
	}

	names := make([]string, 0, len(bypassCases))
	for n := range bypassCases {
		names = append(names, n)
	}
	slices.Sort(names)
	fmt.Fprintf(&out, "\nbypassing cases (%d):\n", len(names))
	for _, n := range names {
		where := make([]string, 0, len(bypassCases[n]))
		for w := range bypassCases[n] {
			where = append(where, w)
		}
		slices.Sort(where)
		fmt.Fprintf(&out, "  %s: %s\n", n, strings.Join(where, " "))
	}
	t.Log(out.String())
	if p := os.Getenv("DIFF_REPORT"); p != "" {
		os.WriteFile(p, []byte(out.String()), 0o644)
	}

	if total.bypassRuns > 0 {
		t.Errorf("%d of %d runs gave an upstream an image the gate did not judge (%d images, %d cases)", total.bypassRuns, total.runs, total.bypassImages, len(names))
	}
	if len(ordinaryFail) > 0 {
		t.Errorf("%d ordinary upload runs were refused or not seen by the upstream", len(ordinaryFail))
	}
}
