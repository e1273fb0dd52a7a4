package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/caddy-liveness/caddy-liveness/vendors/vendortest"
)

// maxSampleSize is well above every vendor's limit, which is all a size
// test needs.
const maxSampleSize = 64 << 20

func sample(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("liveness-emulator sample", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asPNG := fs.Bool("png", false, "write a PNG instead of a JPEG")
	size := fs.Int("size", 0, "pad the JPEG to about `N` bytes")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: liveness-emulator sample [-png] [-size N] <marker> > image\n"+
			"marker: directives separated by ';', e.g. live, spoof, no_face, score=0.52;delay=2s\n"+
			"(see go doc github.com/caddy-liveness/caddy-liveness/vendors/vendortest)\nflags:")
		fs.PrintDefaults()
	}
	// Flags may also follow the marker, as in "sample spoof -png".
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) != 1 {
		fs.Usage()
		return errors.New("sample takes exactly one marker")
	}
	// The emulators ignore what they do not understand in an image's
	// marker; here a person typed it, so a typo must not pass unnoticed.
	marker := strings.TrimPrefix(pos[0], vendortest.MarkerPrefix)
	if err := vendortest.ValidateMarker(marker); err != nil {
		return err
	}
	if *size < 0 || *size > maxSampleSize {
		return fmt.Errorf("-size must be between 0 and %d", maxSampleSize)
	}
	var img []byte
	switch {
	case *asPNG && *size > 0:
		return errors.New("-size applies to JPEG only")
	case *asPNG:
		img = vendortest.SamplePNG(marker)
	default:
		img = vendortest.SampleJPEGSize(marker, *size)
	}
	_, err := stdout.Write(img)
	return err
}
