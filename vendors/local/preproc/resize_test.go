package preproc

import (
	"bytes"
	"testing"
)

func gray(w, h int, v ...uint8) *Image {
	m := NewImage(w, h)
	for i, x := range v {
		m.Pix[3*i], m.Pix[3*i+1], m.Pix[3*i+2] = x, x, x
	}
	return m
}

func TestResizeLinearKnownValues(t *testing.T) {
	// 2x1 -> 4x1: weights (0 | 1536,512 | 512,1536 | last pixel), OpenCV gives 0 64 191 255.
	got := ResizeLinear(gray(2, 1, 0, 255), 4, 1)
	if want := gray(4, 1, 0, 64, 191, 255); !bytes.Equal(got.Pix, want.Pix) {
		t.Errorf("upscale: got %v, want %v", got.Pix, want.Pix)
	}
	// Same size: a copy, not an alias.
	src := asymmetric(5, 4)
	c := ResizeLinear(src, 5, 4)
	if !bytes.Equal(c.Pix, src.Pix) || &c.Pix[0] == &src.Pix[0] {
		t.Error("same-size resize is not a copy")
	}
	// Exact 2x reduction: OpenCV's INTER_AREA, a rounded 2x2 mean.
	h := ResizeLinear(gray(4, 2, 0, 1, 10, 20, 2, 2, 30, 41), 2, 1)
	if want := gray(2, 1, 1, 25); !bytes.Equal(h.Pix, want.Pix) {
		t.Errorf("2x reduction: got %v, want %v", h.Pix, want.Pix)
	}
}

func TestResizeLinearShapes(t *testing.T) {
	src := asymmetric(13, 7)
	for _, sz := range [][2]int{{1, 1}, {1, 7}, {13, 1}, {26, 14}, {40, 3}, {6, 3}, {7, 13}, {100, 100}} {
		m := ResizeLinear(src, sz[0], sz[1])
		if m.W != sz[0] || m.H != sz[1] || len(m.Pix) != 3*sz[0]*sz[1] {
			t.Errorf("%v: got %dx%d", sz, m.W, m.H)
		}
	}
	// A constant image stays constant at any size (weights sum to 2048 on both axes).
	k := NewImage(9, 5)
	for i := range k.Pix {
		k.Pix[i] = 200
	}
	for _, sz := range [][2]int{{4, 3}, {17, 11}, {3, 2}} {
		for _, v := range ResizeLinear(k, sz[0], sz[1]).Pix {
			if v != 200 && v != 199 {
				t.Fatalf("%v: constant 200 became %d", sz, v)
			}
		}
	}
}

func TestResizeLinearPanicsOnBadSize(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic for a 0x5 destination")
		}
	}()
	ResizeLinear(asymmetric(3, 3), 0, 5)
}

func TestCropBoxClamps(t *testing.T) {
	// minivision's arithmetic by hand: a 100x100 box at (10,10) in 480x640 at scale 4 is 400x400
	// about (60,60), (-140,-140)-(260,260), shifted right and down to (0,0)-(400,400).
	l, tp, r, b, err := CropBox(480, 640, [4]int{10, 10, 100, 100}, 4)
	if err != nil || l != 0 || tp != 0 || r != 400 || b != 400 {
		t.Errorf("CropBox = %d %d %d %d %v", l, tp, r, b, err)
	}
	// Scale clamped to (480-1)/300: the box spans the width (shifted left), 159.67 high about y=350.
	l, tp, r, b, err = CropBox(480, 640, [4]int{170, 300, 300, 100}, 2.7)
	if err != nil || l != 0 || r != 479 || tp != 270 || b != 429 {
		t.Errorf("CropBox clamped = %d %d %d %d %v", l, tp, r, b, err)
	}
	for _, box := range [][4]int{{0, 0, 0, 10}, {0, 0, 10, -1}} {
		if _, err := Crop(asymmetric(20, 20), box, 2.7, 80, 80); err == nil {
			t.Errorf("box %v: no error", box)
		}
	}
	if m, err := Crop(asymmetric(20, 20), [4]int{5, 5, 4, 4}, 2.7, 80, 80); err != nil || m.W != 80 || m.H != 80 {
		t.Errorf("small crop: %v", err)
	}
}

// resizeRegion reads a region in place and gives what resizing a copy of it gives, for
// reductions, enlargements, the exact 2x reduction and the unchanged size.
func TestResizeRegionEqualsResizeOfSubImage(t *testing.T) {
	src := NewImage(97, 83)
	for i := range src.Pix {
		src.Pix[i] = uint8(i*7 + i/5)
	}
	for _, c := range []struct{ x0, y0, w, h, dw, dh int }{
		{0, 0, 97, 83, 80, 80}, {10, 5, 60, 70, 80, 80}, {3, 7, 40, 30, 20, 15},
		{1, 1, 50, 40, 50, 40}, {20, 10, 33, 61, 9, 200}, {0, 0, 1, 1, 5, 5},
	} {
		want := ResizeLinear(src.SubImage(c.x0, c.y0, c.x0+c.w, c.y0+c.h), c.dw, c.dh)
		got := resizeRegion(src, c.x0, c.y0, c.w, c.h, c.dw, c.dh)
		if got.W != want.W || got.H != want.H || string(got.Pix) != string(want.Pix) {
			t.Errorf("region %+v: differs from resizing the copy", c)
		}
	}
}
