package caddyliveness

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/textproto"
	"strings"
	"sync"
)

// rawPart is one part of a multipart body: its header, and its content as
// a slice of the body (never a copy).
type rawPart struct {
	header textproto.MIMEHeader
	data   []byte
}

// Limits of mime/multipart that splitMultipart keeps, so that it refuses
// what the standard library refuses.
const (
	// maxBoundary is RFC 2046's limit on a boundary's length. Within it,
	// mime/multipart's 4096-byte read buffer always holds a whole
	// delimiter, so slicing the whole body agrees with its streaming scan.
	maxBoundary = 70
	// lineBuffer is mime/multipart's read buffer: a boundary or preamble
	// line longer than it is an error there.
	lineBuffer = 4096
	// maxPartHeaders and maxPartHeaderSize are mime/multipart's limits on
	// one part's header (its GODEBUG multipartmaxheaders is not read).
	maxPartHeaders    = 10000
	maxPartHeaderSize = 10 << 20
)

// headerReaders read part headers with mime/multipart's buffer size,
// which decides where a line cut by the body's end is seen at all.
var headerReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, lineBuffer) }}

var errMultipart = errors.New("malformed multipart body")

// splitMultipart calls fn for each part of a buffered multipart body, in
// order, with its content sliced out of body. It reads the body exactly as
// mime/multipart's Reader does when each part from NextRawPart is read to
// its end — preamble, LF-only line endings, transport padding after a
// boundary, the final boundary, the epilogue — which a differential fuzz
// test checks; it refuses the same bodies, plus boundaries over 70 bytes
// or holding CR or LF. (One corner is not matched: mime/multipart also
// counts the blanks before a header value against its 10 MiB header
// budget, which only a part header of megabytes could exceed.) It differs
// in cost: finding a part is one bytes.Index over its content, and nothing
// is copied.
//
// Parts are delivered as they are found, as NextRawPart delivers them: a
// body whose fault comes after a part has had that part passed to fn, then
// the error.
func splitMultipart(body []byte, boundary string, fn func(rawPart) error) error {
	if boundary == "" || len(boundary) > maxBoundary || strings.ContainsAny(boundary, "\r\n") {
		return errMultipart
	}
	b := []byte("\r\n--" + boundary)
	nl, nlDashBoundary, dashBoundary := b[:2], b, b[2:]
	br := headerReaders.Get().(*bufio.Reader) // for every part's header
	defer func() {
		br.Reset(nil) // keep no reference to the body
		headerReaders.Put(br)
	}()
	var hr bytes.Reader
	pos, parts := 0, 0
	for {
		// Find the next delimiter line, as Reader.nextPart does.
		expectNewPart := false
		for {
			line, eof, ok := readLine(body, pos)
			if !ok {
				return errMultipart
			}
			if eof {
				if isFinalBoundary(line, dashBoundary, nl) {
					return nil
				}
				return errMultipart
			}
			if delim, lfOnly := isDelimiter(line, dashBoundary, nl, parts == 0); delim {
				if lfOnly {
					nl, nlDashBoundary = nl[1:], nlDashBoundary[1:]
				}
				pos += len(line)
				break
			}
			if isFinalBoundary(line, dashBoundary, nl) {
				return nil
			}
			if expectNewPart {
				return errMultipart
			}
			if parts > 0 {
				if !bytes.Equal(line, nl) {
					return errMultipart
				}
				expectNewPart = true
			}
			pos += len(line)
		}
		parts++

		// The header: textproto up to the first empty line. A body that
		// ends in a header ends the parts without an error, as in
		// mime/multipart (its NextRawPart returns io.EOF): that part is
		// not delivered.
		end := headerEnd(body, pos)
		if end < 0 {
			end = len(body)
		}
		hr.Reset(body[pos:end])
		br.Reset(&hr)
		header, err := textproto.NewReader(br).ReadMIMEHeader()
		if err == io.EOF {
			return nil
		}
		if err != nil || !headerWithinLimits(header) {
			return errMultipart
		}
		pos = end

		// The content, up to the delimiter, as partReader scans for it.
		start, at := pos, pos
		if bytes.HasPrefix(body[pos:], dashBoundary) {
			if afterDelimiter(body[pos:], len(dashBoundary)) {
				at = -1 // an empty part, and the delimiter line is next
			} else {
				at = pos + len(dashBoundary)
			}
		}
		if at >= 0 {
			for {
				i := bytes.Index(body[at:], nlDashBoundary)
				if i < 0 {
					return errMultipart // the body ends inside the part
				}
				at += i
				if afterDelimiter(body[at:], len(nlDashBoundary)) {
					break
				}
				at += len(nlDashBoundary)
			}
			pos = at
		}
		if err := fn(rawPart{header: header, data: body[start:pos:pos]}); err != nil {
			return err
		}
	}
}

// readLine returns the line at pos through its '\n' as bufio.Reader's
// ReadSlice would with mime/multipart's buffer: eof when the body ends
// without one, !ok when no '\n' comes within the buffer's size.
func readLine(body []byte, pos int) (line []byte, eof, ok bool) {
	rest := body[pos:]
	if i := bytes.IndexByte(rest[:min(len(rest), lineBuffer)], '\n'); i >= 0 {
		return rest[:i+1], false, true
	}
	if len(rest) >= lineBuffer {
		return nil, false, false
	}
	return rest, true, true
}

// isDelimiter reports whether line is "--boundary", optional spaces and
// tabs, and the line ending; on the first part a bare LF switches the body
// to LF-only line endings (lfOnly), as mime/multipart allows.
func isDelimiter(line, dashBoundary, nl []byte, first bool) (delim, lfOnly bool) {
	rest, ok := bytes.CutPrefix(line, dashBoundary)
	if !ok {
		return false, false
	}
	rest = bytes.TrimLeft(rest, " \t")
	if first && len(nl) == 2 && len(rest) == 1 && rest[0] == '\n' {
		return true, true
	}
	return bytes.Equal(rest, nl), false
}

// isFinalBoundary reports whether line is "--boundary--", optional spaces
// and tabs, and the line ending or nothing.
func isFinalBoundary(line, dashBoundary, nl []byte) bool {
	rest, ok := bytes.CutPrefix(line, dashBoundary)
	if !ok {
		return false
	}
	if rest, ok = bytes.CutPrefix(rest, []byte("--")); !ok {
		return false
	}
	rest = bytes.TrimLeft(rest, " \t")
	return len(rest) == 0 || bytes.Equal(rest, nl)
}

// afterDelimiter reports whether the n delimiter bytes at the start of b
// end the part (mime/multipart's matchAfterPrefix on a body read to its
// end): what follows is whitespace, a line ending, "--", or nothing.
func afterDelimiter(b []byte, n int) bool {
	if len(b) == n {
		return true
	}
	switch b[n] {
	case ' ', '\t', '\r', '\n':
		return true
	case '-':
		return len(b) > n+1 && b[n+1] == '-'
	}
	return false
}

// headerEnd returns the offset just after the first empty line (LF or
// CRLF alone) at or after pos, or -1 when the body ends first.
func headerEnd(body []byte, pos int) int {
	for {
		i := bytes.IndexByte(body[pos:], '\n')
		if i < 0 {
			return -1
		}
		if i == 0 || (i == 1 && body[pos] == '\r') {
			return pos + i + 1
		}
		pos += i + 1
	}
}

// headerWithinLimits applies mime/multipart's bounds on a part's header:
// the number of values, and its accounting of their memory.
func headerWithinLimits(h textproto.MIMEHeader) bool {
	n, size := 0, 400
	for k, vs := range h {
		n += len(vs)
		size += len(k) + 200
		for _, v := range vs {
			size += len(v)
		}
	}
	return n <= maxPartHeaders && size <= maxPartHeaderSize
}
