// Package vendors holds the liveness vendor clients. Each vendor is a Caddy
// guest module in the namespace http.handlers.liveness.vendors (inline key
// "name") that implements Vendor; adding one is a matter of one new file
// here, or of a module of its own built in with xcaddy --with.
package vendors

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// Namespace is the Caddy module namespace of vendor clients.
const Namespace = "http.handlers.liveness.vendors"

// Media is one image (or video) found in a request, already decoded.
type Media struct {
	// Data holds the decoded bytes. Vendors must not modify or keep it.
	Data []byte
	// MIME is the sniffed type, e.g. "image/jpeg" or "video/mp4"; never
	// the client's claim.
	MIME string
}

// Request is what a vendor is asked about: one medium and what else of
// the client's request and the handler's configuration a vendor may use.
type Request struct {
	Media
	// UserAgent is the client's User-Agent (Verifik derives "os" from it).
	UserAgent string
	// Threshold is the operator's threshold, nil when unset, for vendors
	// that take one in the call.
	Threshold *float64
	// Replacer resolves request placeholders such as {http.request.uuid};
	// nil outside a request.
	Replacer *caddy.Replacer
}

// Class is the vendor's answer about the face, before any threshold.
type Class string

const (
	// ClassFace means a face was analysed; the decision comes from Score,
	// Passed and the threshold.
	ClassFace Class = "face"
	// ClassNoFace means the vendor found no usable face.
	ClassNoFace Class = "no_face"
	// ClassInconclusive means no decision was reached in time.
	ClassInconclusive Class = "inconclusive"
)

// Result is what a vendor answered for one medium. It holds no image data
// and is what the verdict cache stores, so a threshold change applies to
// cached results without flushing them.
type Result struct {
	Class Class `json:"class"`
	// Score is the normalised liveness score in [0,1], higher = live.
	Score float64 `json:"score,omitempty"`
	// HasScore reports whether Score is meaningful.
	HasScore bool `json:"has_score,omitempty"`
	// Passed is the vendor's own decision, where the vendor makes one.
	Passed *bool `json:"passed,omitempty"`
	// Veto marks a vendor's refusal that no threshold may overturn (FACIA
	// declining an attack): a threshold can make the decision stricter
	// than the vendor's, never more lenient.
	Veto bool `json:"veto,omitempty"`
	// DefaultThreshold applies to Score when the operator set no threshold
	// and the vendor made no decision of its own (SpoofSense).
	DefaultThreshold float64 `json:"default_threshold,omitempty"`
	// Reason is a short machine-readable code (e.g. "face_not_detected").
	Reason string `json:"reason,omitempty"`
	// Reference is the vendor's id for this check, where it has one.
	Reference string `json:"reference,omitempty"`
}

// Live decides the result: a veto stands; with a threshold (operator's),
// the score decides where there is one; otherwise the vendor's own decision stands; otherwise
// the score is compared with the vendor's default threshold. A score equal
// to the threshold is not live (the vendors document "above").
func (r Result) Live(threshold *float64) bool {
	if r.Class != ClassFace || r.Veto {
		return false
	}
	if threshold != nil && r.HasScore {
		return r.Score > *threshold
	}
	if r.Passed != nil {
		return *r.Passed
	}
	return r.HasScore && r.Score > r.DefaultThreshold
}

// Vendor is a liveness vendor client.
type Vendor interface {
	// Name is the vendor's short name, as in the module ID and the
	// verdict headers.
	Name() string
	// Profile identifies everything besides the image that can change
	// the vendor's answer to req (endpoint, model, parameters sent). It is
	// part of the cache key.
	Profile(req *Request) string
	// Check asks the vendor about one medium. It returns a Result for
	// every answer about the face (including no face, and inconclusive
	// when no decision came before ctx's deadline) and an *Error for
	// everything else. ctx carries the decision's deadline.
	Check(ctx context.Context, req *Request) (Result, error)
}

// Kind classifies vendor errors so that the handler's policies can act on
// them without knowing the vendor.
type Kind string

const (
	// KindAuth: the vendor refused our credentials.
	KindAuth Kind = "auth"
	// KindBadRequest: the vendor refused the request's shape (a bug or a
	// contract change on our side).
	KindBadRequest Kind = "bad_request"
	// KindInvalidMedia: the vendor could not read the image.
	KindInvalidMedia Kind = "invalid_media"
	// KindTooLarge: the medium exceeds the vendor's size limit.
	KindTooLarge Kind = "too_large"
	// KindRateLimited: the vendor asked us to slow down.
	KindRateLimited Kind = "rate_limited"
	// KindUnavailable: unreachable, timed out, 5xx or an unreadable answer.
	KindUnavailable Kind = "unavailable"
	// KindUnsupported: the vendor does not take this kind of medium.
	KindUnsupported Kind = "unsupported_media"
)

// Error is a vendor failure. Its message never holds secrets or image data.
type Error struct {
	Vendor     string
	Kind       Kind
	Status     int           // HTTP status from the vendor, 0 if none
	RetryAfter time.Duration // from Retry-After, 0 if none
	Msg        string
	Err        error
}

func (e *Error) Error() string {
	s := e.Vendor + ": " + string(e.Kind)
	if e.Status != 0 {
		s += fmt.Sprintf(" (HTTP %d)", e.Status)
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the Kind of a vendor error, or KindUnavailable for any
// other error (a context deadline, a network failure).
func KindOf(err error) Kind {
	var ve *Error
	if errors.As(err, &ve) {
		return ve.Kind
	}
	return KindUnavailable
}
