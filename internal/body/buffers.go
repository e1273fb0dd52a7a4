package body

import (
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

// BufferCap is the capacity a buffer of length n gets.
func BufferCap(n int) int {
	if n < minPooled || n > maxPooled {
		return n
	}
	_, size := sizeClass(n)
	return size
}
