package caddyliveness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/caddy-liveness/caddy-liveness/internal/redact"
	"github.com/caddy-liveness/caddy-liveness/vendors"
)

// Exit statuses of `caddy liveness check`.
const (
	cliExitLive    = 0 // every file is live
	cliExitNotLive = 1 // a file is spoof, no_face or inconclusive
	cliExitError   = 2 // usage, config, file or vendor error
)

// Limits of what the check command prints of a vendor's answer.
const ()

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "liveness",
		Usage: "check --config <path> [--adapter <name>] [--site <address>] [--handler <name>] [--route <n>] [--json] <file>...",
		Short: "Tools for the liveness handler (check files against a config's vendors)",
		Long: `
Tools for the http.handlers.liveness module.

'caddy liveness check' asks the vendors of a liveness handler, as configured,
about image or video files, without running a server. See
'caddy liveness check --help'.
`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.AddCommand(newLivenessCheckCommand())
		},
	})
}

// newLivenessCheckCommand builds `caddy liveness check`.
func newLivenessCheckCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "check --config <path> [--adapter <name>] [--site <address>] [--handler <name>] [--route <n>] [--json] <image-or-video>...",
		Short: "Asks a liveness handler's vendors about image or video files",
		Long: `
Loads the config (a Caddyfile by default; a .json file as JSON, or any
adapter given with --adapter), finds the liveness handlers in the HTTP
servers' routes (subroutes included), provisions one exactly as the server
would ({env.*} and {file.*} placeholders resolved) and runs each file
through it: type sniffing, size and pixel limits, cache, vendors in order,
threshold. No server is started.

Each handler is listed with its name (its name option, or the default of
its place in the config). --handler <name> keeps the handlers of that name.
--site <address> keeps the handlers of routes whose host matcher names the
address's host, or of servers listening on its port (e.g. example.com,
localhost:8080, :8080). When several handlers remain, the first is used and
the list is printed; --route <n> picks the n-th (from 0) of that list.

For each file it prints the verdict, score, vendor, reference, reason, cache
hit or miss, latency and every raw vendor answer (path, status, body), with
secrets, tokens and links redacted: JSON values of keys such as token,
access_token, client_secret, api_key, secret, authorization and
declined_proof, anything that looks like a URL or a JWT, data URIs and long
values. A body that is not JSON is cut to 200 bytes; any body to 2 KB.
--json prints one JSON object per file instead.

Exit status: 0 if every file is live, 1 if any is spoof, no_face or
inconclusive (and none failed), 2 on any error: usage, config, an unreadable
or oversized file, or a vendor error.
`,
		Example: `  $ caddy liveness check --config Caddyfile selfie.jpg
  $ caddy liveness check --config Caddyfile --site example.com --json a.jpg b.mp4
  $ caddy liveness check --config Caddyfile --handler example.com/upload selfie.jpg`,
	}
	f := c.Flags()
	f.StringP("config", "c", "", "Configuration file (required)")
	f.StringP("adapter", "a", "", "Config adapter (default caddyfile; none for a .json file)")
	f.String("site", "", "Use the liveness handlers serving this site address")
	f.String("handler", "", "Use the liveness handlers of this name")
	f.Int("route", -1, "Use the n-th (from 0) of the liveness handlers found")
	f.Bool("json", false, "Print one JSON object per file")

	// Flag errors are usage errors: exit status 2, not cobra's 1.
	// WrapCommandFuncForCobra is the only way to hand an exit status to
	// caddycmd.Main.
	c.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return caddycmd.WrapCommandFuncForCobra(func(caddycmd.Flags) (int, error) {
			return cliExitError, fmt.Errorf("%v (see 'caddy liveness check --help')", err)
		})(c, nil)
	})
	c.RunE = func(c *cobra.Command, args []string) error {
		ctx := c.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
		defer stop()
		return caddycmd.WrapCommandFuncForCobra(func(fl caddycmd.Flags) (int, error) {
			return cmdLivenessCheck(ctx, fl, c.OutOrStdout(), c.ErrOrStderr())
		})(c, args)
	}
	return c
}

// cmdLivenessCheck runs `caddy liveness check` with parsed flags; the
// positional arguments are the files. Results go to stdout, notes and
// adapter warnings to stderr.
func cmdLivenessCheck(ctx context.Context, fl caddycmd.Flags, stdout, stderr io.Writer) (int, error) {
	configFile, adapter := fl.String("config"), fl.String("adapter")
	site, byName, route, asJSON := fl.String("site"), fl.String("handler"), fl.Int("route"), fl.Bool("json")
	files := fl.Args()
	switch {
	case configFile == "":
		return cliExitError, errors.New("--config is required")
	case len(files) == 0:
		return cliExitError, errors.New("no file to check: give at least one image or video file")
	case route < -1:
		return cliExitError, fmt.Errorf("--route must be 0 or more, got %d", route)
	}

	cfgJSON, err := cliLoadConfig(configFile, adapter, stderr)
	if err != nil {
		return cliExitError, err
	}
	found, err := cliFindHandlers(cfgJSON)
	if err != nil {
		return cliExitError, err
	}
	if len(found) == 0 {
		return cliExitError, fmt.Errorf("%s: no liveness handler in the HTTP servers' routes", configFile)
	}
	if byName != "" {
		all := found
		found = slices.DeleteFunc(slices.Clone(found), func(f cliHandler) bool { return f.name != byName })
		if len(found) == 0 {
			var b strings.Builder
			cliListHandlers(&b, all, -1)
			return cliExitError, fmt.Errorf("%s: no liveness handler is named %q; the handlers are:\n%s", configFile, byName, b.String())
		}
	}
	if site != "" {
		if found, err = cliFilterSite(found, site); err != nil {
			return cliExitError, err
		}
		if len(found) == 0 {
			return cliExitError, fmt.Errorf("%s: no liveness handler serves site %q", configFile, site)
		}
	}
	idx := 0
	if route >= 0 {
		if route >= len(found) {
			var b strings.Builder
			cliListHandlers(&b, found, -1)
			return cliExitError, fmt.Errorf("--route %d: only %d liveness handler(s) found:\n%s", route, len(found), b.String())
		}
		idx = route
	}
	note := stdout
	if asJSON {
		note = stderr // stdout holds only the per-file objects
	}
	if len(found) > 1 && route < 0 {
		fmt.Fprintf(note, "%d liveness handlers found, using #0 (pick another with --handler <name> or --route <n>):\n", len(found))
		cliListHandlers(note, found, idx)
	} else {
		fmt.Fprintf(note, "using liveness handler %s\n", found[idx].describe())
	}
	if !asJSON {
		fmt.Fprintln(note)
	}

	h, done, err := cliProvision(ctx, found[idx].raw)
	if err != nil {
		return cliExitError, fmt.Errorf("provisioning the liveness handler %s at %s: %w", found[idx].name, found[idx].pointer, err)
	}
	defer done()

	status, notLive, failed := cliExitLive, 0, 0
	for _, name := range files {
		r := cliCheckOne(ctx, h, name)
		r.Handler = h.Name
		if asJSON {
			err = r.writeJSON(stdout)
		} else {
			err = r.writeText(stdout)
		}
		if err != nil {
			return cliExitError, fmt.Errorf("writing the result: %w", err)
		}
		switch s := r.exitStatus(); s {
		case cliExitNotLive:
			notLive++
			status = max(status, s)
		case cliExitError:
			failed++
			status = max(status, s)
		}
	}
	switch status {
	case cliExitError:
		return status, fmt.Errorf("%d of %d file(s) could not be checked", failed, len(files))
	case cliExitNotLive:
		// caddycmd turns status 1 without an error into 0.
		return status, fmt.Errorf("%d of %d file(s) not live", notLive, len(files))
	}
	return cliExitLive, nil
}

// cliLoadConfig reads the config file ("-": stdin) and adapts it to JSON.
// Without --adapter, a .json file is taken as is and anything else as a
// Caddyfile.
func cliLoadConfig(configFile, adapter string, stderr io.Writer) ([]byte, error) {
	var body []byte
	var err error
	if configFile == "-" {
		body, err = io.ReadAll(os.Stdin)
	} else {
		body, err = os.ReadFile(configFile)
	}
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	if adapter == "" && !strings.EqualFold(filepath.Ext(configFile), ".json") {
		adapter = "caddyfile"
	}
	if adapter == "" || adapter == "json" {
		return body, nil
	}
	a := caddyconfig.GetAdapter(adapter)
	if a == nil {
		return nil, fmt.Errorf("unrecognized config adapter: %s", adapter)
	}
	out, warnings, err := a.Adapt(body, map[string]any{"filename": configFile})
	for _, w := range warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w.String())
	}
	if err != nil {
		return nil, fmt.Errorf("adapting config with %s: %w", adapter, err)
	}
	return out, nil
}

// cliHandler is a liveness handler found in a config.
type cliHandler struct {
	name    string // its name, or its default; "" if it cannot be read
	server  string
	listen  []string
	hosts   [][]string // host matchers of the enclosing routes that have one, outermost first
	pointer string     // JSON pointer to the handler
	raw     json.RawMessage
}

func (c cliHandler) describe() string {
	var hosts []string
	for _, lvl := range c.hosts {
		hosts = append(hosts, strings.Join(lvl, "|"))
	}
	h := "any"
	if len(hosts) > 0 {
		h = strings.Join(hosts, " > ")
	}
	name := c.name
	if name == "" {
		name = "(unreadable)"
	}
	return fmt.Sprintf("%s at %s (server %s, listen %s, hosts %s)", name, c.pointer, c.server, strings.Join(c.listen, ","), h)
}

func cliListHandlers(w io.Writer, found []cliHandler, chosen int) {
	for i, f := range found {
		mark := " "
		if i == chosen {
			mark = "*"
		}
		fmt.Fprintf(w, "%s #%d %s\n", mark, i, f.describe())
	}
}

// cliFindHandlers returns every handler "liveness" in the routes of the
// HTTP servers, descending into every handler that has routes (subroute),
// servers in the order of the document.
func cliFindHandlers(cfgJSON []byte) ([]cliHandler, error) {
	var cfg struct {
		Apps struct {
			HTTP struct {
				Servers json.RawMessage `json:"servers"`
			} `json:"http"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(cfgJSON, &cfg); err != nil {
		return nil, fmt.Errorf("reading the adapted config: %w", err)
	}
	names, servers, err := cliOrderedObject(cfg.Apps.HTTP.Servers)
	if err != nil {
		return nil, fmt.Errorf("reading apps.http.servers: %w", err)
	}
	var found []cliHandler
	for _, name := range names {
		var srv struct {
			Listen []string        `json:"listen"`
			Routes json.RawMessage `json:"routes"`
		}
		if err := json.Unmarshal(servers[name], &srv); err != nil {
			return nil, fmt.Errorf("reading server %s: %w", name, err)
		}
		ptr := "/apps/http/servers/" + cliPointerEscape.Replace(name) + "/routes"
		cliWalkRoutes(srv.Routes, ptr, nil, func(ptr string, hosts [][]string, raw json.RawMessage) {
			found = append(found, cliHandler{name: cliHandlerName(raw), server: name, listen: srv.Listen, hosts: hosts, pointer: ptr, raw: raw})
		})
	}
	return found, nil
}

var cliPointerEscape = strings.NewReplacer("~", "~0", "/", "~1")

// cliOrderedObject returns the keys of a JSON object in document order and
// its values. null or nothing is an empty object.
func cliOrderedObject(raw json.RawMessage) ([]string, map[string]json.RawMessage, error) {
	vals := map[string]json.RawMessage{}
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return nil, vals, nil
	}
	if err := json.Unmarshal(raw, &vals); err != nil {
		return nil, nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil { // {
		return nil, nil, err
	}
	var keys []string
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		k, _ := t.(string)
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, nil, err
		}
	}
	return keys, vals, nil
}

// cliWalkRoutes calls visit for every liveness handler in routes, in order,
// with the host matchers of the routes around it.
func cliWalkRoutes(routes json.RawMessage, ptr string, hosts [][]string, visit func(string, [][]string, json.RawMessage)) {
	var rs []struct {
		Match  []map[string]json.RawMessage `json:"match"`
		Handle []json.RawMessage            `json:"handle"`
	}
	if json.Unmarshal(routes, &rs) != nil {
		return
	}
	for i, r := range rs {
		lvl := hosts
		if hs := cliRouteHosts(r.Match); hs != nil {
			lvl = append(slices.Clip(hosts), hs)
		}
		for j, raw := range r.Handle {
			p := fmt.Sprintf("%s/%d/handle/%d", ptr, i, j)
			var hd struct {
				Handler string          `json:"handler"`
				Routes  json.RawMessage `json:"routes"`
			}
			if json.Unmarshal(raw, &hd) != nil {
				continue
			}
			if hd.Handler == "liveness" {
				visit(p, lvl, raw)
			}
			if len(hd.Routes) > 0 {
				cliWalkRoutes(hd.Routes, p+"/routes", lvl, visit)
			}
		}
	}
}

// cliRouteHosts returns the hosts a route's matcher sets restrict it to,
// nil when it matches any host (no match, or a set without a host
// matcher).
func cliRouteHosts(sets []map[string]json.RawMessage) []string {
	if len(sets) == 0 {
		return nil
	}
	var hosts []string
	for _, set := range sets {
		raw, ok := set["host"]
		if !ok {
			return nil
		}
		var hs []string
		if json.Unmarshal(raw, &hs) != nil {
			return nil
		}
		hosts = append(hosts, hs...)
	}
	return hosts
}

// cliFilterSite keeps the handlers serving a site address: the host, when
// given, must be allowed by every host matcher around the handler, and
// named by one or the port must be one the server listens on; a port,
// when given, must be one the server listens on.
func cliFilterSite(found []cliHandler, site string) ([]cliHandler, error) {
	addr, err := httpcaddyfile.ParseAddress(site)
	if err != nil {
		return nil, fmt.Errorf("--site %q: %v", site, err)
	}
	host := strings.ToLower(addr.Host)
	var port uint
	if addr.Port != "" {
		p, err := strconv.ParseUint(addr.Port, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("--site %q: bad port %q", site, addr.Port)
		}
		port = uint(p)
	}
	if host == "" && port == 0 {
		return nil, fmt.Errorf("--site %q: give a host, a port or both", site)
	}
	var out []cliHandler
	for _, f := range found {
		named, allowed := false, true
		for _, lvl := range f.hosts {
			in := slices.ContainsFunc(lvl, func(pattern string) bool { return cliHostMatch(pattern, host) })
			named = named || in
			allowed = allowed && (host == "" || in)
		}
		listens := port != 0 && cliListensOn(f.listen, port)
		if !allowed || (port != 0 && !listens) || !(named || listens) {
			continue
		}
		out = append(out, f)
	}
	return out, nil
}

// cliHostMatch reports whether a host matcher value matches host, with
// Caddy's wildcards: "*" stands for one label.
func cliHostMatch(pattern, host string) bool {
	if host == "" {
		return false
	}
	pattern = strings.ToLower(pattern)
	if pattern == host {
		return true
	}
	if !strings.Contains(pattern, "*") {
		return false
	}
	pl, hl := strings.Split(pattern, "."), strings.Split(host, ".")
	if len(pl) != len(hl) {
		return false
	}
	for i := range pl {
		if pl[i] != "*" && pl[i] != hl[i] {
			return false
		}
	}
	return true
}

func cliListensOn(listen []string, port uint) bool {
	for _, l := range listen {
		na, err := caddy.ParseNetworkAddress(l)
		if err != nil || na.IsUnixNetwork() || na.IsFdNetwork() {
			continue
		}
		if port >= na.StartPort && port <= na.EndPort {
			return true
		}
	}
	return false
}

// cliDecode decodes a handler from its JSON as Caddy does: without the
// module's inline key, unknown fields refused.
func cliDecode(raw json.RawMessage) (*Handler, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, err
	}
	delete(fields, "handler") // the module's inline key, not a field
	stripped, err := json.Marshal(fields)
	if err != nil {
		return nil, err
	}
	h := new(Handler)
	if err := caddy.StrictUnmarshalJSON(stripped, h); err != nil {
		return nil, err
	}
	return h, nil
}

// cliHandlerName is the name the handler of this JSON has once
// provisioned: its name, or the default Provision gives it; "" when the
// JSON cannot be decoded (provisioning it then says why).
func cliHandlerName(raw json.RawMessage) string {
	h, err := cliDecode(raw)
	if err != nil {
		return ""
	}
	if h.Name != "" {
		return h.Name
	}
	name, err := h.configName()
	if err != nil {
		return ""
	}
	return name
}

// cliProvision provisions a handler from its JSON inside a Caddy context,
// as the server would; done cleans the handler and its vendors up.
func cliProvision(ctx context.Context, raw json.RawMessage) (*Handler, func(), error) {
	h, err := cliDecode(raw)
	if err != nil {
		return nil, nil, err
	}
	cctx, cancel := caddy.NewContext(caddy.Context{Context: ctx})
	if err := h.Provision(cctx); err != nil {
		_ = h.Cleanup()
		cancel()
		return nil, nil, err
	}
	return h, func() { _ = h.Cleanup(); cancel() }, nil
}

// cliAnswer is one raw vendor answer, redacted.
type cliAnswer struct {
	Path   string `json:"path"`
	Status int    `json:"status"`
	Body   string `json:"body"`
}

// cliRecorder collects the raw vendor answers of one check. A vendor call
// shared with an earlier check may still report after the check returned,
// from another goroutine; take ends the recording.
type cliRecorder struct {
	mu      sync.Mutex
	answers []cliAnswer
	closed  bool
}

func (r *cliRecorder) record(path string, status int, body []byte) {
	a := cliAnswer{Path: redact.Text(path), Status: status, Body: redact.Body(body)}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		r.answers = append(r.answers, a)
	}
}

func (r *cliRecorder) take() []cliAnswer {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	return r.answers
}

// cliResult is what the command prints about one file.
type cliResult struct {
	Handler   string      `json:"handler"` // the name of the handler that checked it
	File      string      `json:"file"`
	Verdict   string      `json:"verdict"`
	Score     *float64    `json:"score"`
	Vendor    string      `json:"vendor"`
	Reference string      `json:"reference"`
	Reason    string      `json:"reason"`
	Cache     string      `json:"cache"`
	LatencyMS float64     `json:"latency_ms"`
	SHA256    string      `json:"image_sha256,omitempty"`
	Error     string      `json:"error,omitempty"`
	Answers   []cliAnswer `json:"vendor_answers"`
}

// cliCheckOne reads a file (at most the handler's max_size) and runs it
// through the handler.
func cliCheckOne(ctx context.Context, h *Handler, name string) cliResult {
	r := cliResult{File: name, Answers: []cliAnswer{}}
	data, reason, err := cliReadFile(name, h.MaxSize)
	if err != nil {
		r.Verdict, r.Reason, r.Error = string(VerdictError), reason, redact.Text(err.Error())
		return r
	}
	rec := new(cliRecorder)
	start := time.Now()
	o := h.checkFile(vendors.WithRawRecorder(ctx, rec.record), data)
	took := time.Since(start)
	r.Answers = append(r.Answers, rec.take()...)
	r.LatencyMS = float64(took.Microseconds()) / 1000
	r.Verdict, r.Vendor, r.Reason, r.Reference = string(o.verdict), o.vendor, o.reason, o.reference
	if o.hasScore {
		s := o.score
		r.Score = &s
	}
	if o.vendor != "" {
		r.Cache = o.cacheString()
	}
	if len(o.sums) > 0 {
		r.SHA256 = o.sums[0]
	}
	switch {
	case o.input != nil:
		r.Error = o.input.Msg
	case o.err != nil:
		r.Error = redact.Text(o.err.Error())
	}
	if r.Verdict == "" {
		r.Verdict = string(VerdictError)
	}
	return r
}

// cliReadFile reads a file of at most limit bytes. On failure, reason is
// "too_large" (over limit) or "unreadable".
func cliReadFile(name string, limit int64) (data []byte, reason string, err error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, "unreadable", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, "unreadable", err
	}
	if fi.IsDir() {
		return nil, "unreadable", fmt.Errorf("%s is a directory", name)
	}
	if fi.Mode().IsRegular() && fi.Size() > limit {
		return nil, "too_large", fmt.Errorf("%s is %d bytes, over the handler's max_size of %d", name, fi.Size(), limit)
	}
	data, err = io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, "unreadable", err
	}
	if int64(len(data)) > limit {
		return nil, "too_large", fmt.Errorf("%s is over the handler's max_size of %d bytes", name, limit)
	}
	return data, "", nil
}

func (r cliResult) exitStatus() int {
	switch Verdict(r.Verdict) {
	case VerdictLive:
		return cliExitLive
	case VerdictSpoof, VerdictNoFace, VerdictInconclusive:
		return cliExitNotLive
	}
	return cliExitError
}

func (r cliResult) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

func (r cliResult) writeText(w io.Writer) error {
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	score := "-"
	if r.Score != nil {
		score = strconv.FormatFloat(*r.Score, 'f', 4, 64)
	}
	var b strings.Builder
	line := func(k, v string) { fmt.Fprintf(&b, "%-10s %s\n", k, v) }
	line("handler", r.Handler)
	line("file", redact.Printable(r.File))
	line("verdict", r.Verdict)
	line("score", score)
	line("vendor", dash(r.Vendor))
	line("reference", dash(r.Reference))
	line("reason", dash(r.Reason))
	line("cache", dash(r.Cache))
	line("latency", strconv.FormatFloat(r.LatencyMS, 'f', 3, 64)+"ms")
	if r.SHA256 != "" {
		line("sha256", r.SHA256)
	}
	if r.Error != "" {
		line("error", redact.Printable(r.Error))
	}
	for i, a := range r.Answers {
		line(fmt.Sprintf("answer %d", i+1), fmt.Sprintf("%d %s", a.Status, a.Path))
		line("", dash(a.Body))
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}
