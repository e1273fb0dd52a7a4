package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/caddy-liveness/caddy-liveness/vendors/vendortest"
)

// credentials are the emulators' accepted credentials: flag name, default.
// Each may also come from the environment, LIVENESS_EMULATOR_ and the flag
// name in upper case with _ for -; the flag wins.
var credentials = []struct{ flag, def, usage string }{
	{"spoofsense-key", "demo-key", "SpoofSense x-api-key"},
	{"videosdk-key", "demo-key", "VideoSDK API key (the apikey claim)"},
	{"videosdk-secret", "demo-secret", "VideoSDK API secret (signs the JWT)"},
	{"facia-client-id", "demo-client", "FACIA client_id"},
	{"facia-client-secret", "demo-secret", "FACIA client_secret"},
	{"verifik-token", "demo-token", "Verifik bearer token"},
}

func credentialEnv(flag string) string {
	return "LIVENESS_EMULATOR_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

type serveConfig struct {
	listen, echo string
	creds        map[string]string
}

func parseServeFlags(args []string, getenv func(string) string, stderr io.Writer) (serveConfig, error) {
	cfg := serveConfig{creds: map[string]string{}}
	fs := flag.NewFlagSet("liveness-emulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.listen, "listen", "127.0.0.1:9780", "`address` of the vendor emulators (SpoofSense, VideoSDK, FACIA, Verifik on their documented paths)")
	vals := map[string]*string{}
	for _, c := range credentials {
		vals[c.flag] = fs.String(c.flag, c.def, "`value` of the "+c.usage+"; without the flag, $"+credentialEnv(c.flag)+" when set")
	}
	fs.StringVar(&cfg.echo, "echo", "127.0.0.1:9781", "`address` of the echo upstream; empty disables it")
	allowRemote := fs.Bool("allow-remote", false, "allow listening on non-loopback addresses")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: liveness-emulator [flags]\n       liveness-emulator sample [-png] [-size N] <marker> > image\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, c := range credentials {
		v := *vals[c.flag]
		if env := getenv(credentialEnv(c.flag)); !set[c.flag] && env != "" {
			v = env
		}
		if v == "" {
			return cfg, fmt.Errorf("-%s is empty: the emulator would refuse every request", c.flag)
		}
		cfg.creds[c.flag] = v
	}
	if cfg.listen == "" {
		return cfg, errors.New("-listen is empty")
	}
	if !*allowRemote {
		for _, a := range []string{cfg.listen, cfg.echo} {
			if a == "" {
				continue
			}
			if err := checkLoopback(a); err != nil {
				return cfg, fmt.Errorf("%v; this is a test tool, pass -allow-remote to listen there anyway", err)
			}
		}
	}
	return cfg, nil
}

// checkLoopback accepts only addresses that cannot be reached from other
// machines; a host name other than localhost could resolve anywhere.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%s is not a loopback address", addr)
}

type emulator struct {
	vendors, echo *http.Server
	vendorsAddr   net.Addr
	echoAddr      net.Addr // nil without -echo
	errc          chan error
	log           *log.Logger
}

// Bounds on what a long-running emulator remembers, since nobody reads
// its recordings.
const (
	keepCalls    = 100
	keepRequests = 4
)

func start(cfg serveConfig, stderr io.Writer) (*emulator, error) {
	logger := log.New(stderr, "", log.LstdFlags|log.Lmicroseconds)
	ss := vendortest.NewSpoofSense(cfg.creds["spoofsense-key"])
	ss.Keep = keepCalls
	vs := vendortest.NewVideoSDK(cfg.creds["videosdk-key"], cfg.creds["videosdk-secret"])
	vs.Keep = keepCalls
	fa := vendortest.NewFACIA(cfg.creds["facia-client-id"], cfg.creds["facia-client-secret"])
	fa.Keep = keepCalls
	vf := vendortest.NewVerifik(cfg.creds["verifik-token"])
	vf.Keep = keepCalls

	// The vendors' documented paths do not overlap, so one address serves
	// all four; each emulator answers its own unknown paths as its vendor.
	mux := http.NewServeMux()
	mux.Handle("/prod/", logRequests(logger, "spoofsense", ss))
	mux.Handle("/ai/", logRequests(logger, "videosdk", vs))
	for _, p := range []string{"/request-access-token", "/liveness", "/result"} {
		mux.Handle(p, logRequests(logger, "facia", fa))
	}
	mux.Handle("/v2/", logRequests(logger, "verifik", vf))

	em := &emulator{errc: make(chan error, 2), log: logger}
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return nil, err
	}
	em.vendorsAddr = ln.Addr()
	em.vendors = em.serve(ln, mux)
	logger.Printf("vendor emulators on http://%s: spoofsense POST %s, %s; videosdk POST %s; facia POST /request-access-token, /liveness, /result; verifik POST %s",
		ln.Addr(), vendortest.SpoofSenseAntispoofing, vendortest.SpoofSenseRobust, vendortest.VideoSDKPath, vendortest.VerifikPath)

	if cfg.echo != "" {
		ln, err := net.Listen("tcp", cfg.echo)
		if err != nil {
			em.vendors.Close()
			return nil, err
		}
		em.echoAddr = ln.Addr()
		em.echo = em.serve(ln, logRequests(logger, "echo", &vendortest.Echo{Keep: keepRequests}))
		logger.Printf("echo upstream on http://%s", ln.Addr())
	}
	return em, nil
}

func (em *emulator) serve(ln net.Listener, h http.Handler) *http.Server {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: em.log}
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			em.errc <- err
		}
	}()
	return srv
}

// wait serves until ctx ends or a server fails, then lets requests in
// flight finish for a few seconds; a delay= marker can outlast that, so
// the servers are closed after it.
func (em *emulator) wait(ctx context.Context) error {
	var err error
	select {
	case <-ctx.Done():
		em.log.Print("shutting down")
	case err = <-em.errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, srv := range []*http.Server{em.vendors, em.echo} {
		if srv != nil && srv.Shutdown(sctx) != nil {
			srv.Close()
		}
	}
	return err
}

// logRequests logs one line per request: no query, headers or bodies,
// which may hold keys or images; the escaped path cannot forge lines.
func logRequests(l *log.Logger, name string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			status := "-" // no answer: the client went away or the connection was dropped
			if sw.status != 0 {
				status = fmt.Sprint(sw.status)
			}
			l.Printf("%s %s %s %s %s", name, r.Method, r.URL.EscapedPath(), status, time.Since(start).Round(time.Microsecond))
		}()
		h.ServeHTTP(sw, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Hijack and Flush.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
