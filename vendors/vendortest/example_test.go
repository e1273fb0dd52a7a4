package vendortest_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/caddy-liveness/caddy-liveness/vendors/vendortest"
)

// A test serves the emulator with httptest and sends it sample images
// whose marker asks for the verdict. In your CI, point the code under test
// (or Caddy's base_url) at srv.URL instead of calling the API directly.
func ExampleSpoofSense() {
	emu := vendortest.NewSpoofSense("test-key")
	srv := httptest.NewServer(emu)
	defer srv.Close()

	for _, marker := range []string{"live", "spoof"} {
		img := vendortest.SampleJPEG(marker)
		body := `{"data":"` + base64.StdEncoding.EncodeToString(img) + `"}`
		req, _ := http.NewRequest(http.MethodPost, srv.URL+vendortest.SpoofSenseAntispoofing, strings.NewReader(body))
		req.Header.Set("x-api-key", "test-key")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(marker, resp.StatusCode, string(answer))
	}
	// Output:
	// live 200 {"success": true, "message": "Process finished successfully", "model_output": {"pred_idx": "real", "prob_real": 0.97}}
	// spoof 200 {"success": true, "message": "Process finished successfully", "model_output": {"pred_idx": "spoof", "prob_real": 0.03}}
}

// Every request is recorded without its key or image, so a test can check
// what its client sent: the path, the headers (credentials redacted) and
// the SHA-256 of the image. Keep bounds the calls kept; CallCount counts
// them all.
func ExampleSpoofSense_Calls() {
	emu := vendortest.NewSpoofSense("test-key")
	emu.Keep = 2 // set before serving
	srv := httptest.NewServer(emu)
	defer srv.Close()

	img := vendortest.SampleJPEG("live")
	body := `{"data":"` + base64.StdEncoding.EncodeToString(img) + `"}`
	for _, key := range []string{"test-key", "wrong-key", "test-key"} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+vendortest.SpoofSenseRobust, strings.NewReader(body))
		req.Header.Set("x-api-key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		resp.Body.Close()
		fmt.Println(resp.StatusCode)
	}

	calls := emu.Calls()
	fmt.Println("calls:", emu.CallCount(), "kept:", len(calls))
	sum := sha256.Sum256(img)
	for _, c := range calls {
		fmt.Println(c.Method, c.Path, c.Header.Get("X-Api-Key"), c.BodySize == int64(len(body)), c.DataSHA256 == hex.EncodeToString(sum[:]))
	}
	// Output:
	// 200
	// 403
	// 200
	// calls: 3 kept: 2
	// POST /prod/robust [redacted] true true
	// POST /prod/robust [redacted] true true
}

// Marker directives script the answer from inside the image: status=
// answers an HTTP status with the vendor's body for it, score= sets the
// score; they combine with ';', as in "score=0.52;delay=250ms".
func ExampleSpoofSense_markerDirectives() {
	emu := vendortest.NewSpoofSense("test-key")
	srv := httptest.NewServer(emu)
	defer srv.Close()

	for _, marker := range []string{"status=503", "status=429", "score=0.52"} {
		img := vendortest.SampleJPEG(marker)
		body := `{"data":"` + base64.StdEncoding.EncodeToString(img) + `"}`
		req, _ := http.NewRequest(http.MethodPost, srv.URL+vendortest.SpoofSenseAntispoofing, strings.NewReader(body))
		req.Header.Set("x-api-key", "test-key")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%s: %d Retry-After=%q %s\n", marker, resp.StatusCode, resp.Header.Get("Retry-After"), answer)
	}
	// Output:
	// status=503: 503 Retry-After="" {"message": "Service Unavailable"}
	// status=429: 429 Retry-After="1" {"message":"Too Many Requests"}
	// score=0.52: 200 Retry-After="" {"success": true, "message": "Process finished successfully", "model_output": {"pred_idx": "real", "prob_real": 0.52}}
}

// Script makes the next requests fail whatever their image, for retry and
// timeout tests.
func ExampleSpoofSense_Script() {
	emu := vendortest.NewSpoofSense("test-key")
	emu.Script(vendortest.Fault{Status: http.StatusBadGateway, Body: `{"message": "Bad Gateway"}`})
	srv := httptest.NewServer(emu)
	defer srv.Close()

	body := `{"data":"` + base64.StdEncoding.EncodeToString(vendortest.SampleJPEG("live")) + `"}`
	for range 2 {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+vendortest.SpoofSenseAntispoofing, strings.NewReader(body))
		req.Header.Set("x-api-key", "test-key")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		resp.Body.Close()
		fmt.Println(resp.StatusCode)
	}
	// Output:
	// 502
	// 200
}

// ParseMarker, which the emulators use, skips what it does not know;
// ValidateMarker refuses it, for markers a person types.
func ExampleValidateMarker() {
	for _, marker := range []string{"score=0.5;delay=1s", "pending=2;decline=FADR01", "spooof", "status=700"} {
		d := vendortest.ParseMarker([]byte(vendortest.MarkerPrefix + marker))
		fmt.Printf("%s: verdict %q, score %v %v, status %d; ValidateMarker: %v\n",
			marker, d.Verdict, d.Score, d.HasScore, d.Status, vendortest.ValidateMarker(marker))
	}
	// Output:
	// score=0.5;delay=1s: verdict "", score 0.5 true, status 0; ValidateMarker: <nil>
	// pending=2;decline=FADR01: verdict "", score 0 false, status 0; ValidateMarker: <nil>
	// spooof: verdict "", score 0 false, status 0; ValidateMarker: marker "spooof": unknown directive "spooof" (did you mean "spoof"?)
	// status=700: verdict "", score 0 false, status 0; ValidateMarker: marker "status=700": status=700: want an HTTP status from 100 to 599, as in status=503
}
