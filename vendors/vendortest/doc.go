// Package vendortest emulates the liveness vendors' documented APIs
// (SpoofSense, VideoSDK, FACIA and Verifik), for our tests, for your own CI
// and for the demo. None of the vendors offers a sandbox we can reach, so
// each emulator implements the vendor's published contract, including its
// error answers, and decides the verdict from a marker written into the
// image (or video). Where a vendor documents nothing, the emulator's answer
// is its own choice, said so below. The liveness-emulator command serves
// all four emulators over HTTP on one address.
//
// A CI test serves an emulator, points the code under test at it (Caddy's
// base_url, or a client's base URL) and sends sample images whose marker
// asks for the answer:
//
//	emu := vendortest.NewSpoofSense("test-key") // configure api_key test-key
//	srv := httptest.NewServer(emu)              // and base_url srv.URL
//	defer srv.Close()
//	img := vendortest.SampleJPEG("spoof")       // upload img: expect a spoof verdict
//	calls := emu.Calls()                        // what was sent, without key or image
//
// The package's examples do the same with a plain HTTP client.
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
// range are ignored. Of several verdict directives the last wins. The
// descriptions below are SpoofSense's answers; each vendor's section says
// how its emulator renders them.
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
// FACIA also reads decline=FADRnn and pending=<n> (see FACIA); the other
// emulators ignore them. ValidateMarker is the strict reading, for a marker
// a person writes: it refuses every directive that would be ignored.
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
// with further COM segments of pseudo-random bytes after its frame header
// for size tests. SampleMP4 builds the start of
// an MP4 for the video flow, which only FACIA takes: an ftyp box (brand
// isom, compatible isom and mp41), a free box holding the marker and a
// newline, and an empty mdat box. It sniffs as video/mp4; no emulator
// plays it. All of them panic on a marker that CheckMarker refuses.
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
// # VideoSDK
//
// VideoSDK serves POST /ai/v1/face-verification/detect-spoof
// (VideoSDKPath). VideoSDK documents the request and the success answer
// only; every error answer below is this emulator's choice, all
// application/json {"message": "..."}. It checks, in this order:
//
//  1. Method and path. Anything else gets 404 "Not Found".
//  2. The Authorization header: the bare JWT, without any prefix. Missing:
//     401 "Authorization token is required". With a prefix such as
//     "Bearer " (any space in the value): 401 "Invalid token: send the
//     token without any prefix". The token must be signed with
//     HS256 and the emulator's secret, carry an exp claim and the
//     emulator's API key in its apikey claim, else 401 "Invalid token";
//     past its exp (no leeway) it gets 401 "Token expired"; without
//     "allow_join" in its permissions claim, 403 "Permission denied".
//     Other claims (version, roles, iat) are not checked. An emulator
//     created with an empty secret accepts no token.
//  3. Content-Type must be application/json (parameters such as charset
//     are allowed), else 415 "Content-Type must be application/json".
//  4. The body size: over 16 MiB (by Content-Length, or counted while
//     reading a chunked body) gets 413 "Payload Too Large", after the body
//     has been read (up to 64 MiB) so that the client reads the answer.
//     VideoSDK documents no limit.
//  5. The body must be a JSON object with a string field "img", else 400
//     "img is required".
//  6. img must be a data URI data:image/<type>;base64,<data> with nothing
//     else between the type and ";base64,", else 400 "img must be a data
//     URI: data:image/<type>;base64,<data>".
//  7. <data> must be standard base64 with padding, else 400 "img is not
//     valid base64"; an empty image gets 400 "Invalid image".
//  8. The declared type must match the type sniffed from the decoded bytes
//     (net/http's DetectContentType, case-insensitive), else 400 "Image
//     type does not match its content".
//  9. The marker in the decoded image decides.
//
// The answers to markers, with p the score the marker asks for (live 0.97,
// spoof 0.03, score=, or the one derived from the image):
//
//	live, spoof, score  200 {"spoof_detected": <p <= 0.5>, "accuracy": <max(p, 1-p)>}
//	                    so live is {"spoof_detected": false, "accuracy": 0.97}
//	                    and spoof is {"spoof_detected": true, "accuracy": 0.97}
//	no_face, no_face_code, small_face
//	                    400 {"message":"No face detected"}
//	invalid             400 {"message":"Invalid image"}
//	status=<code>       that status with {"message": "<its status text>"}
//	                    ("error" for codes without one), 429 with
//	                    Retry-After: 1; 204 and 304 without a body;
//	                    1xx as an interim answer followed by an empty
//	                    200; 200 is ignored
//	malformed           the success body cut in half
//	delay=<dur>         as for every emulator
//
// accuracy is the confidence in spoof_detected, so a client's live score
// is accuracy when spoof_detected is false, 1 - accuracy when true.
// Numbers are written as JavaScript's JSON.stringify does (0.97, 1, 0).
//
// Calls returns VideoSDKCall records: a Call (Authorization redacted;
// DataSHA256 is the SHA-256 of the image decoded from img) plus the type
// declared in the data URI.
//
// # FACIA
//
// FACIA serves FACIA's three calls: POST /request-access-token, POST
// /liveness (create a deepfake liveness transaction) and POST /result (poll
// it). Bodies may be JSON, multipart/form-data or
// application/x-www-form-urlencoded, as the API (Laravel) reads all three;
// the file of /liveness is a multipart file part or, in JSON, base64 (a
// data: URI prefix is accepted). Error bodies are
// {"status": false, "message": "<the documented message>"}. After any
// scripted fault (Script's faults apply to requests of any path), the
// checks, in this order:
//
//  1. A method other than POST on a known path gets 405 "Method not
//     allowed"; an unknown path gets 404 "Resource not found".
//  2. A body over 64 MiB gets 413 "Request Entity Too Large" (the vendor
//     documents no limit: this bound is the emulator's).
//  3. /request-access-token: client_id and client_secret are required (400
//     "Bad Request: One or more parameters are invalid or missing") and
//     must match (401 "Unauthorized: Invalid signature key provided in the
//     request"; an emulator created with an empty id or secret accepts
//     none). The answer is 200 {"status": true, "message": "token",
//     "result": {"data": {"token": "<token>"}}}. Tokens are HS256 JWTs
//     with iat and exp (TokenTTL, default 8 h), or random opaque strings
//     when OpaqueTokens is set.
//  4. /liveness and /result need exactly "Authorization: Bearer <token>"
//     with a token this emulator issued, not expired and not revoked by
//     ExpireTokens; otherwise 401 as above.
//  5. /liveness validates its fields; any failure is 400 with the message
//     above and "errors": {"<field>": "<why>"}: type must be "liveness";
//     file is required and must be JPEG, PNG or MP4 (sniffed from its
//     bytes, MP4 by "ftyp" at offset 4); file_type must be "video" for an
//     MP4 and must not be "video" for an image; offsite_liveness and
//     detect_deepfake must be 1 or true; client_reference, when not empty,
//     must be 5 to 255 characters (empty counts as absent, as Laravel
//     converts it to null). Then delay= waits, status= answers that status
//     (below), and the marker invalid answers 400 as an unreadable file.
//     Otherwise 200 {"status": true, "message": "Transaction Created",
//     "result": {"data": {"reference_id": "<15 characters>"}}}.
//  6. /result needs a reference_id (400) that this emulator created (404
//     "Resource not found"). The first PendingPolls answers for a
//     transaction (pending=<n> in the marker overrides it) are "still
//     processing": result.data with "status": null and null score and
//     decline fields. Then the verdict.
//
// The verdict answer of /result:
//
//	{"status": true, "message": "success", "result": {"data": {
//	  "type": "deepfake", "reference_id": "...", "client_reference": null|"...",
//	  "status": 1|0, "deepfake_score": 0.03, "decline_code": null|"FADR25",
//	  "decline_reason": null|"Deepfake Detected.",
//	  "declined_proof": null|"https://proof.invalid/..."}}}
//
// The marker decides the verdict:
//
//	live             status 1, deepfake_score 0.03
//	spoof            status 0, FADR25 "Deepfake Detected.", deepfake_score 0.97
//	no_face          status 0, FADR11 "Face not detected." (no_face_code too)
//	small_face       status 0, FADR12 "Face too small."
//	invalid          400 from /liveness (the file cannot be read)
//	decline=FADRnn   status 0 with that code (two digits), whatever else
//	                 the marker says
//	score=<float>    the raw deepfake_score (probability of a deepfake);
//	                 without live or spoof, status is 1 below 0.5, else 0
//	                 with FADR25
//	pending=<n>      n "still processing" answers before the verdict
//	status=<code>    /liveness answers this status (below)
//	delay=<dur>      /liveness waits this long first
//	malformed        the verdict body of /result is truncated
//
// Without live, spoof or score=, deepfake_score is 1 minus the score
// derived from the image's SHA-256 (see Markers). A declined verdict
// carries a fake declined_proof URL under https://proof.invalid/, so that
// tests can prove a client never forwards or logs it.
//
// status= answers: 400, 401, 402 ("Invalid request data: missing required
// parameters"), 403 ("Forbidden: Service not allowed"), 404, 413, 429
// ("Too Many Attempts." with Retry-After: 1), 500 ("Internal Server
// Error"), 504 ("Server error") with the documented messages; 524 is
// Cloudflare's text/plain "error code: 524"; 200 is ignored; anything else
// is {"status": false, "message": "error"}.
//
// Reset keeps the issued tokens and the transactions, as the vendor would.
// Calls returns FACIACalls: the headers with credentials redacted, every
// field but the file (client_secret redacted), and the file's name, part
// Content-Type, size and SHA-256, never a token, a secret or the file
// itself.
//
// # Verifik
//
// Verifik serves POST /v2/face-recognition/liveness (VerifikPath). Every
// error body has the documented shape {"message": ..., "code": ...},
// compact, as the vendor's Node.js API writes it. It checks, in this order:
//
//  1. Path and method. Another path gets 404
//     {"message":"<path> does not exist","code":"ResourceNotFound"},
//     another method on the path 405
//     {"message":"<METHOD> is not allowed","code":"MethodNotAllowed"} with
//     Allow: POST. Undocumented: these are restify's answers, which the
//     documented error shapes and codes (MissingParameter at 409) suggest.
//  2. Authorization must be exactly "Bearer <token>". Missing, malformed
//     or another token: 401
//     {"message":"Authentication required","code":"UNAUTHORIZED"}. After
//     Expire, the right token gets 403
//     {"message":"token_expired","code":"FORBIDDEN"}. An emulator created
//     with an empty token accepts no request.
//  3. The body size: over VerifikMaxBody (32 MiB, the emulator's own
//     bound: Verifik documents none) gets 413
//     {"message":"request body too large","code":"PayloadTooLarge"}.
//  4. Content-Type must be application/json (parameters such as charset
//     allowed), else 415
//     {"message":"content type must be application/json","code":"UnsupportedMediaType"}.
//  5. The body must be a JSON object, else 400
//     {"message":"invalid JSON body","code":"InvalidContent"}.
//  6. The fields, in the order os, image, liveness_min_score,
//     collection_id, then any other field. The first failure gets 409
//     with code MissingParameter, as the documented missing os does, and
//     a message in its style: "<field>" is required, must be a string, or
//     is not allowed to be empty; "os" must be one of [DESKTOP, IOS,
//     ANDROID]; "image" must be a valid base64 string;
//     "liveness_min_score" must be a number, greater than or equal to 0,
//     less than or equal to 1; "<field>" is not allowed (any undocumented
//     field). image is raw standard base64 with padding and no line
//     breaks, or a data URI data:image/<type>;base64,<base64>. An image
//     that is an http:// or https:// URL (any case) gets 400 with code
//     BadRequest: Verifik would download it, but our client only ever
//     sends the bytes it checked, so a URL here is a bug to catch.
//  7. collection_id, when Collections is not nil, must be one of them,
//     else 404 {"message":"collection not found","code":"NotFound"}
//     (undocumented: Verifik only says it is validated for the client).
//  8. The marker in the decoded image decides.
//
// The answer, 200 application/json:
//
//	{"id":"JQ4RM","data":{"passed":true,"min_score":0.6,"liveness_score":0.97},
//	 "signature":{"message":"Certified by Verifik.co","dateTime":"January 16, 2024 3:44 PM"}}
//
// min_score is the liveness_min_score sent, 0.6 when none was, and passed
// is liveness_score > min_score, strictly. liveness_score comes from the
// marker as for SpoofSense (live 0.97, spoof 0.03, score=, else derived
// from the image's SHA-256). Verifik documents no answer for an image
// without a face: no_face, no_face_code, small_face and invalid all answer
// 200 with liveness_score 0 and passed false, what a liveness score means
// when there is no face, so a client reads them as a failed check. id is
// five characters of [A-Z2-9] (no I, O, 0, 1), distinct for each call
// until Reset; dateTime is the time of the answer, in UTC. Numbers are
// written as JavaScript does (1, 0.6, 1e-7).
//
// status= answers:
//
//	401           {"message":"Authentication required","code":"UNAUTHORIZED"}
//	403           {"message":"token_expired","code":"FORBIDDEN"}
//	409           {"message":"\"os\" is required","code":"MissingParameter"}
//	429           {"message":"Too many requests","code":"TooManyRequests"} with Retry-After: 1
//	500           {"message":"internal_error","code":"ERROR"}
//	200           ignored: the normal answer
//	anything else {"message":"error","code":"ERROR"}
//
// delay= applies first, then status=, then the verdict; malformed
// truncates the success body. Reset leaves an expired token expired.
// Calls returns VerifikCalls: a Call (headers redacted, DataSHA256 the
// SHA-256 of the decoded image) plus the os, liveness_min_score and
// collection_id sent, whether the image was a data URI, and the id the
// call answers if it succeeds.
//
// # Scripting and recording
//
// Every emulator has Script, Calls, CallCount, Reset and Keep. Script
// queues Faults; each request takes the next one before any of the checks
// above (but after it is recorded). A Fault with a Status answers that
// status, headers and body; one with Hang never answers and returns when
// the client goes away; CloseConn closes the connection without an answer;
// Delay waits first, and a Fault with neither Status, Hang nor CloseConn
// lets the normal answer follow the delay.
//
// Every request is recorded (a Call, or the vendor's record described in
// its section), holding the path, the headers with credential values
// redacted, the body size and the SHA-256 of the decoded image, never the
// key or the image itself. Keep bounds the calls kept; CallCount counts
// them all; Reset forgets the calls and the queued faults.
//
// # Echo
//
// Echo is an upstream that answers every request with 200 and a JSON
// EchoResponse describing it (method, path, all headers, Content-Length,
// body size and SHA-256), and records it, body included.
package vendortest
