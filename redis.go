package caddyliveness

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"

	"github.com/caddy-liveness/caddy-liveness/vendors"
)

// DefaultRedisPrefix is prepended to every Redis key.
const DefaultRedisPrefix = "liveness:"

func init() {
	// go-redis prints its own diagnostics (each failed dial, ...) to
	// stderr; route them to Caddy's log at debug level instead, so that a
	// Redis outage is reported by our warning, once per interval. (This is
	// process-wide, for every go-redis user in the binary.)
	redis.SetLogger(redisLog{})
}

type redisLog struct{}

func (redisLog) Printf(_ context.Context, format string, v ...any) {
	caddy.Log().Named("redis").Debug(fmt.Sprintf(format, v...))
}

// RedisConfig points the verdict cache and the duplicate registry at a
// Redis deployment shared by several Caddy instances: one server (Address
// or URL), a Redis Cluster (Cluster) or a primary under Sentinels
// (Sentinel). Exactly one of the four is required.
type RedisConfig struct {
	// host:port of a single server. Placeholders allowed.
	Address string `json:"address,omitempty"`
	// A redis:// or rediss:// (TLS) URL of a single server, which may
	// carry a user name, password and database. Placeholders allowed.
	URL string `json:"url,omitempty"`
	// Seed addresses (host:port) of a Redis Cluster; the client learns
	// the other nodes from them. Placeholders allowed.
	Cluster []string `json:"cluster,omitempty"`
	// A primary and its replicas under Redis Sentinel.
	Sentinel *SentinelConfig `json:"sentinel,omitempty"`
	// The password (AUTH) of the servers; overrides one in URL.
	// Placeholders such as {env.X} are resolved at provisioning; empty
	// after resolution is an error.
	Password string `json:"password,omitempty"`
	// The database number, when URL names none (giving it in both is an
	// error); a cluster has only database 0. Default 0.
	DB int `json:"db,omitempty"`
	// Prepended to every key; it may not hold { or }, which would change
	// the keys' hash slot. Default "liveness:".
	Prefix string `json:"prefix,omitempty"`
	// How many replicas must hold a verdict before it counts as stored
	// (Redis's WAIT, within the operation's 200 ms): with 1 or more, a
	// failover loses no verdict Redis acknowledged; one that reaches too
	// few is kept in this instance's memory, as when Redis fails. Default
	// 0: the primary's answer is enough (a failover may lose the last
	// verdicts written; they are asked of the vendor again).
	Replicas int `json:"replicas,omitempty"`
}

// SentinelConfig names a primary watched by Redis Sentinels.
type SentinelConfig struct {
	// The name the Sentinels monitor the primary under.
	MasterName string `json:"master_name,omitempty"`
	// host:port of the Sentinels (at least one). Placeholders allowed.
	Addresses []string `json:"addresses,omitempty"`
	// The Sentinels' own password, when they require one (the servers'
	// is Password above). Placeholders allowed; empty after resolution is
	// an error.
	Password string `json:"password,omitempty"`
}

func (c *RedisConfig) validate() error {
	n := 0
	for _, set := range []bool{c.Address != "", c.URL != "", len(c.Cluster) > 0, c.Sentinel != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return errors.New("cache redis needs exactly one of address, url, cluster and sentinel")
	}
	if c.DB < 0 || c.Replicas < 0 {
		return errors.New("cache redis db and replicas must not be negative")
	}
	if c.DB != 0 && !strings.Contains(c.URL, "{") && urlHasDB(c.URL) {
		return errors.New("cache redis: the database is given twice, in url and in db: give it once")
	}
	if c.DB != 0 && len(c.Cluster) > 0 {
		return errors.New("cache redis: a cluster has only database 0: drop db")
	}
	if strings.ContainsAny(c.Prefix, "{}") {
		return errors.New("cache redis prefix may not hold { or }: they would change the keys' hash slot")
	}
	if s := c.Sentinel; s != nil && (s.MasterName == "" || len(s.Addresses) == 0) {
		return errors.New("cache redis sentinel needs the master name and at least one Sentinel address")
	}
	return nil
}

// urlHasDB reports whether a redis:// URL names a database (a path).
func urlHasDB(s string) bool {
	u, err := url.Parse(s)
	return err == nil && strings.Trim(u.Path, "/") != ""
}

// options resolves the placeholders and builds the client options. The
// errors never quote a resolved value or a URL (which may hold a
// password).
func (c *RedisConfig) options() (*redis.UniversalOptions, error) {
	repl := caddy.NewReplacer()
	addrs := func(what string, in []string) ([]string, error) {
		out := make([]string, len(in))
		for i, a := range in {
			if out[i] = strings.TrimSpace(repl.ReplaceAll(a, "")); out[i] == "" {
				return nil, fmt.Errorf("cache redis %s %q resolved to an empty value", what, a)
			}
		}
		return out, nil
	}
	opts := &redis.UniversalOptions{DB: c.DB}
	var err error
	switch {
	case c.URL != "":
		u := repl.ReplaceAll(c.URL, "")
		o, err := redis.ParseURL(u)
		if err != nil {
			return nil, errors.New("cache redis url is not a valid redis:// or rediss:// URL")
		}
		if c.DB != 0 && urlHasDB(u) {
			return nil, errors.New("cache redis: the database is given twice, in url and in db: give it once")
		}
		opts.Addrs, opts.Username, opts.Password, opts.TLSConfig = []string{o.Addr}, o.Username, o.Password, o.TLSConfig
		if c.DB == 0 {
			opts.DB = o.DB
		}
	case len(c.Cluster) > 0:
		if opts.Addrs, err = addrs("cluster address", c.Cluster); err != nil {
			return nil, err
		}
		opts.IsClusterMode = true
	case c.Sentinel != nil:
		if opts.Addrs, err = addrs("sentinel address", c.Sentinel.Addresses); err != nil {
			return nil, err
		}
		opts.MasterName = c.Sentinel.MasterName
		if c.Sentinel.Password != "" {
			if opts.SentinelPassword, err = vendors.ResolveSecret("cache redis sentinel password", c.Sentinel.Password); err != nil {
				return nil, err
			}
		}
	default:
		if opts.Addrs, err = addrs("address", []string{c.Address}); err != nil {
			return nil, err
		}
	}
	if c.Password != "" {
		if opts.Password, err = vendors.ResolveSecret("cache redis password", c.Password); err != nil {
			return nil, err
		}
	}
	return opts, nil
}
