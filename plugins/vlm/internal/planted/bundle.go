package planted

import (
	"fmt"
	"strconv"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/shammie-ml/shammie/sdk/datafile"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// BundleFormat is the image bundle's "format" metadata.
const BundleFormat = "shammie-vlm-images/1"

// WriteBundle writes the images ("images", U8 [N, H, W, 3]) and the object
// masks ("masks", U8 [M, H, W], 1 inside; absent when there are none) to
// one safetensors file.
func WriteBundle(path string, size int, pixels []uint8, masks [][]bool) error {
	n := len(pixels) / (size * size * 3)
	ts := []ml.NamedTensor{{Name: "images", Tensor: tensors.FromFlatDataAndDimensions(pixels, n, size, size, 3)}}
	if len(masks) > 0 {
		flat := make([]uint8, 0, len(masks)*size*size)
		for _, m := range masks {
			for _, in := range m {
				flat = append(flat, b2u(in))
			}
		}
		ts = append(ts, ml.NamedTensor{Name: "masks", Tensor: tensors.FromFlatDataAndDimensions(flat, len(masks), size, size)})
	}
	return ml.WriteSafetensors(path, ts, map[string]string{"format": BundleFormat, "images": strconv.Itoa(n)})
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// Bundle is a read image bundle.
type Bundle struct {
	N, H, W int
	Pixels  []uint8
	Masks   [][]bool
}

// Image returns image i's pixels.
func (b *Bundle) Image(i int) []uint8 { return b.Pixels[i*b.H*b.W*3 : (i+1)*b.H*b.W*3] }

// ReadBundle reads an image bundle, checking its layout.
func ReadBundle(path string) (*Bundle, error) {
	ts, meta, err := ml.ReadSafetensors(path)
	if err != nil {
		return nil, err
	}
	if meta["format"] != BundleFormat {
		return nil, fmt.Errorf("%s: not a vlm image bundle (format %q, want %q)", path, meta["format"], BundleFormat)
	}
	img, ok := ts["images"]
	if !ok || img.DType() != dtypes.Uint8 || img.Rank() != 4 || img.Shape().Dim(3) != 3 {
		return nil, fmt.Errorf("%s: needs a tensor \"images\" U8 [N, H, W, 3]", path)
	}
	b := &Bundle{N: img.Shape().Dim(0), H: img.Shape().Dim(1), W: img.Shape().Dim(2)}
	if b.Pixels, err = tensors.CopyFlatData[uint8](img); err != nil {
		return nil, fmt.Errorf("%s: images: %w", path, err)
	}
	if m, ok := ts["masks"]; ok {
		if m.DType() != dtypes.Uint8 || m.Rank() != 3 || m.Shape().Dim(1) != b.H || m.Shape().Dim(2) != b.W {
			return nil, fmt.Errorf("%s: \"masks\" must be U8 [M, %d, %d], got %s", path, b.H, b.W, m.Shape())
		}
		flat, err := tensors.CopyFlatData[uint8](m)
		if err != nil {
			return nil, fmt.Errorf("%s: masks: %w", path, err)
		}
		hw := b.H * b.W
		for i := range m.Shape().Dim(0) {
			mask := make([]bool, hw)
			for p := range hw {
				mask[p] = flat[i*hw+p] != 0
			}
			b.Masks = append(b.Masks, mask)
		}
	}
	return b, nil
}

// ReadExamples reads the examples JSONL and checks every image and mask
// index against the bundle.
func ReadExamples(path string, b *Bundle) ([]Example, error) {
	exs, err := datafile.ReadJSONL[Example](path, datafile.Options{})
	if err != nil {
		return nil, err
	}
	for i, e := range exs {
		if e.Image < 0 || e.Image >= b.N {
			return nil, fmt.Errorf("%s:%d: image %d outside the bundle's %d images", path, i+1, e.Image, b.N)
		}
		for _, m := range e.Masks {
			if m < 0 || m >= len(b.Masks) {
				return nil, fmt.Errorf("%s:%d: mask %d outside the bundle's %d masks", path, i+1, m, len(b.Masks))
			}
		}
	}
	return exs, nil
}
