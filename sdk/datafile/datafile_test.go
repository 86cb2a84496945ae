package datafile

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type rec struct {
	Prompt string `json:"prompt"`
	N      int    `json:"n"`
}

func write(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	data := []byte(content)
	if strings.HasSuffix(name, ".gz") {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write(data)
		zw.Close()
		data = b.Bytes()
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRead(t *testing.T) {
	good := "{\"prompt\": \"a\", \"n\": 1}\n\n  {\"prompt\": \"b\", \"n\": 2}  \r\n"
	want := []rec{{"a", 1}, {"b", 2}}
	tests := []struct {
		name, file, content string
		read                func(string) ([]rec, error)
		want                []rec
		err                 []string // substrings; the path is always checked
	}{
		{"jsonl", "a.jsonl", good, strictJSONL, want, nil},
		{"jsonl.gz", "a.jsonl.gz", good, strictJSONL, want, nil},
		{"gzip whatever the name", "a.data", good, strictJSONL, want, nil},
		{"unknown field strict", "u.jsonl", "{\"prompt\": \"a\"}\n{\"promt\": \"b\"}\n", strictJSONL, nil, []string{":2: ", `unknown field "promt"`}},
		{"unknown field lenient", "u.jsonl", "{\"prompt\": \"a\", \"extra\": [1]}\n", func(p string) ([]rec, error) { return ReadJSONL[rec](p, Options{Lenient: true}) }, []rec{{"a", 0}}, nil},
		{"wrong type", "w.jsonl", "\n\n{\"n\": \"x\"}\n", strictJSONL, nil, []string{":3: ", "string"}},
		{"two values on a line", "t.jsonl", "{\"n\": 1} {\"n\": 2}\n", strictJSONL, nil, []string{":1: ", "more than one JSON value"}},
		{"invalid UTF-8", "b.jsonl", "{\"n\": 1}\n{\"prompt\": \"\xff\"}\n", strictJSONL, nil, []string{":2: ", "invalid UTF-8"}},
		{"line too long", "l.jsonl", "{\"n\": 1}\n{\"prompt\": \"" + strings.Repeat("x", 100) + "\"}\n", func(p string) ([]rec, error) { return ReadJSONL[rec](p, Options{MaxLine: 50}) }, nil, []string{":2: ", "longer than 50 bytes"}},
		{"empty", "e.jsonl", "\n \n", strictJSONL, nil, []string{"empty file"}},
		{"empty allowed", "e.jsonl", "", func(p string) ([]rec, error) { return ReadJSONL[rec](p, Options{AllowEmpty: true}) }, nil, nil},
		{"array", "a.json", "[\n {\"prompt\": \"a\", \"n\": 1},\n {\"prompt\": \"b\", \"n\": 2}\n]\n", strictArray, want, nil},
		{"array.gz", "a.json.gz", "[{\"prompt\": \"a\", \"n\": 1}, {\"prompt\": \"b\", \"n\": 2}]", strictArray, want, nil},
		{"array unknown field", "a.json", "[\n {\"n\": 1},\n {\"n\": 2, \"x\": 0}\n]", strictArray, nil, []string{":3: [1]: ", `unknown field "x"`}},
		{"array wrong type", "a.json", "[{\"n\": 1},\n\n{\"n\": true}]", strictArray, nil, []string{":3: [1]: ", "bool"}},
		{"array syntax", "a.json", "[{\"n\": 1},\n{\"n\": }]", strictArray, nil, []string{":2: [1]: ", "invalid character"}},
		{"not an array", "a.json", "{\"n\": 1}", strictArray, nil, []string{":1: ", "expected a JSON array"}},
		{"unterminated array", "a.json", "[{\"n\": 1}", strictArray, nil, []string{"unterminated"}},
		{"records: array", "r.json", "\n\n [{\"n\": 1}]", records, []rec{{"", 1}}, nil},
		{"records: jsonl", "r.jsonl.gz", "\n\n{\"n\": 1}\n{\"n\": \"bad\"}", records, nil, []string{":4: "}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := write(t, tc.file, tc.content)
			got, err := tc.read(p)
			if tc.err == nil {
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Fatalf("(-want +got):\n%s", diff)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error; got %v", got)
			}
			for _, w := range append([]string{p}, tc.err...) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func strictJSONL(p string) ([]rec, error) { return ReadJSONL[rec](p, Options{}) }
func strictArray(p string) ([]rec, error) { return ReadJSONArray[rec](p, Options{}) }
func records(p string) ([]rec, error)     { return ReadRecords[rec](p, Options{}) }

// TestLinesAcrossBufferSizes: lines longer than the reader's buffer are
// read whole, and numbering counts blank lines.
func TestLinesAcrossBufferSizes(t *testing.T) {
	long := strings.Repeat("y", 200<<10)
	in := "a\n\n" + long + "\r\nlast"
	var got []string
	var lines []int
	err := Lines(strings.NewReader(in), "mem", Options{}, func(line int, text []byte) error {
		got = append(got, string(text))
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a", long, "last"}, got); diff != "" {
		t.Errorf("lines (-want +got):\n%.300s", diff)
	}
	if diff := cmp.Diff([]int{1, 3, 4}, lines); diff != "" {
		t.Errorf("line numbers (-want +got):\n%s", diff)
	}
}
