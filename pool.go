package caddyliveness

import (
	"errors"
	"io"
	"math/bits"
	"sync"
)

// Request bodies and decoded images are buffered whole. Their buffers come
// from pools by size class, so that a steady flow of uploads neither
// allocates nor zeroes a body-sized buffer per request, and the garbage
// collector has little to do. There are four classes per doubling of size
// (5/4, 6/4, 7/4 and 8/4 of the power of two below), so a buffer is at
// most 25 % larger than what it holds.
const (
	minShift  = 12
	maxShift  = 24
	minPooled = 1 << minShift // 4 KiB
	maxPooled = 1 << maxShift // 16 MiB
)

var bufPools [4*(maxShift-minShift) + 1]sync.Pool

// sizeClass returns the pool and the capacity of the smallest class that
// holds n bytes, for minPooled <= n <= maxPooled.
func sizeClass(n int) (pool, size int) {
	if n <= minPooled {
		return 0, minPooled
	}
	k := bits.Len(uint(n-1)) - 1 // 1<<k < n <= 1<<(k+1)
	step := 1 << (k - 2)
	size = (n + step - 1) / step * step
	return 4*(k-minShift) + size/step - 4, size
}

// getBuffer returns a buffer of length n whose bytes are stale: the caller
// must overwrite every byte it reads.
func getBuffer(n int) []byte {
	if n < minPooled || n > maxPooled {
		return make([]byte, n)
	}
	i, size := sizeClass(n)
	if p, ok := bufPools[i].Get().(*[]byte); ok {
		return (*p)[:n]
	}
	return make([]byte, n, size)
}

// putBuffer gives b back for re-use; nothing may read or write it after.
// Buffers not made by getBuffer's pools are left to the garbage collector.
func putBuffer(b []byte) {
	c := cap(b)
	if c < minPooled || c > maxPooled {
		return
	}
	i, size := sizeClass(c)
	if size != c {
		return
	}
	b = b[:0]
	bufPools[i].Put(&b)
}

// giveBack is putBuffer; tests watch it.
var giveBack = putBuffer

var errBodyClosed = errors.New("liveness: read on a closed request body")

// pooledBody serves a buffered request body to the handlers after this one
// — its buffered bytes, then whatever of the client's body was not read
// (rest) — and releases the request's lease (its buffers go back to the
// pool) only once nothing can read them any more: after ServeHTTP has
// returned (finish) and the reader has read past the buffer or closed the
// body. Whatever comes first, no Read touches a buffer after it went back
// — HTTP transports may still be writing a body upstream after their
// RoundTrip returned. A body that is never read to its end nor closed
// keeps its lease (and budget) until the garbage collector takes it.
type pooledBody struct {
	mu     sync.Mutex
	buf    []byte // the buffered body; nil once released
	off    int
	rest   io.Reader // the client's body past buf, or nil
	lease  *lease    // nil once released
	done   bool      // ServeHTTP returned
	closed bool
	orig   io.Closer // the client's body
}

func (b *pooledBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return 0, errBodyClosed
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

func (b *pooledBody) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	b.releaseLocked()
	return b.orig.Close()
}

// finish is called when ServeHTTP returns.
func (b *pooledBody) finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done = true
	b.releaseLocked()
}

func (b *pooledBody) releaseLocked() {
	if !b.done || b.lease == nil || (!b.closed && b.buf != nil) {
		return
	}
	b.lease.release()
	b.lease, b.buf = nil, nil
}
