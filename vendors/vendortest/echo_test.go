package vendortest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestEcho(t *testing.T) {
	e := &Echo{}
	srv := httptest.NewServer(e)
	defer srv.Close()

	body := SampleJPEG("live")
	send := func(r *http.Request) EchoResponse {
		t.Helper()
		r.Header.Set("X-Liveness-Verdict", "live")
		r.Header.Add("X-Multi", "a")
		r.Header.Add("X-Multi", "b")
		resp, err := srv.Client().Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("got %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		var out EchoResponse
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return out
	}

	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/upload/x?q=1", bytes.NewReader(body))
	out := send(req)
	sum := sha256.Sum256(body)
	if out.Method != http.MethodPut || out.Path != "/upload/x" || out.ContentLength != int64(len(body)) ||
		out.BodySize != len(body) || out.BodySHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("echo = %+v", out)
	}
	if out.Headers.Get("X-Liveness-Verdict") != "live" || len(out.Headers.Values("X-Multi")) != 2 {
		t.Errorf("headers = %v", out.Headers)
	}

	req, _ = http.NewRequest(http.MethodPost, srv.URL+"/chunked", onlyReader{bytes.NewReader(body)})
	if out := send(req); out.ContentLength != -1 || out.BodySize != len(body) || out.BodySHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("chunked echo = %+v", out)
	}

	req, _ = http.NewRequest(http.MethodGet, srv.URL+"/empty", nil)
	empty := sha256.Sum256(nil)
	if out := send(req); out.BodySize != 0 || out.BodySHA256 != hex.EncodeToString(empty[:]) {
		t.Errorf("empty echo = %+v", out)
	}

	reqs := e.Requests()
	if len(reqs) != 3 || e.Count() != 3 {
		t.Fatalf("%d requests, count %d", len(reqs), e.Count())
	}
	if !bytes.Equal(reqs[0].Body, body) || reqs[0].ContentLength != int64(len(body)) || reqs[1].ContentLength != -1 ||
		reqs[0].Header.Get("X-Liveness-Verdict") != "live" || reqs[2].Method != http.MethodGet || reqs[2].Path != "/empty" {
		t.Errorf("recorded %+v", reqs)
	}
	reqs[0].Body[0] ^= 0xFF
	reqs[0].Header.Set("X-Liveness-Verdict", "spoof")
	if again := e.Requests()[0]; !bytes.Equal(again.Body, body) || again.Header.Get("X-Liveness-Verdict") != "live" {
		t.Error("Requests shares memory with the recorder")
	}

	e.Reset()
	if len(e.Requests()) != 0 || e.Count() != 0 {
		t.Error("Reset kept requests")
	}
}

func TestEchoKeep(t *testing.T) {
	e := &Echo{Keep: 1}
	srv := httptest.NewServer(e)
	defer srv.Close()
	for _, p := range []string{"/a", "/b"} {
		resp, err := srv.Client().Post(srv.URL+p, "text/plain", bytes.NewReader([]byte(p)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if r := e.Requests(); len(r) != 1 || string(r[0].Body) != "/b" || e.Count() != 2 {
		t.Errorf("requests %+v, count %d", r, e.Count())
	}
}
