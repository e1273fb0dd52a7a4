package vendors

import (
	"errors"
	"math"
	"net/http"
	"testing"
)

// FuzzSpoofSenseResponse: any answer maps to a valid Result or a typed
// error, never a panic, and never to a live face without a valid score.
func FuzzSpoofSenseResponse(f *testing.F) {
	f.Add(200, []byte(`{"success": true, "message": "Process finished successfully", "model_output": {"pred_idx": "real", "prob_real": 0.9997915625572205}}`))
	f.Add(200, []byte(`{"success": false, "message": "face not detected"}`))
	f.Add(200, []byte(`{"success": false, "message": "face not detected", "error_code": "FACE_NOT_DETECTED"}`))
	f.Add(200, []byte(`{"success": false, "message": "Invalid base64 string"}`))
	f.Add(413, []byte(`HTTP content length exceeded 10485760 bytes.`))
	f.Add(403, []byte(`{"message":"Forbidden"}`))
	f.Add(429, []byte(`{"message":"Too Many Requests"}`))
	f.Add(504, []byte(`{"message": "Endpoint request timed out"}`))
	s := &SpoofSense{Model: "antispoofing"}
	f.Fuzz(func(t *testing.T, status int, raw []byte) {
		resp := &http.Response{StatusCode: status, Header: http.Header{"Retry-After": {"2"}}}
		r, err := s.parse(resp, raw)
		if err != nil {
			var ve *Error
			if !errors.As(err, &ve) || ve.Kind == "" {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		switch r.Class {
		case ClassFace:
			if !r.HasScore || math.IsNaN(r.Score) || r.Score < 0 || r.Score > 1 {
				t.Fatalf("face without a valid score: %+v", r)
			}
		case ClassNoFace:
		default:
			t.Fatalf("class %q", r.Class)
		}
		if status != http.StatusOK {
			t.Fatalf("a result from HTTP %d", status)
		}
	})
}
