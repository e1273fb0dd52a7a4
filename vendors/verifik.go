package vendors

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"
)

func init() {
	caddy.RegisterModule(Verifik{})
}

const (
	verifikOrigin = "https://api.verifik.co"
	verifikPath   = "/v2/face-recognition/liveness"
	// verifikDefaultMinScore is the vendor's threshold when the call
	// carries no liveness_min_score; it only appears in the profile.
	verifikDefaultMinScore = "0.6"
	// verifikExpiryWarning is how long before the token's exp a reload
	// starts warning.
	verifikExpiryWarning = 72 * time.Hour
)

// verifikOSes are the values of os: the documented capture origins, and
// auto.
var verifikOSes = []string{"DESKTOP", "IOS", "ANDROID", "auto"}

// Verifik checks images with Verifik's liveness API (POST
// /v2/face-recognition/liveness, Authorization: Bearer <JWT>, JSON
// {"os", "image", "liveness_min_score", "collection_id"}). Verifik decides
// itself: data.passed is liveness_score > min_score (strictly), min_score
// being the liveness_min_score sent, 0.6 when none is.
type Verifik struct {
	// The API token (a JWT from Verifik's dashboard, valid 30 days), sent
	// as "Authorization: Bearer <token>". Placeholders such as
	// {env.VERIFIK_TOKEN} or {file./run/secrets/verifik} are resolved at
	// provisioning; an empty result is a configuration error. An expired
	// token makes every check fail with an auth error, logged at error
	// level, until the token is renewed and the configuration reloaded.
	Token string `json:"token,omitempty"`
	// OS is the "os" sent, the origin of capture: DESKTOP, IOS, ANDROID,
	// or auto (default), which derives it from the client's User-Agent:
	// IOS for iPhone, iPad, iPod or iOS, ANDROID for Android, DESKTOP
	// otherwise.
	OS string `json:"os,omitempty"`
	// CollectionID, when set, is sent as collection_id to associate the
	// attempts with one of the account's collections.
	CollectionID string `json:"collection_id,omitempty"`
	// BaseURL replaces the origin of the production URL; the documented
	// path (/v2/face-recognition/liveness) is appended. Default:
	// https://api.verifik.co.
	BaseURL string `json:"base_url,omitempty"`
	// InsecureHTTP allows a base_url of plain http:// to a host that is not
	// loopback. Without it such a base_url is a configuration error: the
	// credentials and the images would cross the network unencrypted.
	// http:// to 127.0.0.0/8, ::1 or localhost (an emulator on the same
	// machine) and https:// need no flag. In the Caddyfile a flag:
	// `insecure_http` alone or `insecure_http true|false`.
	InsecureHTTP bool `json:"insecure_http,omitempty"`

	token    string
	tokenExp time.Time // zero when the token carries no exp
	httpVendor
}

// CaddyModule returns the Caddy module information.
func (Verifik) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  Namespace + ".verifik",
		New: func() caddy.Module { return new(Verifik) },
	}
}

// Provision checks the options, resolves the token and builds the
// endpoint and HTTP client.
func (v *Verifik) Provision(ctx caddy.Context) error {
	if err := v.validate(); err != nil {
		return err
	}
	token, err := ResolveSecret("verifik: token", v.Token)
	if err != nil {
		return err
	}
	if err := v.provision(v.Name(), verifikOrigin, v.BaseURL, verifikPath, v.InsecureHTTP, "Authorization"); err != nil {
		return err
	}
	v.token = token
	// A token that is not a JWT simply has no known expiry.
	v.tokenExp, _ = jwtExpiry(token)
	v.warnExpiry(ctx, time.Now())
	return nil
}

// validate checks the option values, for the Caddyfile and the JSON alike.
func (v *Verifik) validate() error {
	if err := checkOneOf(v.Name(), "os", v.OS, verifikOSes...); err != nil {
		return err
	}
	return checkBaseURL(v.Name(), v.BaseURL)
}

// warnExpiry tells the operator at reload time, rather than at the first
// refused check, that the token needs renewing.
func (v *Verifik) warnExpiry(ctx caddy.Context, now time.Time) {
	switch {
	case v.tokenExp.IsZero():
	case !v.tokenExp.After(now):
		ctx.Logger(v).Error("verifik token expired: every check will fail until it is renewed", zap.Time("exp", v.tokenExp))
	case v.tokenExp.Sub(now) < verifikExpiryWarning:
		ctx.Logger(v).Warn("verifik token expires soon: renew it", zap.Time("exp", v.tokenExp))
	}
}

// UnmarshalCaddyfile sets up the vendor from Caddyfile tokens:
//
//	vendor verifik {
//	    token         <jwt>
//	    os            DESKTOP|IOS|ANDROID|auto
//	    collection_id <id>
//	    base_url      <url>
//	    insecure_http [true|false]
//	}
func (v *Verifik) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return UnmarshalBlock(d, v.Name(), Options(StringOptions(map[string]*string{
		"token": &v.Token, "os": &v.OS, "collection_id": &v.CollectionID, "base_url": &v.BaseURL,
	}), FlagOptions(map[string]*bool{InsecureHTTPOption: &v.InsecureHTTP})), v.validate, InsecureHTTPOption)
}

// Name implements Vendor.
func (v *Verifik) Name() string { return "verifik" }

// Profile implements Vendor: besides the endpoint, the os, the threshold
// and the collection sent can each change the answer.
func (v *Verifik) Profile(req *Request) string {
	if req == nil {
		req = &Request{}
	}
	minScore := verifikDefaultMinScore
	if req.Threshold != nil {
		minScore = strconv.FormatFloat(*req.Threshold, 'g', -1, 64)
	}
	return fmt.Sprintf("verifik %s os=%s liveness_min_score=%s collection_id=%q",
		v.endpoint, v.osFor(req.UserAgent), minScore, v.CollectionID)
}

// osFor returns the configured os, or the one the User-Agent suggests.
func (v *Verifik) osFor(userAgent string) string {
	if v.OS != "" && v.OS != "auto" {
		return v.OS
	}
	// Case-sensitive tokens: "ios" in any case would match "Kiosk".
	switch {
	case strings.Contains(userAgent, "iPhone"), strings.Contains(userAgent, "iPad"),
		strings.Contains(userAgent, "iPod"), strings.Contains(userAgent, "iOS"):
		return "IOS"
	case strings.Contains(userAgent, "Android"):
		return "ANDROID"
	}
	return "DESKTOP"
}

type verifikResponse struct {
	ID   *string `json:"id"`
	Data *struct {
		Passed        *bool    `json:"passed"`
		LivenessScore *float64 `json:"liveness_score"`
	} `json:"data"`
}

// Check implements Vendor.
func (v *Verifik) Check(ctx context.Context, req *Request) (Result, error) {
	if !strings.HasPrefix(req.MIME, "image/") {
		return Result{}, v.imagesOnly(req.MIME)
	}
	body, err := v.body(req)
	if err != nil {
		return Result{}, v.err(KindBadRequest, 0, "building request", err)
	}
	resp, raw, err := v.post(ctx, "", "application/json", "Bearer "+v.token, body)
	if err != nil {
		return Result{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return Result{}, v.statusError(resp, raw)
	}
	var out verifikResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		return Result{}, v.err(KindUnavailable, resp.StatusCode, "malformed response", nil)
	}
	switch {
	case out.ID == nil || *out.ID == "":
		return Result{}, v.err(KindUnavailable, resp.StatusCode, "response without id", nil)
	case out.Data == nil || out.Data.Passed == nil || out.Data.LivenessScore == nil:
		return Result{}, v.err(KindUnavailable, resp.StatusCode, "response without data.passed and data.liveness_score", nil)
	}
	score := *out.Data.LivenessScore
	if !unitScore(score) {
		return Result{}, v.err(KindUnavailable, resp.StatusCode, "liveness_score outside [0,1]", nil)
	}
	return Result{
		Class:     ClassFace,
		Score:     score,
		HasScore:  true,
		Passed:    out.Data.Passed,
		Reference: Sanitize(*out.ID),
	}, nil
}

// body builds the JSON request with the image as raw standard base64.
func (v *Verifik) body(req *Request) ([]byte, error) {
	head := map[string]any{"os": v.osFor(req.UserAgent)}
	if req.Threshold != nil {
		head["liveness_min_score"] = *req.Threshold
	}
	if v.CollectionID != "" {
		head["collection_id"] = v.CollectionID
	}
	h, err := json.Marshal(head)
	if err != nil {
		return nil, err
	}
	// Reopen the object for the image.
	return base64Body(string(h[:len(h)-1])+`,"image":"`, req.Data, `"}`), nil
}

// statusError refines StatusError with what Verifik documents of its
// errors: an expired token is an auth error the operator alone can fix,
// and 409 means this client sent an incomplete request.
func (v *Verifik) statusError(resp *http.Response, raw []byte) *Error {
	e := StatusError(v.Name(), resp, raw)
	switch resp.StatusCode {
	case http.StatusForbidden:
		var b struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(raw, &b) == nil && b.Message == "token_expired" {
			e.Msg = "token expired: the operator must renew the Verifik token and reload the configuration"
			if !v.tokenExp.IsZero() {
				e.Msg += " (exp " + v.tokenExp.UTC().Format(time.RFC3339) + ")"
			}
		}
	case http.StatusConflict:
		e.Msg = "request refused as incomplete, a bug in this client: " + e.Msg
	}
	return e
}

// Interface guards
var (
	_ Vendor                = (*Verifik)(nil)
	_ caddy.Provisioner     = (*Verifik)(nil)
	_ caddy.CleanerUpper    = (*Verifik)(nil)
	_ caddyfile.Unmarshaler = (*Verifik)(nil)
)
