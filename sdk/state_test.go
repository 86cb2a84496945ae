package sdk

import (
	"os"
	"path/filepath"
	"testing"
)

func TestStateRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	type st struct{ Step int }
	var got st
	if ok, err := LoadState(dir, "s.json", &got); ok || err != nil {
		t.Fatalf("LoadState before any save = %v, %v", ok, err)
	}
	if err := SaveState(dir, "s.json", st{Step: 7}); err != nil {
		t.Fatal(err)
	}
	if ok, err := LoadState(dir, "s.json", &got); !ok || err != nil || got.Step != 7 {
		t.Fatalf("LoadState = %v, %v, %+v", ok, err, got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("state dir holds %d files, want only s.json (no temporary left)", len(entries))
	}
	if err := os.WriteFile(filepath.Join(dir, "s.json"), []byte("{half"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadState(dir, "s.json", &got); err == nil {
		t.Error("a corrupt state file loaded without error")
	}
	if ok, err := LoadState("", "s.json", &got); ok || err != nil {
		t.Error("no state dir must mean nothing to resume")
	}
}
