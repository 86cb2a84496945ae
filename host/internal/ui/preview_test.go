package ui

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// FuzzPreview: no artifact, however malformed, makes a preview panic or
// allocate beyond its limits.
func FuzzPreview(f *testing.F) {
	for _, s := range sampleArtifacts() {
		f.Add(s.data, s.name[bytes.LastIndexByte([]byte(s.name), '.'):])
	}
	huge := binary.LittleEndian.AppendUint64(nil, 1<<62)
	f.Add(huge, ".safetensors")
	f.Add([]byte(`{"w":{"dtype":"F32","shape":"x"}}`), ".safetensors")
	f.Add([]byte("a,\"b\nc"), ".csv")
	f.Fuzz(func(t *testing.T, data []byte, ext string) {
		p, err := previewOf(bytes.NewReader(data), ext, "")
		if err == nil && p == nil {
			t.Fatal("nil preview without an error")
		}
		if err == nil && len(p.Rows) > maxPreviewRows {
			t.Fatalf("%d rows, limit %d", len(p.Rows), maxPreviewRows)
		}
	})
}

func TestPreviewSafetensorsLimits(t *testing.T) {
	huge := binary.LittleEndian.AppendUint64(nil, 1<<62)
	if _, err := previewOf(bytes.NewReader(huge), ".safetensors", ""); err == nil {
		t.Error("a header claiming 2^62 bytes was accepted")
	}
	if _, err := previewOf(bytes.NewReader(safetensorsBytes()[:20]), ".safetensors", ""); err == nil {
		t.Error("a truncated header was accepted")
	}
}
