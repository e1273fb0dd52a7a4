// Package vendortest emulates the liveness vendors' documented APIs, for
// our tests, for your own CI and for the demo. None of the vendors offers a
// sandbox we can reach, so each emulator implements the vendor's published
// contract, including its error answers, and decides the verdict from a
// marker written into the image. The liveness-emulator command serves the
// same emulators over HTTP.
//
// # Markers
//
// An image asks for an answer by carrying, anywhere in its bytes, the ASCII
// text
//
//	liveness-emulator:<directive>[;<directive>...]
//
// The marker ends at the first byte that is not one of [A-Za-z0-9_.=;:-],
// or at the end of the image. Only the first occurrence counts. Directives
// are case-sensitive; unknown directives, empty ones and values out of
// range are ignored. Of several verdict directives the last wins.
//
//	live            score 0.97
//	spoof           score 0.03
//	no_face         no face, in the older body without an error code
//	no_face_code    no face, with error_code FACE_NOT_DETECTED
//	small_face      error_code FACE_TOO_SMALL, "face smaller than 128x128"
//	invalid         error_code INVALID_IMAGE_PAYLOAD
//	score=<float>   this score, 0 to 1 inclusive; overrides live and spoof
//	status=<code>   answer this HTTP status (100-599) with a plausible body
//	delay=<dur>     wait this long (a Go duration such as 250ms) first;
//	                the wait ends early if the client goes away
//	malformed       answer 200 with a truncated JSON body
//
// Without a score (no score=, live or spoof) the score is derived from the
// image: the first two bytes of its SHA-256, read as a big-endian uint16,
// divided by 65535. Unmarked images therefore get stable, varied scores.
//
// The verdict directives no_face, no_face_code, small_face and invalid
// take precedence over any score. delay applies first, then status, then
// the verdict; malformed truncates only the success body.
//
// SampleJPEG and SamplePNG build small decodable images carrying a marker:
// the JPEG in a COM segment right after SOI, the PNG in a tEXt chunk with
// keyword "Comment" right after IHDR (its text ends with a newline so that
// the chunk's CRC cannot extend the marker). SampleJPEGSize pads a JPEG
// with further COM segments for size tests. They panic on a marker that
// CheckMarker refuses.
//
// # SpoofSense
//
// SpoofSense serves POST /prod/antispoofing and POST /prod/robust. It
// checks, in this order:
//
//  1. Method and path. Anything else gets 403
//     {"message":"Missing Authentication Token"}, as API Gateway answers
//     unknown routes.
//  2. The x-api-key header. A missing or wrong key gets 403
//     {"message":"Forbidden"}. An emulator created with an empty key
//     accepts no request.
//  3. The body size. A body over 10485760 bytes, by Content-Length or
//     counted while reading a chunked body, gets 413 text/plain
//     "HTTP content length exceeded 10485760 bytes." The emulator reads
//     (up to 64 MiB of) the oversized body first, so that the client gets
//     the 413 rather than a reset connection.
//  4. The body must be a JSON object with a string field "data". Anything
//     else gets 400 {"message":"Invalid request body"}. The vendor does not
//     document this case; the answer is this emulator's choice.
//  5. "data" must be standard base64 with padding (the API decodes it with
//     Python, which insists on padding). Otherwise 200
//     {"success": false, "message": "Invalid base64 string"}.
//  6. The marker in the decoded image decides. An empty image gets the
//     invalid answer (an emulator choice).
//
// Both paths give the same answer for the same image. The answers, all
// application/json:
//
//	live, spoof, score  200 {"success": true, "message": "Process finished successfully",
//	                         "model_output": {"pred_idx": "real", "prob_real": 0.97}}
//	no_face             200 {"success": false, "message": "face not detected"}
//	no_face_code        200 {"success": false, "message": "face not detected", "error_code": "FACE_NOT_DETECTED"}
//	small_face          200 {"success": false, "message": "face smaller than 128x128", "error_code": "FACE_TOO_SMALL"}
//	invalid             200 {"success": false, "message": "invalid image payload", "error_code": "INVALID_IMAGE_PAYLOAD"}
//
// pred_idx is "real" exactly when prob_real > 0.5, as the vendor's model
// does. It therefore disagrees with the 0.55 threshold of /antispoofing for
// scores in (0.50, 0.55]: a client must decide from prob_real. Scores are
// formatted as Python's json module does (0.97, 1e-05, 1.0).
//
// status= answers:
//
//	429           {"message":"Too Many Requests"} with Retry-After: 1
//	403           {"message":"Forbidden"}
//	413           the text/plain size message above
//	500           {"message": "Internal server error"}
//	502, 503      {"message": "Service Unavailable"}
//	504           {"message": "Endpoint request timed out"}
//	200           ignored: the normal answer
//	anything else {"message":"error"}
//
// # Scripting and recording
//
// Script queues Faults; each request takes the next one before any of the
// checks above (but after it is recorded). A Fault with a Status answers
// that status, headers and body; one with Hang never answers and returns
// when the client goes away; CloseConn closes the connection without an
// answer; Delay waits first, and a Fault with neither Status, Hang nor
// CloseConn lets the normal answer follow the delay.
//
// Every request is recorded as a Call, holding the path, the headers with
// credential values redacted, the body size and the SHA-256 of the decoded
// image, never the key or the image itself. Keep bounds the calls kept.
//
// # Echo
//
// Echo is an upstream that answers every request with 200 and a JSON
// EchoResponse describing it (method, path, all headers, Content-Length,
// body size and SHA-256), and records it, body included.
package vendortest
