package body

import (
	"errors"
	"io"
	"sync"
)

// ErrClosed is a read on a closed body.
var ErrClosed = errors.New("read on a closed request body")

// Body serves a buffered request body to the handlers after this one
// — its buffered bytes, then whatever of the client's body was not read
// (rest) — and releases the request's lease (its buffers go back to the
// pool) only once nothing can read them any more: after the handler has
// returned (Finish) and the reader has read past the buffer or closed the
// body. Whatever comes first, no Read touches a buffer after it went back
// — HTTP transports may still be writing a body upstream after their
// RoundTrip returned. A body that is never read to its end nor closed
// keeps its lease (and budget) until the garbage collector takes it.
type Body struct {
	mu     sync.Mutex
	buf    []byte // the buffered body; nil once released
	off    int
	rest   io.Reader // the client's body past buf, or nil
	lease  *Lease    // nil once released
	done   bool      // Finish was called
	closed bool
	orig   io.Closer // the client's body
}

func (b *Body) Read(p []byte) (int, error) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return 0, ErrClosed
	}
	if b.off < len(b.buf) {
		n := copy(p, b.buf[b.off:])
		b.off += n
		b.mu.Unlock()
		return n, nil
	}
	b.buf = nil // read past: what is left comes from rest
	b.releaseLocked()
	rest := b.rest
	b.mu.Unlock()
	if rest == nil {
		return 0, io.EOF
	}
	return rest.Read(p)
}

func (b *Body) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	b.releaseLocked()
	return b.orig.Close()
}

// Finish is called when the handler that made the body returns.
func (b *Body) Finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done = true
	b.releaseLocked()
}

func (b *Body) releaseLocked() {
	if !b.done || b.lease == nil || (!b.closed && b.buf != nil) {
		return
	}
	b.lease.Release()
	b.lease, b.buf = nil, nil
}

// NewBody serves buf and then rest (nil: nothing more) and releases l
// once nothing can read buf any more; orig is the client's body, closed
// with this one.
func NewBody(buf []byte, rest io.Reader, l *Lease, orig io.Closer) *Body {
	return &Body{buf: buf, rest: rest, lease: l, orig: orig}
}
