package pipeline

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shammie-ml/shammie/plugins/actionatlas/internal/clip"
	"github.com/shammie-ml/shammie/plugins/actionatlas/internal/protocol"
)

func TestLoadLeaderboard(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "lb.csv")
	os.WriteFile(p, []byte("model,type,input_frames,input_video_tokens,inference_tflops,accuracy_pct\nGPT-4o,proprietary,16,,,42.95\nGemini,proprietary,1 fps,,,32.37\nRandom chance,baseline,,,,20.91\n"), 0o600)
	got, err := LoadLeaderboard(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Accuracy != 42.95 || got[2].Type != "baseline" {
		t.Errorf("leaderboard %+v", got)
	}
	if n, ok := got[0].FrameCount(); !ok || n != 16 {
		t.Errorf("GPT-4o frames %d %v", n, ok)
	}
	if _, ok := got[1].FrameCount(); ok {
		t.Error("1 fps read as a frame count")
	}
	for body, want := range map[string]string{
		"model,type,input_frames\nx,open,16\n":                  "accuracy_pct",
		"model,type,input_frames,accuracy_pct\nx,open,16,abc\n": "lb.csv:2",
		"model,type,input_frames,accuracy_pct\n":                "no rows",
	} {
		os.WriteFile(p, []byte(body), 0o600)
		if _, err := LoadLeaderboard(p); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
	}
}

// TestLoadClipByReferenceName: records without clip are found by the
// reference's file name in the clips directory; with a bundle as clips, by
// tensor.
func TestLoadClipByReferenceName(t *testing.T) {
	dir := t.TempDir()
	c := clip.Clip{T: 3, H: 2, W: 2, FPS: 30, Pixels: make([]byte, 36)}
	if err := clip.WriteBundle(filepath.Join(dir, "yt1_12.0_15.2.safetensors"), map[string]clip.Clip{"frames": c}, 30); err != nil {
		t.Fatal(err)
	}
	r := protocol.Record{ID: "1", YouTubeID: "yt1", StartTimestamp: "12", EndTimestamp: "15.25"}
	got, err := loadClip(dir, dir, r)
	if err != nil || got.T != 3 {
		t.Fatalf("by name: %v", err)
	}
	r.YouTubeID = "yt2"
	if _, err := loadClip(dir, dir, r); err == nil || !strings.Contains(err.Error(), "yt2_12.0_15.2.safetensors") {
		t.Errorf("missing: %v", err)
	}
	bundle := filepath.Join(dir, "all.safetensors")
	if err := clip.WriteBundle(bundle, map[string]clip.Clip{"clip7": c}, 30); err != nil {
		t.Fatal(err)
	}
	r.Clip = "elsewhere/clips.safetensors#clip7"
	if got, err := loadClip(dir, bundle, r); err != nil || got.T != 3 {
		t.Errorf("from the bundle: %v", err)
	}
}

// FuzzLeaderboard: the CSV reader never panics and keeps percentages.
func FuzzLeaderboard(f *testing.F) {
	f.Add([]byte("model,type,input_frames,accuracy_pct\nx,open,16,42.9\n"))
	f.Add([]byte("model,type,input_frames,accuracy_pct\n\"a\nb\",open,,1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "lb.csv")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		es, err := LoadLeaderboard(p)
		if err != nil {
			return
		}
		for _, e := range es {
			if !(e.Accuracy >= 0 && e.Accuracy <= 100) {
				t.Errorf("accuracy %v", e.Accuracy)
			}
		}
	})
}
