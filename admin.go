package caddyliveness

import (
	"cmp"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/caddyserver/caddy/v2"
)

func init() {
	caddy.RegisterModule(adminAPI{})
}

// handlerSet holds every provisioned handler, for the admin API.
var handlerSet sync.Map // *Handler → struct{}

// adminAPI serves the liveness endpoints of Caddy's admin API:
//
//	GET  /liveness/stats        cache backend, entries and hit rate, per-vendor breaker state and error counts, and each handler's own by name
//	POST /liveness/cache/purge  empty body: every verdict; {"image_sha256": "<hex>"}: that image's
type adminAPI struct{}

// CaddyModule returns the Caddy module information.
func (adminAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.liveness",
		New: func() caddy.Module { return new(adminAPI) },
	}
}

// Routes implements caddy.AdminRouter.
func (a adminAPI) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{
		{Pattern: "/liveness/stats", Handler: caddy.AdminHandlerFunc(a.stats)},
		{Pattern: "/liveness/cache/purge", Handler: caddy.AdminHandlerFunc(a.purge)},
	}
}

// Stats is the answer of GET /liveness/stats: the totals of the running
// configuration, and each handler's own.
type Stats struct {
	Cache   CacheStats    `json:"cache"`
	Vendors []VendorStats `json:"vendors"` // every handler's, by handler name
	// By name; handlers that share a name are listed each.
	Handlers []HandlerStats `json:"handlers"`
}

// HandlerStats is one handler's part of the stats, counted since its
// configuration loaded.
type HandlerStats struct {
	Name string `json:"name"`
	Mode string `json:"mode"`
	// Decisions by verdict: live, spoof, no_face, inconclusive, error,
	// missing (no image).
	Decisions map[string]int64 `json:"decisions"`
	// Its verdict store's backend (memory or redis), and its own cache
	// lookups of it.
	Backend string        `json:"backend"`
	Hits    int64         `json:"hits"`
	Misses  int64         `json:"misses"`
	HitRate float64       `json:"hit_rate"`
	Vendors []VendorStats `json:"vendors"`
}

// CacheStats counts over every verdict cache of the running configuration.
type CacheStats struct {
	// memory, redis, or both when handlers differ.
	Backend string `json:"backend"`
	// With Redis, the verdicts under each distinct prefix; counted in
	// local memory for a Redis that does not answer (then degraded).
	Entries  int     `json:"entries"`
	Degraded bool    `json:"degraded,omitempty"`
	Hits     int64   `json:"hits"`
	Misses   int64   `json:"misses"`
	HitRate  float64 `json:"hit_rate"` // hits / (hits + misses), 0 without lookups
}

// VendorStats describes one vendor client of one handler.
type VendorStats struct {
	Handler string           `json:"handler"` // the handler's name
	Vendor  string           `json:"vendor"`
	Breaker string           `json:"breaker"` // closed, half-open or open
	Errors  map[string]int64 `json:"errors"`  // failed calls by kind since the configuration loaded
}

// handlers returns the provisioned handlers by name.
func handlers() []*Handler {
	var hs []*Handler
	handlerSet.Range(func(k, _ any) bool {
		hs = append(hs, k.(*Handler))
		return true
	})
	slices.SortStableFunc(hs, func(a, b *Handler) int { return cmp.Compare(a.Name, b.Name) })
	return hs
}

// decisionVerdicts are what a decision is counted under: every verdict,
// and missing (no image).
var decisionVerdicts = [...]string{string(VerdictLive), string(VerdictSpoof), string(VerdictNoFace), string(VerdictInconclusive), string(VerdictError), "missing"}

// handlerCounts is what one handler counts for the admin API, since its
// configuration loaded: atomics, since every request adds to them.
type handlerCounts struct {
	hits, misses atomic.Int64 // cache lookups
	decisions    [len(decisionVerdicts)]atomic.Int64
}

func (c *handlerCounts) decided(verdict string) {
	if i := slices.Index(decisionVerdicts[:], verdict); i >= 0 {
		c.decisions[i].Add(1)
	}
}

// decisionCounts are the decisions by verdict, those counted at least once.
func (c *handlerCounts) decisionCounts() map[string]int64 {
	out := map[string]int64{}
	for i, v := range decisionVerdicts {
		if n := c.decisions[i].Load(); n > 0 {
			out[v] = n
		}
	}
	return out
}

func hitRate(hits, misses int64) float64 {
	if n := hits + misses; n > 0 {
		return float64(hits) / float64(n)
	}
	return 0
}

func (adminAPI) stats(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed, Err: errors.New("method not allowed")}
	}
	st := Stats{Vendors: []VendorStats{}, Handlers: []HandlerStats{}}
	seen := map[*shared]bool{}
	counted := map[string]bool{} // Redis keyspaces already counted
	for _, h := range handlers() {
		if !seen[h.shared] { // handlers with the same cache share it
			seen[h.shared] = true
			if id := h.shared.store.RemoteID(); id == "" || !counted[id] {
				counted[id] = id != ""
				n, degraded := h.shared.store.Entries(r.Context())
				st.Cache.Entries += n
				st.Cache.Degraded = st.Cache.Degraded || degraded
			}
			switch b := h.shared.store.Backend(); st.Cache.Backend {
			case "":
				st.Cache.Backend = b
			case b:
			default:
				st.Cache.Backend = "both"
			}
			st.Cache.Hits += h.shared.hits.Load()
			st.Cache.Misses += h.shared.misses.Load()
		}
		hs := HandlerStats{Name: h.Name, Mode: h.Mode, Decisions: h.counts.decisionCounts(), Backend: h.shared.store.Backend(),
			Hits: h.counts.hits.Load(), Misses: h.counts.misses.Load(), Vendors: []VendorStats{}}
		hs.HitRate = hitRate(hs.Hits, hs.Misses)
		for _, g := range h.guards {
			vs := VendorStats{Handler: h.Name, Vendor: g.vendor.Name(), Breaker: g.breaker.State().String(), Errors: g.errorCounts()}
			st.Vendors = append(st.Vendors, vs)
			hs.Vendors = append(hs.Vendors, vs)
		}
		st.Handlers = append(st.Handlers, hs)
	}
	st.Cache.HitRate = hitRate(st.Cache.Hits, st.Cache.Misses)
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(st)
}

func (adminAPI) purge(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodPost {
		return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed, Err: errors.New("method not allowed")}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<10))
	if err != nil {
		return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: err}
	}
	var sum []byte
	if len(strings.TrimSpace(string(body))) > 0 {
		var req struct {
			ImageSHA256 string `json:"image_sha256"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: fmt.Errorf("body must be empty or {\"image_sha256\": \"<hex>\"}")}
		}
		sum, err = hex.DecodeString(req.ImageSHA256)
		if err != nil || len(sum) != 32 {
			return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: errors.New("image_sha256 must be 64 hex digits")}
		}
	}
	purged := 0
	seen := map[*shared]bool{}
	for _, h := range handlers() {
		if !seen[h.shared] {
			seen[h.shared] = true
			n, err := h.shared.store.Purge(r.Context(), sum)
			if err != nil {
				return caddy.APIError{HTTPStatus: http.StatusServiceUnavailable, Err: fmt.Errorf("purging the verdicts in redis failed (this instance's memory was purged): %v", err)}
			}
			purged += n
		}
	}
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(map[string]int{"purged": purged})
}

// Interface guard
var _ caddy.AdminRouter = adminAPI{}
