package textmetrics

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// sharedDataDir finds ../shared/data ($SHAMMIE_SHARED_DATA, else the first
// shared/data above the package); the SDK cannot import the repository's
// internal/shareddata.
func sharedDataDir() string {
	if d := os.Getenv("SHAMMIE_SHARED_DATA"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	for err == nil {
		if fi, e := os.Stat(filepath.Join(dir, "shared", "data")); e == nil && fi.IsDir() {
			return filepath.Join(dir, "shared", "data")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return ""
}

// pythonWithNLTK finds a python3 that can import nltk (Debian's python3-nltk
// lives under /usr/bin/python3, which a pyenv shim may hide).
func pythonWithNLTK(t testing.TB) string {
	t.Helper()
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(py, "-c", "import nltk.stem.porter").Run() == nil {
			return py
		}
	}
	t.Skip("no python3 with nltk importable: the NLTK reference comparison needs Debian's python3-nltk " +
		"(`make textmetrics-deps` as root installs it; .ci/run does)")
	return ""
}

func runRef(t testing.TB, py, mode string, stdin []byte) []byte {
	t.Helper()
	cmd := exec.Command(py, filepath.Join("testdata", "rouge_ref.py"), mode)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("rouge_ref.py %s: %v\n%s", mode, err, stderr.String())
	}
	return out
}

// Sample sizes of the reference comparisons (about 10 s on 2 cores).
const maxWords, maxLines = 40000, 2000

var wordRE = regexp.MustCompile(`[A-Za-z]+`)

// referenceTexts returns texts to compare on: the repository's Markdown
// files and the shared data sets' text files (first 2 MB of each).
func referenceTexts(t *testing.T) []string {
	t.Helper()
	var texts []string
	add := func(root string, keep func(string) bool) {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !keep(p) {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return nil
			}
			texts = append(texts, string(b[:min(len(b), 2<<20)]))
			return nil
		})
	}
	add(filepath.Join("..", ".."), func(p string) bool {
		return strings.HasSuffix(p, ".md") && !strings.Contains(p, "node_modules")
	})
	if dir := sharedDataDir(); dir != "" {
		add(dir, func(p string) bool {
			switch filepath.Ext(p) {
			case ".json", ".jsonl", ".txt", ".md", ".csv", ".tsv":
				return true
			}
			return false
		})
	} else {
		t.Log("shared data not found: comparing on the repository's Markdown only")
	}
	return texts
}

// TestStemMatchesNLTK stems every distinct word of the reference texts with
// both implementations.
func TestStemMatchesNLTK(t *testing.T) {
	py := pythonWithNLTK(t)
	seen := map[string]bool{}
	for _, text := range referenceTexts(t) {
		for _, w := range wordRE.FindAllString(text, -1) {
			seen[strings.ToLower(w)] = true
			seen[w] = true // NLTK's irregular-form lookup is case-sensitive
		}
	}
	for w := range irregular {
		seen[w] = true
	}
	words := make([]string, 0, len(seen))
	for w := range seen {
		words = append(words, w)
	}
	sort.Strings(words)
	// A deterministic sample keeps the Python side within a few seconds.
	if step := len(words)/maxWords + 1; step > 1 {
		var sample []string
		for i := 0; i < len(words); i += step {
			sample = append(sample, words[i])
		}
		words = sample
	}
	out := runRef(t, py, "stem", []byte(strings.Join(words, "\n")+"\n"))
	want := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(want) != len(words) {
		t.Fatalf("reference returned %d stems for %d words", len(want), len(words))
	}
	bad := 0
	for i, w := range words {
		if got := Stem(w); got != want[i] {
			if bad++; bad <= 20 {
				t.Errorf("Stem(%q) = %q, NLTK %q", w, got, want[i])
			}
		}
	}
	t.Logf("%d words compared, %d differ", len(words), bad)
}

// TestTokenizeMatchesReference tokenizes lines of the reference texts with
// both implementations.
func TestTokenizeMatchesReference(t *testing.T) {
	py := pythonWithNLTK(t)
	var lines []string
	for _, text := range referenceTexts(t) {
		sc := bufio.NewScanner(strings.NewReader(text))
		sc.Buffer(nil, 4<<20)
		for n := 0; sc.Scan() && n < 100; n++ {
			l := sc.Text()
			lines = append(lines, l[:min(len(l), 2000)])
		}
	}
	if step := len(lines)/maxLines + 1; step > 1 {
		var sample []string
		for i := 0; i < len(lines); i += step {
			sample = append(sample, lines[i])
		}
		lines = sample
	}
	var in bytes.Buffer
	for _, l := range lines {
		b, _ := json.Marshal(l)
		in.Write(b)
		in.WriteByte('\n')
	}
	out := strings.Split(strings.TrimSuffix(string(runRef(t, py, "tokenize", in.Bytes())), "\n"), "\n")
	if len(out) != len(lines) {
		t.Fatalf("reference returned %d lines for %d", len(out), len(lines))
	}
	bad := 0
	for i, l := range lines {
		var want []string
		if err := json.Unmarshal([]byte(out[i]), &want); err != nil {
			t.Fatal(err)
		}
		got := Tokenize(l)
		if strings.Join(got, " ") != strings.Join(want, " ") {
			if bad++; bad <= 5 {
				t.Errorf("Tokenize(%.80q):\n got %v\nwant %v", l, got, want)
			}
		}
	}
	t.Logf("%d lines compared, %d differ", len(lines), bad)
}
