package caddyliveness

import (
	"fmt"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/dustin/go-humanize"

	"github.com/caddy-liveness/caddy-liveness/vendors"
)

func init() {
	httpcaddyfile.RegisterDirective("liveness", parseDirective)
	// After forward_auth: an unauthenticated request never costs a vendor call.
	httpcaddyfile.RegisterDirectiveOrder("liveness", httpcaddyfile.After, "forward_auth")
}

// parseDirective is what httpcaddyfile.RegisterHandlerDirective does,
// keeping the directive's matcher for the default name.
func parseDirective(h httpcaddyfile.Helper) ([]httpcaddyfile.ConfigValue, error) {
	if !h.Next() {
		return nil, h.ArgErr()
	}
	matcherSet, err := h.ExtractMatcherSet()
	if err != nil {
		return nil, err
	}
	lh, err := parseCaddyfile(h, matcherSet)
	if err != nil {
		return nil, err
	}
	return h.NewRoute(matcherSet, lh), nil
}

// parseCaddyfile reads the directive's block; a handler without a name
// gets the default of its place (caddyfileName).
func parseCaddyfile(h httpcaddyfile.Helper, matcherSet caddy.ModuleMap) (*Handler, error) {
	var lh Handler
	if err := lh.UnmarshalCaddyfile(h.Dispenser); err != nil {
		return nil, err
	}
	if lh.Name != "" {
		caddyfileNames(h)[lh.Name] = true
	} else {
		lh.Name = caddyfileName(h, matcherSet)
	}
	return &lh, nil
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Unknown or
// repeated options are errors. Syntax:
//
//	liveness [<matcher>] {
//	    name        <name>                    # 1-64 of A-Za-z0-9_.:/-; default <site address><matcher path>, then -2, -3...
//	    vendor spoofsense {
//	        api_key  <key>                    # placeholders allowed: {env.X}, {file.path}
//	        model    antispoofing|robust      # default antispoofing
//	        base_url <url>                    # default the vendor's production URL
//	        insecure_http                     # allow an http:// base_url to a non-loopback host
//	    }
//	    vendor local {                        # the offline check: no image leaves the machine
//	        max_concurrent <n>                # inferences at once; default GOMAXPROCS
//	    }
//	    source multipart <field...>           # multipart file fields holding images
//	    source json <pointer...>              # RFC 6901 JSON pointers to base64 or data-URI strings
//	    source form <field...>                # urlencoded fields holding base64 or data URIs
//	    source body                           # the raw body is the image (image/* content types)
//	    threshold   <0..1>                    # default: the vendor's own (0.55 antispoofing, 0.50 robust, 0.5 local)
//	    prescreen                             # the local face detector refuses faceless images before a paid vendor
//	    mode        enforce|annotate|shadow   # default enforce
//	    on_error    deny|allow                # vendor unreachable / failing; default deny
//	    on_no_face  deny|allow                # default deny
//	    on_missing  deny|allow                # no image found in a matched request; default deny
//	    max_size    <size>                    # default 10MiB; body over it is 413
//	    max_pixels  <n>                       # default 40000000; checked from the header, before decoding
//	    max_images  <n>                       # default 4; more images in one request is 413, before any vendor call
//	    max_buffered <size>                   # bytes all requests may hold at once; default 256MiB (see Reliability)
//	    body_timeout <duration>               # the whole body must arrive within it; default 1m
//	    body_min_rate <size>                  # per second, after the first 5s; a slower body is 408; default 16KiB
//	    timeout     <duration>                # the whole vendor decision, default 10s
//	    cache [memory] {                      # in this process (default)
//	        ttl         <duration>            # default 24h
//	        max_entries <n>                   # default 100000
//	    }
//	    cache redis {                         # shared by several instances, instead of the above
//	        address  <host:port>              # one server; or: url redis://[user[:password]@]host:port[/db] (rediss:// for TLS)
//	        cluster  <host:port>...           # or: the seed nodes of a Redis Cluster
//	        sentinel <master-name> {          # or: a primary under Redis Sentinel
//	            addresses <host:port>...      # the Sentinels
//	            password  <secret>            # the Sentinels' own, if they need one
//	        }
//	        password <secret>                 # placeholders allowed
//	        db       <n>                      # default 0; not with a database in url
//	        prefix   <key prefix>             # default liveness:
//	        ttl      <duration>               # default 24h
//	        max_entries <n>                   # this instance's memory while Redis fails; default 100000
//	        replicas <n>                      # replicas a verdict must reach (WAIT) to count as stored; default 0
//	    }
//	    header_prefix <prefix>                # default X-Liveness-
//	    retries     <n>                       # further attempts on network errors, 5xx, 429; default 2
//	    breaker {
//	        failures <n>                      # consecutive failed vendor calls that open it; default 5
//	        cooldown <duration>               # open time before up to 4 probes (others wait); default 30s
//	    }
//	    max_concurrent <n>                    # vendor calls in flight per vendor; default 64
//	    sign_key    <secret>                  # adds <prefix>Signature (HMAC-SHA256); placeholders allowed
//	    on_duplicate allow|annotate|deny      # an image seen before; default allow
//	    duplicate_window <duration>           # repeats this soon after the first are retries; default 1m
//	}
//
// vendor may be given more than once, for fallback in that order.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	seen := map[string]bool{}
	once := func(key string) error {
		if seen[key] {
			return d.Errf("duplicate %s", key)
		}
		seen[key] = true
		return nil
	}
	for d.NextBlock(0) {
		opt := d.Val()
		switch opt {
		case "vendor":
			if !d.NextArg() {
				return d.ArgErr()
			}
			name := d.Val()
			if err := once("vendor " + name); err != nil {
				return err
			}
			unm, err := caddyfile.UnmarshalModule(d, vendors.Namespace+"."+name)
			if err != nil {
				return err
			}
			h.VendorsRaw = append(h.VendorsRaw, caddyconfig.JSONModuleObject(unm, "name", name, nil))
			continue
		case "source":
			if !d.NextArg() {
				return d.ArgErr()
			}
			typ := d.Val()
			if err := once("source " + typ); err != nil {
				return err
			}
			src := Source{Type: typ, Fields: d.RemainingArgs()}
			if err := checkSource(src); err != nil {
				return d.Err(err.Error())
			}
			h.Sources = append(h.Sources, src)
			continue
		}
		if err := once(opt); err != nil {
			return err
		}
		switch opt {
		case "cache":
			if err := h.unmarshalCache(d); err != nil {
				return err
			}
			continue
		case "breaker":
			if d.NextArg() {
				return d.ArgErr()
			}
			if err := h.unmarshalBreaker(d); err != nil {
				return err
			}
			continue
		case "prescreen":
			// A flag: alone, or with true or false.
			switch args := d.RemainingArgs(); {
			case len(args) == 0:
				h.Prescreen = true
			case len(args) == 1 && (args[0] == "true" || args[0] == "false"):
				h.Prescreen = args[0] == "true"
			default:
				return d.Errf("prescreen is a flag: give it alone, or with true or false")
			}
			continue
		}
		var val string
		if !d.AllArgs(&val) {
			return d.ArgErr()
		}
		var err error
		switch opt {
		case "threshold":
			var t float64
			if t, err = strconv.ParseFloat(val, 64); err == nil {
				err = checkThreshold(t)
			}
			h.Threshold = &t
		case "mode":
			h.Mode, err = val, oneOf(opt, val, modes...)
		case "on_error":
			h.OnError, err = val, oneOf(opt, val, policies...)
		case "on_no_face":
			h.OnNoFace, err = val, oneOf(opt, val, policies...)
		case "on_missing":
			h.OnMissing, err = val, oneOf(opt, val, policies...)
		case "max_size":
			var n uint64
			n, err = humanize.ParseBytes(val)
			if err == nil && (n == 0 || n > 1<<40) {
				return d.Errf("max_size must be above 0, got %s", val)
			}
			h.MaxSize = int64(n)
		case "max_buffered", "body_min_rate":
			var n uint64
			n, err = humanize.ParseBytes(val)
			if err == nil && (n == 0 || n > 1<<40) {
				return d.Errf("%s must be above 0, got %s", opt, val)
			}
			if opt == "max_buffered" {
				h.MaxBuffered = int64(n)
			} else {
				h.BodyMinRate = int64(n)
			}
		case "max_images":
			h.MaxImages, err = strconv.Atoi(val)
			if err == nil && h.MaxImages <= 0 {
				return d.Errf("max_images must be above 0, got %s", val)
			}
		case "body_timeout":
			var dur time.Duration
			dur, err = caddy.ParseDuration(val)
			if err == nil && dur <= 0 {
				return d.Errf("body_timeout must be above 0, got %s", val)
			}
			h.BodyTimeout = caddy.Duration(dur)
		case "max_pixels":
			h.MaxPixels, err = strconv.ParseInt(val, 10, 64)
			if err == nil && h.MaxPixels <= 0 {
				return d.Errf("max_pixels must be above 0, got %s", val)
			}
		case "timeout":
			var dur time.Duration
			dur, err = caddy.ParseDuration(val)
			if err == nil && dur <= 0 {
				return d.Errf("timeout must be above 0, got %s", val)
			}
			h.Timeout = caddy.Duration(dur)
		case "header_prefix":
			h.HeaderPrefix = val
		case "name":
			h.Name, err = val, checkName(val)
		case "retries":
			n, perr := strconv.Atoi(val)
			if perr != nil || n < 0 {
				return d.Errf("retries must be a whole number, 0 or more, got %q", val)
			}
			h.Retries = &n
		case "sign_key":
			h.SignKey = val
		case "on_duplicate":
			h.OnDuplicate, err = val, oneOf(opt, val, duplicatePolicies...)
		case "duplicate_window":
			var dur time.Duration
			dur, err = caddy.ParseDuration(val)
			if err == nil && dur < 0 {
				return d.Errf("duplicate_window must not be negative, got %s", val)
			}
			h.DuplicateWindow = caddy.Duration(dur)
		case "max_concurrent":
			h.MaxConcurrent, err = strconv.Atoi(val)
			if err == nil && h.MaxConcurrent <= 0 {
				return d.Errf("max_concurrent must be above 0, got %s", val)
			}
		default:
			return d.Errf("unknown liveness option %q", opt)
		}
		if err != nil {
			return d.Errf("%s: %v", opt, err)
		}
	}
	return nil
}

func (h *Handler) unmarshalBreaker(d *caddyfile.Dispenser) error {
	h.Breaker = new(BreakerConfig)
	return unmarshalBlock(d, "breaker", map[string]func(string) error{
		"failures": func(v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return fmt.Errorf("must be a positive integer, got %q", v)
			}
			h.Breaker.Failures = n
			return nil
		},
		"cooldown": func(v string) error {
			dur, err := caddy.ParseDuration(v)
			if err != nil || dur <= 0 {
				return fmt.Errorf("must be a positive duration, got %q", v)
			}
			h.Breaker.Cooldown = caddy.Duration(dur)
			return nil
		},
	})
}

// unmarshalBlock reads one of the handler's blocks (breaker, cache) by
// the rules of the vendors' blocks (vendors.ReadBlock): options of one
// value, each at most once; what a setter refuses is reported at its line.
func unmarshalBlock(d *caddyfile.Dispenser, name string, setters map[string]func(string) error) error {
	_, err := vendors.ReadBlock(d, name, singleValued(name, setters))
	return err
}

// singleValued is a vendors.ReadBlock reader for options of one value
// each; setters refuse a value with an error that completes "<name>:
// <option> ...". (Not ArgErr, which would quote the value: it may be a
// secret.)
func singleValued(name string, setters map[string]func(string) error) func(opt string, d *caddyfile.Dispenser) (bool, error) {
	return func(opt string, d *caddyfile.Dispenser) (bool, error) {
		set, ok := setters[opt]
		if !ok {
			return false, nil
		}
		var val string
		if !d.AllArgs(&val) {
			return true, d.Errf("%s: %s takes exactly one value", name, opt)
		}
		if err := set(val); err != nil {
			return true, d.Errf("%s: %s %v", name, opt, err)
		}
		return true, nil
	}
}

// unmarshalCache reads "cache [memory] { ... }" or "cache redis { ... }".
func (h *Handler) unmarshalCache(d *caddyfile.Dispenser) error {
	h.Cache = &CacheConfig{Backend: "memory"}
	if d.NextArg() {
		h.Cache.Backend = d.Val()
		if err := oneOf("cache backend", h.Cache.Backend, cacheBackends...); err != nil {
			return d.Err(err.Error())
		}
		if d.NextArg() {
			return d.ArgErr()
		}
	}
	ttl := func(v string) error {
		dur, err := caddy.ParseDuration(v)
		if err != nil || dur <= 0 {
			return fmt.Errorf("must be a positive duration, got %q", v)
		}
		h.Cache.TTL = caddy.Duration(dur)
		return nil
	}
	maxEntries := func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return fmt.Errorf("must be a positive integer, got %q", v)
		}
		h.Cache.MaxEntries = n
		return nil
	}
	if h.Cache.Backend == "memory" {
		return unmarshalBlock(d, "cache", map[string]func(string) error{"ttl": ttl, "max_entries": maxEntries})
	}
	rc := new(RedisConfig)
	h.Cache.Redis = rc
	str := func(p *string) func(string) error {
		return func(v string) error { *p = v; return nil }
	}
	single := singleValued("cache redis", map[string]func(string) error{
		"ttl":         ttl,
		"max_entries": maxEntries,
		"address":     str(&rc.Address),
		"url":         str(&rc.URL),
		"password":    str(&rc.Password),
		"prefix":      str(&rc.Prefix),
		"db":          wholeNumber(&rc.DB),
		"replicas":    wholeNumber(&rc.Replicas),
	})
	_, err := vendors.ReadBlock(d, "cache redis", func(opt string, d *caddyfile.Dispenser) (bool, error) {
		switch opt {
		case "cluster":
			if rc.Cluster = d.RemainingArgs(); len(rc.Cluster) == 0 {
				return true, d.Err("cache redis: cluster needs at least one seed address")
			}
			return true, nil
		case "sentinel":
			return true, unmarshalSentinel(d, rc)
		}
		return single(opt, d)
	})
	if err != nil {
		return err
	}
	if err := rc.validate(); err != nil {
		return d.Err(err.Error())
	}
	return nil
}

// wholeNumber sets *p from a value that must be 0 or more.
func wholeNumber(p *int) func(string) error {
	return func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("must be a whole number, 0 or more, got %q", v)
		}
		*p = n
		return nil
	}
}

// unmarshalSentinel reads "sentinel <master-name> { addresses ...; password ... }".
func unmarshalSentinel(d *caddyfile.Dispenser, rc *RedisConfig) error {
	s := new(SentinelConfig)
	rc.Sentinel = s
	if !d.NextArg() {
		return d.Err("cache redis: sentinel needs the master name")
	}
	s.MasterName = d.Val()
	if d.NextArg() {
		return d.Err("cache redis: sentinel takes one master name, then a block")
	}
	single := singleValued("cache redis sentinel", map[string]func(string) error{
		"password": func(v string) error { s.Password = v; return nil },
	})
	_, err := vendors.ReadBlock(d, "cache redis sentinel", func(opt string, d *caddyfile.Dispenser) (bool, error) {
		if opt == "addresses" {
			if s.Addresses = d.RemainingArgs(); len(s.Addresses) == 0 {
				return true, d.Err("cache redis sentinel: addresses needs at least one host:port")
			}
			return true, nil
		}
		return single(opt, d)
	})
	return err
}

// Interface guard
var _ caddyfile.Unmarshaler = (*Handler)(nil)
