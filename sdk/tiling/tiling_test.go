package tiling

import "testing"

// TestSelectMolmoTable checks Molmo's reference table (its constants).
func TestSelectMolmoTable(t *testing.T) {
	c := Default()
	if c.Stride() != 224 || c.MarginPixels() != 112 {
		t.Fatalf("stride %d margin %d, want 224 and 112", c.Stride(), c.MarginPixels())
	}
	for _, tc := range []struct{ h, w, rows, cols, rh, rw int }{
		{336, 336, 1, 1, 336, 336},
		{480, 640, 2, 3, 560, 784},
		{768, 1024, 3, 4, 784, 1008},
		{2000, 2000, 3, 3, 784, 784},
		{640, 480, 3, 2, 784, 560}, // transposed
		{100, 50, 1, 1, 336, 336},  // small: one crop
		{336, 4000, 1, 12, 336, 2800},
	} {
		got, err := c.Select(tc.h, tc.w)
		if err != nil {
			t.Fatal(err)
		}
		want := Tiling{tc.rows, tc.cols, tc.rh, tc.rw}
		if got != want {
			t.Errorf("%d×%d: %+v, want %+v", tc.h, tc.w, got, want)
		}
		if got.Crops() > c.MaxCrops {
			t.Errorf("%d×%d: %d crops", tc.h, tc.w, got.Crops())
		}
	}
}

// TestSelectSmallScale: a tiny model's constants (crop 32, patch 4, 1+1
// margin patches → stride 24, ≤ 4 crops).
func TestSelectSmallScale(t *testing.T) {
	c := Config{Crop: 32, Patch: 4, LeftMargin: 1, RightMargin: 1, MaxCrops: 4}
	for _, tc := range []struct{ h, w, rows, cols int }{{32, 32, 1, 1}, {40, 64, 2, 2}, {56, 56, 2, 2}, {500, 100, 4, 1}} {
		got, err := c.Select(tc.h, tc.w)
		if err != nil {
			t.Fatal(err)
		}
		if got.Rows != tc.rows || got.Cols != tc.cols || got.ResizedH != tc.rows*24+8 || got.ResizedW != tc.cols*24+8 {
			t.Errorf("%d×%d: %+v, want %d×%d", tc.h, tc.w, got, tc.rows, tc.cols)
		}
	}
	for _, bad := range []Config{{Crop: 30, Patch: 4, MaxCrops: 1}, {Crop: 32, Patch: 4, LeftMargin: 4, RightMargin: 4, MaxCrops: 1}, {Crop: 32, Patch: 4}} {
		if _, err := bad.Select(10, 10); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// TestWindowsTileOnce: the kept patches of all crops cover the resized
// image's patch grid exactly once, and each lies inside its crop.
func TestWindowsTileOnce(t *testing.T) {
	for _, c := range []Config{Default(), {Crop: 32, Patch: 4, LeftMargin: 1, RightMargin: 2, MaxCrops: 6}} {
		for _, hw := range [][2]int{{336, 336}, {480, 640}, {768, 1024}, {2000, 2000}, {60, 200}} {
			tl, err := c.Select(hw[0], hw[1])
			if err != nil {
				t.Fatal(err)
			}
			gh, gw := tl.ResizedH/c.Patch, tl.ResizedW/c.Patch
			seen := make([]int, gh*gw)
			for _, w := range c.Windows(tl) {
				if w.Y0+c.Crop > tl.ResizedH || w.X0+c.Crop > tl.ResizedW {
					t.Fatalf("%+v: crop %+v leaves the image", tl, w)
				}
				for y := w.PatchY0; y < w.PatchY1; y++ {
					for x := w.PatchX0; x < w.PatchX1; x++ {
						gy, gx := w.OutY+y-w.PatchY0, w.OutX+x-w.PatchX0
						if gy*c.Patch != w.Y0+y*c.Patch || gx*c.Patch != w.X0+x*c.Patch {
							t.Fatalf("%+v: patch (%d,%d) of crop %+v lands at (%d,%d)", tl, y, x, w, gy, gx)
						}
						seen[gy*gw+gx]++
					}
				}
			}
			for k, n := range seen {
				if n != 1 {
					t.Fatalf("config %+v image %v: patch %d covered %d times", c, hw, k, n)
				}
			}
		}
	}
}

func TestFitInto(t *testing.T) {
	for _, tc := range []struct {
		h, w, th, tw int
		want         Fit
	}{
		{480, 640, 560, 784, Fit{560, 746, 0, 19}},
		{100, 100, 336, 336, Fit{336, 336, 0, 0}},
		{200, 100, 336, 336, Fit{336, 168, 0, 84}},
	} {
		if got := FitInto(tc.h, tc.w, tc.th, tc.tw); got != tc.want {
			t.Errorf("FitInto(%d,%d,%d,%d) = %+v, want %+v", tc.h, tc.w, tc.th, tc.tw, got, tc.want)
		}
	}
}
