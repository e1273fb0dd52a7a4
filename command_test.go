package caddyliveness

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/caddy-liveness/caddy-liveness/vendors/vendortest"
)

const (
	cliTestAPIKey       = "ss-key-0123456789abcdef"
	cliTestClientID     = "facia-client-id"
	cliTestClientSecret = "facia-secret-fedcba9876543210"
)

// cliTestEnv is a Caddyfile with two sites on one server: spoof.test asks
// a SpoofSense emulator, facia.test a FACIA emulator. The secrets come
// from {env.*} placeholders, resolved at provisioning as in the server.
type cliTestEnv struct {
	ss     *vendortest.SpoofSense
	facia  *vendortest.FACIA
	dir    string
	config string
}

func newCLITestEnv(t *testing.T) *cliTestEnv {
	t.Helper()
	ss := vendortest.NewSpoofSense(cliTestAPIKey)
	ssSrv := httptest.NewServer(ss)
	t.Cleanup(ssSrv.Close)
	fa := vendortest.NewFACIA(cliTestClientID, cliTestClientSecret)
	faSrv := httptest.NewServer(fa)
	t.Cleanup(faSrv.Close)
	t.Setenv("LIVENESS_CLI_TEST_API_KEY", cliTestAPIKey)
	t.Setenv("LIVENESS_CLI_TEST_CLIENT_SECRET", cliTestClientSecret)

	dir := t.TempDir()
	cfg := fmt.Sprintf(`{
	admin off
	auto_https off
}

http://spoof.test {
	liveness {
		vendor spoofsense {
			api_key {env.LIVENESS_CLI_TEST_API_KEY}
			base_url %s
		}
		retries 0
		max_size 64KiB
	}
	respond "ok"
}

http://facia.test {
	route /upload {
		liveness {
			vendor facia {
				client_id %s
				client_secret {env.LIVENESS_CLI_TEST_CLIENT_SECRET}
				base_url %s
				poll_interval 1ms
			}
			retries 0
		}
	}
	respond "ok"
}
`, ssSrv.URL, cliTestClientID, faSrv.URL)
	e := &cliTestEnv{ss: ss, facia: fa, dir: dir, config: filepath.Join(dir, "Caddyfile")}
	e.write(t, "Caddyfile", []byte(cfg))
	return e
}

func (e *cliTestEnv) write(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(e.dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// runCheck runs the check command function as cobra would, with these
// arguments, and returns its exit status, stdout and stderr.
func runCheck(t *testing.T, args ...string) (int, string, string, error) {
	t.Helper()
	c := newLivenessCheckCommand()
	if err := c.ParseFlags(args); err != nil {
		t.Fatalf("parsing %q: %v", args, err)
	}
	var out, errOut bytes.Buffer
	code, err := cmdLivenessCheck(t.Context(), caddycmd.Flags{FlagSet: c.Flags()}, &out, &errOut)
	t.Logf("exit %d, err %v\nstdout:\n%s\nstderr:\n%s", code, err, out.String(), errOut.String())
	return code, out.String(), errOut.String(), err
}

// assertNoSecrets fails if output holds a credential, a token, a proof
// link or image data.
func assertNoSecrets(t *testing.T, output string, images ...[]byte) {
	t.Helper()
	for _, s := range []string{
		cliTestAPIKey, cliTestClientSecret,
		"eyJ",           // any JWT: FACIA's tokens are HS256 JWTs
		"proof.invalid", // FACIA's declined_proof links
		"signature=emulated",
	} {
		if strings.Contains(output, s) {
			t.Errorf("output holds %q", s)
		}
	}
	for _, img := range images {
		b64 := base64.StdEncoding.EncodeToString(img)
		if strings.Contains(output, b64[:32]) {
			t.Errorf("output holds the image's base64")
		}
	}
}

func textField(out, key string) []string {
	var vals []string
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && k == key {
			vals = append(vals, strings.TrimSpace(v))
		}
	}
	return vals
}

func TestCheckLiveSpoofAndErrors(t *testing.T) {
	e := newCLITestEnv(t)
	live := e.write(t, "live.jpg", vendortest.SampleJPEG("live"))
	spoof := e.write(t, "spoof.jpg", vendortest.SampleJPEG("spoof"))
	down := e.write(t, "down.jpg", vendortest.SampleJPEG("status=503"))
	noFace := e.write(t, "noface.jpg", vendortest.SampleJPEG("no_face_code"))
	big := e.write(t, "big.jpg", vendortest.SampleJPEGSize("live", 70000))
	notImage := e.write(t, "notes.txt", []byte("hello"))
	site := []string{"--config", e.config, "--site", "spoof.test"}

	t.Run("live", func(t *testing.T) {
		code, out, _, err := runCheck(t, append(site, live)...)
		if code != 0 || err != nil {
			t.Fatalf("exit %d, %v; want 0", code, err)
		}
		for _, want := range []string{"verdict    live", "score      0.9700", "vendor     spoofsense", "cache      miss", "answer 1   200 /prod/antispoofing", `"prob_real":0.97`} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q", want)
			}
		}
		assertNoSecrets(t, out, vendortest.SampleJPEG("live"))
	})
	t.Run("cache hit on the same image", func(t *testing.T) {
		before := e.ss.CallCount()
		code, out, _, _ := runCheck(t, append(site, live, live)...)
		if code != 0 {
			t.Fatalf("exit %d, want 0", code)
		}
		if got := textField(out, "cache"); len(got) != 2 || got[0] != "miss" || got[1] != "hit" {
			t.Errorf("cache %q, want [miss hit]", got)
		}
		if n := e.ss.CallCount() - before; n != 1 {
			t.Errorf("%d vendor calls, want 1", n)
		}
	})
	t.Run("spoof", func(t *testing.T) {
		code, out, _, err := runCheck(t, append(site, spoof)...)
		if code != 1 || err == nil {
			t.Fatalf("exit %d, %v; want 1 with an error (caddycmd exits 0 on 1 without one)", code, err)
		}
		if !strings.Contains(out, "verdict    spoof") || !strings.Contains(out, "reason     presentation_attack") {
			t.Errorf("output lacks the spoof verdict")
		}
	})
	t.Run("no face", func(t *testing.T) {
		if code, _, _, _ := runCheck(t, append(site, noFace)...); code != 1 {
			t.Fatalf("exit %d, want 1", code)
		}
	})
	t.Run("unknown file", func(t *testing.T) {
		code, out, _, err := runCheck(t, append(site, live, filepath.Join(e.dir, "missing.jpg"))...)
		if code != 2 || err == nil {
			t.Fatalf("exit %d, %v; want 2", code, err)
		}
		if got := textField(out, "verdict"); len(got) != 2 || got[0] != "live" || got[1] != "error" {
			t.Errorf("verdicts %q, want [live error]", got)
		}
		if !strings.Contains(out, "missing.jpg") || len(textField(out, "error")) != 1 || !strings.Contains(out, "reason     unreadable") {
			t.Errorf("output does not say which file failed and why")
		}
	})
	t.Run("error beats not live", func(t *testing.T) {
		if code, _, _, _ := runCheck(t, append(site, spoof, notImage)...); code != 2 {
			t.Fatalf("exit %d, want 2", code)
		}
	})
	t.Run("over max_size", func(t *testing.T) {
		before := e.ss.CallCount()
		code, out, _, _ := runCheck(t, append(site, big)...)
		if code != 2 || !strings.Contains(out, "max_size") || !strings.Contains(out, "reason     too_large") {
			t.Fatalf("exit %d; want 2 and a max_size error", code)
		}
		if e.ss.CallCount() != before {
			t.Errorf("the vendor was asked about an oversized file")
		}
	})
	t.Run("vendor down", func(t *testing.T) {
		before := e.ss.CallCount()
		code, out, _, err := runCheck(t, append(site, down)...)
		if code != 2 || err == nil {
			t.Fatalf("exit %d, %v; want 2", code, err)
		}
		for _, want := range []string{"verdict    error", "reason     unavailable", "answer 1   503 /prod/antispoofing", "Service Unavailable"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q", want)
			}
		}
		if n := e.ss.CallCount() - before; n != 1 {
			t.Errorf("%d vendor calls with retries 0, want 1", n)
		}
	})
	t.Run("video to an image-only vendor", func(t *testing.T) {
		mp4 := e.write(t, "clip.mp4", vendortest.SampleMP4("live"))
		code, out, _, _ := runCheck(t, append(site, mp4)...)
		if code != 2 || !strings.Contains(out, "unsupported_media") {
			t.Fatalf("exit %d; want 2 with unsupported_media", code)
		}
	})
}

func TestCheckFACIARedactsTokensAndProof(t *testing.T) {
	e := newCLITestEnv(t)
	spoofImg, liveMP4 := vendortest.SampleJPEG("spoof"), vendortest.SampleMP4("live")
	spoof := e.write(t, "spoof.jpg", spoofImg)
	video := e.write(t, "live.mp4", liveMP4)

	code, out, errOut, err := runCheck(t, "--config", e.config, "--site", "facia.test", spoof, video)
	if code != 1 || err == nil {
		t.Fatalf("exit %d, %v; want 1", code, err)
	}
	assertNoSecrets(t, out+errOut, spoofImg, liveMP4)
	if got := textField(out, "verdict"); len(got) != 2 || got[0] != "spoof" || got[1] != "live" {
		t.Errorf("verdicts %q, want [spoof live]", got)
	}
	for _, want := range []string{
		"vendor     facia", "reason     decline_fadr25", "score      -",
		"/request-access-token", "/liveness", "/result",
		`"token":"[redacted]"`, `"declined_proof":"[redacted]"`,
		`"declined_proof":null`, // the live answer: nothing to hide
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	refs := textField(out, "reference")
	if len(refs) != 2 || refs[0] == "-" || refs[0] == "" {
		t.Errorf("references %q, want FACIA's reference_id", refs)
	}

	// The same through --json, and the emulator really did send a proof
	// link that was redacted.
	spoof2 := e.write(t, "spoof2.jpg", vendortest.SampleJPEG("spoof;decline=FADR03"))
	code, out, errOut, _ = runCheck(t, "--config", e.config, "--site", "facia.test", "--json", spoof2)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	assertNoSecrets(t, out+errOut)
	var r cliResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("--json output %q: %v", out, err)
	}
	if r.Reason != "decline_fadr03" || r.Score != nil {
		t.Errorf("reason %q, score %v", r.Reason, r.Score)
	}
	var result string
	for _, a := range r.Answers {
		if a.Path == "/result" {
			result = a.Body
		}
	}
	if !strings.Contains(result, `"declined_proof":"[redacted]"`) || !strings.Contains(result, `"decline_code":"FADR03"`) {
		t.Errorf("/result body %q", result)
	}
}

func TestCheckJSONOutput(t *testing.T) {
	e := newCLITestEnv(t)
	live := e.write(t, "live.jpg", vendortest.SampleJPEG("live"))
	spoof := e.write(t, "spoof.jpg", vendortest.SampleJPEG("spoof"))
	missing := filepath.Join(e.dir, "missing.jpg")

	code, out, errOut, _ := runCheck(t, "--config", e.config, "--site", "spoof.test", "--json", live, spoof, missing)
	if code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	if !strings.Contains(errOut, "using liveness handler") {
		t.Errorf("the handler note is not on stderr: %q", errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines of JSON, want 3", len(lines))
	}
	var objs []map[string]any
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		for _, k := range []string{"file", "verdict", "score", "vendor", "reference", "reason", "cache", "latency_ms", "vendor_answers"} {
			if _, ok := m[k]; !ok {
				t.Errorf("line %q lacks %q", l, k)
			}
		}
		objs = append(objs, m)
	}
	if objs[0]["verdict"] != "live" || objs[0]["score"] != 0.97 || objs[0]["vendor"] != "spoofsense" || objs[0]["cache"] != "miss" {
		t.Errorf("live: %v", objs[0])
	}
	answers, _ := objs[0]["vendor_answers"].([]any)
	if len(answers) != 1 {
		t.Fatalf("live answers %v", objs[0]["vendor_answers"])
	}
	a := answers[0].(map[string]any)
	if a["path"] != "/prod/antispoofing" || a["status"] != 200.0 || !strings.Contains(a["body"].(string), "prob_real") {
		t.Errorf("answer %v", a)
	}
	if lat, ok := objs[0]["latency_ms"].(float64); !ok || lat < 0 {
		t.Errorf("latency_ms %v", objs[0]["latency_ms"])
	}
	if objs[1]["verdict"] != "spoof" || objs[1]["score"] != 0.03 {
		t.Errorf("spoof: %v", objs[1])
	}
	if objs[2]["verdict"] != "error" || objs[2]["score"] != nil || objs[2]["error"] == nil || objs[2]["file"] != missing {
		t.Errorf("missing file: %v", objs[2])
	}
	if l, _ := objs[2]["vendor_answers"].([]any); l == nil || len(l) != 0 {
		t.Errorf("vendor_answers of the missing file %v, want []", objs[2]["vendor_answers"])
	}
	assertNoSecrets(t, out+errOut)
}

func TestCheckHandlerSelection(t *testing.T) {
	e := newCLITestEnv(t)
	live := e.write(t, "live.jpg", vendortest.SampleJPEG("live"))

	vendorOf := func(t *testing.T, args ...string) (int, string, string) {
		code, out, _, _ := runCheck(t, append(append([]string{"--config", e.config}, args...), live)...)
		return code, strings.Join(textField(out, "vendor"), ","), out
	}
	for _, tc := range []struct {
		site, vendor string
	}{
		{"spoof.test", "spoofsense"},
		{"http://SPOOF.test", "spoofsense"},
		{"spoof.test:80", "spoofsense"},
		{"facia.test", "facia"},
	} {
		if code, v, _ := vendorOf(t, "--site", tc.site); code != 0 || v != tc.vendor {
			t.Errorf("--site %s: exit %d, vendor %q; want 0, %s", tc.site, code, v, tc.vendor)
		}
	}
	for _, site := range []string{"other.test", "spoof.test:8080", ":81"} {
		if code, _, _ := vendorOf(t, "--site", site); code != 2 {
			t.Errorf("--site %s: exit %d, want 2", site, code)
		}
	}

	// Without --site both handlers are found; the first is used and the
	// list printed; --route picks either.
	code, first, out := vendorOf(t)
	if code != 0 || !strings.Contains(out, "2 liveness handlers found") || !strings.Contains(out, "--route") {
		t.Fatalf("exit %d; want 0 and the list of handlers", code)
	}
	_, r0, _ := vendorOf(t, "--route", "0")
	_, r1, _ := vendorOf(t, "--route", "1")
	if r0 != first || r0 == r1 || !(r0 == "spoofsense" || r1 == "spoofsense") || !(r0 == "facia" || r1 == "facia") {
		t.Errorf("default %q, --route 0 %q, --route 1 %q", first, r0, r1)
	}
	_, bySite, _ := vendorOf(t, "--site", ":80", "--route", "1")
	if bySite != r1 {
		t.Errorf("--site :80 --route 1: %q, want %q", bySite, r1)
	}
	if code, _, _ := vendorOf(t, "--route", "2"); code != 2 {
		t.Errorf("--route 2 of 2: exit %d, want 2", code)
	}
}

// The list of handlers names each; --handler picks by name, alone or
// with --site and --route.
func TestCheckHandlerByName(t *testing.T) {
	e := newCLITestEnv(t)
	live := e.write(t, "live.jpg", vendortest.SampleJPEG("live"))
	// Without a choice both are listed by their default names: the site's
	// address (the route's path is not the directive's).
	code, out, _, _ := runCheck(t, "--config", e.config, live)
	if code != 0 || !strings.Contains(out, "* #0 spoof.test at /apps/http/servers/") || !strings.Contains(out, "  #1 facia.test at /apps/http/servers/") ||
		!strings.Contains(out, "--handler <name>") {
		t.Fatalf("exit %d; want 0 and both handlers listed by name", code)
	}
	if got := textField(out, "handler"); len(got) != 1 || got[0] != "spoof.test" {
		t.Errorf("handler of the result %q, want spoof.test", got)
	}
	for name, vendor := range map[string]string{"spoof.test": "spoofsense", "facia.test": "facia"} {
		code, out, _, _ := runCheck(t, "--config", e.config, "--handler", name, live)
		if code != 0 || !strings.Contains(out, "using liveness handler "+name+" at ") ||
			strings.Join(textField(out, "vendor"), ",") != vendor || strings.Join(textField(out, "handler"), ",") != name {
			t.Errorf("--handler %s: exit %d; want 0, vendor %s and the handler named", name, code, vendor)
		}
	}
	code, _, _, err := runCheck(t, "--config", e.config, "--handler", "nope.test", live)
	if code != 2 || err == nil || !strings.Contains(err.Error(), `no liveness handler is named "nope.test"`) ||
		!strings.Contains(err.Error(), "spoof.test at") || !strings.Contains(err.Error(), "facia.test at") {
		t.Errorf("--handler nope.test: exit %d, %v; want 2 and the names there are", code, err)
	}
	if code, _, _, _ := runCheck(t, "--config", e.config, "--handler", "facia.test", "--site", "spoof.test", live); code != 2 {
		t.Errorf("--handler facia.test --site spoof.test: exit %d, want 2", code)
	}
	if code, _, _, _ := runCheck(t, "--config", e.config, "--handler", "facia.test", "--site", "facia.test", "--route", "0", live); code != 0 {
		t.Errorf("--handler facia.test --site facia.test --route 0: exit %d, want 0", code)
	}
	// --json carries the name in each object.
	_, out, _, _ = runCheck(t, "--config", e.config, "--handler", "facia.test", "--json", live)
	var r cliResult
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.Handler != "facia.test" {
		t.Errorf("--json: %q, %v", out, err)
	}
}

func TestCheckJSONConfigSubroutes(t *testing.T) {
	ss := vendortest.NewSpoofSense(cliTestAPIKey)
	srv := httptest.NewServer(ss)
	t.Cleanup(srv.Close)
	handler := fmt.Sprintf(`{"handler": "liveness", "vendors": [{"name": "spoofsense", "api_key": %q, "base_url": %q}]}`, cliTestAPIKey, srv.URL)
	cfg := `{"apps": {"http": {"servers": {
		"zeta": {"listen": [":8443"], "routes": [{"handle": [{"handler": "static_response"}]}]},
		"alpha": {"listen": [":9443"], "routes": [
			{"match": [{"host": ["*.example.test"]}], "handle": [{"handler": "subroute", "routes": [
				{"match": [{"path": ["/x"]}], "handle": [{"handler": "subroute", "routes": [{"handle": [` + handler + `]}]}]}
			]}]}
		]}
	}}}}`
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "caddy.json")
	img := filepath.Join(dir, "live.png")
	for p, data := range map[string][]byte{cfgPath: []byte(cfg), img: vendortest.SamplePNG("live")} {
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	code, out, _, _ := runCheck(t, "--config", cfgPath, "--site", "a.example.test", img)
	if code != 0 || !strings.Contains(out, "/apps/http/servers/alpha/routes/0/handle/0/routes/0/handle/0/routes/0/handle/0") {
		t.Fatalf("exit %d; want 0 and the handler's place", code)
	}
	// Without a name it is listed, and checks, under the default that
	// Provision gives it, and --handler finds it by that.
	names := textField(out, "handler")
	if len(names) != 1 || !strings.HasPrefix(names[0], "liveness-") || !strings.Contains(out, "using liveness handler "+names[0]+" at ") {
		t.Fatalf("handler %q; want its default name, listed", names)
	}
	if code, _, _, _ := runCheck(t, "--config", cfgPath, "--handler", names[0], img); code != 0 {
		t.Errorf("--handler %s: exit %d, want 0", names[0], code)
	}
	if code, _, _, _ := runCheck(t, "--config", cfgPath, "--site", "b.a.example.test", img); code != 2 {
		t.Errorf("wildcard matched two labels: exit %d", code)
	}
	if code, _, _, _ := runCheck(t, "--config", cfgPath, "--site", ":9443", img); code != 0 {
		t.Errorf("--site :9443: exit %d, want 0", code)
	}
}

func TestCheckUsageAndConfigErrors(t *testing.T) {
	e := newCLITestEnv(t)
	live := e.write(t, "live.jpg", vendortest.SampleJPEG("live"))
	plain := e.write(t, "Caddyfile.plain", []byte("http://plain.test {\n\trespond \"hi\"\n}\n"))
	broken := e.write(t, "Caddyfile.broken", []byte("http://b.test {\n\tliveness {\n\t\tbogus 1\n\t}\n}\n"))
	badSecret := e.write(t, "Caddyfile.secret", []byte("http://s.test {\n\tliveness {\n\t\tvendor spoofsense {\n\t\t\tapi_key {env.LIVENESS_CLI_TEST_UNSET_VAR}\n\t\t}\n\t}\n}\n"))
	for name, args := range map[string][]string{
		"no config":           {live},
		"no file":             {"--config", e.config},
		"missing config":      {"--config", filepath.Join(e.dir, "nope"), live},
		"unknown adapter":     {"--config", e.config, "--adapter", "nope", live},
		"no liveness handler": {"--config", plain, "--adapter", "caddyfile", live},
		"bad Caddyfile":       {"--config", broken, live},
		"empty secret":        {"--config", badSecret, live},
		"negative route":      {"--config", e.config, "--route", "-2", live},
		"bad site":            {"--config", e.config, "--site", "http://", live},
	} {
		t.Run(name, func(t *testing.T) {
			code, _, _, err := runCheck(t, args...)
			if code != 2 || err == nil {
				t.Errorf("exit %d, %v; want 2 and an error", code, err)
			}
		})
	}
}

// cliExitCode is the status caddycmd.Main exits with after cobra returns
// err: the ExitCode of its (unexported) exitError, else 1.
func cliExitCode(err error) int {
	if err == nil {
		return 0
	}
	v := reflect.ValueOf(err)
	if v.Kind() == reflect.Pointer && v.Elem().Kind() == reflect.Struct {
		if f := v.Elem().FieldByName("ExitCode"); f.IsValid() && f.Kind() == reflect.Int {
			return int(f.Int())
		}
	}
	return 1
}

func TestLivenessCommandRegistered(t *testing.T) {
	cmd, ok := caddycmd.Commands()["liveness"]
	if !ok || cmd.CobraFunc == nil {
		t.Fatalf("liveness is not a registered caddy command")
	}
	e := newCLITestEnv(t)
	live := e.write(t, "live.jpg", vendortest.SampleJPEG("live"))
	spoof := e.write(t, "spoof.jpg", vendortest.SampleJPEG("spoof"))

	// Through cobra, as `caddy liveness check ...` runs it.
	execute := func(args ...string) (int, string) {
		root := &cobra.Command{Use: "caddy", SilenceUsage: true}
		sub := &cobra.Command{Use: cmd.Name, Short: cmd.Short}
		cmd.CobraFunc(sub)
		root.AddCommand(sub)
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(append([]string{"liveness"}, args...))
		err := root.Execute()
		return cliExitCode(err), out.String()
	}
	if code, out := execute("check", "--config", e.config, "--site", "spoof.test", live); code != 0 || !strings.Contains(out, "verdict    live") {
		t.Errorf("live: exit %d, output %q", code, out)
	}
	if code, _ := execute("check", "--config", e.config, "--site", "spoof.test", spoof); code != 1 {
		t.Errorf("spoof: exit %d, want 1", code)
	}
	if code, _ := execute("check", "--config", e.config, "--site", "spoof.test", filepath.Join(e.dir, "missing.jpg")); code != 2 {
		t.Errorf("missing file: exit %d, want 2", code)
	}
	if code, _ := execute("check", "--no-such-flag", live); code != 2 {
		t.Errorf("unknown flag: exit %d, want 2", code)
	}
	if code, _ := execute("check", "--route", "x", live); code != 2 {
		t.Errorf("bad --route: exit %d, want 2", code)
	}
	if code, out := execute("check", "--help"); code != 0 || !strings.Contains(out, "--site") {
		t.Errorf("--help: exit %d, output %q", code, out)
	}
}
