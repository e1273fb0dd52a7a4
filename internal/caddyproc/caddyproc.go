// Package caddyproc runs the built ./caddy binary for the tests that need
// a real Caddy process (soak, bench, multiinstance): each in a home of its
// own, logging to a file, stopped at the end of the test.
package caddyproc

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// FreeAddr returns a loopback address with a port free at the time.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Proc is one running Caddy.
type Proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{}
	err     error // how it exited, once exited is closed
	// Stop ends the process (an interrupt, then a kill after 10 s); the
	// end of the test calls it too.
	Stop func()
}

// Start runs bin with caddyfile as its configuration and env added to its
// environment. It does not wait for Caddy to serve: see WaitReady.
func Start(t testing.TB, bin, name, caddyfile string, env ...string) *Proc {
	t.Helper()
	return StartWith(t, bin, name, caddyfile, Options{}, env...)
}

// Options change how StartWith runs the binary.
type Options struct {
	// AddressSpace, when above 0, caps the process's virtual memory
	// (RLIMIT_AS) at this many bytes: the binary runs under util-linux's
	// prlimit --as, which execs it (so Pid is Caddy's). An allocation past
	// it fails and the Go runtime dies with "fatal error: out of memory".
	// A Go process reserves address space it never touches (an idle Caddy
	// is about 1.3 GB of VmSize for 45 MB of RSS), so the cap on resident
	// memory it implies is lower than AddressSpace.
	AddressSpace int64
	// LogTail, when above 0, shows only the last LogTail lines of
	// Caddy's log when the test fails, instead of the whole log.
	LogTail int
}

// HavePrlimit reports whether prlimit, which Options.AddressSpace needs,
// is on PATH.
func HavePrlimit() bool {
	_, err := exec.LookPath("prlimit")
	return err == nil
}

// StartWith is Start with options; it fails the test when an option
// cannot be applied on this machine.
func StartWith(t testing.TB, bin, name, caddyfile string, o Options, env ...string) *Proc {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(path, []byte(caddyfile), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "caddy.log"))
	if err != nil {
		t.Fatal(err)
	}
	argv := []string{bin, "run", "--config", path, "--adapter", "caddyfile"}
	if o.AddressSpace > 0 {
		pl, err := exec.LookPath("prlimit")
		if err != nil {
			t.Fatalf("Options.AddressSpace needs prlimit (util-linux): %v", err)
		}
		argv = append([]string{pl, "--as=" + strconv.FormatInt(o.AddressSpace, 10), "--"}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &Proc{name: name, cmd: cmd, logPath: logf.Name(), exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.exited)
	}()
	p.Stop = sync.OnceFunc(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-p.exited
		}
	})
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			log := p.Log()
			if o.LogTail > 0 {
				lines := strings.SplitAfter(log, "\n")
				if len(lines) > o.LogTail+1 {
					log = "[...]\n" + strings.Join(lines[len(lines)-o.LogTail-1:], "")
				}
			}
			t.Logf("%s's log:\n%s", name, log)
		}
	})
	return p
}

// WaitReady returns once every url answers (any status), and fails the
// test with Caddy's log if it exits or 20 s pass first.
func (p *Proc) WaitReady(t testing.TB, urls ...string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for len(urls) > 0 {
		if resp, err := http.Get(urls[0]); err == nil {
			resp.Body.Close()
			urls = urls[1:]
			continue
		}
		select {
		case <-p.exited:
			t.Fatalf("%s exited: %v\n%s", p.name, p.err, p.Log())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not start:\n%s", p.name, p.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Exited is closed once the process has ended, whoever ended it.
func (p *Proc) Exited() <-chan struct{} { return p.exited }

// Err is how the process ended (nil for a clean exit); call it once
// Exited is closed.
func (p *Proc) Err() error {
	<-p.exited
	return p.err
}

// Kill ends the process at once (SIGKILL) and waits for it.
func (p *Proc) Kill() {
	p.cmd.Process.Kill()
	<-p.exited
}

// Pid is the process's ID.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Log is what Caddy has logged so far.
func (p *Proc) Log() string {
	b, _ := os.ReadFile(p.logPath)
	return string(b)
}
