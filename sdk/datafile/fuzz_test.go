package datafile

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzRecords feeds arbitrary bytes to both record readers: they must not
// panic, must fail only with a positioned error, and JSON Lines must yield
// one record per non-blank line when it succeeds.
func FuzzRecords(f *testing.F) {
	for _, s := range []string{
		"{\"prompt\": \"a\", \"n\": 1}\n{\"prompt\": \"b\"}\n",
		"[{\"n\": 1}, {\"n\": 2}]",
		"\n\n{\"n\": 1} {\"n\": 2}\n",
		"{\"prompt\": \"\xff\"}",
		"[{\"n\": 1},\n{\"n\": }]",
		"{\"n\": 1}\r\n\r\n",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var n int
		err := EachJSONL(bytes.NewReader(data), "fuzz", Options{MaxLine: 1 << 12}, func(int, rec) error { n++; return nil })
		var le *LineError
		if err != nil && !errors.As(err, &le) {
			t.Fatalf("JSONL error without a line: %v", err)
		}
		if err == nil {
			want := 0
			for _, l := range bytes.Split(data, []byte{'\n'}) {
				if len(bytes.TrimSpace(l)) > 0 {
					want++
				}
			}
			if n != want {
				t.Fatalf("%d records from %d non-blank lines", n, want)
			}
		}
		_, _ = DecodeJSONArray[rec](data, "fuzz", Options{Lenient: true})
	})
}
