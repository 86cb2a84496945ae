// Package imageio loads user images (PNG, JPEG) named by a manifest into
// the model's RGB layout.
package imageio

import (
	"fmt"
	"image"
	_ "image/jpeg" // decoders
	_ "image/png"
	"os"
	"path/filepath"

	"github.com/shammie-ml/shammie/plugins/vlm/internal/model"
	"github.com/shammie-ml/shammie/sdk/datafile"
)

// Entry is one manifest line: an image path (relative to the manifest's
// folder) and the prompt asked about it.
type Entry struct {
	Image  string `json:"image"`
	Prompt string `json:"prompt"`
}

// Item is a loaded manifest entry.
type Item struct {
	Entry
	Path string // resolved path
	Img  model.Image
}

// LoadManifest reads a JSONL manifest and decodes every image it names;
// errors name the manifest line and the image file.
func LoadManifest(path string) ([]Item, error) {
	es, err := datafile.ReadJSONL[Entry](path, datafile.Options{})
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	out := make([]Item, len(es))
	for i, e := range es {
		if e.Image == "" || e.Prompt == "" {
			return nil, fmt.Errorf("%s:%d: each line needs \"image\" and \"prompt\"", path, i+1)
		}
		p := e.Image
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		img, err := Load(p)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, i+1, err)
		}
		out[i] = Item{Entry: e, Path: p, Img: img}
	}
	return out, nil
}

// Load decodes a PNG or JPEG file into RGB (alpha is dropped).
func Load(path string) (model.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return model.Image{}, fmt.Errorf("image %s: %w", path, err)
	}
	defer f.Close()
	im, format, err := image.Decode(f)
	if err != nil {
		return model.Image{}, fmt.Errorf("image %s: cannot decode it as PNG or JPEG: %w", path, err)
	}
	b := im.Bounds()
	if b.Dx() == 0 || b.Dy() == 0 {
		return model.Image{}, fmt.Errorf("image %s (%s): empty", path, format)
	}
	out := model.Image{H: b.Dy(), W: b.Dx(), Pix: make([]uint8, b.Dx()*b.Dy()*3)}
	for y := range out.H {
		for x := range out.W {
			r, g, bl, _ := im.At(b.Min.X+x, b.Min.Y+y).RGBA()
			o := (y*out.W + x) * 3
			out.Pix[o], out.Pix[o+1], out.Pix[o+2] = uint8(r>>8), uint8(g>>8), uint8(bl>>8)
		}
	}
	return out, nil
}
