// Package datafile reads the record files experiments feed on — JSON Lines
// and JSON arrays, plain or gzipped — with one set of rules: errors say
// file:line (and the array index), unknown fields are errors unless the
// caller asks for leniency, lines have one length limit, blank lines are
// skipped, text must be UTF-8. Plain Go; every plugin's loaders use it
// rather than a bufio.Scanner of their own.
package datafile

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"unicode/utf8"
)

// DefaultMaxLine is the longest JSONL line accepted unless Options.MaxLine
// says otherwise: larger than any sane record, small enough that a binary
// file given by mistake fails fast instead of filling memory.
const DefaultMaxLine = 64 << 20

// Options of a read. The zero value is strict.
type Options struct {
	// Lenient ignores fields the record type lacks; by default they are
	// errors (they are usually typos, or the wrong file).
	Lenient bool
	// MaxLine is the longest line in bytes (0: DefaultMaxLine).
	MaxLine int
	// AllowEmpty accepts a file without records (by default an error).
	AllowEmpty bool
}

func (o Options) maxLine() int {
	if o.MaxLine > 0 {
		return o.MaxLine
	}
	return DefaultMaxLine
}

// Open opens path for reading, decompressing it if it is gzipped (told by
// its first bytes, whatever its name).
func Open(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r, err := Decompress(f, path)
	if err != nil {
		f.Close()
		return nil, err
	}
	return readCloser{r, f}, nil
}

type readCloser struct {
	io.Reader
	f *os.File
}

func (rc readCloser) Close() error { return rc.f.Close() }

// Decompress returns r itself, or a gunzipping reader if r starts with the
// gzip magic bytes. name is used in errors.
func Decompress(r io.Reader, name string) (io.Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, _ := br.Peek(2)
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: gzip: %w", name, err)
		}
		return gz, nil
	}
	return br, nil
}

// LineError is an error at a line of a file.
type LineError struct {
	File string
	Line int
	// Index is the record's index in a JSON array, -1 otherwise.
	Index int
	Err   error
}

func (e *LineError) Error() string {
	if e.Index >= 0 {
		return fmt.Sprintf("%s:%d: [%d]: %v", e.File, e.Line, e.Index, e.Err)
	}
	return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
}

func (e *LineError) Unwrap() error { return e.Err }

// Lines calls fn with every non-blank line of r (surrounding white space
// trimmed) and its 1-based number. A line longer than the limit, invalid
// UTF-8 and fn's errors become *LineError (fn's own *LineError passes
// through). name is the file name used in errors.
func Lines(r io.Reader, name string, o Options, fn func(line int, text []byte) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	max := o.maxLine()
	var buf []byte
	for line := 1; ; line++ {
		buf = buf[:0]
		eof := false
		for {
			chunk, err := br.ReadSlice('\n')
			buf = append(buf, chunk...)
			if len(bytes.TrimRight(buf, "\r\n")) > max {
				return &LineError{name, line, -1, fmt.Errorf("line longer than %d bytes (the limit; is this the right file?)", max)}
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if errors.Is(err, io.EOF) {
				eof = true
			} else if err != nil {
				return &LineError{name, line, -1, err}
			}
			break
		}
		text := bytes.TrimSpace(buf)
		if len(text) > 0 {
			if !utf8.Valid(text) {
				return &LineError{name, line, -1, errors.New("invalid UTF-8")}
			}
			if err := fn(line, text); err != nil {
				var le *LineError
				if errors.As(err, &le) {
					return err
				}
				return &LineError{name, line, -1, err}
			}
		}
		if eof {
			return nil
		}
	}
}

// decodeOne decodes exactly one JSON value from b into v.
func decodeOne(b []byte, v any, o Options) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if !o.Lenient {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("more than one JSON value on the line")
	}
	return nil
}

// EachJSONL decodes every non-blank line of r into a T and calls fn with it.
// Errors are *LineError.
func EachJSONL[T any](r io.Reader, name string, o Options, fn func(line int, v T) error) error {
	return Lines(r, name, o, func(line int, text []byte) error {
		var v T
		if err := decodeOne(text, &v, o); err != nil {
			return err
		}
		return fn(line, v)
	})
}

// ReadJSONL reads a JSON Lines file (gzipped or not) into a slice.
func ReadJSONL[T any](path string, o Options) ([]T, error) {
	r, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var out []T
	err = EachJSONL(r, path, o, func(_ int, v T) error { out = append(out, v); return nil })
	if err != nil {
		return nil, err
	}
	if len(out) == 0 && !o.AllowEmpty {
		return nil, fmt.Errorf("%s: empty file: expected one JSON object per line", path)
	}
	return out, nil
}

// DecodeJSONArray decodes a JSON array of records from data; errors say
// the line and the index of the record. name is used in errors.
func DecodeJSONArray[T any](data []byte, name string, o Options) ([]T, error) {
	lineAt := func(off int64) int { return 1 + bytes.Count(data[:min(int(off), len(data))], []byte{'\n'}) }
	if !utf8.Valid(data) {
		return nil, &LineError{name, lineAt(int64(invalidUTF8(data))), -1, errors.New("invalid UTF-8")}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if !o.Lenient {
		dec.DisallowUnknownFields()
	}
	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty file: expected a JSON array", name)
		}
		return nil, &LineError{name, lineAt(dec.InputOffset()), -1, err}
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, &LineError{name, lineAt(dec.InputOffset()), -1, fmt.Errorf("expected a JSON array, found %v", tok)}
	}
	var out []T
	for i := 0; dec.More(); i++ {
		start := dec.InputOffset()
		var v T
		if err := dec.Decode(&v); err != nil {
			var se *json.SyntaxError
			off := start
			if errors.As(err, &se) {
				off = se.Offset
			}
			// Point at the record itself, not at the comma before it.
			for int(off) < len(data) && bytes.IndexByte([]byte(" \t\r\n,"), data[off]) >= 0 && off < dec.InputOffset() {
				off++
			}
			return nil, &LineError{name, lineAt(off), i, err}
		}
		out = append(out, v)
	}
	if _, err := dec.Token(); err != nil {
		return nil, &LineError{name, lineAt(dec.InputOffset()), -1, fmt.Errorf("unterminated array: %v", err)}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &LineError{name, lineAt(dec.InputOffset()), -1, errors.New("data after the array")}
	}
	if len(out) == 0 && !o.AllowEmpty {
		return nil, fmt.Errorf("%s: empty array: expected records", name)
	}
	return out, nil
}

// ReadJSONArray reads a file (gzipped or not) holding one JSON array of
// records.
func ReadJSONArray[T any](path string, o Options) ([]T, error) {
	r, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return DecodeJSONArray[T](data, path, o)
}

// ReadRecords reads a file of records in either layout, told by its first
// non-blank byte: '[' is a JSON array, anything else JSON Lines. Gzip is
// undone transparently.
func ReadRecords[T any](path string, o Options) ([]T, error) {
	r, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	br := bufio.NewReaderSize(r, 64<<10)
	if firstNonSpace(br) == '[' {
		data, err := io.ReadAll(br)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return DecodeJSONArray[T](data, path, o)
	}
	var out []T
	if err := EachJSONL(br, path, o, func(_ int, v T) error { out = append(out, v); return nil }); err != nil {
		return nil, err
	}
	if len(out) == 0 && !o.AllowEmpty {
		return nil, fmt.Errorf("%s: empty file: expected JSON Lines or a JSON array", path)
	}
	return out, nil
}

func invalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// firstNonSpace peeks (without consuming) at the first byte of br that is
// not white space; 0 if there is none within its buffer.
func firstNonSpace(br *bufio.Reader) byte {
	for n := 1; n <= br.Size(); n++ {
		b, err := br.Peek(n)
		if len(b) < n || err != nil {
			return 0
		}
		switch c := b[n-1]; c {
		case ' ', '\t', '\r', '\n':
		default:
			return c
		}
	}
	return 0
}
