package preproc

import (
	"fmt"
	"math"
)

// CropBox reproduces minivision's CropImage._get_new_box (src/generate_patches.py): the face box
// (x, y, w, h, as Detection.get_bbox returns it) is scaled about its centre by scale — clamped to
// min((srcH-1)/h, (srcW-1)/w, scale) so that it fits — then shifted back inside the image, and its
// corners are truncated to int as Python's int() does. It returns the inclusive corners
// (left, top, right, bottom). The float arithmetic is Python's, operation by operation.
func CropBox(srcW, srcH int, box [4]int, scale float64) (l, t, r, b int, err error) {
	x, y, bw, bh := float64(box[0]), float64(box[1]), float64(box[2]), float64(box[3])
	if box[2] <= 0 || box[3] <= 0 || srcW <= 0 || srcH <= 0 || math.IsNaN(scale) {
		return 0, 0, 0, 0, fmt.Errorf("preproc: cannot crop box %v of a %dx%d image", box, srcW, srcH)
	}
	scale = math.Min(float64(srcH-1)/bh, math.Min(float64(srcW-1)/bw, scale))

	newW := float64(bw * scale) // explicit conversions: no fused multiply-add
	newH := float64(bh * scale)
	cx, cy := bw/2+x, bh/2+y

	ltx, lty := cx-newW/2, cy-newH/2
	rbx, rby := cx+newW/2, cy+newH/2
	if ltx < 0 {
		rbx -= ltx
		ltx = 0
	}
	if lty < 0 {
		rby -= lty
		lty = 0
	}
	if w1 := float64(srcW - 1); rbx > w1 {
		ltx -= rbx - float64(srcW) + 1
		rbx = w1
	}
	if h1 := float64(srcH - 1); rby > h1 {
		lty -= rby - float64(srcH) + 1
		rby = h1
	}
	return int(ltx), int(lty), int(rbx), int(rby), nil
}

// Crop reproduces minivision's CropImage.crop(org_img, bbox, scale, out_w, out_h): the CropBox
// region, sliced as numpy does img[top:bottom+1, left:right+1] (an index past the end is cut to the
// size, a negative one counts from the end), then cv2.resize to outW x outH with the default
// INTER_LINEAR (ResizeLinear). MiniFASNetV2 uses scale 2.7 and MiniFASNetV1SE 4.0, both 80x80.
// It fails, where Python would raise, when the box or the slice is empty.
func Crop(img *Image, box [4]int, scale float64, outW, outH int) (*Image, error) {
	if outW <= 0 || outH <= 0 {
		return nil, fmt.Errorf("preproc: crop output size %dx%d", outW, outH)
	}
	l, t, r, b, err := CropBox(img.W, img.H, box, scale)
	if err != nil {
		return nil, err
	}
	x0, x1 := pySlice(l, r+1, img.W)
	y0, y1 := pySlice(t, b+1, img.H)
	if x0 >= x1 || y0 >= y1 {
		return nil, fmt.Errorf("preproc: crop of box %v at scale %v is empty in a %dx%d image", box, scale, img.W, img.H)
	}
	return resizeRegion(img, x0, y0, x1-x0, y1-y0, outW, outH), nil
}

// pySlice resolves Python's a[start:stop] bounds (step 1) for a sequence of length n.
func pySlice(start, stop, n int) (int, int) {
	norm := func(i int) int {
		if i < 0 {
			i += n
		}
		return clampInt(i, 0, n)
	}
	return norm(start), norm(stop)
}
