package fitplot

import (
	"context"
	"fmt"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shammie-ml/shammie/plugins/fit/internal/threshold"
)

// TestSave draws a planted curve and checks both files: the PNG decodes at
// the chart size and the SVG carries the threshold and interval labels.
// Set FIT_PLOT_DIR to keep the figure for a look.
func TestSave(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	var pts []threshold.Point
	var spread []float64
	for i := 0; i < 300; i++ {
		c := int64(math.Exp(rng.Float64() * math.Log(20000))) // log-uniform
		if i < 5 {
			c = 0
		}
		s := 0.25
		if c >= 112 {
			s = 0.45
		}
		pts = append(pts, threshold.Point{Count: c, Score: s + 0.02*rng.NormFloat64()})
	}
	e, err := threshold.Find(pts, 0.9)
	if err != nil {
		t.Fatal(err)
	}
	for range e.Sorted {
		spread = append(spread, 0.01+0.01*rng.Float64())
	}
	iv, err := threshold.Bootstrap(context.Background(), pts, 0.9, 200, 1, 0.95, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if d := os.Getenv("FIT_PLOT_DIR"); d != "" {
		dir = d
	}
	pngPath, svgPath, err := Save(Input{Title: "planted onset", Estimate: e, Spread: spread, Interval: &iv}, filepath.Join(dir, "fit"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(pngPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("PNG does not decode: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 400 || b.Dy() < 250 {
		t.Errorf("PNG is %v", b)
	}
	svg, err := os.ReadFile(svgPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{fmt.Sprintf("threshold: %d images", e.Threshold), "bootstrap interval", "<svg"} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
}
