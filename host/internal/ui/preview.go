package ui

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"
)

// preview is GET /api/runs/{run}/preview?step=&name=: what the run page
// shows of an artifact without downloading it.
type preview struct {
	// Kind: "image" (PNG, SVG, … shown from the artifact URL), "table",
	// "tensors" (safetensors header), "text" or "none".
	Kind    string     `json:"kind"`
	Columns []string   `json:"columns,omitempty"`
	Rows    [][]string `json:"rows,omitempty"`
	// Truncated: more rows (or text) than shown.
	Truncated bool              `json:"truncated,omitempty"`
	Tensors   []tensorInfo      `json:"tensors,omitempty"`
	Metadata  map[string]string `json:"metadata,omitempty"`
	Text      string            `json:"text,omitempty"`
	Error     string            `json:"error,omitempty"`
}

// tensorInfo is one entry of a safetensors header.
type tensorInfo struct {
	Name  string  `json:"name"`
	DType string  `json:"dtype"`
	Shape []int64 `json:"shape"`
	Bytes int64   `json:"bytes"`
}

// Limits of a preview: a table shows its first maxPreviewRows rows, text
// its first maxPreviewText bytes.
const (
	maxPreviewRows = 200
	maxPreviewText = 64 << 10
	// maxPreviewRead bounds what is read of a JSON document to preview it.
	maxPreviewRead = 8 << 20
)

func (s *Server) handlePreview(w http.ResponseWriter, r *http.Request) {
	_, a, err := s.artifact(r)
	if err != nil {
		writeError(w, err)
		return
	}
	f, err := os.Open(a.StorePath)
	if err != nil {
		writeError(w, errorf(http.StatusNotFound, "artifact object missing: %v", err))
		return
	}
	defer f.Close()
	p, err := previewOf(f, strings.ToLower(path.Ext(filepath.ToSlash(a.RelPath))), a.MediaType)
	if err != nil {
		p = &preview{Kind: "none", Error: err.Error()}
	}
	writeJSON(w, p)
}

// previewOf reads an artifact as its extension (or media type) says.
func previewOf(r io.Reader, ext, mediaType string) (*preview, error) {
	switch {
	case ext == ".png" || ext == ".svg" || ext == ".jpg" || ext == ".jpeg" || ext == ".gif" || ext == ".webp" || strings.HasPrefix(mediaType, "image/"):
		return &preview{Kind: "image"}, nil
	case ext == ".csv" || ext == ".tsv" || mediaType == "text/csv":
		return previewCSV(r, ext == ".tsv")
	case ext == ".jsonl" || ext == ".ndjson":
		return previewJSONL(r)
	case ext == ".json" || mediaType == "application/json":
		return previewJSON(r)
	case ext == ".safetensors":
		return previewSafetensors(r)
	}
	return previewText(r)
}

func previewCSV(r io.Reader, tab bool) (*preview, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = false
	if tab {
		cr.Comma = '\t'
	}
	p := &preview{Kind: "table"}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading CSV: %w", err)
		}
		if p.Columns == nil {
			p.Columns = rec
			continue
		}
		if len(p.Rows) == maxPreviewRows {
			p.Truncated = true
			break
		}
		p.Rows = append(p.Rows, rec)
	}
	return p, nil
}

func previewJSONL(r io.Reader) (*preview, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var docs []any
	truncated := false
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		if len(docs) == maxPreviewRows {
			truncated = true
			break
		}
		var v any
		if err := json.Unmarshal(line, &v); err != nil {
			return nil, fmt.Errorf("line %d: %w", len(docs)+1, err)
		}
		docs = append(docs, v)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	p := tableOf(docs)
	p.Truncated = p.Truncated || truncated
	return p, nil
}

func previewJSON(r io.Reader) (*preview, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxPreviewRead+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxPreviewRead {
		return previewText(bytes.NewReader(b))
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("reading JSON: %w", err)
	}
	switch v := v.(type) {
	case []any:
		return tableOf(v), nil
	case map[string]any:
		// An object: one row per key, or a table when every value is an
		// array of the same length (column-oriented data).
		p := &preview{Kind: "table", Columns: []string{"key", "value"}}
		for _, k := range sortedKeys(v) {
			if len(p.Rows) == maxPreviewRows {
				p.Truncated = true
				break
			}
			p.Rows = append(p.Rows, []string{k, cell(v[k])})
		}
		return p, nil
	}
	return &preview{Kind: "text", Text: string(b)}, nil
}

// tableOf turns a list of JSON values into a table: objects by key (the
// union of keys, in first-seen order), anything else in one "value" column.
func tableOf(docs []any) *preview {
	p := &preview{Kind: "table"}
	col := map[string]int{}
	objects := true
	for _, d := range docs {
		m, ok := d.(map[string]any)
		if !ok {
			objects = false
			break
		}
		for _, k := range sortedKeys(m) {
			if _, ok := col[k]; !ok {
				col[k] = len(p.Columns)
				p.Columns = append(p.Columns, k)
			}
		}
	}
	if !objects || len(docs) == 0 {
		p.Columns = []string{"value"}
	}
	for i, d := range docs {
		if i == maxPreviewRows {
			p.Truncated = true
			break
		}
		if !objects {
			p.Rows = append(p.Rows, []string{cell(d)})
			continue
		}
		row := make([]string, len(p.Columns))
		for k, v := range d.(map[string]any) {
			row[col[k]] = cell(v)
		}
		p.Rows = append(p.Rows, row)
	}
	return p
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// cell renders a JSON value for a table cell: strings bare, the rest as
// compact JSON.
func cell(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	if len(b) > 200 {
		return string(b[:197]) + "…"
	}
	return string(b)
}

// maxSafetensorsHeader bounds the header read (the format allows 100 MB;
// real headers are kilobytes).
const maxSafetensorsHeader = 100 << 20

// previewSafetensors lists the tensors of a safetensors file from its
// header: 8 bytes little-endian length, then a JSON object name ->
// {dtype, shape, data_offsets}, with an optional "__metadata__" of strings.
func previewSafetensors(r io.Reader) (*preview, error) {
	var n uint64
	if err := binary.Read(r, binary.LittleEndian, &n); err != nil {
		return nil, fmt.Errorf("reading safetensors header length: %w", err)
	}
	if n > maxSafetensorsHeader {
		return nil, fmt.Errorf("safetensors header of %d bytes is larger than the %d allowed", n, maxSafetensorsHeader)
	}
	hdr := make([]byte, n)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, fmt.Errorf("reading safetensors header: %w", err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hdr, &raw); err != nil {
		return nil, fmt.Errorf("safetensors header: %w", err)
	}
	p := &preview{Kind: "tensors", Tensors: []tensorInfo{}}
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &p.Metadata); err != nil {
				return nil, fmt.Errorf("safetensors __metadata__: %w", err)
			}
			continue
		}
		var t struct {
			DType   string   `json:"dtype"`
			Shape   []int64  `json:"shape"`
			Offsets [2]int64 `json:"data_offsets"`
		}
		if err := json.Unmarshal(msg, &t); err != nil {
			return nil, fmt.Errorf("safetensors tensor %q: %w", name, err)
		}
		if t.Shape == nil {
			t.Shape = []int64{}
		}
		p.Tensors = append(p.Tensors, tensorInfo{Name: name, DType: t.DType, Shape: t.Shape, Bytes: t.Offsets[1] - t.Offsets[0]})
	}
	sort.Slice(p.Tensors, func(i, j int) bool { return p.Tensors[i].Name < p.Tensors[j].Name })
	return p, nil
}

func previewText(r io.Reader) (*preview, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxPreviewText+1))
	if err != nil {
		return nil, err
	}
	p := &preview{Kind: "text"}
	if len(b) > maxPreviewText {
		b, p.Truncated = b[:maxPreviewText], true
	}
	if !utf8.Valid(b) && !utf8.Valid(b[:max(0, len(b)-3)]) {
		return &preview{Kind: "none"}, nil // binary: download only
	}
	p.Text = string(b)
	return p, nil
}
