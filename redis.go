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
// Redis server shared by several Caddy instances.
type RedisConfig struct {
	// host:port of the server. Placeholders allowed. One of Address and
	// URL is required.
	Address string `json:"address,omitempty"`
	// A redis:// or rediss:// (TLS) URL, which may carry a user name,
	// password and database. Placeholders allowed.
	URL string `json:"url,omitempty"`
	// The password (AUTH); overrides one in URL. Placeholders such as
	// {env.X} are resolved at provisioning; empty after resolution is an
	// error.
	Password string `json:"password,omitempty"`
	// The database number, when URL names none (giving it in both is an
	// error). Default 0.
	DB int `json:"db,omitempty"`
	// Prepended to every key. Default "liveness:".
	Prefix string `json:"prefix,omitempty"`
}

func (c *RedisConfig) validate() error {
	if (c.Address == "") == (c.URL == "") {
		return errors.New("cache redis needs one of address and url")
	}
	if c.DB < 0 {
		return errors.New("cache redis db must not be negative")
	}
	if c.DB != 0 && !strings.Contains(c.URL, "{") && urlHasDB(c.URL) {
		return errors.New("cache redis: the database is given twice, in url and in db: give it once")
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
func (c *RedisConfig) options() (*redis.Options, error) {
	repl := caddy.NewReplacer()
	var opts *redis.Options
	if c.URL != "" {
		u := repl.ReplaceAll(c.URL, "")
		o, err := redis.ParseURL(u)
		if err != nil {
			return nil, errors.New("cache redis url is not a valid redis:// or rediss:// URL")
		}
		if c.DB != 0 && urlHasDB(u) {
			return nil, errors.New("cache redis: the database is given twice, in url and in db: give it once")
		}
		opts = o
	} else {
		addr := strings.TrimSpace(repl.ReplaceAll(c.Address, ""))
		if addr == "" {
			return nil, fmt.Errorf("cache redis address %q resolved to an empty value", c.Address)
		}
		opts = &redis.Options{Addr: addr}
	}
	if c.Password != "" {
		pw, err := vendors.ResolveSecret("cache redis password", c.Password)
		if err != nil {
			return nil, err
		}
		opts.Password = pw
	}
	if c.DB != 0 {
		opts.DB = c.DB
	}
	return opts, nil
}
