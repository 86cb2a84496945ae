package planted

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shammie-ml/shammie/sdk/pointing"
)

// TestGenerateAndBundle: every pointing answer parses and its points hit
// their own masks (PointingEval F1 1), counts agree with the points, and
// the bundle round-trips.
func TestGenerateAndBundle(t *testing.T) {
	d, err := Generate(Options{Images: 30, Size: 40, MinObjects: 0, MaxObjects: 3, Shapes: KnownShapes, Colors: []string{"red", "blue"},
		Radius: 0.12, Noise: 0.3, TestShare: 0.2, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	tasks := map[string]int{}
	tests := 0
	for _, e := range d.Examples {
		tasks[e.Task]++
		if e.Split == "test" {
			tests++
		}
		var objs []pointing.Object
		for _, m := range e.Masks {
			objs = append(objs, pointing.Object{Mask: d.Masks[m]})
		}
		switch e.Task {
		case "point":
			s, err := pointing.ScoreAnswer(e.Answer, 40, 40, objs)
			if err != nil || s.F1 != 1 {
				t.Errorf("image %d: %q scores %+v (%v) against its own masks", e.Image, e.Answer, s, err)
			}
		case "count":
			if n, ok := pointing.ParseCount(e.Answer); !ok || n != e.Count || n != len(e.Masks) {
				t.Errorf("image %d: %q counts %d (%v), truth %d", e.Image, e.Answer, n, ok, e.Count)
			}
		}
	}
	if tasks["caption"] != 30 || tasks["count"] != 30 || tasks["point"] == 0 || tests == 0 {
		t.Errorf("tasks %v, %d held out", tasks, tests)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "images.safetensors")
	if err := WriteBundle(path, d.Size, d.Pixels, d.Masks); err != nil {
		t.Fatal(err)
	}
	b, err := ReadBundle(path)
	if err != nil {
		t.Fatal(err)
	}
	if b.N != 30 || b.H != 40 || len(b.Masks) != len(d.Masks) || string(b.Pixels) != string(d.Pixels) {
		t.Fatalf("bundle: %d images %d×%d, %d masks", b.N, b.H, b.W, len(b.Masks))
	}
	ex := filepath.Join(dir, "examples.jsonl")
	os.WriteFile(ex, []byte(`{"image": 31, "split": "train", "task": "caption", "prompt": "p", "answer": "a", "masks": [], "count": 0}`+"\n"), 0o644)
	if _, err := ReadExamples(ex, b); err == nil || !strings.Contains(err.Error(), "examples.jsonl:1: image 31 outside") {
		t.Errorf("out-of-range image: %v", err)
	}
	if _, err := ReadBundle(ex); err == nil {
		t.Error("a JSONL file read as a bundle")
	}
}
