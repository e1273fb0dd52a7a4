package redact

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestRedactBody(t *testing.T) {
	const jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
	longB64 := strings.Repeat("QUJD", 200)
	for _, tc := range []struct {
		name, in string
		want     string   // exact, when set
		has      []string // substrings the output must hold
		hasNot   []string
	}{
		{
			name: "secret keys",
			in:   `{"token":"t0k","access_token":"a","client_secret":"cs","api_key":"k","apikey":"k2","secret":"s","Authorization":"Bearer b","declined_proof":"https://proof.invalid/x","refresh_token":"r","X-Api-Key":"x"}`,
			want: `{"token":"[redacted]","access_token":"[redacted]","client_secret":"[redacted]","api_key":"[redacted]","apikey":"[redacted]","secret":"[redacted]","Authorization":"[redacted]","declined_proof":"[redacted]","refresh_token":"[redacted]","X-Api-Key":"[redacted]"}`,
		},
		{
			name: "nested values of a secret key",
			in:   `{"result":{"data":{"token":{"value":"v","n":5},"list":[1,"a"]}}}`,
			want: `{"result":{"data":{"token":{"value":"[redacted]","n":"[redacted]"},"list":[1,"a"]}}}`,
		},
		{
			name: "order, numbers, null and booleans kept",
			in:   `{"status": true, "b": 1e-05, "a": null, "declined_proof": null, "score": 0.97}`,
			want: `{"status":true,"b":1e-05,"a":null,"declined_proof":null,"score":0.97}`,
		},
		{
			name: "URLs and JWTs inside values",
			in:   `{"message":"see https://proof.invalid/a?sig=1 or HTTP://x.test/y","note":"Bearer ` + jwt + `","host":"api.facia.ai","v":"1.2.3"}`,
			want: `{"message":"see [redacted-url] or [redacted-url]","note":"Bearer [redacted-jwt]","host":"api.facia.ai","v":"1.2.3"}`,
		},
		{
			name:   "data URIs and long values",
			in:     `{"img":"data:image/jpeg;base64,/9j/4AAQSkZJRg==","blob":"` + longB64 + `"}`,
			want:   `{"img":"[redacted-data-uri]","blob":"[omitted, 800 bytes]"}`,
			hasNot: []string{"/9j/"},
		},
		{
			name: "JSON over 2 KB is cut",
			in:   `[` + strings.TrimSuffix(strings.Repeat(`"abcdefghij",`, 300), ",") + `]`,
			has:  []string{"...[truncated, 3901 bytes]"},
		},
		{
			name: "text is redacted and cut to 200 bytes",
			in:   "error: token " + jwt + " at https://proof.invalid/p " + strings.Repeat("x", 300),
			has:  []string{"error: token [redacted-jwt] at [redacted-url] xxx", "...[truncated, "},
		},
		{
			name: "malformed JSON is text",
			in:   `{"token":"` + jwt + `","declined_proof":"https://proof.invalid/x`,
			want: `{"token":"[redacted-jwt]","declined_proof":"[redacted-url]`,
		},
		{name: "short text", in: "error code: 524", want: "error code: 524"},
		{name: "binary", in: "\xff\xd8\xff\xe0\x00\x10JFIF\x00", want: "......JFIF."},
		{name: "empty", in: "", want: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Body([]byte(tc.in))
			if tc.want != "" || tc.in == "" {
				if got != tc.want {
					t.Errorf("got  %s\nwant %s", got, tc.want)
				}
			}
			for _, s := range tc.has {
				if !strings.Contains(got, s) {
					t.Errorf("%q lacks %q", got, s)
				}
			}
			for _, s := range append(tc.hasNot, "t0k", "eyJ", "proof.invalid", longB64[:40]) {
				if strings.Contains(got, s) {
					t.Errorf("%q holds %q", got, s)
				}
			}
			limit := MaxJSON
			if !json.Valid([]byte(tc.in)) {
				limit = MaxText
			}
			if body, _, _ := strings.Cut(got, "...[truncated"); len(body) > limit {
				t.Errorf("%d bytes, over %d", len(body), limit)
			}
		})
	}
}
