package body

import (
	"bytes"
	"io"
	"sync"
	"testing"
)

// watchGiveBack records the buffers given back to the pool (and keeps them
// out of it) until the test ends.
func watchGiveBack(t *testing.T) func() [][]byte {
	t.Helper()
	var mu sync.Mutex
	var got [][]byte
	giveBack = func(b []byte) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, b)
	}
	t.Cleanup(func() { giveBack = putBuffer })
	return func() [][]byte {
		mu.Lock()
		defer mu.Unlock()
		return append([][]byte(nil), got...)
	}
}

// The budget is a bound: what is taken never passes its size, one client
// never passes its share, and what is given back can be taken again.
func TestBudgetBoundsAndShares(t *testing.T) {
	b := NewBudget(1000)
	ctx := t.Context()
	if err := b.take(ctx, "a", 250); err != nil {
		t.Fatal(err)
	}
	if err := b.take(ctx, "a", 1); err != ErrOverloaded {
		t.Fatalf("a past its share: %v", err)
	}
	for _, c := range []string{"b", "c", "d"} {
		if err := b.take(ctx, c, 250); err != nil {
			t.Fatal(c, err)
		}
	}
	if b.Held() != 1000 {
		t.Fatalf("held %d", b.Held())
	}
	if err := b.take(ctx, "e", 1); err != ErrOverloaded { // waits budgetWait, then gives up
		t.Fatalf("past the budget: %v", err)
	}
	if b.Held() != 1000 {
		t.Fatalf("a refused take left %d held", b.Held())
	}
	done := make(chan error)
	go func() { done <- b.take(ctx, "e", 100) }()
	b.give("b", 250)
	if err := <-done; err != nil {
		t.Fatalf("a waiter did not get what was given back: %v", err)
	}
	if b.Held() != 850 {
		t.Fatalf("held %d, want 850", b.Held())
	}
}

func TestBufferClasses(t *testing.T) {
	last := -1
	for n := minPooled; n <= maxPooled; n += 1 + n/97 {
		i, size := sizeClass(n)
		if size < n || float64(size) > 1.25*float64(n)+1 || i < last || i >= len(bufPools) {
			t.Fatalf("sizeClass(%d) = %d, %d (previous pool %d)", n, i, size, last)
		}
		if j, again := sizeClass(size); j != i || again != size {
			t.Fatalf("class %d of size %d: its size maps to %d, %d", i, size, j, again)
		}
		last = i
	}
	if i, size := sizeClass(maxPooled); i != len(bufPools)-1 || size != maxPooled {
		t.Fatalf("largest class %d, %d", i, size)
	}
	for _, n := range []int{minPooled, minPooled + 1, 100_000, 524_288, 524_650, maxPooled} {
		b := getBuffer(n)
		if _, size := sizeClass(n); len(b) != n || cap(b) != size {
			t.Fatalf("getBuffer(%d): len %d cap %d", n, len(b), cap(b))
		}
		putBuffer(b)
	}
	for _, n := range []int{0, minPooled - 1, maxPooled + 1} {
		if b := getBuffer(n); len(b) != n || cap(b) != n {
			t.Fatalf("getBuffer(%d) outside the pools: len %d cap %d", n, len(b), cap(b))
		}
	}
}

// leased is data in a pooled buffer of a lease on a budget of its own.
func leased(t *testing.T, data []byte) (*Body, *Budget) {
	t.Helper()
	b := NewBudget(1 << 30)
	l := NewLease(b, "client")
	buf := l.Buffer(t.Context(), len(data))
	copy(buf, data)
	return NewBody(buf, nil, l, io.NopCloser(nil)), b
}

// The buffer goes back only when ServeHTTP has returned and the reader has
// read past it or closed the body; no Read sees it after that.
func TestPooledBodyGivesBackOnlyWhenDone(t *testing.T) {
	got := watchGiveBack(t)
	data := bytes.Repeat([]byte("0123456789"), 1000)

	pb, b := leased(t, data)
	half := make([]byte, 5000)
	if n, err := io.ReadFull(pb, half); n != 5000 || err != nil {
		t.Fatal(n, err)
	}
	pb.Finish() // a transport may still be writing the body upstream
	if len(got()) != 0 || b.Held() == 0 {
		t.Fatal("given back while the reader was half way")
	}
	rest, err := io.ReadAll(pb)
	if err != nil || !bytes.Equal(append(half, rest...), data) {
		t.Fatalf("body after finish differs (err %v)", err)
	}
	if len(got()) != 1 || b.Held() != 0 {
		t.Fatalf("given back %d times at the end, %d bytes still held", len(got()), b.Held())
	}
	if n, err := pb.Read(half); n != 0 || err != io.EOF {
		t.Fatalf("read after the end: %d, %v", n, err)
	}
	pb.Finish()
	if len(got()) != 1 {
		t.Fatal("given back twice")
	}

	// Closed before ServeHTTP returned: given back at finish, and reads fail.
	pb, b = leased(t, data)
	if err := pb.Close(); err != nil {
		t.Fatal(err)
	}
	if len(got()) != 1 {
		t.Fatal("given back at Close before finish")
	}
	if _, err := pb.Read(half); err != ErrClosed {
		t.Fatalf("read after Close: %v", err)
	}
	pb.Finish()
	if len(got()) != 2 || b.Held() != 0 {
		t.Fatalf("body not given back at finish: %d", len(got()))
	}

	// Never read to the end nor closed: never given back.
	pb, b = leased(t, data)
	pb.Finish()
	if len(got()) != 2 || b.Held() == 0 {
		t.Fatal("an unread body was given back")
	}

	// The unread rest of the client's body follows the buffer, which goes
	// back when the reader moves on to it.
	pb, b = leased(t, data[:4000])
	pb.rest = bytes.NewReader(data[4000:])
	pb.Finish()
	all, err := io.ReadAll(pb)
	if err != nil || !bytes.Equal(all, data) || len(got()) != 3 || b.Held() != 0 {
		t.Fatalf("buffer and rest: %d bytes (%v), %d given back, %d held", len(all), err, len(got()), b.Held())
	}
}

// A reader on another goroutine and finish race; the race detector checks
// that the buffer is not touched after it goes back.
func TestPooledBodyConcurrentFinish(t *testing.T) {
	got := watchGiveBack(t)
	data := bytes.Repeat([]byte{7}, 1<<16)
	for range 50 {
		pb, _ := leased(t, data)
		done := make(chan []byte)
		go func() {
			b, _ := io.ReadAll(io.LimitReader(pb, 1<<20))
			done <- b
		}()
		pb.Finish()
		if b := <-done; !bytes.Equal(b, data) {
			t.Fatal("body changed")
		}
	}
	if len(got()) != 50 {
		t.Fatalf("given back %d of 50", len(got()))
	}
}
