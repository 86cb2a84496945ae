package runstore

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// TestPutArtifactReplacesDamagedObject: dedup trusts no name. An object of
// the right name and size but other content is replaced, not kept.
func TestPutArtifactReplacesDamagedObject(t *testing.T) {
	s := testStore(t)
	work := t.TempDir()
	data := []byte("the right bytes\n")
	if err := os.WriteFile(filepath.Join(work, "a.txt"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	obj := s.ObjectPath(sha(data), ".txt")
	if err := os.MkdirAll(filepath.Dir(obj), 0o755); err != nil {
		t.Fatal(err)
	}
	bad := bytes.ToUpper(data)
	if err := os.WriteFile(obj, bad, 0o444); err != nil {
		t.Fatal(err)
	}
	p, err := s.PutArtifact(work, "a.txt", sha(data))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(p); !bytes.Equal(got, data) {
		t.Errorf("object content %q after PutArtifact, want %q", got, data)
	}
	if err := s.VerifyObject(p); err != nil {
		t.Errorf("VerifyObject: %v", err)
	}
}

// TestPutArtifactRefusesHardLink: a hard link in the work dir may name any
// file of the user's.
func TestPutArtifactRefusesHardLink(t *testing.T) {
	s := testStore(t)
	work := t.TempDir()
	outside := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(outside, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(outside, filepath.Join(work, "innocent.txt")); err != nil {
		t.Skip("no hard links here:", err)
	}
	_, err := s.PutArtifact(work, "innocent.txt", sha([]byte("secret")))
	if err == nil || !strings.Contains(err.Error(), "hard link") {
		t.Errorf("PutArtifact(hard link) = %v; want a refusal", err)
	}
}

// TestPluginConfigCopiesInputs: the plugin sees a private verified copy of
// each input object; writing to it leaves the store intact, and the next
// hand-off makes the copy again.
func TestPluginConfigCopiesInputs(t *testing.T) {
	s := testStore(t)
	work := t.TempDir()
	data := []byte("input\n")
	if err := os.WriteFile(filepath.Join(work, "in.csv"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	obj, err := s.PutArtifact(work, "in.csv", sha(data))
	if err != nil {
		t.Fatal(err)
	}
	run, err := s.CreateRun(RunMeta{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := cty.ObjectVal(map[string]cty.Value{"in": cty.StringVal(obj), "n": cty.NumberIntVal(1).Mark("sensitive")})
	pcfg, err := run.PluginConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cp := pcfg.GetAttr("in").AsString()
	if cp == obj || strings.HasPrefix(cp, filepath.Join(s.Root(), "objects")) || filepath.Ext(cp) != ".csv" {
		t.Fatalf("plugin path %q: want a private copy with the extension, not the object %q", cp, obj)
	}
	if !pcfg.GetAttr("n").IsMarked() {
		t.Error("PluginConfig lost a mark")
	}
	// Scribble on the copy.
	if err := os.Chmod(cp, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cp, []byte("scribbled\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.VerifyObject(obj); err != nil {
		t.Errorf("the store object was damaged through the copy: %v", err)
	}
	pcfg, err = run.PluginConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(pcfg.GetAttr("in").AsString()); !bytes.Equal(got, data) {
		t.Errorf("second hand-off reads %q, want a fresh copy %q", got, data)
	}
	if err := run.Finish("", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(run.Dir(), "inputs")); !os.IsNotExist(err) {
		t.Errorf("input copies left after the run: %v", err)
	}
}

// BenchmarkVerifyObject is the cost of content verification of a 16 MiB
// object: "cold" hashes it (the first use in a host process, or after any
// change), "memo" is every later use (one lstat).
func BenchmarkVerifyObject(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), ".shammie"))
	if err != nil {
		b.Fatal(err)
	}
	work := b.TempDir()
	data := make([]byte, 16<<20)
	_, _ = rand.Read(data)
	if err := os.WriteFile(filepath.Join(work, "big.bin"), data, 0o644); err != nil {
		b.Fatal(err)
	}
	obj, err := s.PutArtifact(work, "big.bin", sha(data))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("cold", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			verifiedObjects.Clear()
			if err := s.VerifyObject(obj); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("memo", func(b *testing.B) {
		for b.Loop() {
			if err := s.VerifyObject(obj); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestFileInputs: files and directories named by a config have content
// digests that change with their content; ".", the store and non-files do
// not count.
func TestFileInputs(t *testing.T) {
	s := testStore(t)
	base := t.TempDir()
	if err := os.MkdirAll(filepath.Join(base, "data", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(rel, text string) {
		if err := os.WriteFile(filepath.Join(base, rel), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.csv", "1,2\n")
	write("data/sub/x.txt", "x")
	cfg := cty.ObjectVal(map[string]cty.Value{
		"file": cty.StringVal("a.csv"), "dir": cty.StringVal(filepath.Join(base, "data")),
		"here": cty.StringVal("."), "word": cty.StringVal("generate"), "store": cty.StringVal(s.Root()),
	})
	first, err := s.FileInputs(cfg, base)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 2 || first["a.csv"] == "" || first[filepath.Join(base, "data")] == "" {
		t.Fatalf("FileInputs = %v; want a.csv and the data dir only", first)
	}
	write("data/sub/x.txt", "y")
	// The next command (a new Store) sees the change.
	s, err = Open(s.Root())
	if err != nil {
		t.Fatal(err)
	}
	second, err := s.FileInputs(cfg, base)
	if err != nil {
		t.Fatal(err)
	}
	if second["a.csv"] != first["a.csv"] || second[filepath.Join(base, "data")] == first[filepath.Join(base, "data")] {
		t.Errorf("after editing a file in the dir: %v, before %v", second, first)
	}
}

// TestStateDirLockedAcrossHosts: two host processes on one store running
// the same step must not share state/<key>: the second one works in a
// state dir of its own while the first holds the lock, and the first one's
// state survives the second finishing.
func TestStateDirLockedAcrossHosts(t *testing.T) {
	s1 := testStore(t)
	s2, err := Open(s1.Root()) // another host on the same store
	if err != nil {
		t.Fatal(err)
	}
	key := strings.Repeat("d", 64)
	run1, err := s1.CreateRun(RunMeta{})
	if err != nil {
		t.Fatal(err)
	}
	run2, err := s2.CreateRun(RunMeta{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := run1.BeginStep(StepInfo{Address: "step.a", CacheKey: key})
	if err != nil {
		t.Fatal(err)
	}
	b, err := run2.BeginStep(StepInfo{Address: "step.a", CacheKey: key})
	if err != nil {
		t.Fatal(err)
	}
	if a.StateDir() == b.StateDir() {
		t.Fatalf("two runs share the state dir %s", a.StateDir())
	}
	ckpt := filepath.Join(a.StateDir(), "ckpt")
	if err := os.WriteFile(ckpt, []byte("1"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Finish(StepResult{Status: StatusSucceeded}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(ckpt); err != nil {
		t.Errorf("the second run removed the first one's state: %v", err)
	}
	if _, err := a.Finish(StepResult{Status: StatusFailed}); err != nil {
		t.Fatal(err)
	}
}

// TestCacheWriteFailureKeepsSuccess: a cache entry that cannot be written
// leaves a succeeded step succeeded (with a warning), and its run too.
func TestCacheWriteFailureKeepsSuccess(t *testing.T) {
	s := testStore(t)
	key := strings.Repeat("e", 64)
	// A file where the entry's directory must go.
	if err := os.WriteFile(filepath.Join(s.Root(), "cache", key[:2]), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	run, err := s.CreateRun(RunMeta{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := run.BeginStep(StepInfo{Address: "step.a", CacheKey: key})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := st.Finish(StepResult{Status: StatusSucceeded})
	if err != nil {
		t.Fatalf("Finish: %v; want success with a warning", err)
	}
	if rec.Status != StatusSucceeded || rec.CacheWarning == "" {
		t.Errorf("record status %s, warning %q", rec.Status, rec.CacheWarning)
	}
	if err := run.Finish("", ""); err != nil {
		t.Fatal(err)
	}
	if got := run.Record().Status; got != StatusSucceeded {
		t.Errorf("run status %s, want succeeded", got)
	}
}

// TestRecordsArePrivate: records are 0600 and their directories 0700,
// whatever the umask.
func TestRecordsArePrivate(t *testing.T) {
	s := testStore(t)
	run, err := s.CreateRun(RunMeta{})
	if err != nil {
		t.Fatal(err)
	}
	key := strings.Repeat("f", 64)
	st, err := run.BeginStep(StepInfo{Address: "step.a", CacheKey: key})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Finish(StepResult{Status: StatusSucceeded}); err != nil {
		t.Fatal(err)
	}
	if err := run.Finish("", ""); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{
		filepath.Join(s.Root(), "runs"):                        0o700,
		filepath.Join(s.Root(), "cache"):                       0o700,
		filepath.Join(run.Dir(), "run.json"):                   0o600,
		filepath.Join(st.Dir(), "step.json"):                   0o600,
		filepath.Join(st.Dir(), "events.jsonl"):                0o600,
		filepath.Join(s.Root(), "cache", key[:2], key+".json"): 0o600,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %v, want %v", path, got, want)
		}
	}
}
