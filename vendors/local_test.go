package vendors

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// An inference waits for one of max_concurrent slots only until the
// request's deadline.
func TestLocalWaitsForASlotOnlyUntilTheDeadline(t *testing.T) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
	defer cancel()
	l := &Local{MaxConcurrent: 1}
	if err := l.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	face, err := os.ReadFile(filepath.Join("local", "preproc", "testdata", "local-model", "faces", "minivision_image_T1.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	req := &Request{Media: Media{Data: face, MIME: "image/jpeg"}}
	if res, err := l.Check(t.Context(), req); err != nil || res.Class != ClassFace || !res.HasScore {
		t.Fatalf("free slot: %+v, %v", res, err)
	}
	if err := l.slots.Acquire(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	defer l.slots.Release(1)
	dctx, dcancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer dcancel()
	_, err = l.Check(dctx, req)
	if KindOf(err) != KindUnavailable || !strings.Contains(err.Error(), "no inference slot") {
		t.Fatalf("slot taken: %v, want no inference slot", err)
	}
}

func TestLocalDefaultsToGOMAXPROCSSlots(t *testing.T) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
	defer cancel()
	l := new(Local)
	if err := l.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	if l.MaxConcurrent < 1 || !l.slots.TryAcquire(int64(l.MaxConcurrent)) || l.slots.TryAcquire(1) {
		t.Fatalf("max_concurrent %d does not bound the slots", l.MaxConcurrent)
	}
	if err := (&Local{MaxConcurrent: -1}).Provision(ctx); err == nil {
		t.Fatal("negative max_concurrent accepted")
	}
}
