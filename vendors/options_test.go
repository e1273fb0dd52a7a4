package vendors_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-liveness/caddy-liveness/vendors"
)

// optionSecret stands for a credential: no error may quote it.
const optionSecret = "sekrit-5f1e"

// badOptions are option values each vendor's validation refuses: in a
// Caddyfile at adapt time, at the line of the option (line), and the same
// values as JSON at provisioning.
var badOptions = []struct {
	vendor    string
	option    string // what the error names
	caddyfile string
	line      int
	json      string
}{
	{"spoofsense", "model", "spoofsense {\n api_key " + optionSecret + "\n model big\n}", 3,
		`{"api_key":"` + optionSecret + `","model":"big"}`},
	{"spoofsense", "base_url", "spoofsense {\n api_key " + optionSecret + "\n base_url ftp://host\n}", 3,
		`{"api_key":"` + optionSecret + `","base_url":"ftp://host"}`},
	{"verifik", "os", "verifik {\n token " + optionSecret + "\n os WINDOWS\n}", 3,
		`{"token":"` + optionSecret + `","os":"WINDOWS"}`},
	{"verifik", "os", "verifik {\n os ios\n token " + optionSecret + "\n}", 2,
		`{"token":"` + optionSecret + `","os":"ios"}`},
	{"verifik", "base_url", "verifik {\n token " + optionSecret + "\n base_url https://host/?q=1\n}", 3,
		`{"token":"` + optionSecret + `","base_url":"https://host/?q=1"}`},
	{"facia", "score_direction", "facia {\n client_id i\n client_secret " + optionSecret + "\n score_direction higher\n}", 4,
		`{"client_id":"i","client_secret":"` + optionSecret + `","score_direction":"higher"}`},
	{"facia", "client_reference", "facia {\n client_id i\n client_secret " + optionSecret + "\n client_reference abcd\n}", 4,
		`{"client_id":"i","client_secret":"` + optionSecret + `","client_reference":"abcd"}`},
	{"facia", "poll_interval", "facia {\n client_id i\n client_secret " + optionSecret + "\n poll_interval -1s\n}", 4,
		`{"client_id":"i","client_secret":"` + optionSecret + `","poll_interval":-1000000000}`},
	{"facia", "base_url", "facia {\n client_id i\n client_secret " + optionSecret + "\n base_url http://\n}", 4,
		`{"client_id":"i","client_secret":"` + optionSecret + `","base_url":"http://"}`},
	// Mutually exclusive: reported at the token, wherever it stands.
	{"videosdk", "token", "videosdk {\n token " + optionSecret + "\n api_key " + optionSecret + "\n}", 2,
		`{"token":"` + optionSecret + `","api_key":"` + optionSecret + `"}`},
	{"videosdk", "token", "videosdk {\n api_secret " + optionSecret + "\n\n token {env.VIDEOSDK_TOKEN}\n}", 4,
		`{"token":"{env.VIDEOSDK_TOKEN}","api_secret":"` + optionSecret + `"}`},
	{"videosdk", "token", "videosdk {\n token \"Bearer " + optionSecret + "\"\n}", 2,
		`{"token":"Bearer ` + optionSecret + `"}`},
	{"videosdk", "token", "videosdk {\n token \"Bearer {env.VIDEOSDK_TOKEN}\"\n}", 2,
		`{"token":"Bearer {env.VIDEOSDK_TOKEN}"}`},
	{"videosdk", "base_url", "videosdk {\n api_key k\n api_secret " + optionSecret + "\n base_url https://host#top\n}", 4,
		`{"api_key":"k","api_secret":"` + optionSecret + `","base_url":"https://host#top"}`},
	{"local", "max_concurrent", "local {\n max_concurrent -2\n}", 2, `{"max_concurrent":-2}`},
}

func newVendorModule(t *testing.T, name string) caddy.Module {
	t.Helper()
	info, err := caddy.GetModule(vendors.Namespace + "." + name)
	if err != nil {
		t.Fatal(err)
	}
	return info.New()
}

// checkOptionError: err names the option, does not start with the root
// package's prefix (it adds it once) and quotes no secret.
func checkOptionError(t *testing.T, what string, err error, option string) {
	t.Helper()
	switch msg := err.Error(); {
	case !strings.Contains(msg, option):
		t.Errorf("%s: error %q does not name %s", what, msg, option)
	case strings.HasPrefix(msg, "liveness: "):
		t.Errorf("%s: error %q has the root package's prefix", what, msg)
	case strings.Contains(msg, optionSecret):
		t.Errorf("%s: error %q quotes a secret", what, msg)
	}
}

// TestOptionsValidatedInCaddyfile: a bad option value fails at adapt time
// with the Caddyfile's file and line of the option, not only at
// provisioning; the same value in JSON still fails at provisioning.
func TestOptionsValidatedInCaddyfile(t *testing.T) {
	for _, tt := range badOptions {
		what := tt.vendor + " " + tt.option + " " + tt.json
		u := newVendorModule(t, tt.vendor).(caddyfile.Unmarshaler)
		err := u.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.caddyfile))
		if err == nil {
			t.Errorf("%s: Caddyfile %q accepted", what, tt.caddyfile)
			continue
		}
		checkOptionError(t, what+" (Caddyfile)", err, tt.option)
		if at := "Testfile:" + strconv.Itoa(tt.line); !strings.HasSuffix(err.Error(), ", at "+at) {
			t.Errorf("%s: error %q is not at %s", what, err, at)
		}

		p := newVendorModule(t, tt.vendor).(caddy.Provisioner)
		if err := json.Unmarshal([]byte(tt.json), p); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
		err = p.Provision(ctx)
		cancel()
		if err == nil {
			t.Errorf("%s: JSON provisioned", what)
			continue
		}
		checkOptionError(t, what+" (JSON)", err, tt.option)
		if !strings.HasPrefix(err.Error(), tt.vendor+": ") {
			t.Errorf("%s: error %q does not name the vendor", what, err)
		}
	}
}

// TestOptionErrorsQuoteNoSecret: refused blocks whose values may hold a
// credential (a second value, a base_url with user info) name the option
// without quoting the value.
func TestOptionErrorsQuoteNoSecret(t *testing.T) {
	for _, tt := range []struct{ vendor, option, block string }{
		{"spoofsense", "api_key", "spoofsense {\n api_key k " + optionSecret + "\n}"},
		{"verifik", "token", "verifik {\n token Bearer " + optionSecret + "\n}"},
		{"videosdk", "api_secret", "videosdk {\n api_secret s " + optionSecret + "\n api_key k\n}"},
		{"facia", "base_url", "facia {\n base_url https://user:" + optionSecret + "@host/?q=1\n}"},
		{"facia", "base_url", "facia {\n base_url https://user:" + optionSecret + "@host:port\n}"},
		{"verifik", "base_url", "verifik {\n base_url ftp://" + optionSecret + "@host\n}"},
	} {
		u := newVendorModule(t, tt.vendor).(caddyfile.Unmarshaler)
		err := u.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.block))
		if err == nil {
			t.Errorf("%q accepted", tt.block)
			continue
		}
		checkOptionError(t, tt.block, err, tt.option)
		if !strings.Contains(err.Error(), "Testfile:2") {
			t.Errorf("%q: error %q is not at Testfile:2", tt.block, err)
		}
	}
}

// TestOptionsValidConfigsAdapt: the values validation allows pass at
// adapt time, defaults and placeholders included.
func TestOptionsValidConfigsAdapt(t *testing.T) {
	for vendor, block := range map[string]string{
		"spoofsense": "spoofsense {\n api_key {env.K}\n model robust\n base_url https://user@host:8443/base/\n}",
		"verifik":    "verifik {\n token {env.T}\n os auto\n}",
		"facia":      "facia {\n client_reference {http.request.uuid}\n score_direction live_high\n poll_interval 1s\n}",
		"videosdk":   "videosdk {\n token {file./run/secrets/videosdk}\n base_url http://10.0.0.5:9780\n}",
		"local":      "local {\n max_concurrent 2\n}",
	} {
		u := newVendorModule(t, vendor).(caddyfile.Unmarshaler)
		if err := u.UnmarshalCaddyfile(caddyfile.NewTestDispenser(block)); err != nil {
			t.Errorf("%s: %v", vendor, err)
		}
	}
}
