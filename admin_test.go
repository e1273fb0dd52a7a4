package caddyliveness

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/caddy-liveness/caddy-liveness/vendors"
)

func getStats(t *testing.T) Stats {
	t.Helper()
	rec := httptest.NewRecorder()
	if err := (adminAPI{}).stats(rec, httptest.NewRequest(http.MethodGet, "/liveness/stats", nil)); err != nil {
		t.Fatal(err)
	}
	var st Stats
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// /liveness/stats lists each handler by name with its own counts, beside
// the totals.
func TestStatsByHandler(t *testing.T) {
	down := newFake("statsdown")
	down.answer = func(vendors.Media) (vendors.Result, error) {
		return vendors.Result{}, &vendors.Error{Kind: vendors.KindUnavailable, Status: 503}
	}
	a, _ := testHandler(t, func(h *Handler) { h.Name = "stats-b.example.com/upload" }, newFake("statsvendor"))
	b, _ := testHandler(t, func(h *Handler) { h.Name = "stats-a"; h.Mode = "annotate"; r := 0; h.Retries = &r }, down)
	for _, h := range []*Handler{a, b} {
		handlerSet.Store(h, struct{}{})
		t.Cleanup(func() { handlerSet.Delete(h) })
	}
	for _, img := range [][]byte{liveJPEG, liveJPEG, spoofJPEG} {
		ct, body := multipartBody(t, "selfie", img)
		serve(a, post(ct, body), &upstream{})
	}
	ct, body := multipartBody(t, "selfie", liveJPEG)
	serve(b, post(ct, body), &upstream{})

	st := getStats(t)
	byName := map[string]HandlerStats{}
	var order []string
	for _, hs := range st.Handlers {
		if hs.Name == a.Name || hs.Name == b.Name {
			byName[hs.Name] = hs
			order = append(order, hs.Name)
		}
	}
	if len(order) != 2 || order[0] != b.Name {
		t.Fatalf("handlers %q, want both, by name", order)
	}
	ha, hb := byName[a.Name], byName[b.Name]
	if ha.Mode != "enforce" || ha.Backend != "memory" || ha.Hits != 1 || ha.Misses != 2 || ha.HitRate != 1.0/3 ||
		ha.Decisions["live"] != 2 || ha.Decisions["spoof"] != 1 || len(ha.Decisions) != 2 {
		t.Errorf("%s: %+v", a.Name, ha)
	}
	if len(ha.Vendors) != 1 || ha.Vendors[0].Vendor != "statsvendor" || ha.Vendors[0].Handler != a.Name || len(ha.Vendors[0].Errors) != 0 {
		t.Errorf("%s vendors: %+v", a.Name, ha.Vendors)
	}
	if hb.Mode != "annotate" || hb.Hits != 0 || hb.Misses != 1 || hb.Decisions["error"] != 1 ||
		len(hb.Vendors) != 1 || hb.Vendors[0].Vendor != "statsdown" || hb.Vendors[0].Errors["unavailable"] != 1 {
		t.Errorf("%s: %+v", b.Name, hb)
	}
	// The totals still count both.
	if st.Cache.Hits < 1 || st.Cache.Misses < 3 || st.Cache.Backend == "" {
		t.Errorf("cache totals %+v", st.Cache)
	}
	seen := map[string]string{}
	for _, v := range st.Vendors {
		seen[v.Vendor] = v.Handler
	}
	if seen["statsvendor"] != a.Name || seen["statsdown"] != b.Name {
		t.Errorf("vendors of the totals by handler: %v", seen)
	}
}

// The decision log line names the handler.
func TestDecisionLogNamesTheHandler(t *testing.T) {
	h, logs := testHandler(t, func(h *Handler) { h.Name = "log.example.com/upload" }, newFake("fake"))
	ct, body := multipartBody(t, "selfie", liveJPEG)
	serve(h, post(ct, body), &upstream{})
	lines := logs.FilterMessage("liveness decision").All()
	if len(lines) != 1 || lines[0].ContextMap()["handler"] != "log.example.com/upload" {
		t.Fatalf("decision lines %v, want one with handler log.example.com/upload", lines)
	}
}
