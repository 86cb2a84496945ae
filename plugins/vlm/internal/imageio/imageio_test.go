package imageio

import (
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeImage(t *testing.T, path string, enc func(*os.File, image.Image) error) {
	t.Helper()
	im := image.NewRGBA(image.Rect(0, 0, 6, 4))
	for y := range 4 {
		for x := range 6 {
			im.Set(x, y, color.RGBA{uint8(40 * x), uint8(60 * y), 200, 255})
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := enc(f, im); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func TestManifest(t *testing.T) {
	dir := t.TempDir()
	writeImage(t, filepath.Join(dir, "a.png"), func(f *os.File, im image.Image) error { return png.Encode(f, im) })
	writeImage(t, filepath.Join(dir, "b.jpg"), func(f *os.File, im image.Image) error { return jpeg.Encode(f, im, &jpeg.Options{Quality: 95}) })
	if err := os.WriteFile(filepath.Join(dir, "bad.png"), []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	man := filepath.Join(dir, "m.jsonl")
	os.WriteFile(man, []byte(`{"image": "a.png", "prompt": "Point to the dot."}`+"\n"+`{"image": "b.jpg", "prompt": "How many dots are there?"}`+"\n"), 0o644)
	items, err := LoadManifest(man)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || items[0].Img.H != 4 || items[0].Img.W != 6 {
		t.Fatalf("items %+v", items)
	}
	// PNG is lossless: pixel (x=2, y=1) is (80, 60, 200).
	if p := items[0].Img.Pix[(1*6+2)*3:]; p[0] != 80 || p[1] != 60 || p[2] != 200 {
		t.Errorf("pixel (2,1) = %v, want [80 60 200]", p[:3])
	}
	for name, tc := range map[string]struct{ line, want string }{
		"undecodable": {`{"image": "bad.png", "prompt": "x"}`, "m2.jsonl:2: image " + filepath.Join(dir, "bad.png") + ": cannot decode"},
		"missing":     {`{"image": "gone.png", "prompt": "x"}`, "m2.jsonl:2: image " + filepath.Join(dir, "gone.png")},
		"no prompt":   {`{"image": "a.png"}`, `m2.jsonl:2: each line needs "image" and "prompt"`},
	} {
		m2 := filepath.Join(dir, "m2.jsonl")
		os.WriteFile(m2, []byte(`{"image": "a.png", "prompt": "ok"}`+"\n"+tc.line+"\n"), 0o644)
		if _, err := LoadManifest(m2); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, tc.want)
		}
	}
}
