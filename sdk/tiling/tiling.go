// Package tiling is Molmo's multi-crop tiling of large images (Deitke et al.
// 2024), in plain Go: which grid of overlapping crops an image is cut into,
// the size it is resized (aspect kept, then padded) to first, and which
// patches of each crop are kept so that the crops' patches tile the resized
// image exactly once. Pixels are not touched here: the caller resizes.
package tiling

import (
	"fmt"
	"math"
	"sort"
)

// Config holds the tiling constants; Molmo's are Default(). Sizes are in
// pixels, margins in patches.
type Config struct {
	Crop        int // crop side (336)
	Patch       int // ViT patch side (14)
	LeftMargin  int // patches of overlap kept only by the first crop of a row/column (4)
	RightMargin int // patches of overlap kept only by the last crop (4)
	MaxCrops    int // at most this many crops (12)
}

// Default returns Molmo's constants: 336-pixel crops of 14-pixel patches,
// 4+4 margin patches (112 pixels, so crops advance by a 224-pixel stride),
// at most 12 crops.
func Default() Config {
	return Config{Crop: 336, Patch: 14, LeftMargin: 4, RightMargin: 4, MaxCrops: 12}
}

// Validate reports the first problem with c.
func (c Config) Validate() error {
	switch {
	case c.Crop <= 0 || c.Patch <= 0 || c.Crop%c.Patch != 0:
		return fmt.Errorf("tiling: crop (%d) must be a positive multiple of patch (%d)", c.Crop, c.Patch)
	case c.LeftMargin < 0 || c.RightMargin < 0 || c.LeftMargin+c.RightMargin >= c.Crop/c.Patch:
		return fmt.Errorf("tiling: margins %d+%d must be >= 0 and leave a window inside a crop of %d patches", c.LeftMargin, c.RightMargin, c.Crop/c.Patch)
	case c.MaxCrops <= 0:
		return fmt.Errorf("tiling: max_crops must be > 0, got %d", c.MaxCrops)
	}
	return nil
}

// Stride is the crop window (what each crop contributes beyond the
// margins) in pixels: Crop − (LeftMargin+RightMargin)·Patch (224).
func (c Config) Stride() int { return c.Crop - c.MarginPixels() }

// MarginPixels is (LeftMargin+RightMargin)·Patch (112).
func (c Config) MarginPixels() int { return (c.LeftMargin + c.RightMargin) * c.Patch }

// Tiling is the result of Select for one image.
type Tiling struct {
	Rows, Cols int // crops down and across
	// ResizedH×ResizedW is the size the image is resized and padded to:
	// Rows·Stride + MarginPixels by Cols·Stride + MarginPixels.
	ResizedH, ResizedW int
}

// Crops is Rows·Cols.
func (t Tiling) Crops() int { return t.Rows * t.Cols }

// Select chooses the tiling of an h×w image as Molmo's select_tiling does on
// the image less the margins: among the grids of i×j ≤ MaxCrops windows of
// Stride pixels (ordered by i·j, then i), the one needing the least upscaling
// to cover the image (scale = min(i·Stride/(h−margin), j·Stride/(w−margin)));
// when every grid would have to shrink the image, the one that shrinks it
// least. Ties go to the earlier grid. Scales are float32, as Molmo's numpy.
func (c Config) Select(h, w int) (Tiling, error) {
	if err := c.Validate(); err != nil {
		return Tiling{}, err
	}
	if h <= 0 || w <= 0 {
		return Tiling{}, fmt.Errorf("tiling: image size %d×%d must be positive", h, w)
	}
	eh, ew := float32(h-c.MarginPixels()), float32(w-c.MarginPixels())
	type cand struct{ i, j int }
	var cands []cand
	for i := 1; i <= c.MaxCrops; i++ {
		for j := 1; j <= c.MaxCrops; j++ {
			if i*j <= c.MaxCrops {
				cands = append(cands, cand{i, j})
			}
		}
	}
	sort.SliceStable(cands, func(a, b int) bool {
		if pa, pb := cands[a].i*cands[a].j, cands[b].i*cands[b].j; pa != pb {
			return pa < pb
		}
		return cands[a].i < cands[b].i
	})
	s := float32(c.Stride())
	scale := make([]float32, len(cands))
	allBelow := true
	for k, cd := range cands {
		scale[k] = min(float32(cd.i)*s/eh, float32(cd.j)*s/ew)
		if !(scale[k] < 1) {
			allBelow = false
		}
	}
	best := 0
	if allBelow {
		for k := range scale { // least downscaling: first maximum
			if scale[k] > scale[best] {
				best = k
			}
		}
	} else {
		bestScale := float32(math.Inf(1))
		for k, sc := range scale { // least upscaling: first minimum among ≥ 1
			if sc < 1 {
				continue
			}
			if sc < bestScale {
				best, bestScale = k, sc
			}
		}
	}
	cd := cands[best]
	return Tiling{Rows: cd.i, Cols: cd.j,
		ResizedH: cd.i*c.Stride() + c.MarginPixels(), ResizedW: cd.j*c.Stride() + c.MarginPixels()}, nil
}

// Fit is how an h×w image goes into a th×tw canvas keeping its aspect ratio
// (Molmo's resize_and_pad): scaled to ScaledH×ScaledW (the floor of each side
// times min(th/h, tw/w)) and placed at (Top, Left), centred, the rest
// padding.
type Fit struct {
	ScaledH, ScaledW, Top, Left int
}

// FitInto returns the placement of an h×w image in a th×tw canvas.
func FitInto(h, w, th, tw int) Fit {
	sc := min(float64(th)/float64(h), float64(tw)/float64(w))
	sh, sw := min(th, int(float64(h)*sc)), min(tw, int(float64(w)*sc))
	return Fit{ScaledH: sh, ScaledW: sw, Top: (th - sh) / 2, Left: (tw - sw) / 2}
}

// Window is the part of one crop that is kept: the crop covers pixels
// [Y0, Y0+Crop) × [X0, X0+Crop) of the resized image, and its patches
// [PatchY0, PatchY1) × [PatchX0, PatchX1) (in the crop's own patch grid)
// are kept, landing at patch (OutY, OutX) of the whole image's patch grid.
type Window struct {
	Row, Col                           int
	Y0, X0                             int
	PatchY0, PatchY1, PatchX0, PatchX1 int
	OutY, OutX                         int
}

// Windows lists t's crops row by row. Every crop but the first of a
// row/column drops its LeftMargin patches, every crop but the last drops its
// RightMargin patches, so the kept patches tile the resized image's
// (ResizedH/Patch)×(ResizedW/Patch) patch grid exactly once.
func (c Config) Windows(t Tiling) []Window {
	n := c.Crop / c.Patch
	span := func(k, count int) (p0, p1, out int) {
		p0, p1 = c.LeftMargin, n-c.RightMargin
		if k == 0 {
			p0 = 0
		}
		if k == count-1 {
			p1 = n
		}
		return p0, p1, k*(c.Stride()/c.Patch) + p0
	}
	var ws []Window
	for i := range t.Rows {
		for j := range t.Cols {
			y0, y1, oy := span(i, t.Rows)
			x0, x1, ox := span(j, t.Cols)
			ws = append(ws, Window{Row: i, Col: j, Y0: i * c.Stride(), X0: j * c.Stride(),
				PatchY0: y0, PatchY1: y1, PatchX0: x0, PatchX1: x1, OutY: oy, OutX: ox})
		}
	}
	return ws
}
