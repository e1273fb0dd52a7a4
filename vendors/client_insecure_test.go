package vendors_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-liveness/caddy-liveness/vendors"
)

type provisionable = interface {
	vendors.Vendor
	caddy.Provisioner
}

var insecureVendors = []struct {
	name  string
	creds string
	new   func(base string, insecure bool) provisionable
	empty func() caddyfile.Unmarshaler
}{
	{"spoofsense", "api_key k",
		func(b string, i bool) provisionable {
			return &vendors.SpoofSense{APIKey: "k", BaseURL: b, InsecureHTTP: i}
		},
		func() caddyfile.Unmarshaler { return new(vendors.SpoofSense) }},
	{"videosdk", "api_key k\n api_secret s",
		func(b string, i bool) provisionable {
			return &vendors.VideoSDK{APIKey: "k", APISecret: "s", BaseURL: b, InsecureHTTP: i}
		},
		func() caddyfile.Unmarshaler { return new(vendors.VideoSDK) }},
	{"facia", "client_id i\n client_secret s",
		func(b string, i bool) provisionable {
			return &vendors.FACIA{ClientID: "i", ClientSecret: "s", BaseURL: b, InsecureHTTP: i}
		},
		func() caddyfile.Unmarshaler { return new(vendors.FACIA) }},
	{"verifik", "token t",
		func(b string, i bool) provisionable { return &vendors.Verifik{Token: "t", BaseURL: b, InsecureHTTP: i} },
		func() caddyfile.Unmarshaler { return new(vendors.Verifik) }},
}

// TestPlainHTTPBaseURL: http:// to a host that is not loopback is a
// configuration error unless insecure_http is set; loopback and https://
// need no flag.
func TestPlainHTTPBaseURL(t *testing.T) {
	tests := []struct {
		base     string
		insecure bool
		ok       bool
	}{
		{"http://10.0.0.5:9780", false, false},
		{"http://10.0.0.5:9780", true, true},
		{"http://emulator:9780", false, false},
		{"http://emulator:9780", true, true},
		{"http://api.example.com", false, false},
		{"http://localhost.example.com:9780", false, false},
		{"http://127.0.0.1.nip.io", false, false},
		{"http://0.0.0.0:9780", false, false},
		{"http://[::]:9780", false, false},
		{"http://127.0.0.1:9780", false, true},
		{"http://127.1.2.3:9780", false, true},
		{"http://[::1]:9780", false, true},
		{"http://[::ffff:127.0.0.1]:9780", false, true},
		{"http://localhost:9780", false, true},
		{"http://LocalHost", false, true},
		{"https://10.0.0.5:9780", false, true},
		{"https://api.example.com/base", false, true},
		{"", false, true},
		{"", true, true},
	}
	for _, iv := range insecureVendors {
		for _, tt := range tests {
			v := iv.new(tt.base, tt.insecure)
			ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
			err := v.Provision(ctx)
			cancel()
			if (err == nil) != tt.ok {
				t.Errorf("%s base_url %q insecure_http %v: err %v, want ok=%v", iv.name, tt.base, tt.insecure, err, tt.ok)
			}
			if err != nil && (!strings.Contains(err.Error(), "insecure_http") || !strings.Contains(err.Error(), iv.name)) {
				t.Errorf("%s: error %q does not say what to do", iv.name, err)
			}
		}
	}
}

// TestInsecureHTTPCaddyfile: insecure_http is a flag, given alone or with
// true or false, once; in JSON it is the bool insecure_http.
func TestInsecureHTTPCaddyfile(t *testing.T) {
	for _, iv := range insecureVendors {
		for opt, want := range map[string]bool{
			"insecure_http":       true,
			"insecure_http true":  true,
			"insecure_http false": false,
			"":                    false,
		} {
			in := iv.name + " {\n " + iv.creds + "\n base_url http://10.0.0.5:9780\n " + opt + "\n}"
			u := iv.empty()
			if err := u.UnmarshalCaddyfile(caddyfile.NewTestDispenser(in)); err != nil {
				t.Fatalf("%s %q: %v", iv.name, opt, err)
			}
			b, _ := json.Marshal(u)
			var got struct {
				InsecureHTTP *bool `json:"insecure_http"`
			}
			json.Unmarshal(b, &got)
			if (got.InsecureHTTP != nil && *got.InsecureHTTP) != want || (!want && got.InsecureHTTP != nil) {
				t.Errorf("%s %q: JSON %s", iv.name, opt, b)
			}
			// The JSON configures the same, and provisions accordingly.
			v := iv.new("", false)
			if err := json.Unmarshal(b, v); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
			err := v.Provision(ctx)
			cancel()
			if (err == nil) != want {
				t.Errorf("%s %q: provisioning from %s: %v", iv.name, opt, b, err)
			}
		}
		for _, bad := range []string{"insecure_http yes", "insecure_http 1", "insecure_http true false", "insecure_http\n insecure_http"} {
			in := iv.name + " {\n " + iv.creds + "\n " + bad + "\n}"
			if err := iv.empty().UnmarshalCaddyfile(caddyfile.NewTestDispenser(in)); err == nil {
				t.Errorf("%s: %q accepted", iv.name, bad)
			}
		}
		// Other options still take exactly one value.
		if err := iv.empty().UnmarshalCaddyfile(caddyfile.NewTestDispenser(iv.name + " {\n base_url\n}")); err == nil {
			t.Errorf("%s: base_url without a value accepted", iv.name)
		}
	}
}
