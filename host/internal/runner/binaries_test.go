package runner

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPrivateBinary: the host executes a private copy whose bytes it
// hashed itself; replacing the original afterwards changes nothing, and a
// binary that does not match the lock is refused.
func TestPrivateBinary(t *testing.T) {
	t.Cleanup(removePrivateBinaries)
	dir := t.TempDir()
	bin := filepath.Join(dir, "shammie-plugin-x")
	good := []byte("#!/bin/sh\necho locked\n")
	if err := os.WriteFile(bin, good, 0o755); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(good)
	want := hex.EncodeToString(sum[:])
	p, err := privateBinary(bin, want)
	if err != nil {
		t.Fatal(err)
	}
	if p == bin || filepath.Base(p) != "shammie-plugin-x" {
		t.Fatalf("private copy %q", p)
	}
	fi, err := os.Stat(filepath.Dir(p))
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("private dir mode %v, %v; want 0700", fi.Mode(), err)
	}
	// A writer swaps the binary after it was locked and copied.
	if err := os.WriteFile(bin+".new", []byte("#!/bin/sh\necho evil\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(bin+".new", bin); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(p)
	if err != nil || string(got) != string(good) {
		t.Errorf("private copy now holds %q, %v", got, err)
	}
	// A fresh process (no copy yet) refuses the swapped binary.
	removePrivateBinaries()
	if _, err := privateBinary(bin, want); err == nil || !strings.Contains(err.Error(), "changed since `shammie init`") {
		t.Errorf("privateBinary(swapped) = %v; want a refusal", err)
	}
}
