// Command liveness-emulator serves the vendor emulators of package
// vendortest over HTTP, for demos and for CI that cannot reach the
// vendors, and writes sample images carrying emulator markers.
//
//	liveness-emulator [-listen 127.0.0.1:9780] [-echo 127.0.0.1:9781] [-allow-remote]
//	                  [-spoofsense-key demo-key] [-videosdk-key demo-key] [-videosdk-secret demo-secret]
//	                  [-facia-client-id demo-client] [-facia-client-secret demo-secret] [-verifik-token demo-token]
//	liveness-emulator sample [-png] [-size N] <marker> > image
//
// One address serves all four vendors on their documented paths. Each
// credential may also come from the environment, e.g.
// LIVENESS_EMULATOR_SPOOFSENSE_KEY; the flag wins. -echo "" disables the
// echo upstream.
//
// sample refuses a marker with an unknown or malformed directive
// (vendortest.ValidateMarker), with a message and exit status 1, although
// the emulators skip such directives in the images they are sent.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	default:
		fmt.Fprintln(os.Stderr, "liveness-emulator:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "sample" {
		return sample(args[1:], stdout, stderr)
	}
	cfg, err := parseServeFlags(args, getenv, stderr)
	if err != nil {
		return err
	}
	em, err := start(cfg, stderr)
	if err != nil {
		return err
	}
	return em.wait(ctx)
}
