package vendors

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func init() {
	caddy.RegisterModule(SpoofSense{})
}

const (
	spoofSenseOrigin = "https://z3jwq0rjyj.execute-api.ap-south-1.amazonaws.com"
	// spoofSenseMaxBody is the documented limit on the whole request body
	// (the JSON with the base64 image), past which the API answers 413.
	spoofSenseMaxBody = 10485760
)

// spoofSenseThresholds are the documented default thresholds per model.
var spoofSenseThresholds = map[string]float64{
	"antispoofing": 0.55,
	"robust":       0.50,
}

// SpoofSense checks images with SpoofSense's passive liveness API
// (POST /prod/antispoofing or /prod/robust, header x-api-key, JSON
// {"data": "<base64>"}). SpoofSense makes no decision of its own: the
// verdict is prob_real above the threshold, never pred_idx.
type SpoofSense struct {
	// The API key, sent as x-api-key. Placeholders such as
	// {env.SPOOFSENSE_API_KEY} or {file./run/secrets/key} are resolved at
	// provisioning; an empty result is a configuration error.
	APIKey string `json:"api_key,omitempty"`
	// The model: "antispoofing" (default, threshold 0.55) or "robust"
	// (threshold 0.50).
	Model string `json:"model,omitempty"`
	// BaseURL replaces the origin of the production URL; the documented
	// path (/prod/<model>) is appended. Default: the production origin.
	BaseURL string `json:"base_url,omitempty"`
	// InsecureHTTP allows a base_url of plain http:// to a host that is not
	// loopback. Without it such a base_url is a configuration error: the
	// credentials and the images would cross the network unencrypted.
	// http:// to 127.0.0.0/8, ::1 or localhost (an emulator on the same
	// machine) and https:// need no flag. In the Caddyfile a flag:
	// `insecure_http` alone or `insecure_http true|false`.
	InsecureHTTP bool `json:"insecure_http,omitempty"`

	key string
	httpVendor
}

// CaddyModule returns the Caddy module information.
func (SpoofSense) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  Namespace + ".spoofsense",
		New: func() caddy.Module { return new(SpoofSense) },
	}
}

// Provision checks the options, resolves the key and builds the endpoint
// and HTTP client.
func (s *SpoofSense) Provision(caddy.Context) error {
	if err := s.validate(); err != nil {
		return err
	}
	if s.Model == "" {
		s.Model = "antispoofing"
	}
	key, err := ResolveSecret("spoofsense: api_key", s.APIKey)
	if err != nil {
		return err
	}
	s.key = key
	return s.provision(s.Name(), spoofSenseOrigin, s.BaseURL, "/prod/"+s.Model, s.InsecureHTTP, "x-api-key")
}

// validate checks the option values, for the Caddyfile and the JSON alike.
func (s *SpoofSense) validate() error {
	if err := checkOneOf(s.Name(), "model", s.Model, "antispoofing", "robust"); err != nil {
		return err
	}
	return checkBaseURL(s.Name(), s.BaseURL)
}

// UnmarshalCaddyfile sets up the vendor from Caddyfile tokens:
//
//	vendor spoofsense {
//	    api_key  <key>
//	    model    antispoofing|robust
//	    base_url <url>
//	    insecure_http [true|false]
//	}
func (s *SpoofSense) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return UnmarshalBlock(d, s.Name(), Options(StringOptions(map[string]*string{
		"api_key": &s.APIKey, "model": &s.Model, "base_url": &s.BaseURL,
	}), FlagOptions(map[string]*bool{InsecureHTTPOption: &s.InsecureHTTP})), s.validate, InsecureHTTPOption)
}

// Name implements Vendor.
func (s *SpoofSense) Name() string { return "spoofsense" }

// Profile implements Vendor: the endpoint names both the model and the
// service answering, so an emulator's results never serve the real API.
func (s *SpoofSense) Profile(*Request) string { return "spoofsense " + s.endpoint }

type spoofSenseResponse struct {
	Success     *bool  `json:"success"`
	Message     string `json:"message"`
	ErrorCode   string `json:"error_code"`
	ModelOutput *struct {
		PredIdx  string   `json:"pred_idx"`
		ProbReal *float64 `json:"prob_real"`
	} `json:"model_output"`
}

// Check implements Vendor.
func (s *SpoofSense) Check(ctx context.Context, req *Request) (Result, error) {
	m := req.Media
	if !strings.HasPrefix(m.MIME, "image/") {
		return Result{}, s.imagesOnly(m.MIME)
	}
	const prefix, suffix = `{"data":"`, `"}`
	if n := base64Size(prefix, m.Data, suffix); n > spoofSenseMaxBody {
		return Result{}, s.err(KindTooLarge, 0, fmt.Sprintf("request body would be %d bytes, over the vendor's %d", n, spoofSenseMaxBody), nil)
	}
	resp, raw, err := s.post(ctx, "", "application/json", s.key, base64Body(prefix, m.Data, suffix))
	if err != nil {
		return Result{}, err
	}
	return s.parse(resp, raw)
}

// parse maps the vendor's answer to a Result or a typed error.
func (s *SpoofSense) parse(resp *http.Response, raw []byte) (Result, error) {
	if resp.StatusCode != http.StatusOK {
		return Result{}, StatusError(s.Name(), resp, raw)
	}
	var out spoofSenseResponse
	if err := json.Unmarshal(raw, &out); err != nil || out.Success == nil {
		return Result{}, s.err(KindUnavailable, resp.StatusCode, "malformed response", nil)
	}
	if !*out.Success {
		return s.failure(out)
	}
	if out.ModelOutput == nil || out.ModelOutput.ProbReal == nil {
		return Result{}, s.err(KindUnavailable, resp.StatusCode, "response without model_output.prob_real", nil)
	}
	p := *out.ModelOutput.ProbReal
	if !unitScore(p) {
		return Result{}, s.err(KindUnavailable, resp.StatusCode, "prob_real outside [0,1]", nil)
	}
	return Result{
		Class:            ClassFace,
		Score:            p,
		HasScore:         true,
		DefaultThreshold: spoofSenseThresholds[s.Model],
	}, nil
}

// failure maps a success:false body: error_code when present (newer API),
// else the message (older API).
func (s *SpoofSense) failure(out spoofSenseResponse) (Result, error) {
	switch out.ErrorCode {
	case "FACE_NOT_DETECTED":
		return Result{Class: ClassNoFace, Reason: "face_not_detected"}, nil
	case "FACE_TOO_SMALL":
		return Result{Class: ClassNoFace, Reason: "face_too_small"}, nil
	case "INVALID_IMAGE_PAYLOAD":
		return Result{}, s.err(KindInvalidMedia, http.StatusOK, "vendor could not read the image", nil)
	case "":
	default:
		return Result{}, s.err(KindBadRequest, http.StatusOK, "unknown error_code "+Sanitize(out.ErrorCode), nil)
	}
	msg := strings.ToLower(out.Message)
	switch {
	case strings.Contains(msg, "face not detected"):
		return Result{Class: ClassNoFace, Reason: "face_not_detected"}, nil
	case strings.Contains(msg, "smaller than"):
		return Result{Class: ClassNoFace, Reason: "face_too_small"}, nil
	case strings.Contains(msg, "invalid base64"):
		return Result{}, s.err(KindInvalidMedia, http.StatusOK, "vendor could not read the image", nil)
	}
	return Result{}, s.err(KindBadRequest, http.StatusOK, "vendor refused: "+Sanitize(out.Message), nil)
}

// Interface guards
var (
	_ Vendor                = (*SpoofSense)(nil)
	_ caddy.Provisioner     = (*SpoofSense)(nil)
	_ caddy.CleanerUpper    = (*SpoofSense)(nil)
	_ caddyfile.Unmarshaler = (*SpoofSense)(nil)
)
