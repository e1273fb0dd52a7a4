package preproc

import (
	"bytes"
	"encoding/binary"
)

// Orientation returns the EXIF Orientation (1..8) of a JPEG, or 1 when the data is not a JPEG, has
// no EXIF, or the EXIF is unreadable or holds an out-of-range value.
//
// It is a deliberately small parser (the well-known Go EXIF libraries either stop at the first APP1
// segment, which is often XMP, or weigh megabytes): it walks the JPEG markers from SOI up to SOS,
// takes the first APP1 segment that starts with "Exif\x00\x00" (an XMP APP1,
// "http://ns.adobe.com/xap/1.0/", before it is skipped), reads the TIFF header in either byte order
// ("II" little-endian, "MM" big-endian), and looks up tag 0x0112 (SHORT) in IFD0. Every offset is
// checked against the segment and the entry count against the bytes left, so arbitrary input never
// panics (FuzzOrientation) and costs at most one pass over the header segments.
func Orientation(jpeg []byte) int {
	if len(jpeg) < 4 || jpeg[0] != 0xFF || jpeg[1] != 0xD8 {
		return 1
	}
	i := 2
	for i+4 <= len(jpeg) {
		if jpeg[i] != 0xFF {
			return 1 // not at a marker: corrupt header
		}
		m := jpeg[i+1]
		switch {
		case m == 0xFF: // fill byte
			i++
			continue
		case m == 0xDA || m == 0xD9: // SOS or EOI: no metadata after this point
			return 1
		case m == 0x01 || (m >= 0xD0 && m <= 0xD7): // standalone markers, no length
			i += 2
			continue
		}
		n := int(binary.BigEndian.Uint16(jpeg[i+2:])) // includes the two length bytes
		if n < 2 || i+2+n > len(jpeg) {
			return 1
		}
		seg := jpeg[i+4 : i+2+n]
		if m == 0xE1 && bytes.HasPrefix(seg, []byte("Exif\x00\x00")) {
			if o, ok := tiffOrientation(seg[6:]); ok {
				return o
			}
			return 1
		}
		i += 2 + n
	}
	return 1
}

// PNGOrientation returns the EXIF Orientation (1..8) held by a PNG's eXIf chunk, or 1 when the data
// is not a PNG, has no eXIf chunk before its first IDAT, or the chunk is unreadable. OpenCV's imread
// applies it, as browsers do. Chunk lengths are checked against the data, so arbitrary input never
// panics (FuzzOrientation).
func PNGOrientation(png []byte) int {
	const sig = "\x89PNG\r\n\x1a\n"
	if !bytes.HasPrefix(png, []byte(sig)) {
		return 1
	}
	for i := len(sig); i+8 <= len(png); {
		n := uint64(binary.BigEndian.Uint32(png[i:]))
		typ := string(png[i+4 : i+8])
		if n > uint64(len(png)-i-8) {
			return 1
		}
		switch typ {
		case "IDAT", "IEND":
			return 1
		case "eXIf":
			if o, ok := tiffOrientation(png[i+8 : i+8+int(n)]); ok {
				return o
			}
			return 1
		}
		i += 8 + int(n) + 4 // length, type, data, CRC
	}
	return 1
}

// tiffOrientation reads tag 0x0112 from IFD0 of a TIFF structure (the body of an EXIF APP1).
// ok is false when the header is malformed; a well-formed TIFF without the tag gives (1, true).
func tiffOrientation(t []byte) (o int, ok bool) {
	if len(t) < 8 {
		return 1, false
	}
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 1, false
	}
	if bo.Uint16(t[2:]) != 42 {
		return 1, false
	}
	off := uint64(bo.Uint32(t[4:]))
	if off < 8 || off+2 > uint64(len(t)) {
		return 1, false
	}
	count := uint64(bo.Uint16(t[off:]))
	entries := t[off+2:]
	if max := uint64(len(entries)) / 12; count > max {
		count = max // a truncated IFD: read the entries that are there
	}
	for k := uint64(0); k < count; k++ {
		e := entries[12*k : 12*k+12]
		if bo.Uint16(e) != 0x0112 {
			continue
		}
		// type 3 = SHORT, count >= 1: the value sits in the first two bytes of the value field.
		if bo.Uint16(e[2:]) != 3 || bo.Uint32(e[4:]) < 1 {
			return 1, true
		}
		if v := int(bo.Uint16(e[8:])); v >= 1 && v <= 8 {
			return v, true
		}
		return 1, true
	}
	return 1, true
}
