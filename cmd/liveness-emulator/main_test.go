package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/caddy-liveness/caddy-liveness/vendors/vendortest"
)

func noEnv(string) string { return "" }

// TestMain runs the command itself when asked to, so that a test can check
// its exit status and output streams.
func TestMain(m *testing.M) {
	if os.Getenv("LIVENESS_EMULATOR_TEST_MAIN") == "1" {
		main() // os.Args[1:] are the command's arguments
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runMain runs the command with args in a child process.
func runMain(t *testing.T, args ...string) (stdout, stderr []byte, code int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "LIVENESS_EMULATOR_TEST_MAIN=1")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatalf("%v: %v", args, err)
	}
	return out.Bytes(), errOut.Bytes(), code
}

// TestSampleRefusesMisspeltDirective: the emulators ignore unknown
// directives, so "sample spooof" once wrote an image every emulator scored
// from its hash, and exited 0.
func TestSampleRefusesMisspeltDirective(t *testing.T) {
	stdout, stderr, code := runMain(t, "sample", "spooof")
	if code == 0 {
		t.Errorf("exit status 0, want non-zero")
	}
	if len(stdout) != 0 {
		t.Errorf("wrote %d bytes to stdout", len(stdout))
	}
	want := `liveness-emulator: marker "spooof": unknown directive "spooof" (did you mean "spoof"?)` + "\n"
	if string(stderr) != want {
		t.Errorf("stderr %q, want %q", stderr, want)
	}

	stdout, stderr, code = runMain(t, "sample", "-png", "score=0.5;delay=1s")
	if code != 0 || len(stderr) != 0 {
		t.Errorf("valid marker: exit %d, stderr %q", code, stderr)
	}
	if d := vendortest.ParseMarker(stdout); !d.HasScore || d.Score != 0.5 || d.Delay.String() != "1s" {
		t.Errorf("valid marker read back as %+v", d)
	}
}

func TestSample(t *testing.T) {
	tests := []struct {
		args    []string
		format  string
		verdict vendortest.Verdict
		minSize int
	}{
		{[]string{"spoof"}, "jpeg", vendortest.VerdictSpoof, 0},
		{[]string{"-png", "live"}, "png", vendortest.VerdictLive, 0},
		{[]string{"no_face", "-png"}, "png", vendortest.VerdictNoFace, 0},
		{[]string{"liveness-emulator:small_face"}, "jpeg", vendortest.VerdictSmallFace, 0},
		{[]string{"-size", "200000", "live"}, "jpeg", vendortest.VerdictLive, 200000},
		{[]string{"score=0.5;delay=1s"}, "jpeg", "", 0},
		{[]string{"status=503"}, "jpeg", "", 0},
		{[]string{"pending=2"}, "jpeg", "", 0},
		{[]string{"decline=FADR01"}, "jpeg", "", 0},
		{[]string{"-png", "spoof;score=0.4;status=429;malformed"}, "png", vendortest.VerdictSpoof, 0},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), append([]string{"sample"}, tt.args...), noEnv, &out, &errOut); err != nil {
			t.Fatalf("%v: %v", tt.args, err)
		}
		if _, f, err := image.Decode(bytes.NewReader(out.Bytes())); err != nil || f != tt.format {
			t.Errorf("%v: decoded as %q, %v", tt.args, f, err)
		}
		if d := vendortest.ParseMarker(out.Bytes()); d.Verdict != tt.verdict {
			t.Errorf("%v: verdict %q", tt.args, d.Verdict)
		}
		if out.Len() < tt.minSize || (tt.minSize > 0 && out.Len() > tt.minSize+3) {
			t.Errorf("%v: %d bytes", tt.args, out.Len())
		}
	}
}

func TestSampleErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"live", "spoof"},
		{"live spoof"},
		{"-png", "-size", "1000", "live"},
		{"-size", "-1", "live"},
		{"-size", "999999999999", "live"},
		{"-bogus", "live"},
		{"spooof"},
		{""},
		{"live;"},
		{"score=2"},
		{"score"},
		{"live=1"},
		{"decline=FADR1"},
		{"liveness-emulator:spooof"},
	} {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), append([]string{"sample"}, args...), noEnv, &out, &errOut); err == nil {
			t.Errorf("sample %v: no error", args)
		}
		if out.Len() != 0 {
			t.Errorf("sample %v wrote %d bytes", args, out.Len())
		}
	}
}

type want struct{ listen, echo, spoofsenseKey string }

func TestServeFlags(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == credentialEnv("spoofsense-key") {
				return v
			}
			return ""
		}
	}
	tests := []struct {
		args    []string
		getenv  func(string) string
		wantErr string
		want    want
	}{
		{nil, noEnv, "", want{"127.0.0.1:9780", "127.0.0.1:9781", "demo-key"}},
		{nil, env("from-env"), "", want{"127.0.0.1:9780", "127.0.0.1:9781", "from-env"}},
		{[]string{"-spoofsense-key", "from-flag"}, env("from-env"), "", want{"127.0.0.1:9780", "127.0.0.1:9781", "from-flag"}},
		{[]string{"-listen", "localhost:1", "-echo", "[::1]:2"}, noEnv, "", want{"localhost:1", "[::1]:2", "demo-key"}},
		{[]string{"-echo", ""}, noEnv, "", want{"127.0.0.1:9780", "", "demo-key"}},
		{[]string{"-listen", "0.0.0.0:9780", "-allow-remote"}, noEnv, "", want{"0.0.0.0:9780", "127.0.0.1:9781", "demo-key"}},
		{[]string{"-listen", "0.0.0.0:9780"}, noEnv, "-allow-remote", want{}},
		{[]string{"-listen", ":9780"}, noEnv, "-allow-remote", want{}},
		{[]string{"-echo", "192.168.1.2:80"}, noEnv, "-allow-remote", want{}},
		{[]string{"-listen", "example.com:80"}, noEnv, "-allow-remote", want{}},
		{[]string{"-listen", "nonsense"}, noEnv, "port", want{}},
		{[]string{"-listen", ""}, noEnv, "-listen", want{}},
		{[]string{"-spoofsense-key", ""}, noEnv, "empty", want{}},
		{[]string{"extra"}, noEnv, "unexpected", want{}},
	}
	for _, tt := range tests {
		cfg, err := parseServeFlags(tt.args, tt.getenv, io.Discard)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%v: err = %v, want one mentioning %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		got := want{cfg.listen, cfg.echo, cfg.creds["spoofsense-key"]}
		if err != nil || got != tt.want || len(cfg.creds) != len(credentials) {
			t.Errorf("%v: %+v, %v; want %+v", tt.args, cfg, err, tt.want)
		}
	}
}

// lockedBuffer is written by the servers' logger and read by the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestServe(t *testing.T) {
	var logs lockedBuffer
	cfg, err := parseServeFlags([]string{"-listen", "127.0.0.1:0", "-echo", "127.0.0.1:0", "-spoofsense-key", "k-123"}, noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	em, err := start(cfg, &logs)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	waited := make(chan error, 1)
	go func() { waited <- em.wait(ctx) }()

	img := vendortest.SampleJPEG("live")
	body := `{"data":"` + base64.StdEncoding.EncodeToString(img) + `"}`
	req, _ := http.NewRequest(http.MethodPost, "http://"+em.vendorsAddr.String()+"/prod/robust?secret=q", strings.NewReader(body))
	req.Header.Set("x-api-key", "k-123")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(got), `"prob_real": 0.97`) {
		t.Errorf("spoofsense: %d %s", resp.StatusCode, got)
	}

	// The other vendors answer on the same address, each on its own paths.
	for path, wantStatus := range map[string]int{
		"/request-access-token": 200, // FACIA, demo credentials
		vendortest.VerifikPath:  401, // Verifik, no token
		vendortest.VideoSDKPath: 401, // VideoSDK, no token
		"/prod/unknown":         403, // SpoofSense's API Gateway answer
	} {
		body := `{"client_id":"demo-client","client_secret":"demo-secret"}`
		resp, err := http.Post("http://"+em.vendorsAddr.String()+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != wantStatus {
			t.Errorf("%s: %d, want %d", path, resp.StatusCode, wantStatus)
		}
	}

	resp, err = http.Post("http://"+em.echoAddr.String()+"/up", "text/plain", strings.NewReader("hi"))
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(got), `"path":"/up"`) {
		t.Errorf("echo: %d %s", resp.StatusCode, got)
	}

	cancel()
	if err := <-waited; err != nil {
		t.Fatalf("wait: %v", err)
	}
	out := logs.String()
	for _, want := range []string{"spoofsense POST /prod/robust 200 ", "echo POST /up 200 ", "shutting down"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	for _, secret := range []string{"k-123", "secret=q", body[10:50]} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q:\n%s", secret, out)
		}
	}
}

func TestRunStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stderr lockedBuffer
	if err := run(ctx, []string{"-listen", "127.0.0.1:0", "-echo", ""}, noEnv, io.Discard, &stderr); err != nil {
		t.Fatalf("run: %v", err)
	}
	if !strings.Contains(stderr.String(), "vendor emulators on http://127.0.0.1:") {
		t.Errorf("stderr: %s", stderr.String())
	}
}
