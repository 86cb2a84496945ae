package clip

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/google/go-cmp/cmp"

	"github.com/shammie-ml/shammie/sdk/ml"
)

func testClip(t, h, w int) Clip {
	c := Clip{T: t, H: h, W: w, FPS: 25, Pixels: make([]byte, t*h*w*3)}
	for i := range c.Pixels {
		c.Pixels[i] = byte(i * 7)
	}
	return c
}

func TestBundleRoundTrip(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "clips.safetensors")
	a, b := testClip(4, 3, 2), testClip(2, 3, 2)
	if err := WriteBundle(p, map[string]Clip{"a": a, "b": b}, 25); err != nil {
		t.Fatal(err)
	}
	got, err := Load(dir, "clips.safetensors#b")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(b, got); diff != "" {
		t.Errorf("clip b (-want +got):\n%s", diff)
	}
	names, _ := BundleTensors(p)
	if diff := cmp.Diff([]string{"a", "b"}, names); diff != "" {
		t.Error(diff)
	}
	sel, err := got.Select([]int{1, 1, 0})
	if err != nil || sel.T != 3 || !bytes.Equal(sel.Frame(0), b.Frame(1)) || !bytes.Equal(sel.Frame(2), b.Frame(0)) {
		t.Errorf("select: %v", err)
	}
	if _, err := got.Select([]int{2}); err == nil {
		t.Error("selecting frame 2 of 2 worked")
	}
	// A single-tensor bundle needs no name.
	one := filepath.Join(dir, "one.safetensors")
	if err := WriteBundle(one, map[string]Clip{"whatever": a}, 30); err != nil {
		t.Fatal(err)
	}
	if c, err := Load(dir, "one.safetensors"); err != nil || c.T != 4 || c.FPS != 30 {
		t.Errorf("single tensor: %+v, %v", c.T, err)
	}
}

func TestBundleErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, dt dtypes.DType, shape []int, meta map[string]string) string {
		p := filepath.Join(dir, name)
		w, err := ml.CreateSafetensors(p, []ml.TensorSpec{{Name: "frames", DType: dt, Shape: shape}}, meta)
		if err != nil {
			t.Fatal(err)
		}
		n := 1
		for _, d := range shape {
			n *= d
		}
		if err := w.WriteBytes("frames", make([]byte, n*dt.Size())); err != nil {
			t.Fatal(err)
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := map[string]string{
		write("f32.safetensors", dtypes.Float32, []int{2, 2, 2, 3}, map[string]string{"fps": "30"}):  "want U8 [T,H,W,3]",
		write("gray.safetensors", dtypes.Uint8, []int{2, 2, 2, 1}, map[string]string{"fps": "30"}):   "want U8 [T,H,W,3]",
		write("nofps.safetensors", dtypes.Uint8, []int{2, 2, 2, 3}, nil):                             `no "fps"`,
		write("badfps.safetensors", dtypes.Uint8, []int{2, 2, 2, 3}, map[string]string{"fps": "-1"}): "not a positive number",
	}
	junk := filepath.Join(dir, "junk.safetensors")
	os.WriteFile(junk, []byte("not a safetensors file"), 0o600)
	cases[junk] = "junk.safetensors"
	for p, want := range cases {
		_, err := ReadBundle(p, "")
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), filepath.Base(p)) {
			t.Errorf("%s: %v, want an error naming the file and saying %q", filepath.Base(p), err, want)
		}
	}
	if _, err := ReadBundle(filepath.Join(dir, "f32.safetensors"), "other"); err == nil || !strings.Contains(err.Error(), `no tensor "other"`) {
		t.Errorf("missing tensor: %v", err)
	}
	if _, err := Load(dir, "clip.mp4"); err == nil || !strings.Contains(err.Error(), "clip.mp4") {
		t.Errorf("mp4: %v", err)
	}
}

func TestManifest(t *testing.T) {
	dir := t.TempDir()
	img := image.NewRGBA(image.Rect(0, 0, 3, 2))
	for y := range 2 {
		for x := range 3 {
			img.Set(x, y, color.RGBA{uint8(10 * x), uint8(100 + y), 7, 255})
		}
	}
	var buf bytes.Buffer
	png.Encode(&buf, img)
	os.WriteFile(filepath.Join(dir, "f0.png"), buf.Bytes(), 0o600)
	buf.Reset()
	jpeg.Encode(&buf, img, &jpeg.Options{Quality: 100})
	os.WriteFile(filepath.Join(dir, "f1.jpg"), buf.Bytes(), 0o600)
	os.WriteFile(filepath.Join(dir, "m.json"), []byte(`{"fps": 12, "frames": ["f0.png", "f1.jpg"]}`), 0o600)
	c, err := Load(dir, "m.json")
	if err != nil {
		t.Fatal(err)
	}
	if c.T != 2 || c.H != 2 || c.W != 3 || c.FPS != 12 {
		t.Fatalf("clip %d×%d×%d at %g fps", c.T, c.H, c.W, c.FPS)
	}
	if got := c.Frame(0)[3*(1*3+2):][:3]; !bytes.Equal(got, []byte{20, 101, 7}) {
		t.Errorf("PNG pixel (2,1) = %v", got)
	}
	// A small image: JPEG is lossy but close.
	if got := c.Frame(1)[3*(1*3+2)+1]; got < 95 || got > 107 {
		t.Errorf("JPEG pixel green %d, want ≈ 101", got)
	}
	os.WriteFile(filepath.Join(dir, "bad.png"), []byte("garbage"), 0o600)
	small := image.NewRGBA(image.Rect(0, 0, 1, 1))
	buf.Reset()
	png.Encode(&buf, small)
	os.WriteFile(filepath.Join(dir, "small.png"), buf.Bytes(), 0o600)
	bad := map[string]string{
		`{"fps": 12, "frames": ["f0.png", "bad.png"]}`:   "frame 1: " + filepath.Join(dir, "bad.png") + ": not a PNG or JPEG",
		`{"fps": 12, "frames": ["f0.png", "small.png"]}`: "is 1×1, frame 0 is 3×2",
		`{"fps": 12, "frames": ["missing.png"]}`:         "missing.png",
		`{"fps": 0, "frames": ["f0.png"]}`:               "fps must be a positive number",
		`{"fps": 12, "frames": []}`:                      "no frames",
		`{"fps": 12, "frames": ["f0.png"], "x": 1}`:      "unknown field",
	}
	for body, want := range bad {
		os.WriteFile(filepath.Join(dir, "b.json"), []byte(body), 0o600)
		_, err := Load(dir, "b.json")
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "b.json") {
			t.Errorf("%s: %v, want an error naming b.json and saying %q", body, err, want)
		}
	}
}

// FuzzReadBundle: any bytes as a clip bundle either fail or give a clip
// whose pixels match its shape.
func FuzzReadBundle(f *testing.F) {
	dir := f.TempDir()
	p := filepath.Join(dir, "seed.safetensors")
	if err := WriteBundle(p, map[string]Clip{"frames": testClip(2, 2, 2)}, 30); err != nil {
		f.Fatal(err)
	}
	seed, _ := os.ReadFile(p)
	f.Add(seed)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "c.safetensors")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := ReadBundle(p, "")
		if err != nil {
			return
		}
		if c.T < 1 || len(c.Pixels) != c.T*c.H*c.W*3 || !(c.FPS > 0) {
			t.Errorf("clip %d×%d×%d, %d bytes, fps %g", c.T, c.H, c.W, len(c.Pixels), c.FPS)
		}
	})
}

// FuzzManifest: the manifest parser never panics and accepts only
// manifests with a positive fps and non-empty frame paths.
func FuzzManifest(f *testing.F) {
	f.Add([]byte(`{"fps": 12, "frames": ["a.png"]}`))
	f.Add([]byte(`{"fps": 1e400}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data)
		if err != nil {
			return
		}
		if !(m.FPS > 0) || len(m.Frames) == 0 {
			t.Errorf("accepted %+v", m)
		}
	})
}
