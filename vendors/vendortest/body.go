package vendortest

import (
	"io"
	"net/http"
)

// maxDrain bounds how much of an oversized body is read and thrown away
// before answering 413.
const maxDrain = 64 << 20

// readBody reads a request body of at most limit bytes. A larger one is
// read on (up to maxDrain) and thrown away, so that the client reads the
// 413 instead of a connection reset while it is still sending; n counts
// every byte read.
func readBody(r *http.Request, limit int64) (body []byte, n int64, tooLarge bool, err error) {
	if r.ContentLength > limit {
		n, err = io.Copy(io.Discard, io.LimitReader(r.Body, maxDrain))
		return nil, n, true, err
	}
	body, err = io.ReadAll(io.LimitReader(r.Body, limit+1))
	n = int64(len(body))
	if err != nil {
		return nil, n, false, err
	}
	if n > limit {
		m, err := io.Copy(io.Discard, io.LimitReader(r.Body, maxDrain))
		return nil, n + m, true, err
	}
	return body, n, false, nil
}
