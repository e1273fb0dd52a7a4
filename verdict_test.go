package caddyliveness

import (
	"errors"
	"net/http"
	"testing"

	"github.com/caddy-liveness/caddy-liveness/vendors"
)

func TestDecide(t *testing.T) {
	yes, no := true, false
	t50, t90 := 0.50, 0.90
	tests := []struct {
		name      string
		r         vendors.Result
		threshold *float64
		want      Verdict
	}{
		{"score above the vendor default", vendors.Result{Class: vendors.ClassFace, Score: 0.6, HasScore: true, DefaultThreshold: 0.55}, nil, VerdictLive},
		{"score equal to the default is not live", vendors.Result{Class: vendors.ClassFace, Score: 0.55, HasScore: true, DefaultThreshold: 0.55}, nil, VerdictSpoof},
		{"operator threshold re-decides", vendors.Result{Class: vendors.ClassFace, Score: 0.6, HasScore: true, DefaultThreshold: 0.55}, &t90, VerdictSpoof},
		{"vendor decision stands without a threshold", vendors.Result{Class: vendors.ClassFace, Score: 0.2, HasScore: true, Passed: &yes}, nil, VerdictLive},
		{"threshold overrides the vendor decision", vendors.Result{Class: vendors.ClassFace, Score: 0.2, HasScore: true, Passed: &yes}, &t50, VerdictSpoof},
		{"no score: the vendor decision stands", vendors.Result{Class: vendors.ClassFace, Passed: &no}, &t50, VerdictSpoof},
		{"no score, no decision is never live", vendors.Result{Class: vendors.ClassFace}, &t50, VerdictSpoof},
		{"no face", vendors.Result{Class: vendors.ClassNoFace, Score: 0.99, HasScore: true}, &t50, VerdictNoFace},
		{"inconclusive", vendors.Result{Class: vendors.ClassInconclusive}, nil, VerdictInconclusive},
	}
	for _, tt := range tests {
		if got := decide(tt.r, tt.threshold).verdict; got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestCombineWorstWins(t *testing.T) {
	order := []Verdict{VerdictLive, VerdictInconclusive, VerdictError, VerdictNoFace, VerdictSpoof}
	for i, better := range order {
		for _, worse := range order[i:] {
			for _, pair := range [][]outcome{
				{{verdict: better, vendor: "a", cacheHit: true}, {verdict: worse, vendor: "b", reason: "r", cacheHit: true}},
				{{verdict: worse, vendor: "b", reason: "r", cacheHit: true}, {verdict: better, vendor: "a", cacheHit: false}},
			} {
				c := combine(pair)
				if c.verdict != worse {
					t.Fatalf("%s + %s = %s", better, worse, c.verdict)
				}
				if worse != better && (c.vendor != "b" || c.reason != "r") {
					t.Fatalf("%s + %s: vendor %q reason %q, want the worse one's", better, worse, c.vendor, c.reason)
				}
			}
		}
	}
	c := combine([]outcome{{verdict: VerdictLive, cacheHit: true}, {verdict: VerdictLive, cacheHit: false}})
	if c.cacheHit {
		t.Fatal("hit with one miss")
	}
}

func TestDenialStatuses(t *testing.T) {
	h := &Handler{OnError: "deny", OnNoFace: "deny", OnMissing: "deny"}
	vendorErr := func(k vendors.Kind) outcome {
		return outcome{verdict: VerdictError, err: &vendors.Error{Kind: k}}
	}
	tests := []struct {
		o    outcome
		want int
	}{
		{outcome{verdict: VerdictLive}, 0},
		{outcome{verdict: VerdictSpoof}, http.StatusForbidden},
		{outcome{verdict: VerdictNoFace}, http.StatusUnprocessableEntity},
		{outcome{}, http.StatusBadRequest},
		{outcome{verdict: VerdictInconclusive}, http.StatusServiceUnavailable},
		{vendorErr(vendors.KindUnavailable), http.StatusServiceUnavailable},
		{vendorErr(vendors.KindAuth), http.StatusServiceUnavailable},
		{vendorErr(vendors.KindTooLarge), http.StatusRequestEntityTooLarge},
		{vendorErr(vendors.KindInvalidMedia), http.StatusUnsupportedMediaType},
		{vendorErr(vendors.KindUnsupported), http.StatusUnsupportedMediaType},
		{outcome{verdict: VerdictError, err: errors.New("network")}, http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		if got, _ := h.denial(tt.o); got != tt.want {
			t.Errorf("%+v: %d, want %d", tt.o, got, tt.want)
		}
	}
	allow := &Handler{OnError: "allow", OnNoFace: "allow", OnMissing: "allow"}
	for _, o := range []outcome{{verdict: VerdictNoFace}, {}, {verdict: VerdictInconclusive}, vendorErr(vendors.KindUnavailable)} {
		if got, _ := allow.denial(o); got != 0 {
			t.Errorf("allow policies: %+v denied with %d", o, got)
		}
	}
	// A spoof is denied whatever the policies.
	if got, _ := allow.denial(outcome{verdict: VerdictSpoof}); got != http.StatusForbidden {
		t.Errorf("spoof under allow policies: %d", got)
	}
}

func TestVetoStandsAgainstThreshold(t *testing.T) {
	no := false
	low := 0.1
	r := vendors.Result{Class: vendors.ClassFace, Score: 0.99, HasScore: true, Passed: &no, Veto: true}
	if decide(r, &low).verdict != VerdictSpoof || decide(r, nil).verdict != VerdictSpoof {
		t.Fatal("a threshold overturned a vendor's veto")
	}
	r.Veto = false
	if decide(r, &low).verdict != VerdictLive {
		t.Fatal("without a veto the threshold decides from the score")
	}
}
