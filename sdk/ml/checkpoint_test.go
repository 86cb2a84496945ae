package ml

import (
	gocontext "context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/google/go-cmp/cmp"
)

// TestSafetensorsPythonReader writes tensors of several dtypes and reads them
// back with our reader and with an independent Python (stdlib only) reader.
func TestSafetensorsPythonReader(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.safetensors")
	f32 := []float32{1.5, -2.25, 3e-8, 4e7, 0, -0.125}
	f64 := []float64{1.0 / 3, -2e-300, 7}
	i32 := []int32{-7, 0, 1 << 30}
	in := []NamedTensor{
		{"b.weights", tensors.FromFlatDataAndDimensions(f32, 2, 3)},
		{"a.gain", tensors.FromFlatDataAndDimensions(f64, 3)},
		{"c.ids", tensors.FromFlatDataAndDimensions(i32, 3, 1)},
	}
	meta := map[string]string{"format": "test"}
	if err := WriteSafetensors(path, in, meta); err != nil {
		t.Fatal(err)
	}
	got, gotMeta, err := ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(meta, gotMeta); diff != "" {
		t.Errorf("metadata (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(f32, tensors.MustCopyFlatData[float32](got["b.weights"])); diff != "" {
		t.Errorf("b.weights (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(f64, tensors.MustCopyFlatData[float64](got["a.gain"])); diff != "" {
		t.Errorf("a.gain (-want +got):\n%s", diff)
	}

	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed: the independent reader check needs it")
	}
	out, err := exec.Command(py, "testdata/read_safetensors.py", path).Output()
	if err != nil {
		t.Fatalf("python reader: %v", err)
	}
	var res struct {
		Metadata map[string]string
		Tensors  map[string]struct {
			DType  string
			Shape  []int
			Values []float64
		}
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("python output %q: %v", out, err)
	}
	type tensorView struct {
		DType  string
		Shape  []int
		Values []float64
	}
	want := map[string]tensorView{
		"b.weights": {"F32", []int{2, 3}, toF64(f32)},
		"a.gain":    {"F64", []int{3}, f64},
		"c.ids":     {"I32", []int{3, 1}, []float64{-7, 0, 1 << 30}},
	}
	gotPy := map[string]tensorView{}
	for k, v := range res.Tensors {
		gotPy[k] = tensorView{v.DType, v.Shape, v.Values}
	}
	if diff := cmp.Diff(want, gotPy); diff != "" {
		t.Errorf("python reader (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(meta, res.Metadata); diff != "" {
		t.Errorf("python metadata (-want +got):\n%s", diff)
	}
}

func toF64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

func modelWeights(t *testing.T, ctx *context.Context) map[string][]float32 {
	t.Helper()
	out := map[string][]float32{}
	for _, v := range VariablesUnder(ctx, "/"+ModelScope) {
		out[TensorName(v)] = tensors.MustCopyFlatData[float32](v.MustValue())
	}
	return out
}

type stopAfter struct {
	recorder
	step   int64
	cancel func()
}

func (s *stopAfter) Progress(_ string, done, _ int64, _ string) {
	if done == s.step {
		s.cancel()
	}
}

// TestResumeIsBitExact trains 8 steps straight, then 8 steps interrupted
// after 3 (cancellation writes a checkpoint) and resumed in a fresh context:
// the final weights must be identical bit for bit. Gradient accumulation is
// on, so the accumulators' reset at step boundaries is covered too.
func TestResumeIsBitExact(t *testing.T) {
	backend := openGo(t)
	cfg := tinyConfig()
	ids, _ := ByteTokenizer{}.Encode(strings.Repeat("resume must be exact; ", 20))
	w, _ := NewLMWindows(ids, 2, 16, 9)
	tc := TrainConfig{Steps: 8, LR: 3e-3, WarmupSteps: 2, ClipNorm: 1, WeightDecay: 0.1, AccumSteps: 2, CheckpointEvery: 2, ModelConfig: cfg,
		Trainable: []string{"/model"}, LRGroups: []LRGroup{{"/model/head", 2}}}
	train := func(dir string, rep interface {
		Progress(string, int64, int64, string)
		Metric(string, int64, float64)
		Logf(string, ...any)
	}, goctx gocontext.Context) (*context.Context, TrainResult, error) {
		m, ctx := newModel(t, cfg)
		c := tc
		c.CheckpointDir = dir
		tr, err := NewTrainer(backend, ctx, lmLoss(m), c, rep)
		if err != nil {
			t.Fatal(err)
		}
		res, err := tr.Train(goctx, w, nil)
		return ctx, res, err
	}
	straightCtx, _, err := train(t.TempDir(), nil, gocontext.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := modelWeights(t, straightCtx)

	dir := t.TempDir()
	goctx, cancel := gocontext.WithCancel(gocontext.Background())
	_, res, err := train(dir, &stopAfter{step: 3, cancel: cancel}, goctx)
	if err == nil || res.Steps != 3 {
		t.Fatalf("interrupted run: steps=%d err=%v, want 3 steps and a cancellation error", res.Steps, err)
	}
	if ck, _ := LatestCheckpoint(dir); filepath.Base(ck) != "step-00000003" {
		t.Fatalf("latest checkpoint %q, want step-00000003 (written on cancellation)", ck)
	}
	resumedCtx, res, err := train(dir, nil, gocontext.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.ResumedFrom != 3 || res.Steps != 8 {
		t.Fatalf("resumed run: from %d to %d, want 3 to 8", res.ResumedFrom, res.Steps)
	}
	if diff := cmp.Diff(want, modelWeights(t, resumedCtx)); diff != "" {
		t.Fatalf("resumed weights differ from the uninterrupted run (-want +got):\n%.2000s", diff)
	}
	if kept, _ := filepath.Glob(filepath.Join(dir, "step-*")); len(kept) != 2 || filepath.Base(kept[1]) != "step-00000008" {
		t.Errorf("kept checkpoints %v, want the newest two ending with step-00000008", kept)
	}
	// The checkpoint holds a loadable model: config.json and model.safetensors.
	ck, _ := LatestCheckpoint(dir)
	gotCfg, err := LoadConfig(filepath.Join(ck, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(cfg.WithDefaults(), gotCfg); diff != "" {
		t.Errorf("config.json (-want +got):\n%s", diff)
	}
	fresh := context.New()
	if err := LoadVariables(filepath.Join(ck, "model.safetensors"), fresh, "/"+ModelScope); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, modelWeights(t, fresh)); diff != "" {
		t.Fatalf("model.safetensors does not hold the final weights (-want +got):\n%.2000s", diff)
	}
}

// TestBadInputs checks that bad files give errors naming what is wrong where.
func TestBadInputs(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	empty := write("empty.txt", "\n \n")
	badUTF := write("bad.txt", "line one\nline \xff two\n")
	badJSON := write("bad.jsonl", "{\"text\": \"ok\"}\n\n{\"text\": 3}\n")
	unknown := write("unknown.jsonl", "{\"txt\": \"typo\"}\n")
	emptyJSONL := write("empty.jsonl", "")
	type doc struct {
		Text string `json:"text"`
	}
	// A checkpoint written for a wider model.
	wide := filepath.Join(dir, "wide.safetensors")
	{
		m, ctx := newModel(t, Config{VocabSize: 256, DModel: 16, NumHeads: 2, NumLayers: 1, MaxSeqLen: 8})
		backend := openGo(t)
		e := context.MustNewExec(backend, ctx, (func(*context.Context, []*graph.Node) *graph.Node)(lmLoss(m)))
		e.MustExec(tensors.FromFlatDataAndDimensions([]int32{1, 2, 3}, 1, 3))
		if err := SaveVariables(wide, ctx, "/"+ModelScope, nil); err != nil {
			t.Fatal(err)
		}
	}
	narrowCtx := func() *context.Context {
		m, ctx := newModel(t, Config{VocabSize: 256, DModel: 8, NumHeads: 2, NumLayers: 1, MaxSeqLen: 8})
		e := context.MustNewExec(openGo(t), ctx, (func(*context.Context, []*graph.Node) *graph.Node)(lmLoss(m)))
		e.MustExec(tensors.FromFlatDataAndDimensions([]int32{1, 2, 3}, 1, 3))
		return ctx
	}
	truncated := write("trunc.safetensors", "\x10\x00\x00")
	tests := []struct {
		name string
		run  func() error
		want []string
	}{
		{"empty text", func() error { _, err := LoadText(empty); return err }, []string{empty, "empty file"}},
		{"invalid UTF-8 text", func() error { _, err := LoadText(badUTF); return err }, []string{badUTF + ":2", "invalid UTF-8"}},
		{"invalid UTF-8 encode", func() error { _, err := ByteTokenizer{}.Encode("ok\xc3("); return err }, []string{"invalid UTF-8 at byte offset 2"}},
		{"JSONL wrong type", func() error { _, err := LoadJSONL[doc](badJSON); return err }, []string{badJSON + ":3", "string"}},
		{"JSONL unknown field", func() error { _, err := LoadJSONL[doc](unknown); return err }, []string{unknown + ":1", "unknown field \"txt\""}},
		{"JSONL empty", func() error { _, err := LoadJSONL[doc](emptyJSONL); return err }, []string{emptyJSONL, "empty file"}},
		{"wrong-shape checkpoint", func() error { return LoadVariables(wide, narrowCtx(), "/"+ModelScope) }, []string{wide, "model.embed.table", "[256 16]", "[256 8]"}},
		{"truncated safetensors", func() error { _, _, err := ReadSafetensors(truncated); return err }, []string{truncated, "too short"}},
		{"bad model config", func() error {
			_, err := NewTransformer(Config{VocabSize: 10, DModel: 10, NumHeads: 3, NumLayers: 1, MaxSeqLen: 4})
			return err
		}, []string{"multiple of num_heads"}},
		{"too few tokens", func() error { _, err := NewLMWindows([]int32{1, 2}, 1, 4, 0); return err }, []string{"too few"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}
