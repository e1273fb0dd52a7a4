package caddyliveness

import (
	"errors"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/caddy-liveness/caddy-liveness/vendors"
)

// labelOr is v, or empty where v is "" (a metric label or log value).
func labelOr(v, empty string) string {
	if v == "" {
		return empty
	}
	return v
}

// log writes the one line per decision. It holds hashes and verdicts,
// never image bytes or secrets.
func (h *Handler) log(r *http.Request, o outcome, status int, herr error, size int64, took time.Duration) {
	action := "pass"
	switch {
	case herr != nil:
		action = "deny"
	case status != 0:
		action = "would_deny"
	}
	level := zapcore.InfoLevel
	switch {
	case o.err != nil && vendors.KindOf(o.err) == vendors.KindAuth:
		level = zapcore.ErrorLevel // credentials refused or expired: the operator must act
	case o.err != nil:
		level = zapcore.WarnLevel
	}
	ce := h.logger.Check(level, "liveness decision")
	if ce == nil {
		return
	}
	fields := []zap.Field{
		zap.String("handler", h.Name),
		zap.String("mode", h.Mode),
		zap.String("action", action),
		zap.String("verdict", string(o.verdict)),
		zap.String("vendor", o.vendor),
		zap.Duration("duration", took),
		zap.Int64("size", size),
	}
	if o.vendor != "" {
		fields = append(fields, zap.String("cache", o.cacheString()))
	}
	if o.hasScore {
		fields = append(fields, zap.Float64("score", o.score))
	}
	if o.reason != "" {
		fields = append(fields, zap.String("reason", o.reason))
	}
	if o.reference != "" {
		fields = append(fields, zap.String("reference", o.reference))
	}
	if o.duplicate > 0 {
		fields = append(fields, zap.Int("duplicate", o.duplicate))
	}
	if status != 0 {
		fields = append(fields, zap.Int("status", status))
	}
	var he caddyhttp.HandlerError
	if errors.As(herr, &he) {
		fields = append(fields, zap.String("error_id", he.ID))
	}
	if len(o.sums) > 0 {
		prefixes := make([]string, len(o.sums))
		for i, s := range o.sums {
			prefixes[i] = s[:12]
		}
		fields = append(fields, zap.Strings("image_sha256_prefix", prefixes))
	}
	if o.input != nil {
		fields = append(fields, zap.String("error", o.input.Msg))
		if o.input.Rule != "" {
			fields = append(fields, zap.String("rule", o.input.Rule))
		}
		if o.input.Where != "" {
			fields = append(fields, zap.String("field", o.input.Where))
		}
	}
	if o.err != nil {
		fields = append(fields, zap.String("vendor_error_kind", string(vendors.KindOf(o.err))), zap.String("error", o.err.Error()))
	}
	fields = append(fields, zap.String("method", r.Method), zap.String("uri", r.RequestURI))
	ce.Write(fields...)
}
