package caddyliveness

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
)

const nameTestVendor = "vendor spoofsense {\n\t\tapi_key k\n\t}"

func TestNameOption(t *testing.T) {
	for _, name := range []string{"upload", "a", "upload.example.com/upload", ":8080/upload", "A-Z_0.9:/-", strings.Repeat("x", 64)} {
		h, err := parse("liveness {\n\tname " + name + "\n\t" + nameTestVendor + "\n}")
		if err != nil || h.Name != name {
			t.Errorf("name %s: %q, %v", name, h.Name, err)
		}
	}
	// Refused at adapt time, at the line of the option (line 5 here).
	for what, line := range map[string]string{
		"too long":         "name " + strings.Repeat("x", 65),
		"space":            `name "two words"`,
		"hash":             "name upload#2",
		"non-ASCII":        "name tést",
		"placeholder":      "name {env.NAME}",
		"empty":            `name ""`,
		"no value":         "name",
		"two values":       "name a b",
		"given twice":      "name a\n\tname b",
		"comma (PromQL)":   "name a,b",
		"quote (label)":    `name a"b`,
		"equals (label)":   "name a=b",
		"backslash":        `name a\b`,
		"star (wildcards)": "name *.example.com",
	} {
		_, err := parse("liveness {\n\t" + nameTestVendor + "\n\t" + line + "\n}")
		want := "Testfile:5"
		if what == "given twice" {
			want = "Testfile:6"
		}
		argCount := what == "no value" || what == "two values" // the generic argument count error
		if err == nil || !strings.Contains(err.Error(), want) || !argCount && !strings.Contains(err.Error(), "name") {
			t.Errorf("%s (%s): %v; want an error about name at %s", what, line, err, want)
		}
	}
}

// A name in JSON is checked at provisioning.
func TestNameRefusedAtProvision(t *testing.T) {
	for _, name := range []string{"two words", strings.Repeat("n", 65), "a#b", "ü"} {
		h := &Handler{Name: name, VendorsRaw: []json.RawMessage{json.RawMessage(`{"name":"spoofsense","api_key":"k"}`)}}
		err := h.Provision(newCaddyContext(t))
		h.Cleanup()
		if err == nil || !strings.HasPrefix(err.Error(), "name ") {
			t.Errorf("name %q: %v; want an error starting with the option", name, err)
		}
	}
}

// adaptNames adapts a Caddyfile with Caddy's adapter and returns the names
// of its liveness handlers, in the order of the JSON.
func adaptNames(t *testing.T, caddyfile string) []string {
	t.Helper()
	out, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), map[string]any{"filename": "Caddyfile"})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range warnings {
		t.Logf("warning: %s", w.String())
	}
	found, err := cliFindHandlers(out)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range found {
		var h struct{ Name string }
		if err := json.Unmarshal(f.raw, &h); err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
	slices.Sort(names)
	return names
}

func TestCaddyfileDefaultNames(t *testing.T) {
	lv := func(args string) string { return "\tliveness " + args + "{\n\t\t" + nameTestVendor + "\n\t}\n" }
	in := func(block, body string) string {
		return "\t" + block + " {\n\t" + strings.ReplaceAll(body, "\n\t", "\n\t\t") + "\t}\n"
	}
	caddyfile := "{\n\tauto_https off\n}\n" +
		// Two handlers in one site, each with its own path matcher,
		// and two more whose paths belong to their route blocks (not
		// visible to the directive): numbered.
		"upload.example.com, other.example.com {\n" +
		"\t@video path /video/*\n" +
		lv("/upload ") + lv("@video ") +
		in("route /a", lv("")) + in("handle /b", lv("")) +
		"}\n" +
		// Two sites whose handlers would get the same name.
		"http://twice.example.com {\n" + lv("") + "}\n" +
		"https://twice.example.com {\n" + lv("") + "}\n" +
		// A port, a path prefix, a site address's own path.
		":8080 {\n" + lv("/upload* ") + "}\n" +
		"api.example.com:8443/v1/* {\n" + lv("") + "}\n" +
		// A name given is kept, and a default avoids it.
		":9090 {\n\tliveness {\n\t\tname taken.example.com\n\t\t" + nameTestVendor + "\n\t}\n}\n" +
		"taken.example.com {\n" + lv("") + "}\n" +
		// A wildcard host.
		"*.wild.example.com {\n" + lv("") + "}\n" +
		""
	got := adaptNames(t, caddyfile)
	want := []string{
		":8080/upload",
		"_.wild.example.com",
		"api.example.com:8443/v1/",
		"taken.example.com",
		"taken.example.com-2",
		"twice.example.com",
		"twice.example.com-2",
		"upload.example.com",
		"upload.example.com-2",
		"upload.example.com/upload",
		"upload.example.com/video/",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("names\n%q\nwant\n%q", got, want)
	}
	// The same Caddyfile adapted again (a reload) gives the same names.
	if again := adaptNames(t, caddyfile); !slices.Equal(again, got) {
		t.Fatalf("second adaptation: %q", again)
	}
	for _, n := range got {
		if err := checkName(n); err != nil {
			t.Errorf("default %q: %v", n, err)
		}
	}
}

// A long site address is cut so that the number still fits.
func TestCaddyfileDefaultNameLength(t *testing.T) {
	host := strings.Repeat("a", 40) + "." + strings.Repeat("b", 40) + ".example"
	lv := "\tliveness /upload {\n\t\t" + nameTestVendor + "\n\t}\n"
	got := adaptNames(t, "http://"+host+" {\n"+lv+"}\nhttps://"+host+" {\n"+lv+"}\n")
	if !slices.Equal(got, []string{host[:62] + "-2", host[:64]}) {
		t.Fatalf("names %q", got)
	}
}

// A handler configured in JSON without a name gets liveness-<8 hex of the
// SHA-256 of its configuration>: the same on every load, whatever the
// formatting, another when the configuration changes.
func TestJSONDefaultName(t *testing.T) {
	provisioned := func(cfg string) string {
		t.Helper()
		h := new(Handler)
		if err := caddy.StrictUnmarshalJSON([]byte(cfg), h); err != nil {
			t.Fatal(err)
		}
		if err := h.Provision(newCaddyContext(t)); err != nil {
			t.Fatal(err)
		}
		h.Cleanup()
		return h.Name
	}
	a := provisioned(`{"vendors": [{"name": "spoofsense", "api_key": "k"}], "mode": "annotate"}`)
	if !regexp.MustCompile(`^liveness-[0-9a-f]{8}$`).MatchString(a) {
		t.Fatalf("default name %q", a)
	}
	if again := provisioned(`{"mode":"annotate","vendors":[{"name":"spoofsense","api_key":"k"}]}`); again != a {
		t.Errorf("the same configuration reloaded (reformatted) is %q, was %q", again, a)
	}
	for _, other := range []string{
		`{"vendors": [{"name": "spoofsense", "api_key": "k"}]}`,
		`{"vendors": [{"name": "spoofsense", "api_key": "j"}], "mode": "annotate"}`,
		`{"vendors": [{"name": "spoofsense", "api_key": "k"}], "mode": "annotate", "max_size": 1000000}`,
	} {
		if b := provisioned(other); b == a {
			t.Errorf("%s has the name of another configuration, %q", other, a)
		}
	}
	if n := provisioned(`{"name": "given", "vendors": [{"name": "spoofsense", "api_key": "k"}]}`); n != "given" {
		t.Errorf("a given name became %q", n)
	}
	// What the check command lists is what Provision gives.
	if n := cliHandlerName(json.RawMessage(`{"handler": "liveness", "vendors": [{"name": "spoofsense", "api_key": "k"}], "mode": "annotate"}`)); n != a {
		t.Errorf("the check command names it %q, Provision %q", n, a)
	}
}

// A handler in a named route is named after the route (named routes are
// adapted apart from the sites, with their own count).
func TestCaddyfileDefaultNameOfANamedRoute(t *testing.T) {
	out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte("&(gate) {\n\tliveness {\n\t\t"+nameTestVendor+"\n\t}\n}\n"+
		"invoked.example.com {\n\tinvoke gate\n}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `"name":"route:gate"`) {
		t.Fatalf("no handler named route:gate in %s", out)
	}
}
