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
	"time"

	"github.com/caddy-liveness/caddy-liveness/vendors/vendortest"
)

const keyEnv = "LIVENESS_EMULATOR_SPOOFSENSE_KEY"

type serveConfig struct {
	listen, echo, key string
}

func parseServeFlags(args []string, getenv func(string) string, stderr io.Writer) (serveConfig, error) {
	var cfg serveConfig
	fs := flag.NewFlagSet("liveness-emulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.listen, "listen", "127.0.0.1:9780", "`address` of the SpoofSense emulator")
	fs.StringVar(&cfg.key, "spoofsense-key", "demo-key", "`key` the SpoofSense emulator accepts; without the flag, $"+keyEnv+" when set")
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
	keySet := false
	fs.Visit(func(f *flag.Flag) { keySet = keySet || f.Name == "spoofsense-key" })
	if env := getenv(keyEnv); !keySet && env != "" {
		cfg.key = env
	}
	if cfg.key == "" {
		return cfg, errors.New("-spoofsense-key is empty: the emulator would refuse every request")
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
	spoofsense, echo *http.Server
	spoofsenseAddr   net.Addr
	echoAddr         net.Addr // nil without -echo
	errc             chan error
	log              *log.Logger
}

// Bounds on what a long-running emulator remembers, since nobody reads
// its recordings.
const (
	keepCalls    = 100
	keepRequests = 4
)

func start(cfg serveConfig, stderr io.Writer) (*emulator, error) {
	logger := log.New(stderr, "", log.LstdFlags|log.Lmicroseconds)
	ss := vendortest.NewSpoofSense(cfg.key)
	ss.Keep = keepCalls

	em := &emulator{errc: make(chan error, 2), log: logger}
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return nil, err
	}
	em.spoofsenseAddr = ln.Addr()
	em.spoofsense = em.serve(ln, logRequests(logger, "spoofsense", ss))
	logger.Printf("spoofsense emulator on http://%s (POST %s, %s)", ln.Addr(), vendortest.SpoofSenseAntispoofing, vendortest.SpoofSenseRobust)

	if cfg.echo != "" {
		ln, err := net.Listen("tcp", cfg.echo)
		if err != nil {
			em.spoofsense.Close()
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
	for _, srv := range []*http.Server{em.spoofsense, em.echo} {
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
