package vendors

import (
	"context"
	"errors"
	"fmt"
	"runtime"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"golang.org/x/sync/semaphore"

	"github.com/caddy-liveness/caddy-liveness/vendors/local/antispoof"
	"github.com/caddy-liveness/caddy-liveness/vendors/local/preproc"
)

func init() {
	caddy.RegisterModule(Local{})
}

// localMaxPixels bounds what one inference decodes. The handler's
// max_pixels (default 40 million) applies first; this is the backstop for
// a handler configured higher.
const localMaxPixels = preproc.DefaultMaxPixels

// Local is the offline liveness check: minivision's Silent-Face-Anti-
// Spoofing pipeline (RetinaFace, then MiniFASNetV2 and MiniFASNetV1SE,
// Apache-2.0) run in pure Go on this machine. The image is sent nowhere;
// the weights are built into the binary. The score is the mean of the two
// models' probability that the face is real; with no threshold set, a face
// is live above 0.5.
//
// An image with no face gives no_face (reason face_not_detected); one
// with several faces large enough to judge, or whose face is too small to
// judge, gives no_face too (reasons several_faces, face_too_small): never
// live.
type Local struct {
	// MaxConcurrent is how many inferences run at once (each on one
	// thread); the others wait, until the request's deadline. Default:
	// GOMAXPROCS.
	MaxConcurrent int `json:"max_concurrent,omitempty"`

	engine  *antispoof.Engine
	slots   *semaphore.Weighted
	profile string
}

// CaddyModule returns the Caddy module information.
func (Local) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  Namespace + ".local",
		New: func() caddy.Module { return new(Local) },
	}
}

// Provision checks the options and compiles the embedded networks (once
// per process).
func (l *Local) Provision(caddy.Context) error {
	if err := l.validate(); err != nil {
		return err
	}
	if l.MaxConcurrent == 0 {
		l.MaxConcurrent = runtime.GOMAXPROCS(0)
	}
	e, err := antispoof.Load()
	if err != nil {
		return fmt.Errorf("local: %w", err)
	}
	l.engine = e
	l.slots = semaphore.NewWeighted(int64(l.MaxConcurrent))
	l.profile = "local " + e.Fingerprint()
	return nil
}

// UnmarshalCaddyfile sets up the vendor from Caddyfile tokens:
//
//	vendor local {
//	    max_concurrent <n>
//	}
func (l *Local) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return UnmarshalBlock(d, l.Name(), IntOptions(map[string]*int{"max_concurrent": &l.MaxConcurrent}), l.validate)
}

// validate checks the option values, for the Caddyfile and the JSON alike.
func (l *Local) validate() error {
	if l.MaxConcurrent < 0 {
		return badOption(l.Name(), "max_concurrent", "must be positive, got %d", l.MaxConcurrent)
	}
	return nil
}

// Name implements Vendor.
func (l *Local) Name() string { return "local" }

// Profile implements Vendor: the weights' digests and the face policy.
func (l *Local) Profile(*Request) string { return l.profile }

// Check implements Vendor.
func (l *Local) Check(ctx context.Context, req *Request) (Result, error) {
	return localCheck(ctx, l.engine, l.slots, req, false)
}

// Prescreen is the local face detector alone, run before a paid vendor:
// it answers no_face for an image with no face, several faces or a face too
// small to judge, and nothing (ok false) when the image is fit to be sent.
type Prescreen struct {
	engine  *antispoof.Engine
	slots   *semaphore.Weighted
	profile string
}

// NewPrescreen loads the detector; inferences run at most maxConcurrent at
// a time.
func NewPrescreen(maxConcurrent int) (*Prescreen, error) {
	e, err := antispoof.Load()
	if err != nil {
		return nil, fmt.Errorf("prescreen: %w", err)
	}
	return &Prescreen{engine: e, slots: semaphore.NewWeighted(int64(max(maxConcurrent, 1))), profile: "prescreen " + e.Fingerprint()}, nil
}

// Profile is the prescreen's cache profile.
func (p *Prescreen) Profile() string { return p.profile }

// Screen runs the detector on req's image. A Result of class no_face is a
// refusal; a Result of class face means the image may go to the vendor.
func (p *Prescreen) Screen(ctx context.Context, req *Request) (Result, error) {
	return localCheck(ctx, p.engine, p.slots, req, true)
}

// localCheck decodes the image and runs the screen or the whole check
// under one of slots.
func localCheck(ctx context.Context, e *antispoof.Engine, slots *semaphore.Weighted, req *Request, screenOnly bool) (Result, error) {
	fail := func(kind Kind, msg string, err error) (Result, error) {
		return Result{}, &Error{Vendor: "local", Kind: kind, Msg: msg, Err: err}
	}
	switch req.MIME {
	case "image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp":
	default:
		return fail(KindUnsupported, "only still images are checked, not "+Sanitize(req.MIME), nil)
	}
	if err := slots.Acquire(ctx, 1); err != nil {
		return fail(KindUnavailable, "no inference slot before the deadline", err)
	}
	defer slots.Release(1)
	if err := ctx.Err(); err != nil {
		return fail(KindUnavailable, "no inference slot before the deadline", err)
	}
	img, err := preproc.Decode(req.Data, localMaxPixels)
	if errors.Is(err, preproc.ErrTooLarge) {
		return fail(KindTooLarge, "image has too many pixels", nil)
	}
	if err != nil {
		// The message names the format and the decoder's complaint; it
		// holds no image bytes.
		return fail(KindInvalidMedia, "image could not be decoded", err)
	}
	// Decoding a large image can take a while: do not start the networks
	// for a caller that has gone.
	if err := ctx.Err(); err != nil {
		return fail(KindUnavailable, "deadline passed while decoding", err)
	}
	var r antispoof.Report
	if screenOnly {
		r, err = e.Screen(img)
	} else {
		r, err = e.Check(img)
	}
	if err != nil {
		return fail(KindInvalidMedia, "image could not be analysed", err)
	}
	if r.Reason != "" {
		return Result{Class: ClassNoFace, Reason: r.Reason}, nil
	}
	if screenOnly {
		return Result{Class: ClassFace}, nil
	}
	return Result{
		Class:            ClassFace,
		Score:            r.Score,
		HasScore:         true,
		DefaultThreshold: antispoof.DefaultThreshold,
	}, nil
}

// Interface guards
var (
	_ Vendor                = (*Local)(nil)
	_ caddy.Provisioner     = (*Local)(nil)
	_ caddyfile.Unmarshaler = (*Local)(nil)
)
