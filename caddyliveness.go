// Package caddyliveness is a Caddy HTTP handler that asks a face liveness
// vendor about the images in a request, caches the verdict by image hash,
// and blocks the request or forwards it upstream, body untouched, with
// verdict headers.
package caddyliveness

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/textproto"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/caddy-liveness/caddy-liveness/internal/body"
	"github.com/caddy-liveness/caddy-liveness/internal/extract"
	"github.com/caddy-liveness/caddy-liveness/internal/store"
	"github.com/caddy-liveness/caddy-liveness/vendors"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Defaults.
const (
	DefaultMaxSize         = 10 << 20 // 10 MiB
	DefaultMaxPixels       = 40_000_000
	DefaultTimeout         = 10 * time.Second
	DefaultCacheTTL        = 24 * time.Hour
	DefaultCacheEntries    = 100_000
	DefaultHeaderPrefix    = "X-Liveness-"
	DefaultDuplicateWindow = time.Minute
)

// Defaults of the memory bounds.
const (
	// DefaultMaxBuffered is the budget of bytes held for requests: body
	// buffers, decoded images and vendor request bodies. 256 MiB is 25
	// uploads at the default max_size held at once, or hundreds of
	// ordinary selfies, and leaves a 1 GiB box room for Caddy and the
	// rest of its sites.
	DefaultMaxBuffered = 256 << 20
	// DefaultMaxImages bounds the vendor calls one request can cost: a
	// selfie with both sides of an ID is three.
	DefaultMaxImages   = 4
	DefaultBodyTimeout = time.Minute
	// DefaultBodyMinRate, after bodyGrace, is slow mobile uplink speed: a
	// 2 MB selfie arrives within two minutes even at it.
	DefaultBodyMinRate = 16 << 10
	// bodyGrace is how long a body may arrive slower than the minimum
	// rate at its start (a connection warming up).
	bodyGrace = 5 * time.Second
)

// usagePool holds each configuration's cache and in-flight calls, keyed by the
// parts of the configuration that change what is cached, so that a reload
// that leaves them alone keeps the cache.
var usagePool = caddy.NewUsagePool()

// Handler checks the faces in matched requests with a liveness vendor.
type Handler struct {
	// The handler's name: the "handler" field of its decision log lines,
	// the "handler" label of every caddy_liveness_* metric, its entry in
	// the admin API's /liveness/stats and in `caddy liveness check`'s
	// list. 1 to 64 characters of A-Z a-z 0-9 _ . : / - (it becomes a
	// metric label value, so keep it stable and let it not come from
	// requests). Two handlers may share a name; their counts then add up.
	//
	// Unset, it is derived from the handler's place in the config. The
	// Caddyfile adapter takes the site's first address without its scheme
	// (host, :port or host:port) followed by the path of the directive's
	// own matcher (an inline path such as /upload, or a named matcher with
	// a path), else of the site address: "upload.example.com/upload",
	// ":8080/upload". Other characters become "_" and a trailing "*" of
	// the path is dropped. The matcher of an enclosing route or handle
	// block is not visible to the directive: a second handler of the same
	// site then gets "-2", a third "-3", ..., in the order of the
	// Caddyfile, as does any repeat of a name already given in it. A
	// handler configured in JSON without a name gets "liveness-" and the
	// first 8 hex digits of the SHA-256 of its configuration (its fields
	// re-encoded as JSON): the same on every load while the configuration
	// is unchanged, another when it changes.
	Name string `json:"name,omitempty"`

	// The vendors to ask, in order: the first is primary, the next is
	// used only when the one before fails with a vendor error (never
	// because it answered spoof). Each is a module in the namespace
	// http.handlers.liveness.vendors, named by its "name" key.
	VendorsRaw []json.RawMessage `json:"vendors,omitempty" caddy:"namespace=http.handlers.liveness.vendors inline_key=name"`

	// Where the images are. Empty: multipart file parts, a raw body that
	// sniffs as an image, and data:image URIs in JSON or form values.
	Sources []Source `json:"sources,omitempty"`

	// The liveness score (0..1, higher = live) above which a face is
	// live. Unset: the vendor's own decision, or its documented default.
	Threshold *float64 `json:"threshold,omitempty"`

	// "enforce" (default) blocks; "annotate" adds the verdict headers and
	// never blocks; "shadow" never blocks and adds no headers (logs and
	// placeholders only).
	Mode string `json:"mode,omitempty"`

	// What to do when the vendor fails or gives no answer in time: "deny"
	// (default, 503) or "allow".
	OnError string `json:"on_error,omitempty"`

	// What to do when the vendor finds no face: "deny" (default, 422) or
	// "allow".
	OnNoFace string `json:"on_no_face,omitempty"`

	// What to do when a matched request holds no image: "deny" (default,
	// 400) or "allow".
	OnMissing string `json:"on_missing,omitempty"`

	// The largest request body in bytes; a larger one is 413. Default
	// 10 MiB.
	MaxSize int64 `json:"max_size,omitempty"`

	// The most pixels (width x height) an image may declare in its
	// header; more is 413, decided before any decoding. Default 40000000.
	MaxPixels int64 `json:"max_pixels,omitempty"`

	// The bytes that requests may hold at once: body buffers, decoded
	// images and vendor request bodies. Every liveness handler of the
	// process with the same value (the default included) draws from one
	// budget, across config reloads. A request that cannot get its share
	// within a second is 503 with Retry-After (in annotate and shadow it
	// passes unchecked, verdict error, reason overloaded). One client
	// address may hold at most a quarter of it, so it must be at least 12
	// times max_size. Default 256 MiB.
	MaxBuffered int64 `json:"max_buffered,omitempty"`

	// The most images and videos judged in one request; more is 413
	// before any vendor call. Default 4.
	MaxImages int `json:"max_images,omitempty"`

	// The time the whole body has to arrive in, from when the handler
	// starts reading it (never past the server's own read timeout).
	// Default 1m.
	BodyTimeout caddy.Duration `json:"body_timeout,omitempty"`

	// The slowest a body may arrive after its first 5 s, in bytes a
	// second on average; a slower one is 408 (reason slow_body). Default
	// 16 KiB.
	BodyMinRate int64 `json:"body_min_rate,omitempty"`

	// The deadline of the whole vendor decision for a request. Default 10s.
	Timeout caddy.Duration `json:"timeout,omitempty"`

	// The verdict cache.
	Cache *CacheConfig `json:"cache,omitempty"`

	// The prefix of the verdict headers. Default "X-Liveness-".
	HeaderPrefix string `json:"header_prefix,omitempty"`

	// Further attempts after a retryable vendor error (network, 5xx, 429),
	// with exponential backoff and jitter, within the timeout. Default 2.
	Retries *int `json:"retries,omitempty"`

	// The circuit breaker kept for each vendor.
	Breaker *BreakerConfig `json:"breaker,omitempty"`

	// The most calls in flight to each vendor; further requests wait
	// within their timeout, then follow on_error. Default 64.
	MaxConcurrent int `json:"max_concurrent,omitempty"`

	// What to do with an image seen before (byte-identical, within the
	// cache TTL): "allow" (default; counted in metrics and the
	// {http.liveness.duplicate} placeholder), "annotate" (adds
	// <prefix>Duplicate: <count>) or "deny" (403, reason duplicate).
	OnDuplicate string `json:"on_duplicate,omitempty"`

	// Repeats within this time of the first sighting count as the first
	// (a client retrying), not as duplicates. Default 1m.
	DuplicateWindow caddy.Duration `json:"duplicate_window,omitempty"`

	// A secret that makes the handler sign the verdict headers it forwards:
	// <prefix>Signature carries an HMAC-SHA256 over them, the image hashes,
	// the method, the path and a timestamp (see package verify, which
	// upstreams import to check it). Placeholders such as {env.X} are
	// resolved at provisioning.
	SignKey string `json:"sign_key,omitempty"`

	// Prescreen runs the offline face detector of vendor local before the
	// vendors that send the image away: an image with no face, several
	// faces or a face too small to judge gets no_face (reasons
	// face_not_detected, several_faces, face_too_small) without a vendor
	// call. Its answers are cached like a vendor's.
	Prescreen bool `json:"prescreen,omitempty"`

	vendors   []vendors.Vendor
	prescreen *vendors.Prescreen // nil unless Prescreen
	signKey   []byte
	guards    []*guard         // one per vendor, same order
	now       func() time.Time // the clock of duplicate windows; tests set it
	x         *extract.Extractor
	budget    *body.Budget
	budgetKey string
	bodyGrace time.Duration // bodyGrace; tests shorten it
	shared    *shared
	poolKey   string
	logger    *zap.Logger
	counts    *handlerCounts // this handler's own, for the admin API
}

// CacheConfig sets up the verdict cache and the duplicate registry.
type CacheConfig struct {
	// Where verdicts and sightings are kept: "memory" (default: this
	// process) or "redis" (shared by every instance using the same Redis
	// and prefix; set Redis).
	Backend string `json:"backend,omitempty"`
	// How long a verdict (and an image's sightings, from the first) is
	// kept. Default 24h.
	TTL caddy.Duration `json:"ttl,omitempty"`
	// The most verdicts (and sightings) kept in memory; past it the
	// oldest goes. With Redis, the bound of the local memory used while
	// Redis fails. Default 100000.
	MaxEntries int `json:"max_entries,omitempty"`
	// The Redis server, for backend "redis".
	Redis *RedisConfig `json:"redis,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.liveness",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision sets defaults, loads the vendors and takes the shared state.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	if h.Name == "" {
		name, err := h.configName()
		if err != nil {
			return err
		}
		h.Name = name
	}
	h.setDefaults()
	if err := h.validate(); err != nil {
		return err
	}
	h.x = &extract.Extractor{Sources: h.Sources, MaxPixels: h.MaxPixels, MaxImages: h.MaxImages}
	if h.SignKey != "" {
		key, err := vendors.ResolveSecret("sign_key", h.SignKey)
		if err != nil {
			return err
		}
		h.signKey = []byte(key)
	}
	if err := registerMetrics(ctx.GetMetricsRegistry()); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	var err error

	// The Redis options are resolved now: their values are part of the
	// key (a changed password connects anew), hashed.
	var redisOpts *redis.UniversalOptions
	if h.Cache.Backend == "redis" {
		if redisOpts, err = h.Cache.Redis.options(); err != nil {
			return err
		}
	}
	var resolved [32]byte
	if redisOpts != nil {
		o := redisOpts
		resolved = sha256.Sum256([]byte(strings.Join([]string{strings.Join(o.Addrs, ","), strconv.FormatBool(o.IsClusterMode), o.MasterName,
			o.Username, o.Password, o.SentinelPassword, strconv.Itoa(o.DB)}, "\x00")))
	}
	// The key is taken before LoadModule, which clears VendorsRaw.
	keySrc, err := json.Marshal([]any{h.VendorsRaw, h.Cache, resolved})
	if err != nil {
		return err
	}
	sum := sha256.Sum256(keySrc)
	key := "liveness:" + hex.EncodeToString(sum[:])

	mods, err := ctx.LoadModule(h, "VendorsRaw")
	if err != nil {
		return fmt.Errorf("loading vendors: %w", err)
	}
	for _, m := range mods.([]any) {
		v, ok := m.(vendors.Vendor)
		if !ok {
			return fmt.Errorf("module %T is not a liveness vendor", m)
		}
		h.vendors = append(h.vendors, v)
		h.guards = append(h.guards, newGuard(h.Name, v, h.MaxConcurrent, *h.Retries, *h.Breaker))
	}
	if len(h.vendors) == 0 {
		return fmt.Errorf("at least one vendor is required")
	}
	if h.Prescreen {
		if h.prescreen, err = vendors.NewPrescreen(runtime.GOMAXPROCS(0)); err != nil {
			return err
		}
	}

	cfg := store.Config[vendors.Result]{TTL: time.Duration(h.Cache.TTL), MaxEntries: h.Cache.MaxEntries, Redis: redisOpts}
	if redisOpts != nil {
		cfg.Prefix, cfg.Replicas = h.Cache.Redis.Prefix, h.Cache.Redis.Replicas
	}
	st, _, err := usagePool.LoadOrNew(key, func() (caddy.Destructor, error) { return newShared(cfg), nil })
	if err != nil {
		return err
	}
	h.shared, h.poolKey = st.(*shared), key
	h.shared.addUser(h.Name)
	bkey := "liveness-budget:" + strconv.FormatInt(h.MaxBuffered, 10)
	b, _, err := usagePool.LoadOrNew(bkey, func() (caddy.Destructor, error) { return body.NewBudget(h.MaxBuffered), nil })
	if err != nil {
		return err
	}
	h.budget, h.budgetKey = b.(*body.Budget), bkey
	h.shared.store.SetLogger(h.logger)
	handlerSet.Store(h, struct{}{})
	return nil
}

// setDefaults fills in every option left unset.
func (h *Handler) setDefaults() {
	h.now = time.Now
	h.counts = new(handlerCounts)
	h.bodyGrace = bodyGrace
	if h.Mode == "" {
		h.Mode = "enforce"
	}
	for _, p := range []*string{&h.OnError, &h.OnNoFace, &h.OnMissing} {
		if *p == "" {
			*p = "deny"
		}
	}
	if h.MaxSize == 0 {
		h.MaxSize = DefaultMaxSize
	}
	if h.MaxPixels == 0 {
		h.MaxPixels = DefaultMaxPixels
	}
	if h.MaxBuffered == 0 {
		h.MaxBuffered = DefaultMaxBuffered
	}
	if h.MaxImages == 0 {
		h.MaxImages = DefaultMaxImages
	}
	if h.BodyTimeout == 0 {
		h.BodyTimeout = caddy.Duration(DefaultBodyTimeout)
	}
	if h.BodyMinRate == 0 {
		h.BodyMinRate = DefaultBodyMinRate
	}
	if h.Timeout == 0 {
		h.Timeout = caddy.Duration(DefaultTimeout)
	}
	if h.Cache == nil {
		h.Cache = new(CacheConfig)
	}
	if h.Cache.TTL == 0 {
		h.Cache.TTL = caddy.Duration(DefaultCacheTTL)
	}
	if h.Cache.MaxEntries == 0 {
		h.Cache.MaxEntries = DefaultCacheEntries
	}
	if h.Cache.Backend == "" {
		h.Cache.Backend = "memory"
		if h.Cache.Redis != nil {
			h.Cache.Backend = "redis"
		}
	}
	if h.Cache.Redis != nil && h.Cache.Redis.Prefix == "" {
		h.Cache.Redis.Prefix = DefaultRedisPrefix
	}
	if h.HeaderPrefix == "" {
		h.HeaderPrefix = DefaultHeaderPrefix
	}
	if h.Retries == nil {
		h.Retries = new(int)
		*h.Retries = DefaultRetries
	}
	if h.Breaker == nil {
		h.Breaker = new(BreakerConfig)
	}
	if h.Breaker.Failures == 0 {
		h.Breaker.Failures = DefaultBreakerFailures
	}
	if h.Breaker.Cooldown == 0 {
		h.Breaker.Cooldown = caddy.Duration(DefaultBreakerCooldown)
	}
	if h.MaxConcurrent == 0 {
		h.MaxConcurrent = DefaultMaxConcurrent
	}
	if h.OnDuplicate == "" {
		h.OnDuplicate = "allow"
	}
	if h.DuplicateWindow == 0 {
		h.DuplicateWindow = caddy.Duration(DefaultDuplicateWindow)
	}
	h.HeaderPrefix = textproto.CanonicalMIMEHeaderKey(h.HeaderPrefix)
}

// validate checks the configuration; Provision calls it after defaults.
func (h *Handler) validate() error {
	if h.Name != "" { // unset, Provision has given it its default
		if err := checkName(h.Name); err != nil {
			return fmt.Errorf("name %w", err)
		}
	}
	if err := oneOf("mode", h.Mode, modes...); err != nil {
		return err
	}
	if err := oneOf("on_duplicate", h.OnDuplicate, duplicatePolicies...); err != nil {
		return err
	}
	if err := oneOf("cache backend", h.Cache.Backend, cacheBackends...); err != nil {
		return err
	}
	switch {
	case h.Cache.Backend == "redis" && h.Cache.Redis == nil:
		return fmt.Errorf("cache backend redis needs its redis settings")
	case h.Cache.Backend == "memory" && h.Cache.Redis != nil:
		return fmt.Errorf("cache redis settings given for backend memory")
	case h.Cache.Redis != nil:
		if err := h.Cache.Redis.validate(); err != nil {
			return err
		}
	}
	for _, p := range []struct{ name, val string }{{"on_error", h.OnError}, {"on_no_face", h.OnNoFace}, {"on_missing", h.OnMissing}} {
		if err := oneOf(p.name, p.val, policies...); err != nil {
			return err
		}
	}
	if h.Threshold != nil {
		if err := checkThreshold(*h.Threshold); err != nil {
			return err
		}
	}
	if h.MaxBuffered/body.ClientShares < body.PerUpload*h.MaxSize {
		return fmt.Errorf("max_buffered (%d) must be at least %d times max_size (%d): one client may hold a quarter of it, and one upload up to %d times its size (body, decoded image, vendor request)",
			h.MaxBuffered, body.ClientShares*body.PerUpload, h.MaxSize, body.PerUpload)
	}
	if h.MaxSize < 0 || h.MaxPixels < 0 || h.Timeout < 0 || h.MaxBuffered < 0 || h.MaxImages < 0 || h.BodyTimeout < 0 || h.BodyMinRate < 0 || h.Cache.TTL < 0 || h.Cache.MaxEntries < 0 ||
		*h.Retries < 0 || h.Breaker.Failures < 0 || h.Breaker.Cooldown < 0 || h.MaxConcurrent < 0 || h.DuplicateWindow < 0 {
		return fmt.Errorf("sizes, durations, counts and limits must not be negative")
	}
	for _, s := range h.Sources {
		if err := checkSource(s); err != nil {
			return err
		}
	}
	return nil
}

var (
	modes             = []string{"enforce", "annotate", "shadow"}
	policies          = []string{"deny", "allow"}
	duplicatePolicies = []string{"allow", "annotate", "deny"}
	cacheBackends     = []string{"memory", "redis"}
)

func oneOf(name, val string, allowed ...string) error {
	if !slices.Contains(allowed, val) {
		return fmt.Errorf("%s must be one of %s, got %q", name, strings.Join(allowed, ", "), val)
	}
	return nil
}

func checkThreshold(t float64) error {
	if !(t >= 0 && t <= 1) {
		return fmt.Errorf("threshold must be within 0..1, got %v", t)
	}
	return nil
}

// check validates a source: known type, fields where they are needed,
// well-formed JSON pointers.
func checkSource(s Source) error {
	switch s.Type {
	case "body":
		if len(s.Fields) > 0 {
			return fmt.Errorf("source body takes no fields")
		}
		return nil
	case "multipart", "form", "json":
		if len(s.Fields) == 0 {
			return fmt.Errorf("source %s needs at least one field", s.Type)
		}
	default:
		return fmt.Errorf("unknown source %q (multipart, json, form or body)", s.Type)
	}
	if s.Type == "json" {
		for _, p := range s.Fields {
			if err := extract.ValidPointer(p); err != nil {
				return fmt.Errorf("source json %q: %v", p, err)
			}
		}
	}
	return nil
}

// Cleanup releases the shared state; the last user destroys it.
func (h *Handler) Cleanup() error {
	handlerSet.Delete(h)
	if h.shared != nil {
		h.shared.removeUser(h.Name)
	}
	if h.budgetKey != "" {
		if _, err := usagePool.Delete(h.budgetKey); err != nil {
			return err
		}
	}
	if h.poolKey == "" {
		return nil
	}
	_, err := usagePool.Delete(h.poolKey)
	return err
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
