package vendortest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

const testKey = "test-key"

type response struct {
	status int
	header http.Header
	body   string
}

// concurrentStatuses makes n calls of send at once and counts the statuses
// they got.
func concurrentStatuses(t *testing.T, n int, send func() (response, error)) map[int]int {
	t.Helper()
	var wg sync.WaitGroup
	statuses := make(chan int, n)
	for range n {
		wg.Go(func() {
			r, err := send()
			if err != nil {
				t.Error(err)
				return
			}
			statuses <- r.status
		})
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for st := range statuses {
		count[st]++
	}
	return count
}

// roundTrip sends req to srv and reads the whole answer.
func roundTrip(srv *httptest.Server, req *http.Request) (response, error) {
	resp, err := srv.Client().Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	return response{resp.StatusCode, resp.Header, string(b)}, nil
}

// newSpoofSense serves s and reports on done each time ServeHTTP returns,
// which is the only way to see that a hanging handler gave up.
func newSpoofSense(t *testing.T, s *SpoofSense) (*httptest.Server, <-chan struct{}) {
	t.Helper()
	done := make(chan struct{}, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			select {
			case done <- struct{}{}:
			default: // nobody is counting
			}
		}()
		s.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, done
}

func do(t *testing.T, ctx context.Context, srv *httptest.Server, method, path, key string, body io.Reader) (response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("x-api-key", key)
	}
	req.Header.Set("Content-Type", "application/json")
	return roundTrip(srv, req)
}

func post(t *testing.T, srv *httptest.Server, path, key string, body []byte) response {
	t.Helper()
	r, err := do(t, context.Background(), srv, http.MethodPost, path, key, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func imageBody(img []byte) []byte {
	return []byte(`{"data":"` + base64.StdEncoding.EncodeToString(img) + `"}`)
}

func (r response) expect(t *testing.T, status int, contentType, body string) {
	t.Helper()
	if r.status != status || r.header.Get("Content-Type") != contentType || r.body != body {
		t.Errorf("got %d %q %q\nwant %d %q %q", r.status, r.header.Get("Content-Type"), r.body, status, contentType, body)
	}
}

const (
	missingToken = `{"message":"Missing Authentication Token"}`
	forbidden    = `{"message":"Forbidden"}`
	tooLarge     = "HTTP content length exceeded 10485760 bytes."
	badBody      = `{"message":"Invalid request body"}`
	badBase64    = `{"success": false, "message": "Invalid base64 string"}`
	liveBody     = `{"success": true, "message": "Process finished successfully", "model_output": {"pred_idx": "real", "prob_real": 0.97}}`
	spoofBody    = `{"success": true, "message": "Process finished successfully", "model_output": {"pred_idx": "spoof", "prob_real": 0.03}}`
	invalidBody  = `{"success": false, "message": "invalid image payload", "error_code": "INVALID_IMAGE_PAYLOAD"}`
	jsonCT       = "application/json"
)

func TestSpoofSenseRoutes(t *testing.T) {
	srv, _ := newSpoofSense(t, NewSpoofSense(testKey))
	live := imageBody(SampleJPEG("live"))
	for _, path := range []string{SpoofSenseAntispoofing, SpoofSenseRobust} {
		post(t, srv, path, testKey, live).expect(t, 200, jsonCT, liveBody)
	}
	for _, tc := range []struct{ method, path string }{
		{http.MethodGet, SpoofSenseAntispoofing},
		{http.MethodPut, SpoofSenseRobust},
		{http.MethodPost, "/antispoofing"},
		{http.MethodPost, "/prod/antispoofing/"},
		{http.MethodPost, "/prod/other"},
		{http.MethodPost, "/"},
	} {
		r, err := do(t, context.Background(), srv, tc.method, tc.path, testKey, bytes.NewReader(live))
		if err != nil {
			t.Fatal(err)
		}
		r.expect(t, 403, jsonCT, missingToken)
	}
}

func TestSpoofSenseKey(t *testing.T) {
	srv, _ := newSpoofSense(t, NewSpoofSense(testKey))
	live := imageBody(SampleJPEG("live"))
	for _, key := range []string{"", "wrong", testKey + "x", strings.ToUpper(testKey)} {
		post(t, srv, SpoofSenseAntispoofing, key, live).expect(t, 403, jsonCT, forbidden)
	}

	empty, _ := newSpoofSense(t, NewSpoofSense(""))
	post(t, empty, SpoofSenseAntispoofing, "", live).expect(t, 403, jsonCT, forbidden)
	post(t, empty, SpoofSenseAntispoofing, "anything", live).expect(t, 403, jsonCT, forbidden)
}

func TestSpoofSenseCheckOrder(t *testing.T) {
	srv, _ := newSpoofSense(t, NewSpoofSense(testKey))
	huge := bytes.Repeat([]byte("x"), SpoofSenseMaxBody+1)
	// The route is checked before the key, the key before the size, the
	// size before the JSON.
	post(t, srv, "/prod/nope", "wrong", huge).expect(t, 403, jsonCT, missingToken)
	post(t, srv, SpoofSenseRobust, "wrong", huge).expect(t, 403, jsonCT, forbidden)
	post(t, srv, SpoofSenseRobust, testKey, huge).expect(t, 413, "text/plain", tooLarge)
}

func TestSpoofSenseTooLargeByContentLength(t *testing.T) {
	s := NewSpoofSense(testKey)
	srv, _ := newSpoofSense(t, s)
	body := imageBody(SampleJPEGSize("live", SpoofSenseMaxBody))
	post(t, srv, SpoofSenseAntispoofing, testKey, body).expect(t, 413, "text/plain", tooLarge)
	c := s.Calls()[0]
	if c.ContentLength != int64(len(body)) || c.BodySize != int64(len(body)) || c.DataSHA256 != "" {
		t.Errorf("call = CL %d size %d sha %q, want CL and size %d and no sha", c.ContentLength, c.BodySize, c.DataSHA256, len(body))
	}
}

// onlyReader hides bytes.Reader's length so that the client sends chunked.
type onlyReader struct{ io.Reader }

func TestSpoofSenseTooLargeChunked(t *testing.T) {
	s := NewSpoofSense(testKey)
	srv, _ := newSpoofSense(t, s)
	body := make([]byte, SpoofSenseMaxBody+1)
	r, err := do(t, context.Background(), srv, http.MethodPost, SpoofSenseRobust, testKey, onlyReader{bytes.NewReader(body)})
	if err != nil {
		t.Fatal(err)
	}
	r.expect(t, 413, "text/plain", tooLarge)
	c := s.Calls()[0]
	if c.ContentLength != -1 || c.BodySize != int64(len(body)) {
		t.Errorf("call = CL %d size %d, want -1 and %d", c.ContentLength, c.BodySize, len(body))
	}
}

func TestSpoofSenseSizeLimitIsInclusive(t *testing.T) {
	srv, _ := newSpoofSense(t, NewSpoofSense(testKey))
	body := imageBody(SampleJPEG("live"))
	body = append(body, bytes.Repeat([]byte(" "), SpoofSenseMaxBody-len(body))...)
	post(t, srv, SpoofSenseAntispoofing, testKey, body).expect(t, 200, jsonCT, liveBody)
	r, err := do(t, context.Background(), srv, http.MethodPost, SpoofSenseAntispoofing, testKey, onlyReader{bytes.NewReader(body)})
	if err != nil {
		t.Fatal(err)
	}
	r.expect(t, 200, jsonCT, liveBody)
}

func TestSpoofSenseInvalidBody(t *testing.T) {
	srv, _ := newSpoofSense(t, NewSpoofSense(testKey))
	for _, body := range []string{
		"", "not json", "[]", "null", `"data"`, "{}", `{"data":1}`, `{"data":null}`,
		`{"data":["aGk="]}`, `{"image":"aGk="}`, `{"data":"aGk="`,
	} {
		post(t, srv, SpoofSenseAntispoofing, testKey, []byte(body)).expect(t, 400, jsonCT, badBody)
	}
}

func TestSpoofSenseInvalidBase64(t *testing.T) {
	s := NewSpoofSense(testKey)
	srv, _ := newSpoofSense(t, s)
	img := SampleJPEG("live")
	for len(img)%3 == 0 {
		img = append(img, 0) // unpadded base64 must differ from padded
	}
	for _, data := range []string{
		"!!!!",
		base64.RawStdEncoding.EncodeToString(img),
		base64.URLEncoding.EncodeToString([]byte{0xfb, 0xff}),
		"data:image/jpeg;base64," + base64.StdEncoding.EncodeToString(img),
	} {
		post(t, srv, SpoofSenseAntispoofing, testKey, []byte(`{"data":"`+data+`"}`)).expect(t, 200, jsonCT, badBase64)
	}
	for _, c := range s.Calls() {
		if c.DataSHA256 != "" {
			t.Errorf("DataSHA256 = %q for undecodable data", c.DataSHA256)
		}
	}
}

func TestSpoofSenseVerdicts(t *testing.T) {
	srv, _ := newSpoofSense(t, NewSpoofSense(testKey))
	success := func(pred, score string) string {
		return `{"success": true, "message": "Process finished successfully", "model_output": {"pred_idx": "` + pred + `", "prob_real": ` + score + `}}`
	}
	tests := []struct {
		marker string
		body   string
	}{
		{"live", liveBody},
		{"spoof", spoofBody},
		{"spoof;live", liveBody},
		{"live;score=0.2", success("spoof", "0.2")},
		// Between 0.50 and 0.55 pred_idx says real although /antispoofing's
		// threshold says spoof.
		{"score=0.52", success("real", "0.52")},
		{"score=0.5", success("spoof", "0.5")},
		{"score=0.50001", success("real", "0.50001")},
		{"score=1", success("real", "1.0")},
		{"score=0", success("spoof", "0.0")},
		{"score=0.00001", success("spoof", "1e-05")},
		{"no_face", `{"success": false, "message": "face not detected"}`},
		{"no_face_code", `{"success": false, "message": "face not detected", "error_code": "FACE_NOT_DETECTED"}`},
		{"small_face", `{"success": false, "message": "face smaller than 128x128", "error_code": "FACE_TOO_SMALL"}`},
		{"invalid", invalidBody},
		{"score=0.9;no_face", `{"success": false, "message": "face not detected"}`},
		{"status=200;live", liveBody},
	}
	for _, tt := range tests {
		for _, img := range [][]byte{SampleJPEG(tt.marker), SamplePNG(tt.marker)} {
			for _, path := range []string{SpoofSenseAntispoofing, SpoofSenseRobust} {
				t.Run(tt.marker+path, func(t *testing.T) {
					post(t, srv, path, testKey, imageBody(img)).expect(t, 200, jsonCT, tt.body)
				})
			}
		}
	}
}

func TestSpoofSenseEmptyImage(t *testing.T) {
	srv, _ := newSpoofSense(t, NewSpoofSense(testKey))
	post(t, srv, SpoofSenseAntispoofing, testKey, []byte(`{"data":""}`)).expect(t, 200, jsonCT, invalidBody)
}

func TestSpoofSenseUnmarkedScore(t *testing.T) {
	srv, _ := newSpoofSense(t, NewSpoofSense(testKey))
	seen := map[float64]bool{}
	for i := 0; i < 20; i++ {
		img := []byte(fmt.Sprintf("not really an image %d", i))
		sum := sha256.Sum256(img)
		want := float64(binary.BigEndian.Uint16(sum[:2])) / 65535
		var first float64
		for j := 0; j < 2; j++ {
			r := post(t, srv, SpoofSenseAntispoofing, testKey, imageBody(img))
			var out struct {
				Success     bool
				ModelOutput struct {
					PredIdx  string  `json:"pred_idx"`
					ProbReal float64 `json:"prob_real"`
				} `json:"model_output"`
			}
			if err := json.Unmarshal([]byte(r.body), &out); err != nil || r.status != 200 || !out.Success {
				t.Fatalf("%d %s: %v", r.status, r.body, err)
			}
			got := out.ModelOutput.ProbReal
			if got != want {
				t.Errorf("prob_real = %v, want %v", got, want)
			}
			if (got > 0.5) != (out.ModelOutput.PredIdx == "real") {
				t.Errorf("pred_idx %q for prob_real %v", out.ModelOutput.PredIdx, got)
			}
			if j == 1 && got != first {
				t.Errorf("score not deterministic: %v then %v", first, got)
			}
			first = got
		}
		seen[first] = true
	}
	if len(seen) < 10 {
		t.Errorf("only %d distinct scores over 20 images", len(seen))
	}
}

func TestSpoofSenseStatusDirective(t *testing.T) {
	srv, _ := newSpoofSense(t, NewSpoofSense(testKey))
	tests := []struct {
		status   int
		ct, body string
	}{
		{500, jsonCT, `{"message": "Internal server error"}`},
		{502, jsonCT, `{"message": "Service Unavailable"}`},
		{503, jsonCT, `{"message": "Service Unavailable"}`},
		{504, jsonCT, `{"message": "Endpoint request timed out"}`},
		{429, jsonCT, `{"message":"Too Many Requests"}`},
		{403, jsonCT, forbidden},
		{413, "text/plain", tooLarge},
		{418, jsonCT, `{"message":"error"}`},
		{401, jsonCT, `{"message":"error"}`},
	}
	for _, tt := range tests {
		r := post(t, srv, SpoofSenseRobust, testKey, imageBody(SampleJPEG(fmt.Sprintf("live;status=%d", tt.status))))
		r.expect(t, tt.status, tt.ct, tt.body)
		if ra := r.header.Get("Retry-After"); (tt.status == 429) != (ra == "1") {
			t.Errorf("status %d: Retry-After %q", tt.status, ra)
		}
	}
}

func TestSpoofSenseMalformed(t *testing.T) {
	srv, _ := newSpoofSense(t, NewSpoofSense(testKey))
	r := post(t, srv, SpoofSenseAntispoofing, testKey, imageBody(SampleJPEG("live;malformed")))
	if r.status != 200 || r.header.Get("Content-Type") != jsonCT {
		t.Fatalf("got %d %q", r.status, r.header.Get("Content-Type"))
	}
	var v any
	if err := json.Unmarshal([]byte(r.body), &v); err == nil {
		t.Errorf("malformed body %q parses", r.body)
	}
	if r.body == "" || !strings.HasPrefix(liveBody, r.body) {
		t.Errorf("malformed body %q is not a truncated success body", r.body)
	}
}

func TestSpoofSenseDelayDirective(t *testing.T) {
	srv, done := newSpoofSense(t, NewSpoofSense(testKey))
	start := time.Now()
	post(t, srv, SpoofSenseAntispoofing, testKey, imageBody(SampleJPEG("live;delay=30ms"))).expect(t, 200, jsonCT, liveBody)
	if el := time.Since(start); el < 30*time.Millisecond {
		t.Errorf("answered after %v, want at least 30ms", el)
	}
	<-done

	// A delay far beyond the test's own timeout must end with the client.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := do(t, ctx, srv, http.MethodPost, SpoofSenseAntispoofing, testKey, bytes.NewReader(imageBody(SampleJPEG("live;delay=1h"))))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	waitDone(t, done)
}

func waitDone(t *testing.T, done <-chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("handler still running after the client went away")
	}
}

func TestSpoofSenseRecording(t *testing.T) {
	s := NewSpoofSense(testKey)
	srv, _ := newSpoofSense(t, s)
	img := SampleJPEG("spoof")
	body := imageBody(img)
	req, _ := http.NewRequest(http.MethodPost, srv.URL+SpoofSenseRobust, bytes.NewReader(body))
	req.Header.Set("X-Api-Key", testKey)
	req.Header.Set("Authorization", "Bearer secret-token")
	req.Header.Set("X-Other", "kept")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	post(t, srv, "/elsewhere", "", []byte("{}"))

	calls := s.Calls()
	if len(calls) != 2 || s.CallCount() != 2 {
		t.Fatalf("%d calls, count %d", len(calls), s.CallCount())
	}
	c := calls[0]
	sum := sha256.Sum256(img)
	if c.Method != http.MethodPost || c.Path != SpoofSenseRobust || c.BodySize != int64(len(body)) ||
		c.ContentLength != int64(len(body)) || c.DataSHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("call = %+v", c)
	}
	if c.Header.Get("X-Api-Key") != "[redacted]" || c.Header.Get("Authorization") != "[redacted]" || c.Header.Get("X-Other") != "kept" {
		t.Errorf("headers = %v", c.Header)
	}
	dump := fmt.Sprintf("%#v", calls)
	for _, secret := range []string{testKey, "secret-token", base64.StdEncoding.EncodeToString(img)[:40]} {
		if strings.Contains(dump, secret) {
			t.Errorf("recorded calls contain %q", secret)
		}
	}
	if calls[1].Path != "/elsewhere" || calls[1].DataSHA256 != "" {
		t.Errorf("second call = %+v", calls[1])
	}

	// Calls hands out copies.
	calls[0].Header.Set("X-Other", "changed")
	if s.Calls()[0].Header.Get("X-Other") != "kept" {
		t.Error("Calls shares headers with the recorder")
	}

	s.Script(Fault{Status: 500})
	s.Reset()
	if len(s.Calls()) != 0 || s.CallCount() != 0 {
		t.Error("Reset kept calls")
	}
	post(t, srv, SpoofSenseRobust, testKey, body).expect(t, 200, jsonCT, spoofBody)
}

func TestSpoofSenseKeep(t *testing.T) {
	s := NewSpoofSense(testKey)
	s.Keep = 2
	srv, _ := newSpoofSense(t, s)
	for _, p := range []string{"/a", "/b", "/c"} {
		post(t, srv, p, testKey, nil)
	}
	calls := s.Calls()
	if len(calls) != 2 || calls[0].Path != "/b" || calls[1].Path != "/c" || s.CallCount() != 3 {
		t.Errorf("calls %+v, count %d", calls, s.CallCount())
	}
}

func TestSpoofSenseScriptedStatus(t *testing.T) {
	s := NewSpoofSense(testKey)
	srv, _ := newSpoofSense(t, s)
	s.Script(
		Fault{Status: 503, Body: `{"message":"busy"}`, Header: http.Header{"Retry-After": {"7"}}},
		Fault{Status: 502, Body: "<html>bad gateway</html>", ContentType: "text/html"},
		Fault{Status: 204},
		Fault{Delay: time.Millisecond},
	)
	// Faults come before every check, even the route's.
	r := post(t, srv, "/not/a/route", "", nil)
	r.expect(t, 503, jsonCT, `{"message":"busy"}`)
	if r.header.Get("Retry-After") != "7" {
		t.Errorf("Retry-After = %q", r.header.Get("Retry-After"))
	}
	body := imageBody(SampleJPEG("live"))
	post(t, srv, SpoofSenseAntispoofing, testKey, body).expect(t, 502, "text/html", "<html>bad gateway</html>")
	post(t, srv, SpoofSenseAntispoofing, testKey, body).expect(t, 204, "", "")
	// A delay alone lets the normal answer, checks included, follow.
	post(t, srv, SpoofSenseAntispoofing, "wrong", body).expect(t, 403, jsonCT, forbidden)
	post(t, srv, SpoofSenseAntispoofing, testKey, body).expect(t, 200, jsonCT, liveBody)
	if s.CallCount() != 5 {
		t.Errorf("CallCount = %d, want 5", s.CallCount())
	}
}

// startFault serves a request that takes a blocking fault and returns once
// the emulator has taken it, with the client's cancel and result.
func startFault(t *testing.T, f Fault) (cancel func(), result <-chan error, done <-chan struct{}) {
	t.Helper()
	s := NewSpoofSense(testKey)
	taken := make(chan Fault, 1)
	s.faultTaken = func(f Fault) { taken <- f }
	srv, done := newSpoofSense(t, s)
	s.Script(f)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	res := make(chan error, 1)
	go func() {
		_, err := do(t, ctx, srv, http.MethodPost, SpoofSenseAntispoofing, testKey, bytes.NewReader(imageBody(SampleJPEG("live"))))
		res <- err
	}()
	select {
	case <-taken:
	case err := <-res:
		t.Fatalf("request ended before the fault: %v", err)
	}
	return cancel, res, done
}

func TestSpoofSenseHang(t *testing.T) {
	for name, f := range map[string]Fault{"hang": {Hang: true}, "long delay": {Delay: time.Hour, Status: 200}} {
		t.Run(name, func(t *testing.T) {
			cancel, res, done := startFault(t, f)
			select {
			case err := <-res:
				t.Fatalf("answered while hanging: %v", err)
			case <-done:
				t.Fatal("handler returned while the client waits")
			default:
			}
			cancel()
			if err := <-res; !errors.Is(err, context.Canceled) {
				t.Errorf("client err = %v, want canceled", err)
			}
			waitDone(t, done)
		})
	}
}

func TestSpoofSenseCloseConn(t *testing.T) {
	s := NewSpoofSense(testKey)
	srv, _ := newSpoofSense(t, s)
	s.Script(Fault{CloseConn: true})
	body := imageBody(SampleJPEG("live"))
	_, err := do(t, context.Background(), srv, http.MethodPost, SpoofSenseAntispoofing, testKey, bytes.NewReader(body))
	if err == nil {
		t.Fatal("no error from a closed connection")
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want a connection error", err)
	}
	post(t, srv, SpoofSenseAntispoofing, testKey, body).expect(t, 200, jsonCT, liveBody)
	if s.CallCount() != 2 {
		t.Errorf("CallCount = %d, want 2 (no retry hidden the fault)", s.CallCount())
	}
}

func TestSpoofSenseConcurrentScript(t *testing.T) {
	s := NewSpoofSense(testKey)
	srv, _ := newSpoofSense(t, s)
	const faults, requests = 10, 30
	for i := 0; i < faults; i++ {
		s.Script(Fault{Status: 503})
	}
	body := imageBody(SampleJPEG("live"))
	count := concurrentStatuses(t, requests, func() (response, error) {
		return do(t, context.Background(), srv, http.MethodPost, SpoofSenseRobust, testKey, bytes.NewReader(body))
	})
	if count[503] != faults || count[200] != requests-faults {
		t.Errorf("statuses %v, want %d×503 and %d×200", count, faults, requests-faults)
	}
	if len(s.Calls()) != requests {
		t.Errorf("%d calls recorded", len(s.Calls()))
	}
}
