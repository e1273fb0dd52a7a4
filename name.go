package caddyliveness

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
)

// maxNameLen is the longest handler name.
const maxNameLen = 64

// checkName refuses a handler name that is empty, longer than 64
// characters or holds a character other than A-Z a-z 0-9 _ . : / -.
func checkName(name string) error {
	if name == "" || len(name) > maxNameLen {
		return fmt.Errorf("must be 1 to %d characters, got %d", maxNameLen, len(name))
	}
	for i := 0; i < len(name); i++ {
		if !nameChar(name[i]) {
			return fmt.Errorf("%q: only A-Z a-z 0-9 _ . : / - are allowed (it is a metric label value)", name)
		}
	}
	return nil
}

func nameChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("_.:/-", c) >= 0
}

// configName is the default name of a handler configured in JSON without
// one: "liveness-" and the first 8 hex digits of the SHA-256 of its
// configuration as JSON (its fields as decoded, re-encoded: the same
// configuration has the same name on every load). Call it before
// setDefaults and before the vendors are loaded (which clears
// VendorsRaw).
func (h *Handler) configName() (string, error) {
	b, err := json.Marshal(h)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return "liveness-" + hex.EncodeToString(sum[:4]), nil
}

// caddyfileNamesKey is where the names given out in one Caddyfile
// adaptation are kept, in the Helper's State.
const caddyfileNamesKey = "liveness.handler_names"

// caddyfileName is the default name of a liveness directive of a
// Caddyfile: the first address of its site without the scheme
// (host[:port]), then the path of the directive's own matcher (an inline
// path or a named matcher with a path matcher), else the site address's
// path; characters outside the allowed ones become "_" and a path's
// trailing "*" is dropped. A name already given out in this adaptation
// (a default or one set with name) gets "-2", "-3", ... in the order of
// the Caddyfile. The matcher of an enclosing route or handle block is not
// visible to the directive.
func caddyfileName(h httpcaddyfile.Helper, matcherSet caddy.ModuleMap) string {
	base := caddyfileBaseName(h, matcherSet)
	if h.State == nil { // not inside an adaptation: nothing to count
		return base
	}
	taken := caddyfileNames(h)
	name := base
	for n := 2; taken[name]; n++ {
		suffix := "-" + strconv.Itoa(n)
		name = base[:min(len(base), maxNameLen-len(suffix))] + suffix
	}
	taken[name] = true
	return name
}

// caddyfileNames is the set of names given out in this adaptation (a
// throwaway one outside of an adaptation).
func caddyfileNames(h httpcaddyfile.Helper) map[string]bool {
	if h.State == nil {
		return map[string]bool{}
	}
	taken, _ := h.State[caddyfileNamesKey].(map[string]bool)
	if taken == nil {
		taken = map[string]bool{}
		h.State[caddyfileNamesKey] = taken
	}
	return taken
}

func caddyfileBaseName(h httpcaddyfile.Helper, matcherSet caddy.ModuleMap) string {
	key := siteKey(h)
	var where, path string
	switch {
	case h.IsNamedRoute():
		where = "route:" + strings.TrimSuffix(strings.TrimPrefix(key, "&("), ")")
	case key != "":
		where = key
		if a, err := httpcaddyfile.ParseAddress(key); err == nil && a.Host+a.Port != "" {
			where, path = a.Host, a.Path
			if a.Port != "" {
				where += ":" + a.Port
			}
		}
	}
	var paths []string
	if raw, ok := matcherSet["path"]; ok && json.Unmarshal(raw, &paths) == nil && len(paths) > 0 {
		path = paths[0]
	}
	if path != "" && path != "*" && path != "/*" {
		where += strings.TrimSuffix(path, "*")
	}
	name := sanitizeName(where)
	if name == "" {
		name = "liveness"
	}
	return name
}

// sanitizeName puts "_" for every character a name may not hold and cuts
// it to the longest name.
func sanitizeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !nameChar(c) {
			b[i] = '_'
		}
	}
	return string(b[:min(len(b), maxNameLen)])
}

// siteKey is the first address of the site block being adapted ("" when
// it cannot be read). httpcaddyfile.Helper keeps its server block in an
// unexported field and has no method that returns its keys (Caddy
// v2.11.9), so it is read by reflection; should a later Caddy rename the
// field, the name falls back to the matcher's path alone, or to
// "liveness" (numbered), and TestCaddyfileDefaultNames fails.
func siteKey(h httpcaddyfile.Helper) string {
	block := reflect.ValueOf(h).FieldByName("parentBlock")
	if !block.IsValid() || block.Kind() != reflect.Struct {
		return ""
	}
	keys := block.FieldByName("Keys")
	if !keys.IsValid() || keys.Kind() != reflect.Slice || keys.Len() == 0 {
		return ""
	}
	first := keys.Index(0)
	if first.Kind() != reflect.Struct {
		return ""
	}
	text := first.FieldByName("Text")
	if !text.IsValid() || text.Kind() != reflect.String {
		return ""
	}
	return text.String()
}
