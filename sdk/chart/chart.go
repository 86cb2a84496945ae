// Package chart saves gonum/plot figures the way every Shammie component
// does: the same figure as PNG (to look at) and SVG (to zoom and embed), at
// a common size, so plots from different plugins sit well side by side.
package chart

import (
	"fmt"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
)

// Default figure size.
const (
	Width  = 16 * vg.Centimeter
	Height = 10 * vg.Centimeter
)

// Save writes p to base+".png" and base+".svg" (base without extension),
// creating the directory, and returns both paths. w or h of 0 means the
// default size.
func Save(p *plot.Plot, base string, w, h vg.Length) (pngPath, svgPath string, err error) {
	if w == 0 {
		w = Width
	}
	if h == 0 {
		h = Height
	}
	if err := os.MkdirAll(filepath.Dir(base), 0o755); err != nil {
		return "", "", err
	}
	pngPath, svgPath = base+".png", base+".svg"
	for _, path := range []string{pngPath, svgPath} {
		if err := p.Save(w, h, path); err != nil {
			return "", "", fmt.Errorf("saving plot %s: %w", path, err)
		}
	}
	return pngPath, svgPath, nil
}
