package vendortest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"sync"
)

// Echo is an upstream for demos and tests: it answers every request with
// a JSON description of what it received, so a test can check what the
// gateway forwarded. The zero value is ready to use and safe for
// concurrent use.
type Echo struct {
	// Keep bounds how many of the most recent requests Requests returns;
	// 0 keeps all. Bodies are kept whole, so a long-running Echo should
	// set it.
	Keep int

	mu       sync.Mutex
	requests []EchoRequest
	count    int
}

// EchoRequest is one request as Echo received it.
type EchoRequest struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
	// ContentLength is the request's Content-Length, -1 if it had none.
	ContentLength int64
}

// EchoResponse is the body Echo answers.
type EchoResponse struct {
	Method        string      `json:"method"`
	Path          string      `json:"path"`
	Headers       http.Header `json:"headers"`
	ContentLength int64       `json:"content_length"`
	BodySize      int         `json:"body_size"`
	BodySHA256    string      `json:"body_sha256"`
}

// ServeHTTP records r, body included, and answers 200 with its
// EchoResponse.
func (e *Echo) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return // the client went away while sending
	}
	e.mu.Lock()
	e.count++
	e.requests = append(e.requests, EchoRequest{
		Method:        r.Method,
		Path:          r.URL.Path,
		Header:        r.Header.Clone(),
		Body:          body,
		ContentLength: r.ContentLength,
	})
	if e.Keep > 0 && len(e.requests) > e.Keep {
		e.requests = append(e.requests[:0:0], e.requests[len(e.requests)-e.Keep:]...)
	}
	e.mu.Unlock()

	sum := sha256.Sum256(body)
	out, err := json.Marshal(EchoResponse{
		Method:        r.Method,
		Path:          r.URL.Path,
		Headers:       r.Header,
		ContentLength: r.ContentLength,
		BodySize:      len(body),
		BodySHA256:    hex.EncodeToString(sum[:]),
	})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(out)
}

// Requests returns copies of the recorded requests, oldest first.
func (e *Echo) Requests() []EchoRequest {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]EchoRequest, len(e.requests))
	for i, r := range e.requests {
		r.Header = r.Header.Clone()
		r.Body = append([]byte(nil), r.Body...)
		out[i] = r
	}
	return out
}

// Count returns the number of requests since creation or Reset, including
// any Keep dropped.
func (e *Echo) Count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.count
}

// Reset forgets the recorded requests.
func (e *Echo) Reset() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.requests, e.count = nil, 0
}
