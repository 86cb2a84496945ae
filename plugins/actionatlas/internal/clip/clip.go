// Package clip reads and writes video clips as frame sequences — Go has no
// video decoder, so a clip is either a safetensors bundle holding
// U8 [T,H,W,3] frames with "fps" in its metadata, or a JSON manifest of
// PNG/JPEG frame paths. Errors name the file (and the frame or tensor).
package clip

import (
	"encoding/json"
	"fmt"
	"image"
	_ "image/jpeg" // manifest frames may be JPEG
	_ "image/png"  // or PNG
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"

	"github.com/shammie-ml/shammie/sdk/ml"
)

// FPSKey is the safetensors metadata key of a bundle's frame rate.
const FPSKey = "fps"

// DefaultTensor is the tensor a bundle's clip is read from when the path
// names none and the file holds several.
const DefaultTensor = "frames"

// MaxFrameBytes bounds one clip's pixels (2 GiB), so a corrupt header cannot
// ask for an absurd allocation.
const MaxFrameBytes = 1 << 31

// Clip is T frames of H×W RGB pixels, row-major, (t, y, x, channel).
type Clip struct {
	T, H, W int
	FPS     float64
	Pixels  []byte // len T·H·W·3
}

// Frame returns frame t's H·W·3 bytes.
func (c Clip) Frame(t int) []byte {
	n := c.H * c.W * 3
	return c.Pixels[t*n : (t+1)*n]
}

// Select returns the frames at idx (repeats allowed), same size and rate.
func (c Clip) Select(idx []int) (Clip, error) {
	out := Clip{T: len(idx), H: c.H, W: c.W, FPS: c.FPS, Pixels: make([]byte, 0, len(idx)*c.H*c.W*3)}
	for _, i := range idx {
		if i < 0 || i >= c.T {
			return Clip{}, fmt.Errorf("frame %d of a %d-frame clip", i, c.T)
		}
		out.Pixels = append(out.Pixels, c.Frame(i)...)
	}
	return out, nil
}

// Load reads a clip: "file.safetensors" or "file.safetensors#tensor" (a
// bundle), or "file.json" (a manifest). Relative paths resolve against dir.
func Load(dir, ref string) (Clip, error) {
	path, tensor, _ := strings.Cut(ref, "#")
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".safetensors":
		return ReadBundle(path, tensor)
	case ".json":
		return ReadManifest(path)
	}
	return Clip{}, fmt.Errorf("clip %s: want a .safetensors bundle or a .json manifest of frames", path)
}

// ParseFPS reads a frame rate: a positive finite number.
func ParseFPS(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || !(v > 0) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("fps %q is not a positive number", s)
	}
	return v, nil
}

// ReadBundle reads one clip from a safetensors bundle: the named tensor, or
// the only tensor, or "frames". It must be U8 [T,H,W,3] with T, H, W ≥ 1,
// and the metadata must carry fps.
func ReadBundle(path, tensor string) (Clip, error) {
	f, err := ml.OpenSafetensors(path)
	if err != nil {
		return Clip{}, fmt.Errorf("clip bundle: %w", err)
	}
	defer f.Close()
	if tensor == "" {
		if ts := f.Tensors(); len(ts) == 1 {
			tensor = ts[0].Name
		} else {
			tensor = DefaultTensor
		}
	}
	info, ok := f.Info(tensor)
	if !ok {
		return Clip{}, fmt.Errorf("clip bundle %s: no tensor %q (it has %s)", path, tensor, names(f.Tensors()))
	}
	s := info.Shape
	if info.DType != dtypes.Uint8 || len(s) != 4 || s[3] != 3 || s[0] < 1 || s[1] < 1 || s[2] < 1 {
		return Clip{}, fmt.Errorf("clip bundle %s: tensor %q is %s %v, want U8 [T,H,W,3]", path, tensor, info.DType, s)
	}
	if info.Size > MaxFrameBytes {
		return Clip{}, fmt.Errorf("clip bundle %s: tensor %q has %d bytes, more than %d", path, tensor, info.Size, MaxFrameBytes)
	}
	raw, ok := f.Metadata[FPSKey]
	if !ok {
		return Clip{}, fmt.Errorf("clip bundle %s: no %q in the metadata", path, FPSKey)
	}
	fps, err := ParseFPS(raw)
	if err != nil {
		return Clip{}, fmt.Errorf("clip bundle %s: %w", path, err)
	}
	px, err := f.ReadBytes(tensor, nil)
	if err != nil {
		return Clip{}, fmt.Errorf("clip bundle %s: %w", path, err)
	}
	return Clip{T: s[0], H: s[1], W: s[2], FPS: fps, Pixels: px}, nil
}

// BundleTensors lists a bundle's clip tensors (name order).
func BundleTensors(path string) ([]string, error) {
	f, err := ml.OpenSafetensors(path)
	if err != nil {
		return nil, fmt.Errorf("clip bundle: %w", err)
	}
	defer f.Close()
	var out []string
	for _, t := range f.Tensors() {
		out = append(out, t.Name)
	}
	return out, nil
}

func names(ts []ml.TensorInfo) string {
	var out []string
	for _, t := range ts {
		out = append(out, strconv.Quote(t.Name))
	}
	if len(out) == 0 {
		return "no tensors"
	}
	return strings.Join(out, ", ")
}

// WriteBundle writes clips (same fps) as one safetensors bundle, one
// U8 [T,H,W,3] tensor per name, atomically.
func WriteBundle(path string, clips map[string]Clip, fps float64) error {
	keys := make([]string, 0, len(clips))
	for k := range clips {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	specs := make([]ml.TensorSpec, len(keys))
	for i, k := range keys {
		c := clips[k]
		if len(c.Pixels) != c.T*c.H*c.W*3 {
			return fmt.Errorf("clip %q: %d bytes for %d×%d×%d×3", k, len(c.Pixels), c.T, c.H, c.W)
		}
		specs[i] = ml.TensorSpec{Name: k, DType: dtypes.Uint8, Shape: []int{c.T, c.H, c.W, 3}}
	}
	w, err := ml.CreateSafetensors(path, specs, map[string]string{FPSKey: strconv.FormatFloat(fps, 'g', -1, 64)})
	if err != nil {
		return err
	}
	defer w.Abort()
	for _, k := range keys {
		if err := w.WriteBytes(k, clips[k].Pixels); err != nil {
			return err
		}
	}
	return w.Commit()
}

// Manifest is a clip as image files: {"fps": 30, "frames": ["f0.png", …]},
// paths relative to the manifest.
type Manifest struct {
	FPS    float64  `json:"fps"`
	Frames []string `json:"frames"`
}

// ParseManifest decodes and checks a manifest (unknown fields are errors).
func ParseManifest(data []byte) (Manifest, error) {
	var m Manifest
	d := json.NewDecoder(strings.NewReader(string(data)))
	d.DisallowUnknownFields()
	if err := d.Decode(&m); err != nil {
		return Manifest{}, err
	}
	if d.More() {
		return Manifest{}, fmt.Errorf("trailing data after the manifest object")
	}
	if !(m.FPS > 0) || math.IsInf(m.FPS, 0) {
		return Manifest{}, fmt.Errorf("fps must be a positive number, got %g", m.FPS)
	}
	if len(m.Frames) == 0 {
		return Manifest{}, fmt.Errorf("no frames")
	}
	for i, p := range m.Frames {
		if strings.TrimSpace(p) == "" {
			return Manifest{}, fmt.Errorf("frame %d: empty path", i)
		}
	}
	return m, nil
}

// ReadManifest reads a manifest and decodes its frames (PNG or JPEG, any
// colour model, converted to 8-bit RGB; alpha is dropped). Every frame must
// have the first one's size.
func ReadManifest(path string) (Clip, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Clip{}, fmt.Errorf("clip manifest: %w", err)
	}
	m, err := ParseManifest(data)
	if err != nil {
		return Clip{}, fmt.Errorf("clip manifest %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	var c Clip
	c.FPS = m.FPS
	for i, p := range m.Frames {
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		img, err := decodeImage(p)
		if err != nil {
			return Clip{}, fmt.Errorf("clip manifest %s: frame %d: %w", path, i, err)
		}
		b := img.Bounds()
		if i == 0 {
			c.H, c.W = b.Dy(), b.Dx()
			if int64(len(m.Frames))*int64(c.H*c.W*3) > MaxFrameBytes {
				return Clip{}, fmt.Errorf("clip manifest %s: %d frames of %d×%d exceed %d bytes", path, len(m.Frames), c.W, c.H, MaxFrameBytes)
			}
			c.Pixels = make([]byte, 0, len(m.Frames)*c.H*c.W*3)
		} else if b.Dy() != c.H || b.Dx() != c.W {
			return Clip{}, fmt.Errorf("clip manifest %s: frame %d (%s) is %d×%d, frame 0 is %d×%d", path, i, p, b.Dx(), b.Dy(), c.W, c.H)
		}
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				r, g, bl, _ := img.At(x, y).RGBA()
				c.Pixels = append(c.Pixels, byte(r>>8), byte(g>>8), byte(bl>>8))
			}
		}
		c.T++
	}
	return c, nil
}

func decodeImage(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cfg, _, err := image.DecodeConfig(f)
	if err != nil {
		return nil, fmt.Errorf("%s: not a PNG or JPEG image: %w", path, err)
	}
	if int64(cfg.Width)*int64(cfg.Height) > MaxFrameBytes/3 {
		return nil, fmt.Errorf("%s: %d×%d pixels is too large a frame", path, cfg.Width, cfg.Height)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	img, format, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: not a PNG or JPEG image: %w", path, err)
	}
	if format != "png" && format != "jpeg" {
		return nil, fmt.Errorf("%s: %s image, want PNG or JPEG", path, format)
	}
	if b := img.Bounds(); b.Dx() < 1 || b.Dy() < 1 {
		return nil, fmt.Errorf("%s: empty image", path)
	}
	return img, nil
}
