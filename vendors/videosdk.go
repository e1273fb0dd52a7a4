package vendors

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/golang-jwt/jwt/v5"
)

func init() {
	caddy.RegisterModule(VideoSDK{})
}

const (
	videosdkOrigin = "https://api.videosdk.live"
	videosdkPath   = "/ai/v1/face-verification/detect-spoof"
	// videosdkLifetime is the longest lifetime VideoSDK allows a token.
	videosdkLifetime = 24 * time.Hour
	// videosdkMaxMargin caps how long before expiry a minted token is
	// replaced: long enough that no request carries a token that expires
	// in flight, short enough that a 24 h token is renewed once a day.
	videosdkMaxMargin = 10 * time.Minute
)

// VideoSDK checks images with VideoSDK's Face Spoof Detection API
// (POST /ai/v1/face-verification/detect-spoof, Enterprise plan). The
// request carries a JWT in Authorization without any prefix and the image
// as a data URI in JSON {"img": "data:image/jpeg;base64,..."}; the answer
// is {"spoof_detected": bool, "accuracy": float}. VideoSDK decides: the
// vendor's decision is !spoof_detected, and the score (higher = live) is
// accuracy when no spoof was detected, 1 - accuracy otherwise, since
// accuracy is the confidence in the boolean.
//
// Configure either api_key and api_secret, from which the client mints and
// renews the token itself (HS256, 24 h, permissions allow_join, role
// crawler), or a ready token.
type VideoSDK struct {
	// The API key, written into the token's apikey claim. Placeholders
	// such as {env.VIDEOSDK_API_KEY} or {file./run/secrets/key} are
	// resolved at provisioning; an empty result is a configuration error.
	// Requires api_secret; excludes token.
	APIKey string `json:"api_key,omitempty"`
	// The API secret that signs the tokens (HS256). Placeholders are
	// resolved at provisioning. Requires api_key; excludes token.
	APISecret string `json:"api_secret,omitempty"`
	// A ready JWT, sent as is instead of minting one. It is never renewed:
	// once it expires every check fails with an auth error. Placeholders
	// are resolved at provisioning. Excludes api_key and api_secret.
	Token string `json:"token,omitempty"`
	// BaseURL replaces the origin of the production URL; the documented
	// path (/ai/v1/face-verification/detect-spoof) is appended. Default:
	// https://api.videosdk.live.
	BaseURL string `json:"base_url,omitempty"`
	// InsecureHTTP allows a base_url of plain http:// to a host that is not
	// loopback. Without it such a base_url is a configuration error: the
	// credentials and the images would cross the network unencrypted.
	// http:// to 127.0.0.0/8, ::1 or localhost (an emulator on the same
	// machine) and https:// need no flag. In the Caddyfile a flag:
	// `insecure_http` alone or `insecure_http true|false`.
	InsecureHTTP bool `json:"insecure_http,omitempty"`

	key    string
	secret []byte
	httpVendor

	// lifetime of minted tokens; tests shorten it.
	lifetime time.Duration
	// now is the clock that dates and renews minted tokens; tests replace
	// it to renew without waiting.
	now func() time.Time

	auth *videosdkAuth
}

// videosdkAuth holds the token, shared by the concurrent checks.
type videosdkAuth struct {
	mu      sync.Mutex
	token   string // the configured token, or the last minted one
	renewAt time.Time
}

// CaddyModule returns the Caddy module information.
func (VideoSDK) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  Namespace + ".videosdk",
		New: func() caddy.Module { return new(VideoSDK) },
	}
}

// Provision checks the options, resolves the credentials and builds the
// endpoint and HTTP client.
func (v *VideoSDK) Provision(caddy.Context) error {
	if err := v.validate(); err != nil {
		return err
	}
	switch {
	case v.Token != "":
		tok, err := ResolveSecret("videosdk: token", v.Token)
		if err != nil {
			return err
		}
		if err := v.checkBareToken(tok); err != nil {
			return err // what a placeholder resolved to
		}
		v.auth = &videosdkAuth{token: strings.TrimSpace(tok)}
	default:
		key, err := ResolveSecret("videosdk: api_key", v.APIKey)
		if err != nil {
			return fmt.Errorf("%w (or configure a token)", err)
		}
		secret, err := ResolveSecret("videosdk: api_secret", v.APISecret)
		if err != nil {
			return err
		}
		v.key, v.secret = key, []byte(secret)
		v.auth = new(videosdkAuth)
	}
	if v.lifetime <= 0 {
		v.lifetime = videosdkLifetime
	}
	if v.now == nil {
		v.now = time.Now
	}
	return v.provision(v.Name(), videosdkOrigin, v.BaseURL, videosdkPath, v.InsecureHTTP, "Authorization")
}

// validate checks the option values, for the Caddyfile and the JSON alike.
// Whether the credentials are all there is known only once their
// placeholders are resolved, in Provision.
func (v *VideoSDK) validate() error {
	if v.Token != "" && (v.APIKey != "" || v.APISecret != "") {
		return badOption(v.Name(), "token", "excludes api_key and api_secret: configure one or the other")
	}
	// The text around placeholders (each stands for some value, known in
	// Provision).
	if err := v.checkBareToken(videosdkPlaceholder.ReplaceAllString(v.Token, "x")); err != nil {
		return err
	}
	return checkBaseURL(v.Name(), v.BaseURL)
}

// videosdkPlaceholder matches a placeholder such as {env.VIDEOSDK_TOKEN}.
var videosdkPlaceholder = regexp.MustCompile(`\{[^{}]*\}`)

// checkBareToken refuses a token (as configured, or as resolved) with a
// prefix, which would fail every call: the API takes the bare JWT. The
// error does not quote the token.
func (v *VideoSDK) checkBareToken(tok string) error {
	if strings.ContainsAny(strings.TrimSpace(tok), " \t") {
		return badOption(v.Name(), "token", "must be the bare JWT, without a prefix such as \"Bearer \"")
	}
	return nil
}

// UnmarshalCaddyfile sets up the vendor from Caddyfile tokens:
//
//	vendor videosdk {
//	    api_key    <key>
//	    api_secret <secret>
//	    token      <jwt>
//	    base_url   <url>
//	    insecure_http [true|false]
//	}
func (v *VideoSDK) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return UnmarshalBlock(d, v.Name(), Options(StringOptions(map[string]*string{
		"api_key": &v.APIKey, "api_secret": &v.APISecret, "token": &v.Token, "base_url": &v.BaseURL,
	}), FlagOptions(map[string]*bool{InsecureHTTPOption: &v.InsecureHTTP})), v.validate, InsecureHTTPOption)
}

// Name implements Vendor.
func (v *VideoSDK) Name() string { return "videosdk" }

// Profile implements Vendor: VideoSDK takes no parameter besides the
// image, so the endpoint (which names the service answering) is all.
func (v *VideoSDK) Profile(*Request) string { return "videosdk " + v.endpoint }

// authToken returns the configured token, or a minted one that has more
// than its renewal margin left, minting a new one when needed.
func (v *VideoSDK) authToken() (string, error) {
	a := v.auth
	a.mu.Lock()
	defer a.mu.Unlock()
	if v.secret == nil {
		return a.token, nil
	}
	now := v.now()
	if a.token != "" && now.Before(a.renewAt) {
		return a.token, nil
	}
	exp := now.Add(v.lifetime)
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"apikey":      v.key,
		"permissions": []string{"allow_join"},
		"version":     2,
		"roles":       []string{"crawler"},
		"iat":         now.Unix(),
		"exp":         exp.Unix(),
	}).SignedString(v.secret)
	if err != nil {
		return "", err
	}
	a.token = tok
	a.renewAt = exp.Add(-min(v.lifetime/10, videosdkMaxMargin))
	return tok, nil
}

type videosdkResponse struct {
	SpoofDetected *bool    `json:"spoof_detected"`
	Accuracy      *float64 `json:"accuracy"`
	Message       string   `json:"message"`
}

// Check implements Vendor.
func (v *VideoSDK) Check(ctx context.Context, req *Request) (Result, error) {
	m := req.Media
	if !videosdkImageMIME(m.MIME) {
		return Result{}, v.imagesOnly(m.MIME)
	}
	tok, err := v.authToken()
	if err != nil {
		return Result{}, v.err(KindAuth, 0, "minting the token", err)
	}
	body := base64Body(`{"img":"data:`+m.MIME+`;base64,`, m.Data, `"}`)
	resp, raw, err := v.post(ctx, "", "application/json", tok, body)
	if err != nil {
		return Result{}, err
	}
	var out videosdkResponse
	parsed := json.Unmarshal(raw, &out) == nil
	// No face is undocumented. A message saying so, in a success or a
	// client-error answer, is its most plausible shape; a 5xx saying so
	// is still an outage.
	if parsed && out.SpoofDetected == nil && videosdkNoFace(out.Message) &&
		(resp.StatusCode < 300 || resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusUnprocessableEntity) {
		return Result{Class: ClassNoFace, Reason: "face_not_detected"}, nil
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return Result{}, StatusError(v.Name(), resp, raw)
	}
	if !parsed || out.SpoofDetected == nil || out.Accuracy == nil {
		return Result{}, v.err(KindUnavailable, resp.StatusCode, "malformed response", nil)
	}
	acc := *out.Accuracy
	if !unitScore(acc) {
		return Result{}, v.err(KindUnavailable, resp.StatusCode, "accuracy outside [0,1]", nil)
	}
	passed := !*out.SpoofDetected
	score := acc
	if !passed {
		score = 1 - acc
	}
	return Result{Class: ClassFace, Score: score, HasScore: true, Passed: &passed}, nil
}

// videosdkImageMIME accepts the sniffed image types, and refuses anything
// that could break out of the JSON string it is written into.
func videosdkImageMIME(mt string) bool {
	sub, ok := strings.CutPrefix(mt, "image/")
	if !ok || sub == "" {
		return false
	}
	for _, c := range []byte(sub) {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '+' || c == '-') {
			return false
		}
	}
	return true
}

func videosdkNoFace(msg string) bool {
	msg = strings.ToLower(msg)
	return strings.Contains(msg, "no face") || strings.Contains(msg, "face not detected") ||
		strings.Contains(msg, "face not found")
}

// Interface guards
var (
	_ Vendor                = (*VideoSDK)(nil)
	_ caddy.Provisioner     = (*VideoSDK)(nil)
	_ caddy.CleanerUpper    = (*VideoSDK)(nil)
	_ caddyfile.Unmarshaler = (*VideoSDK)(nil)
)
