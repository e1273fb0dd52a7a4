// Package body holds what a request's body costs the process: a byte
// budget shared by the handlers (with a share per client), the lease one
// request holds of it, pooled buffers by size class, and the body served
// to the next handler from those buffers. It knows nothing of Caddy or the
// vendors.
package body

import (
	"context"
	"errors"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"
)

const (
	// budgetWait is how long a request waits for its share of the budget
	// before it is refused.
	budgetWait = time.Second
	// ClientShares: one client (by its address) may hold at most
	// 1/ClientShares of the budget, so that one client's slow uploads
	// cannot take all of it.
	ClientShares = 4
	// PerUpload is how many times an upload's size it may hold at worst:
	// its body, its decoded image and the vendor's request body.
	PerUpload = 3
)

// ErrOverloaded is a request that could not get its share of the budget.
var ErrOverloaded = errors.New("no memory budget left for the request")

// Budget bounds the bytes all requests of the handlers that share it
// hold. It is a weighted semaphore (FIFO: a large request is not starved
// by small ones) and a count per client.
type Budget struct {
	size    int64
	share   int64
	sem     *semaphore.Weighted
	mu      sync.Mutex
	clients map[string]int64
}

// NewBudget returns a budget of size bytes.
func NewBudget(size int64) *Budget {
	return &Budget{size: size, share: size / ClientShares, sem: semaphore.NewWeighted(size), clients: map[string]int64{}}
}

// Destruct lets a budget live in a usage pool (caddy.Destructor).
func (b *Budget) Destruct() error { return nil }

// take takes n bytes for client, waiting at most budgetWait (and never
// past ctx). A client over its share is refused at once.
func (b *Budget) take(ctx context.Context, client string, n int64) error {
	b.mu.Lock()
	if b.clients[client]+n > b.share {
		b.mu.Unlock()
		return ErrOverloaded
	}
	b.clients[client] += n
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, budgetWait)
	defer cancel()
	if err := b.sem.Acquire(ctx, n); err != nil {
		b.forget(client, n)
		return ErrOverloaded
	}
	return nil
}

func (b *Budget) give(client string, n int64) {
	b.sem.Release(n)
	b.forget(client, n)
}

func (b *Budget) forget(client string, n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.clients[client] -= n; b.clients[client] <= 0 {
		delete(b.clients, client)
	}
}

// Held is what the budget's clients hold now (for the admin API and
// tests).
func (b *Budget) Held() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	var n int64
	for _, v := range b.clients {
		n += v
	}
	return n
}

// Lease is what one request holds of a budget: bytes, and the pooled
// buffers they are for. Whoever may still read the buffers holds a
// reference: the request itself, the body handed to the next handler, a
// vendor call that may outlive the request. The last Release gives the
// buffers to the pool and the bytes to the budget.
type Lease struct {
	b      *Budget
	client string
	mu     sync.Mutex
	bytes  int64
	bufs   [][]byte
	refs   int
}

// NewLease returns a lease on b for client, holding one reference.
func NewLease(b *Budget, client string) *Lease { return &Lease{b: b, client: client, refs: 1} }

// Take takes n more bytes.
func (l *Lease) Take(ctx context.Context, n int64) error {
	if err := l.b.take(ctx, l.client, n); err != nil {
		return err
	}
	l.mu.Lock()
	l.bytes += n
	l.mu.Unlock()
	return nil
}

// Give gives n bytes back before the end.
func (l *Lease) Give(n int64) {
	l.mu.Lock()
	l.bytes -= n
	l.mu.Unlock()
	l.b.give(l.client, n)
}

// Buffer returns a pooled buffer of length n, kept until the last
// release, with budget taken for its capacity; nil when there is none.
func (l *Lease) Buffer(ctx context.Context, n int) []byte {
	if l.Take(ctx, int64(BufferCap(n))) != nil {
		return nil
	}
	buf := getBuffer(n)
	l.mu.Lock()
	l.bufs = append(l.bufs, buf)
	l.mu.Unlock()
	return buf
}

// Grow returns a buffer of capacity about c holding buf's bytes, and gives
// buf and its budget back (buf must be the last one from Buffer or Grow,
// and nothing else may hold it).
func (l *Lease) Grow(ctx context.Context, buf []byte, c int) ([]byte, error) {
	nb := l.Buffer(ctx, c)
	if nb == nil {
		return buf, ErrOverloaded
	}
	nb = nb[:copy(nb, buf)]
	if buf != nil {
		l.mu.Lock()
		l.bufs = l.bufs[:len(l.bufs)-2]
		l.bufs = append(l.bufs, nb[:cap(nb)])
		l.mu.Unlock()
		giveBack(buf[:cap(buf)])
		l.Give(int64(cap(buf)))
	}
	return nb, nil
}

// Retain adds a reference.
func (l *Lease) Retain() {
	l.mu.Lock()
	l.refs++
	l.mu.Unlock()
}

// Release drops a reference; the last one gives everything back.
func (l *Lease) Release() {
	l.mu.Lock()
	l.refs--
	if l.refs > 0 {
		l.mu.Unlock()
		return
	}
	bufs, n := l.bufs, l.bytes
	l.bufs, l.bytes = nil, 0
	l.mu.Unlock()
	for _, b := range bufs {
		giveBack(b)
	}
	if n > 0 {
		l.b.give(l.client, n)
	}
}
