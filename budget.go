package caddyliveness

import (
	"context"
	"errors"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"
)

// Defaults of the memory bounds.
const (
	// DefaultMaxBuffered is the budget of bytes held for requests: body
	// buffers, decoded images and vendor request bodies. 256 MiB is 25
	// uploads at the default max_size held at once, or hundreds of
	// ordinary selfies, and leaves a 1 GiB box room for Caddy and the
	// rest of its sites.
	DefaultMaxBuffered = 256 << 20
	// DefaultMaxImages bounds the vendor calls one request can cost: a
	// selfie with both sides of an ID is three.
	DefaultMaxImages   = 4
	DefaultBodyTimeout = time.Minute
	// DefaultBodyMinRate, after bodyGrace, is slow mobile uplink speed: a
	// 2 MB selfie arrives within two minutes even at it.
	DefaultBodyMinRate = 16 << 10
	// bodyGrace is how long a body may arrive slower than the minimum
	// rate at its start (a connection warming up).
	bodyGrace = 5 * time.Second
	// budgetWait is how long a request waits for its share of the budget
	// before it is refused with 503.
	budgetWait = time.Second
	// clientShares: one client (by its address) may hold at most
	// 1/clientShares of the budget, so that one client's slow uploads
	// cannot take all of it.
	clientShares = 4
	// perUpload is how many times an upload's size it may hold at worst:
	// its body, its decoded image and the vendor's request body.
	perUpload = 3
)

// errOverloaded is a request that could not get its share of the budget.
var errOverloaded = errors.New("liveness: no memory budget left for the request")

// budget bounds the bytes all requests of the handlers that share it
// hold. It is a weighted semaphore (FIFO: a large request is not starved
// by small ones) and a count per client.
type budget struct {
	size    int64
	share   int64
	sem     *semaphore.Weighted
	mu      sync.Mutex
	clients map[string]int64
}

func newBudget(size int64) *budget {
	return &budget{size: size, share: size / clientShares, sem: semaphore.NewWeighted(size), clients: map[string]int64{}}
}

// Destruct lets a budget live in Caddy's usage pool.
func (b *budget) Destruct() error { return nil }

// take takes n bytes for client, waiting at most budgetWait (and never
// past ctx). A client over its share is refused at once.
func (b *budget) take(ctx context.Context, client string, n int64) error {
	b.mu.Lock()
	if b.clients[client]+n > b.share {
		b.mu.Unlock()
		return errOverloaded
	}
	b.clients[client] += n
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, budgetWait)
	defer cancel()
	if err := b.sem.Acquire(ctx, n); err != nil {
		b.forget(client, n)
		return errOverloaded
	}
	return nil
}

func (b *budget) give(client string, n int64) {
	b.sem.Release(n)
	b.forget(client, n)
}

func (b *budget) forget(client string, n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.clients[client] -= n; b.clients[client] <= 0 {
		delete(b.clients, client)
	}
}

// held is what the budget's clients hold now (for the admin API and
// tests).
func (b *budget) held() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	var n int64
	for _, v := range b.clients {
		n += v
	}
	return n
}

// lease is what one request holds of a budget: bytes, and the pooled
// buffers they are for. Whoever may still read the buffers holds a
// reference: the request itself, the body handed to the next handler, a
// vendor call that may outlive the request. The last release gives the
// buffers to the pool and the bytes to the budget.
type lease struct {
	b      *budget
	client string
	mu     sync.Mutex
	bytes  int64
	bufs   [][]byte
	refs   int
}

func newLease(b *budget, client string) *lease { return &lease{b: b, client: client, refs: 1} }

// take takes n more bytes.
func (l *lease) take(ctx context.Context, n int64) error {
	if err := l.b.take(ctx, l.client, n); err != nil {
		return err
	}
	l.mu.Lock()
	l.bytes += n
	l.mu.Unlock()
	return nil
}

// give gives n bytes back before the end.
func (l *lease) give(n int64) {
	l.mu.Lock()
	l.bytes -= n
	l.mu.Unlock()
	l.b.give(l.client, n)
}

// buffer returns a pooled buffer of length n, kept until the last
// release, with budget taken for its capacity; nil when there is none.
func (l *lease) buffer(ctx context.Context, n int) []byte {
	if l.take(ctx, int64(bufferCap(n))) != nil {
		return nil
	}
	buf := getBuffer(n)
	l.mu.Lock()
	l.bufs = append(l.bufs, buf)
	l.mu.Unlock()
	return buf
}

// grow returns a buffer of capacity about c holding buf's bytes, and gives
// buf and its budget back (buf must be the last one from buffer or grow,
// and nothing else may hold it).
func (l *lease) grow(ctx context.Context, buf []byte, c int) ([]byte, error) {
	nb := l.buffer(ctx, c)
	if nb == nil {
		return buf, errOverloaded
	}
	nb = nb[:copy(nb, buf)]
	if buf != nil {
		l.mu.Lock()
		l.bufs = l.bufs[:len(l.bufs)-2]
		l.bufs = append(l.bufs, nb[:cap(nb)])
		l.mu.Unlock()
		giveBack(buf[:cap(buf)])
		l.give(int64(cap(buf)))
	}
	return nb, nil
}

func (l *lease) retain() {
	l.mu.Lock()
	l.refs++
	l.mu.Unlock()
}

func (l *lease) release() {
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

// bufferCap is the capacity getBuffer(n) gives.
func bufferCap(n int) int {
	if n < minPooled || n > maxPooled {
		return n
	}
	_, size := sizeClass(n)
	return size
}
