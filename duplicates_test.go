package caddyliveness

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/caddy-liveness/caddy-liveness/vendors/vendortest"
)

// clock is a settable time for duplicate windows.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestDuplicates(t *testing.T) {
	img := vendortest.SampleJPEG("score=0.77")
	type step struct {
		after     time.Duration // since the first sighting
		status    int
		header    string // <prefix>Duplicate
		duplicate string // placeholder
	}
	tests := []struct {
		policy string
		steps  []step
	}{
		{"annotate", []step{{0, 0, "", ""}, {30 * time.Second, 0, "", ""}, {2 * time.Minute, 0, "3", "3"}, {3 * time.Minute, 0, "4", "4"}}},
		{"deny", []step{{0, 0, "", ""}, {59 * time.Second, 0, "", ""}, {61 * time.Second, 403, "", "3"}}},
		{"allow", []step{{0, 0, "", ""}, {2 * time.Minute, 0, "", "2"}}},
	}
	for _, tt := range tests {
		t.Run(tt.policy, func(t *testing.T) {
			v := newFake("fake")
			c := &clock{t: time.Unix(1_700_000_000, 0)}
			h, logs := testHandler(t, func(h *Handler) { h.OnDuplicate = tt.policy }, v)
			h.now = c.now
			start := c.t
			before := testutil.ToFloat64(metrics.duplicates.WithLabelValues(h.Name, tt.policy))
			for i, s := range tt.steps {
				c.t = start.Add(s.after)
				ct, body := multipartBody(t, "selfie", img)
				up := &upstream{}
				repl, err := serve(h, post(ct, body), up)
				if got := statusOf(err); got != s.status {
					t.Fatalf("step %d: status %d, want %d", i, got, s.status)
				}
				if got, _ := repl.GetString("http.liveness.duplicate"); got != s.duplicate {
					t.Fatalf("step %d: placeholder %q, want %q", i, got, s.duplicate)
				}
				if s.status == 0 && up.header.Get("X-Liveness-Duplicate") != s.header {
					t.Fatalf("step %d: header %q, want %q", i, up.header.Get("X-Liveness-Duplicate"), s.header)
				}
				if s.status == 403 {
					if r, _ := repl.GetString("http.liveness.reason"); r != "duplicate" {
						t.Fatalf("reason %q", r)
					}
					if v.calls.Load() != 1 {
						t.Fatalf("a denied replay cost a vendor call (%d calls)", v.calls.Load())
					}
				}
			}
			dups := 0
			for _, s := range tt.steps {
				if s.duplicate != "" {
					dups++
				}
			}
			if got := testutil.ToFloat64(metrics.duplicates.WithLabelValues(h.Name, tt.policy)) - before; int(got) != dups {
				t.Fatalf("duplicates_total{action=%s} grew by %v, want %d", tt.policy, got, dups)
			}
			if len(logs.FilterFieldKey("duplicate").All()) != dups {
				t.Fatal("duplicates not in the log lines")
			}
		})
	}
}

func TestDuplicateWindowParsing(t *testing.T) {
	h, err := parse("liveness {\n vendor spoofsense {\n api_key k\n }\n on_duplicate deny\n duplicate_window 30s\n}")
	if err != nil || h.OnDuplicate != "deny" || time.Duration(h.DuplicateWindow) != 30*time.Second {
		t.Fatalf("%v %+v", err, h)
	}
	for _, bad := range []string{"on_duplicate block", "duplicate_window soon", "on_duplicate"} {
		if _, err := parse("liveness {\n vendor spoofsense {\n api_key k\n }\n " + bad + "\n}"); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}
