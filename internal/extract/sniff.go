package extract

import (
	"encoding/binary"
	"io"
	"net/http"
	"strings"
)

// Sniff returns the media type of data by its content (never trusting the
// client's claim). MP4 is recognised by its ftyp box.
func Sniff(data []byte) string {
	if isMP4(data) {
		return "video/mp4"
	}
	mt := http.DetectContentType(data)
	if i := strings.IndexByte(mt, ';'); i >= 0 {
		mt = mt[:i]
	}
	return mt
}

// mp4Brands are the ftyp brands of MP4 files (ISO base media and MPEG-4).
// The standard library's sniffer knows only brands starting "mp4", while
// phones commonly write "isom" with other compatible brands. QuickTime
// ("qt  ") is another format and is not among them.
var mp4Brands = map[string]bool{
	"isom": true, "iso2": true, "iso4": true, "iso5": true, "iso6": true,
	"mp41": true, "mp42": true, "avc1": true, "dash": true, "M4V ": true, "MSNV": true,
}

// isMP4 reports whether data starts with an ftyp box whose major or a
// compatible brand is an MP4 brand.
func isMP4(data []byte) bool {
	if len(data) < 16 || string(data[4:8]) != "ftyp" {
		return false
	}
	size := int(binary.BigEndian.Uint32(data[:4]))
	if size < 16 || size > len(data) || size%4 != 0 {
		return false
	}
	for i := 8; i+4 <= size; i += 4 {
		if i != 12 && mp4Brands[string(data[i:i+4])] { // bytes 12-15 are the minor version
			return true
		}
	}
	return false
}

var decodable = map[string]bool{
	"image/jpeg": true, "image/png": true, "image/gif": true,
	"image/webp": true, "image/bmp": true, "video/mp4": true,
}

// Checkable reports whether mt, a type Sniff returned, is one the gate
// judges.
func Checkable(mt string) bool { return decodable[mt] }

// looksLikeMedia reports whether b starts as an image or video file that
// some decoder an application may use would open: every format the gate
// judges and the ones it cannot (TIFF, HEIF/AVIF and other ISO-BMFF files,
// Matroska/WebM, ICO, JPEG 2000 and XL, PSD, QOI, AVI, Ogg, FLV). A
// string that starts so is a candidate: judged when Checkable, else
// refused, never passed unseen. BMP, whose signature is two letters that
// text often starts with, counts only with a plausible DIB header
// (http.DetectContentType takes any "BM" for one).
func looksLikeMedia(b []byte) bool {
	has := func(off int, sig string) bool { return len(b) >= off+len(sig) && string(b[off:off+len(sig)]) == sig }
	switch {
	case has(0, "\xFF\xD8\xFF"), has(0, "\x89PNG"), has(0, "GIF8"),
		has(0, "II*\x00"), has(0, "MM\x00*"), has(4, "ftyp"), has(0, "\x1A\x45\xDF\xA3"),
		has(0, "\x00\x00\x01\x00"), has(0, "\x00\x00\x00\x0CjP  "), has(0, "\xFF\x0A"),
		has(0, "\x00\x00\x00\x0CJXL "), has(0, "8BPS"), has(0, "qoif"), has(0, "OggS"), has(0, "FLV\x01"):
		return true
	case has(0, "RIFF") && (has(8, "WEBP") || has(8, "AVI ")):
		return true
	case has(0, "BM") && len(b) >= 18:
		switch binary.LittleEndian.Uint32(b[14:18]) {
		case 12, 16, 40, 52, 56, 64, 108, 124:
			return true
		}
	}
	return isMP4(b)
}

// peeker reads a buffered image for image.DecodeConfig, which would
// otherwise copy it through a bufio.Reader of its own to peek at its
// magic bytes.
type peeker struct{ b []byte }

func (p *peeker) Read(d []byte) (int, error) {
	if len(p.b) == 0 {
		return 0, io.EOF
	}
	n := copy(d, p.b)
	p.b = p.b[n:]
	return n, nil
}

// Peek returns the next n bytes without consuming them, and io.EOF with
// fewer when the image is shorter, as bufio.Reader does.
func (p *peeker) Peek(n int) ([]byte, error) {
	if n > len(p.b) {
		return p.b, io.EOF
	}
	return p.b[:n], nil
}
