// Package model is the vlm plugin's Molmo-style vision-language model
// (Deitke et al. 2024): a ViT over multi-crop tiles (sdk/tiling), a
// connector that pools 2×2 patch windows with attention (query = the
// window's mean) over the concatenation of two ViT layers and projects them
// with a SwiGLU MLP into the LM's embedding space, and a decoder LM that
// reads the pooled image tokens at the <im_patch> slots of Molmo's token
// layout. This file is the host-side layout: crops, pooling windows,
// padding fractions and image tokens of one image size.
package model

import (
	"fmt"
	"math"

	"github.com/shammie-ml/shammie/sdk/ml"
	"github.com/shammie-ml/shammie/sdk/tiling"
)

// Image is an RGB image, row-major, 3 bytes a pixel.
type Image struct {
	H, W int
	Pix  []uint8
}

// Layout is what an image of one size becomes: its crops, which ViT rows
// each pooled token reads, how much of each of those patches is image (the
// rest is padding), and the image tokens in front of the text. It depends on
// the image size only, so a batch of equally sized images shares one.
type Layout struct {
	H, W   int
	Tiling tiling.Tiling
	Global bool // a global (whole image in one crop) view precedes the tiles; only with more than one tile
	Crops  int  // ViT crops per image (global included)
	Pooled int  // pooled image tokens per image
	// Pool[t*4+k] is the ViT row (crop·patches + patch) of patch k of pooled
	// window t; Frac the share of that patch covered by the image (Molmo's
	// image mask: 0 fully padded, between 0 and 1 partially padded).
	Pool []int32
	Frac []float32
	// Tokens are the image tokens (Molmo's layout: <im_start>, rows of
	// <im_patch> each ended by <im_col>, <im_end>; the global view first);
	// Slots[i] is the pooled token read at Tokens[i] (-1: none).
	Tokens []int32
	Slots  []int32
	// Pos[t] is pooled token t's place in its grid (the global view's or
	// the tiles'): ml.SinCos2D of its window row and column, width F (the
	// connector's feature width), added to its four patches' features.
	Pos [][]float64

	fit, globalFit tiling.Fit
	windows        []tiling.Window
}

// NewLayout computes the layout of an h×w image; feat is the connector's
// feature width (a multiple of 4).
func NewLayout(tc tiling.Config, tok ml.ByteTokenizer, feat, h, w int) (*Layout, error) {
	if err := CheckTiling(tc); err != nil {
		return nil, err
	}
	t, err := tc.Select(h, w)
	if err != nil {
		return nil, err
	}
	l := &Layout{H: h, W: w, Tiling: t, Global: t.Crops() > 1, windows: tc.Windows(t)}
	l.fit = tiling.FitInto(h, w, t.ResizedH, t.ResizedW)
	n := tc.Crop / tc.Patch
	per := n * n
	start, end, patch, col := tok.SpecialID("<im_start>"), tok.SpecialID("<im_end>"), tok.SpecialID("<im_patch>"), tok.SpecialID("<im_col>")
	if min(start, end, patch, col) < 0 {
		return nil, fmt.Errorf("the tokenizer lacks Molmo's image tokens (ml.VisionTokens)")
	}
	grid := func(gh, gw int, row func(y, x int) int32, frac func(y, x int) float32) {
		table := ml.SinCos2D(gh/2, gw/2, feat)
		for k := range gh / 2 * (gw / 2) {
			l.Pos = append(l.Pos, table[k*feat:(k+1)*feat])
		}
		l.Tokens = append(l.Tokens, start)
		l.Slots = append(l.Slots, -1)
		for y := 0; y < gh; y += 2 {
			for x := 0; x < gw; x += 2 {
				for _, d := range [4][2]int{{0, 0}, {0, 1}, {1, 0}, {1, 1}} {
					l.Pool = append(l.Pool, row(y+d[0], x+d[1]))
					l.Frac = append(l.Frac, frac(y+d[0], x+d[1]))
				}
				l.Tokens = append(l.Tokens, patch)
				l.Slots = append(l.Slots, int32(l.Pooled))
				l.Pooled++
			}
			l.Tokens = append(l.Tokens, col)
			l.Slots = append(l.Slots, -1)
		}
		l.Tokens = append(l.Tokens, end)
		l.Slots = append(l.Slots, -1)
	}
	crop := 0
	if l.Global {
		l.globalFit = tiling.FitInto(h, w, tc.Crop, tc.Crop)
		grid(n, n, func(y, x int) int32 { return int32(y*n + x) },
			func(y, x int) float32 { return coverage(l.globalFit, tc.Patch, y, x) })
		crop = 1
	}
	// The tiles' kept patches form one grid over the resized image.
	gh, gw := t.ResizedH/tc.Patch, t.ResizedW/tc.Patch
	rows := make([]int32, gh*gw)
	for k, win := range l.windows {
		c := crop + k
		for py := win.PatchY0; py < win.PatchY1; py++ {
			for px := win.PatchX0; px < win.PatchX1; px++ {
				rows[(win.OutY+py-win.PatchY0)*gw+win.OutX+px-win.PatchX0] = int32(c*per + py*n + px)
			}
		}
	}
	grid(gh, gw, func(y, x int) int32 { return rows[y*gw+x] },
		func(y, x int) float32 { return coverage(l.fit, tc.Patch, y, x) })
	l.Crops = crop + len(l.windows)
	return l, nil
}

// CheckTiling checks what the connector needs beyond tiling.Config's own
// rules: crops of an even number of patches and even margins, so that
// 2×2 pooling windows never straddle a tile boundary.
func CheckTiling(tc tiling.Config) error {
	if err := tc.Validate(); err != nil {
		return err
	}
	n := tc.Crop / tc.Patch
	if n%2 != 0 || tc.LeftMargin%2 != 0 || tc.RightMargin%2 != 0 {
		return fmt.Errorf("tiling: crop/patch = %d patches and the margins %d, %d must be even (2×2 pooling windows within one crop)", n, tc.LeftMargin, tc.RightMargin)
	}
	return nil
}

// coverage is the share of patch (y, x) of a canvas covered by the placed
// image.
func coverage(f tiling.Fit, p, y, x int) float32 {
	oy := max(0, min((y+1)*p, f.Top+f.ScaledH)-max(y*p, f.Top))
	ox := max(0, min((x+1)*p, f.Left+f.ScaledW)-max(x*p, f.Left))
	return float32(oy*ox) / float32(p*p)
}

// CLIP's pixel normalisation (Molmo's ViT is CLIP's).
var (
	pixelMean = [3]float32{0.48145466, 0.4578275, 0.40821073}
	pixelStd  = [3]float32{0.26862954, 0.26130258, 0.27577711}
)

// AppendCrops appends img's crops, [Crops, crop, crop, 3] normalised floats
// (padding 0, the mean colour), to dst. img must have the layout's size.
func (l *Layout) AppendCrops(dst []float32, img Image, crop int) []float32 {
	if img.H != l.H || img.W != l.W {
		panic(fmt.Sprintf("model: image %d×%d does not fit the layout of %d×%d", img.H, img.W, l.H, l.W))
	}
	if l.Global {
		canvas := place(img, l.globalFit, crop, crop)
		dst = append(dst, canvas...)
	}
	canvas := place(img, l.fit, l.Tiling.ResizedH, l.Tiling.ResizedW)
	rw := l.Tiling.ResizedW
	for _, win := range l.windows {
		for y := range crop {
			row := canvas[((win.Y0+y)*rw+win.X0)*3:]
			dst = append(dst, row[:crop*3]...)
		}
	}
	return dst
}

// place resizes img bilinearly (half-pixel centres) into f's rectangle of a
// th×tw canvas, normalised; the rest stays 0.
func place(img Image, f tiling.Fit, th, tw int) []float32 {
	out := make([]float32, th*tw*3)
	sy, sx := float64(img.H)/float64(f.ScaledH), float64(img.W)/float64(f.ScaledW)
	at := func(y, x, c int) float64 { return float64(img.Pix[(y*img.W+x)*3+c]) }
	for y := range f.ScaledH {
		fy := math.Max(0, (float64(y)+0.5)*sy-0.5)
		y0 := min(int(fy), img.H-1)
		y1, wy := min(y0+1, img.H-1), fy-float64(y0)
		for x := range f.ScaledW {
			fx := math.Max(0, (float64(x)+0.5)*sx-0.5)
			x0 := min(int(fx), img.W-1)
			x1, wx := min(x0+1, img.W-1), fx-float64(x0)
			o := ((f.Top+y)*tw + f.Left + x) * 3
			for c := range 3 {
				v := (1-wy)*((1-wx)*at(y0, x0, c)+wx*at(y0, x1, c)) + wy*((1-wx)*at(y1, x0, c)+wx*at(y1, x1, c))
				out[o+c] = (float32(v/255) - pixelMean[c]) / pixelStd[c]
			}
		}
	}
	return out
}
