// Package differential is the differential suite of the gate's request
// reader: it checks the gate's one promise, that no image reaches the
// upstream that the gate did not judge, against the parsers real upstream
// frameworks run.
//
// corpus.go holds the corpus: ordinary uploads in the byte shapes real
// clients send (curl -F, Chromium and Firefox FormData, Python requests,
// Node's fetch, Go's mime/multipart, OkHttp, iOS URLSession, .NET
// HttpClient, JSON with data URIs and raw base64, urlencoded, a raw JPEG),
// which must pass, and attacks grouped in families (f01 to f12: the ways two
// parsers were found to read one upload differently) plus the
// suite's own, each with a decoy image where the gate looks and a hidden
// one where some framework might. fuzz.go mutates the ordinary shapes,
// seeded. Each case names its images, so a failure says which one got
// through.
//
// The test (build tag differential) starts every upstream — the Go
// net/http one of upstreams/gonet and each framework of upstreams/run.sh —
// and one built Caddy with, per framework F, /auto/F/ (no source line) and
// /named/F/ (source multipart selfie, json /selfie, form selfie) in front
// of it, threshold 0 and mode enforce against the SpoofSense emulator. It
// sends every case as raw bytes to both routes of every framework and
// judges the upstream's report: a case the gate refused is safe; a
// forwarded one must not report an image (in named mode: one under the
// field "selfie") whose SHA-256 is not among the X-Liveness-Image-Sha256
// values the upstream received and the vendor was asked about. Ordinary
// uploads must also be forwarded and seen. It prints one line per bypass
// and a summary per framework and family.
//
//	make -f xcaddy.mk build
//	go test -tags differential -count=1 -v ./internal/extract/differential
//
// TestRealClients (clients_test.go, same tag) has real client software
// upload a JPEG through a built Caddy at test time, in front of gonet and
// werkzeug only: curl (-F, --json, --data-urlencode), Python requests
// (Debian's python3-requests on /usr/bin/python3, clients/requests_client.py),
// Node 20's fetch with FormData and Blob (clients/fetch_client.mjs), Go's
// mime/multipart and net/http in process, and headless Chromium from Debian
// driven by playwright-core (clients/chromium.js: fetch with FormData and
// a File, JSON with a FileReader data URI, URLSearchParams, a real file
// input, a form submission), from a page Caddy itself serves. Each upload
// must be forwarded, reported by the upstream (named: as "selfie") and
// judged. The clients go through a recording proxy on loopback, and the
// test logs what each one sent: header lines and each part's headers.
// upstreams/install.sh installs every client; a missing one fails the
// test. DIFF_CLIENT_FRAMEWORKS replaces gonet,werkzeug.
//
// Environment: DIFF_FRAMEWORKS=gonet,werkzeug,... a subset (default all
// nine; one that fails to start fails the test); DIFF_SEED and
// DIFF_MUTATIONS the fuzzer's seed and count (default 20261202 and 1000);
// DIFF_CASES a regexp of case names or families to run; DIFF_CONCURRENCY
// requests in flight (default 12); DIFF_CADDY another Caddy binary;
// DIFF_REPORT a file to write the report to.
package differential
