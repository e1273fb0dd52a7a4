package caddyliveness

import (
	"errors"
	"io"
	"math/bits"
	"sync"
)

// Request bodies and decoded images are buffered whole. Their buffers come
// from pools by power-of-two size class, so that a steady flow of uploads
// neither allocates nor zeroes a body-sized buffer per request, and the
// garbage collector has little to do.
const (
	minPooled   = 4 << 10
	poolClasses = 13 // up to minPooled<<12: 16 MiB
	maxPooled   = minPooled << (poolClasses - 1)
)

var bufPools [poolClasses]sync.Pool // class i: capacity minPooled<<i

// getBuffer returns a buffer of length n whose bytes are stale: the caller
// must overwrite every byte it reads.
func getBuffer(n int) []byte {
	if n < minPooled || n > maxPooled {
		return make([]byte, n)
	}
	i := bits.Len(uint(n-1) / minPooled)
	if p, ok := bufPools[i].Get().(*[]byte); ok {
		return (*p)[:n]
	}
	return make([]byte, n, minPooled<<i)
}

// putBuffer gives b back for re-use; nothing may read or write it after.
func putBuffer(b []byte) {
	c := cap(b)
	if c < minPooled || c > maxPooled || c&(c-1) != 0 {
		return
	}
	b = b[:0]
	bufPools[bits.Len(uint(c/minPooled))-1].Put(&b)
}

// scratch collects the pooled buffers a request takes besides its body:
// decoded images.
type scratch struct{ bufs [][]byte }

// get returns getBuffer(n), kept in s; a nil s keeps nothing.
func (s *scratch) get(n int) []byte {
	b := getBuffer(n)
	if s != nil {
		s.bufs = append(s.bufs, b)
	}
	return b
}

// giveBack is putBuffer; tests watch it.
var giveBack = putBuffer

var errBodyClosed = errors.New("liveness: read on a closed request body")

// pooledBody serves a buffered request body to the handlers after this one
// and gives its buffers back to the pool only once nothing can read them
// any more: after ServeHTTP has returned (finish) and the reader has
// reached the end or been closed. Whatever comes first, no Read touches a
// buffer after it went back — HTTP transports may still be writing a body
// upstream after their RoundTrip returned. A body that is never read to
// its end nor closed is left to the garbage collector.
type pooledBody struct {
	mu     sync.Mutex
	buf    []byte // the body; nil once given back
	off    int
	done   bool // ServeHTTP returned
	closed bool
	orig   io.Closer // the client's body
}

func (b *pooledBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, errBodyClosed
	}
	if b.off >= len(b.buf) {
		b.releaseLocked()
		return 0, io.EOF
	}
	n := copy(p, b.buf[b.off:])
	b.off += n
	return n, nil
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
	if !b.done || b.buf == nil || (!b.closed && b.off < len(b.buf)) {
		return
	}
	giveBack(b.buf)
	b.buf = nil
}
