package extract

import (
	"bytes"
	"encoding/base64"
)

// Strict base64, as RFC 4648 defines it: the standard alphabet, canonical
// padding (all of it or none), zero trailing bits, no other characters.
// Go's decoders skip CR and LF; Python's b64decode and PHP's base64_decode
// drop every character outside the standard alphabet, so they read a
// URL-safe string (its - and _) differently from Go's and Node's
// decoders, and a crafted one as another image. A string that is not
// strict standard base64 has more than one reading, so it is refused
// rather than decoded.

var (
	stdStrict    = base64.StdEncoding.Strict()
	rawStdStrict = base64.RawStdEncoding.Strict()
)

// decodeBase64 decodes strict base64 into a buffer from alloc. Only
// failures cost a scan beyond the decoder's own: CR and LF, which Go's
// decoder skips, are looked for with IndexByte (memchr speed).
func decodeBase64(src []byte, alloc func(int) []byte) ([]byte, *Error) {
	if bytes.IndexByte(src, '\n') >= 0 || bytes.IndexByte(src, '\r') >= 0 {
		return nil, ambiguous("base64-line-breaks", "base64 with line breaks")
	}
	enc := stdStrict
	if len(src)%4 != 0 {
		enc = rawStdStrict
	}
	dst := alloc(enc.DecodedLen(len(src)))
	if dst == nil {
		return nil, overloaded()
	}
	n, err := enc.Decode(dst, src)
	if err != nil {
		if bytes.ContainsAny(src, "-_") {
			return nil, ambiguous("base64-alphabet", "base64 in the URL-safe alphabet, which Python's and PHP's decoders read otherwise")
		}
		return nil, ambiguous("base64-strict", "base64 that is not canonical standard base64")
	}
	return dst[:n:n], nil
}

// sniffChars is how many base64 characters lenientPrefix decodes: 24
// bytes, enough for every signature looksLikeMedia reads.
const sniffChars = 32

// lenientPrefix decodes the first bytes of s as a lenient decoder would:
// url false drops every character outside the standard alphabet (Python's
// b64decode, PHP's base64_decode), url true first maps - and _ to + and /
// (Python's urlsafe_b64decode, Node's Buffer.from, PHP after strtr). Both
// stop at nothing, as those decoders do not.
func lenientPrefix(s []byte, url bool, dst *[sniffChars * 3 / 4]byte) []byte {
	var chars [sniffChars]byte
	n := 0
	for _, c := range s {
		if url {
			switch c {
			case '-':
				c = '+'
			case '_':
				c = '/'
			}
		}
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' {
			chars[n] = c
			n++
			if n == sniffChars {
				break
			}
		}
	}
	n -= n % 4
	m, _ := base64.RawStdEncoding.Decode(dst[:], chars[:n])
	return dst[:m]
}

// encodedMedia reports whether some lenient decoder turns s into bytes
// that start as an image or video.
func encodedMedia(s []byte) bool {
	var buf [sniffChars * 3 / 4]byte
	return looksLikeMedia(lenientPrefix(s, false, &buf)) || looksLikeMedia(lenientPrefix(s, true, &buf))
}
