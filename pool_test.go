package caddyliveness

import (
	"bytes"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-liveness/caddy-liveness/vendors/vendortest"
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
func leased(t *testing.T, data []byte) (*pooledBody, *budget) {
	t.Helper()
	b := newBudget(1 << 30)
	l := newLease(b, "client")
	buf := l.buffer(t.Context(), len(data))
	copy(buf, data)
	return &pooledBody{buf: buf, lease: l, orig: io.NopCloser(nil)}, b
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
	pb.finish() // a transport may still be writing the body upstream
	if len(got()) != 0 || b.held() == 0 {
		t.Fatal("given back while the reader was half way")
	}
	rest, err := io.ReadAll(pb)
	if err != nil || !bytes.Equal(append(half, rest...), data) {
		t.Fatalf("body after finish differs (err %v)", err)
	}
	if len(got()) != 1 || b.held() != 0 {
		t.Fatalf("given back %d times at the end, %d bytes still held", len(got()), b.held())
	}
	if n, err := pb.Read(half); n != 0 || err != io.EOF {
		t.Fatalf("read after the end: %d, %v", n, err)
	}
	pb.finish()
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
	if _, err := pb.Read(half); err != errBodyClosed {
		t.Fatalf("read after Close: %v", err)
	}
	pb.finish()
	if len(got()) != 2 || b.held() != 0 {
		t.Fatalf("body not given back at finish: %d", len(got()))
	}

	// Never read to the end nor closed: never given back.
	pb, b = leased(t, data)
	pb.finish()
	if len(got()) != 2 || b.held() == 0 {
		t.Fatal("an unread body was given back")
	}

	// The unread rest of the client's body follows the buffer, which goes
	// back when the reader moves on to it.
	pb, b = leased(t, data[:4000])
	pb.rest = bytes.NewReader(data[4000:])
	pb.finish()
	all, err := io.ReadAll(pb)
	if err != nil || !bytes.Equal(all, data) || len(got()) != 3 || b.held() != 0 {
		t.Fatalf("buffer and rest: %d bytes (%v), %d given back, %d held", len(all), err, len(got()), b.held())
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
		pb.finish()
		if b := <-done; !bytes.Equal(b, data) {
			t.Fatal("body changed")
		}
	}
	if len(got()) != 50 {
		t.Fatalf("given back %d of 50", len(got()))
	}
}

// Through the handler: every buffer and byte of budget goes back once
// nothing can read it — at once for a denial, when the upstream has read
// the body for a pass, when the vendor call has ended for a miss.
func TestHandlerRecyclesBodiesOnlyWhenSafe(t *testing.T) {
	v := newFake("fake")
	h, _ := testHandler(t, nil, v)
	live := vendortest.SampleJPEGSize("live", 100_000)
	spoof := vendortest.SampleJPEGSize("spoof", 100_000)

	send := func(img []byte) int {
		ct, body := multipartBody(t, "selfie", img)
		up := &upstream{}
		err, _ := serve(h, post(ct, body), up)
		if up.calls == 1 && !bytes.Equal(up.body, body) {
			t.Fatal("upstream body differs")
		}
		return statusOf(err)
	}
	for i, c := range []struct {
		img    []byte
		status int
	}{{live, 0}, {live, 0}, {spoof, http.StatusForbidden}, {spoof, http.StatusForbidden}} {
		if s := send(c.img); s != c.status || h.budget.held() != 0 {
			t.Fatalf("request %d: status %d, %d bytes still held", i, s, h.budget.held())
		}
	}

	// The upstream reading on after the handler returned: given back only
	// at its end.
	ct, body := multipartBody(t, "selfie", live)
	var late *pooledBody
	err := h.ServeHTTP(nil, post(ct, body), caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		late, _ = r.Body.(*pooledBody)
		return nil
	}))
	if err != nil || late == nil || h.budget.held() == 0 {
		t.Fatalf("err %v, pooled %v, %d held", err, late != nil, h.budget.held())
	}
	if b, _ := io.ReadAll(late); !bytes.Equal(b, body) || h.budget.held() != 0 {
		t.Fatalf("late read: %d held", h.budget.held())
	}
}
