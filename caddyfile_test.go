package caddyliveness

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func parse(input string) (*Handler, error) {
	var h Handler
	err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input))
	return &h, err
}

func TestCaddyfileFull(t *testing.T) {
	h, err := parse(`liveness {
		vendor spoofsense {
			api_key  {env.SPOOFSENSE_API_KEY}
			model    robust
			base_url http://127.0.0.1:9780
		}
		source multipart selfie id_photo
		source json /image /images/0
		source form photo
		source body
		threshold   0.7
		mode        annotate
		on_error    allow
		on_no_face  allow
		on_missing  allow
		max_size    5MB
		max_pixels  1000000
		timeout     3s
		cache {
			ttl         1h
			max_entries 50
		}
		header_prefix X-Face-
		retries 0
		breaker {
			failures 3
			cooldown 10s
		}
		max_concurrent 8
		sign_key {env.LIVENESS_SIGN_KEY}
	}`)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.VendorsRaw) != 1 {
		t.Fatalf("vendors: %d", len(h.VendorsRaw))
	}
	var v map[string]string
	if err := json.Unmarshal(h.VendorsRaw[0], &v); err != nil {
		t.Fatal(err)
	}
	wantVendor := map[string]string{"name": "spoofsense", "api_key": "{env.SPOOFSENSE_API_KEY}", "model": "robust", "base_url": "http://127.0.0.1:9780"}
	for k, want := range wantVendor {
		if v[k] != want {
			t.Errorf("vendor %s = %q, want %q", k, v[k], want)
		}
	}
	wantSources := `[{"type":"multipart","fields":["selfie","id_photo"]},{"type":"json","fields":["/image","/images/0"]},{"type":"form","fields":["photo"]},{"type":"body"}]`
	if got, _ := json.Marshal(h.Sources); string(got) != wantSources {
		t.Errorf("sources %s", got)
	}
	switch {
	case h.Threshold == nil || *h.Threshold != 0.7:
		t.Error("threshold")
	case h.Mode != "annotate" || h.OnError != "allow" || h.OnNoFace != "allow" || h.OnMissing != "allow":
		t.Error("mode or policies")
	case h.MaxSize != 5_000_000 || h.MaxPixels != 1_000_000:
		t.Errorf("sizes %d %d", h.MaxSize, h.MaxPixels)
	case time.Duration(h.Timeout) != 3*time.Second:
		t.Error("timeout")
	case h.Cache == nil || time.Duration(h.Cache.TTL) != time.Hour || h.Cache.MaxEntries != 50:
		t.Error("cache")
	case h.HeaderPrefix != "X-Face-":
		t.Error("header_prefix")
	case h.Retries == nil || *h.Retries != 0:
		t.Error("retries")
	case h.Breaker == nil || h.Breaker.Failures != 3 || time.Duration(h.Breaker.Cooldown) != 10*time.Second:
		t.Error("breaker")
	case h.MaxConcurrent != 8:
		t.Error("max_concurrent")
	case h.SignKey != "{env.LIVENESS_SIGN_KEY}":
		t.Error("sign_key")
	}
}

func TestCaddyfileDefaults(t *testing.T) {
	h, err := parse(`liveness {
		vendor spoofsense {
			api_key k
		}
	}`)
	if err != nil {
		t.Fatal(err)
	}
	h.setDefaults()
	if err := h.validate(); err != nil {
		t.Fatal(err)
	}
	if h.Mode != "enforce" || h.OnError != "deny" || h.OnNoFace != "deny" || h.OnMissing != "deny" ||
		h.MaxSize != 10<<20 || h.MaxPixels != 40_000_000 || time.Duration(h.Timeout) != 10*time.Second ||
		time.Duration(h.Cache.TTL) != 24*time.Hour || h.Cache.MaxEntries != 100_000 ||
		h.HeaderPrefix != "X-Liveness-" || h.Threshold != nil || len(h.Sources) != 0 ||
		*h.Retries != 2 || h.Breaker.Failures != 5 || time.Duration(h.Breaker.Cooldown) != 30*time.Second || h.MaxConcurrent != 64 {
		t.Fatalf("defaults: %+v", h)
	}
}

func TestCaddyfileErrors(t *testing.T) {
	const vendor = "vendor spoofsense {\n api_key k\n}\n"
	tests := map[string]string{
		"unknown option":          "bogus 1",
		"duplicate option":        "mode enforce\nmode annotate",
		"threshold above 1":       "threshold 1.5",
		"threshold below 0":       "threshold -0.1",
		"threshold not a number":  "threshold high",
		"threshold NaN":           "threshold NaN",
		"bad mode":                "mode block",
		"bad on_error":            "on_error maybe",
		"bad on_no_face":          "on_no_face yes",
		"bad on_missing":          "on_missing no",
		"missing argument":        "mode",
		"extra argument":          "mode enforce annotate",
		"bad max_size":            "max_size lots",
		"zero max_size":           "max_size 0",
		"bad max_pixels":          "max_pixels -1",
		"bad timeout":             "timeout soon",
		"zero timeout":            "timeout 0s",
		"unknown source":          "source header X",
		"duplicate source":        "source multipart a\nsource multipart b",
		"source body with field":  "source body x",
		"source without fields":   "source multipart",
		"bad JSON pointer":        "source json image",
		"bad JSON pointer escape": "source json /a~2",
		"unknown cache option":    "cache {\n size 1\n}",
		"bad cache ttl":           "cache {\n ttl forever\n}",
		"bad max_entries":         "cache {\n max_entries 0\n}",
		"duplicate cache option":  "cache {\n ttl 1h\n ttl 2h\n}",
		"duplicate cache block":   "cache {\n ttl 1h\n}\ncache {\n ttl 2h\n}",
		"duplicate vendor":        vendor,
		"unknown vendor":          "vendor acme {\n key k\n}",
		"unknown vendor option":   "vendor spoofsense {\n api_key k\n region eu\n}",
		"duplicate vendor option": "vendor spoofsense {\n api_key k\n api_key j\n}",
		"prescreen with a word":   "prescreen yes",
		"prescreen twice":         "prescreen\nprescreen false",
	}
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			input := "liveness {\n" + vendor
			if name == "duplicate vendor" || strings.HasPrefix(name, "unknown vendor") || name == "duplicate vendor option" {
				input = "liveness {\n"
				if name == "duplicate vendor" {
					input += vendor
				}
			}
			if _, err := parse(input + body + "\n}"); err == nil {
				t.Fatalf("accepted:\n%s", body)
			}
		})
	}
	if _, err := parse("liveness extra {\n" + vendor + "}"); err == nil {
		t.Fatal("accepted an argument after liveness")
	}
}

// vendor local needs no option; prescreen is a flag.
func TestCaddyfileLocalAndPrescreen(t *testing.T) {
	h, err := parse("liveness {\n vendor spoofsense {\n  api_key k\n }\n vendor local\n prescreen\n}")
	if err != nil {
		t.Fatal(err)
	}
	if len(h.VendorsRaw) != 2 || !h.Prescreen {
		t.Fatalf("vendors %d, prescreen %v", len(h.VendorsRaw), h.Prescreen)
	}
	if got := string(h.VendorsRaw[1]); got != `{"name":"local"}` {
		t.Fatalf("vendor local as %s", got)
	}
	h, err = parse("liveness {\n vendor local {\n  max_concurrent 3\n }\n prescreen false\n}")
	if err != nil {
		t.Fatal(err)
	}
	if got := string(h.VendorsRaw[0]); got != `{"max_concurrent":3,"name":"local"}` || h.Prescreen {
		t.Fatalf("vendor local as %s, prescreen %v", got, h.Prescreen)
	}
}

// A secret placeholder that resolves to nothing fails provisioning, and the
// error names the placeholder, never a value.
func TestEmptySecretPlaceholder(t *testing.T) {
	t.Setenv("LIVENESS_TEST_EMPTY", "")
	h, err := parse("liveness {\n vendor spoofsense {\n api_key {env.LIVENESS_TEST_EMPTY}\n }\n}")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
	defer cancel()
	err = h.Provision(ctx)
	if err == nil || !strings.Contains(err.Error(), "{env.LIVENESS_TEST_EMPTY}") {
		t.Fatalf("err %v, want an error naming the placeholder", err)
	}
}

// The secret in the configuration stays a placeholder after provisioning,
// so /config/ never shows the resolved value.
func TestSecretStaysPlaceholder(t *testing.T) {
	t.Setenv("LIVENESS_TEST_KEY", "s3cr3t-value")
	h, err := parse("liveness {\n vendor spoofsense {\n api_key {env.LIVENESS_TEST_KEY}\n }\n}")
	if err != nil {
		t.Fatal(err)
	}
	raw := string(h.VendorsRaw[0])
	ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
	defer cancel()
	if err := h.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	defer h.Cleanup()
	out, _ := json.Marshal(h)
	if strings.Contains(raw+string(out), "s3cr3t-value") {
		t.Fatal("resolved secret in the configuration")
	}
	if len(h.vendors) != 1 || h.vendors[0].Name() != "spoofsense" {
		t.Fatalf("vendors %v", h.vendors)
	}
}

// Caddy names the module in front of a provisioning error ("provision
// http.handlers.liveness: ..."): the error itself starts with the option,
// not with another "liveness:".
func TestProvisionErrorsStartWithTheOption(t *testing.T) {
	t.Setenv("LV_TEST_EMPTY", "")
	for _, tc := range []struct{ block, start string }{
		{"sign_key {env.LV_TEST_EMPTY}", "sign_key "},
		{"cache redis {\n url {env.LV_TEST_EMPTY}\n }", "cache redis url "},
		{"cache redis {\n cluster a:1 {env.LV_TEST_EMPTY}\n }", "cache redis cluster address "},
		{"cache redis {\n sentinel m {\n addresses s:1\n password {env.LV_TEST_EMPTY}\n }\n }", "cache redis sentinel password "},
		{"max_size 1MiB\n max_buffered 2MiB", "max_buffered "},
	} {
		h, err := parse("liveness {\n vendor spoofsense {\n api_key k\n }\n " + tc.block + "\n}")
		if err != nil {
			t.Fatal(err)
		}
		err = h.Provision(newCaddyContext(t))
		if err == nil {
			h.Cleanup()
			t.Fatalf("%q: provisioned", tc.block)
		}
		if !strings.HasPrefix(err.Error(), tc.start) {
			t.Errorf("%q: error %q, want it to start with %q", tc.block, err, tc.start)
		}
	}
}
