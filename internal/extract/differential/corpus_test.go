package differential

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// The ordinary uploads are what they claim: Go's net/http reads the
// selfie out of each (the differential test checks the other frameworks).
func TestOrdinaryUploadsParse(t *testing.T) {
	for _, c := range Corpus() {
		if !c.Ordinary() {
			continue
		}
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(c.Request("/upload", "127.0.0.1"))))
		if err != nil {
			t.Errorf("%s: %v", c.Name, err)
			continue
		}
		var got []byte
		switch {
		case req.Header.Get("Content-Type") == "image/jpeg":
			got, _ = io.ReadAll(req.Body)
		default:
			if f, _, err := req.FormFile("selfie"); err == nil {
				got, _ = io.ReadAll(f)
			} else if v := req.FormValue("selfie"); v != "" {
				got = imageOf(v)
			} else {
				var j struct{ Selfie string }
				if err := jsonDecode(req.Body, &j); err != nil {
					t.Errorf("%s: %v", c.Name, err)
				}
				got = imageOf(j.Selfie)
			}
		}
		if c.Images[Sum(got)] != c.Want {
			t.Errorf("%s: net/http does not read the selfie (%d bytes read)", c.Name, len(got))
		}
	}
}

func TestCorpusNamesUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range append(Corpus(), Mutations(1, 300)...) {
		if seen[c.Name] {
			t.Errorf("duplicate case name %q", c.Name)
		}
		seen[c.Name] = true
		if c.Family == "" || len(c.Images) == 0 {
			t.Errorf("%s: no family or no images", c.Name)
		}
	}
}

func TestMutationsDeterministic(t *testing.T) {
	a, b := Mutations(7, 50), Mutations(7, 50)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same seed gave different mutations")
	}
	if reflect.DeepEqual(a, Mutations(8, 50)) {
		t.Fatal("different seeds gave the same mutations")
	}
}

func jsonDecode(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }

func imageOf(s string) []byte {
	if _, after, ok := strings.Cut(s, ","); ok && strings.HasPrefix(s, "data:") {
		s = after
	}
	b, _ := base64.StdEncoding.DecodeString(s)
	return b
}
