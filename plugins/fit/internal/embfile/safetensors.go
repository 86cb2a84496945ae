package embfile

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
)

// Safetensors is the content of a safetensors file.
type Safetensors struct {
	// Names in the order of their data in the file.
	Names    []string
	Tensors  map[string]Array
	Metadata map[string]string
}

type stEntry struct {
	DType       string   `json:"dtype"`
	Shape       []int    `json:"shape"`
	DataOffsets [2]int64 `json:"data_offsets"`
}

// ReadSafetensors reads every tensor of a safetensors file as float32.
func ReadSafetensors(path string) (*Safetensors, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	st, err := readSafetensors(bufio.NewReaderSize(f, 1<<20), fi.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return st, nil
}

func readSafetensors(r io.Reader, size int64) (*Safetensors, error) {
	var lenBuf [8]byte
	if _, err := io.ReadFull(r, lenBuf[:]); err != nil {
		return nil, fmt.Errorf("not a safetensors file (too short): %w", err)
	}
	hlen := binary.LittleEndian.Uint64(lenBuf[:])
	if hlen > 100<<20 || int64(hlen) > size-8 {
		return nil, fmt.Errorf("not a safetensors file: header length %d does not fit the file (%d bytes)", hlen, size)
	}
	hdr := make([]byte, hlen)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, fmt.Errorf("truncated header: %w", err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hdr, &raw); err != nil {
		return nil, fmt.Errorf("header is not a JSON object: %w", err)
	}
	st := &Safetensors{Tensors: map[string]Array{}, Metadata: map[string]string{}}
	entries := map[string]stEntry{}
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &st.Metadata); err != nil {
				return nil, fmt.Errorf("__metadata__ must map strings to strings: %w", err)
			}
			continue
		}
		var e stEntry
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, fmt.Errorf("tensor %q: bad header entry: %w", name, err)
		}
		entries[name] = e
		st.Names = append(st.Names, name)
	}
	sort.Slice(st.Names, func(i, j int) bool {
		return entries[st.Names[i]].DataOffsets[0] < entries[st.Names[j]].DataOffsets[0]
	})
	dataLen := size - 8 - int64(hlen)
	var pos int64
	for _, name := range st.Names {
		e := entries[name]
		a := Array{Shape: e.Shape}
		var elem int64
		switch e.DType {
		case "F32":
			elem = 4
		case "F64":
			elem = 8
		case "F16", "BF16":
			elem = 2
		default:
			return nil, fmt.Errorf("tensor %q: dtype %s not supported (F32, F64, F16, BF16)", name, e.DType)
		}
		n := int64(a.Size())
		b, end := e.DataOffsets[0], e.DataOffsets[1]
		if end-b != n*elem || b < pos || end > dataLen {
			return nil, fmt.Errorf("tensor %q: data_offsets %v do not fit shape %v of %s (data section %d bytes, previous tensor ends at %d)", name, e.DataOffsets, e.Shape, e.DType, dataLen, pos)
		}
		if _, err := io.CopyN(io.Discard, r, b-pos); err != nil {
			return nil, fmt.Errorf("tensor %q: %w", name, err)
		}
		buf := make([]byte, end-b)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, fmt.Errorf("tensor %q: data truncated: %w", name, err)
		}
		pos = end
		a.Data = make([]float32, n)
		for i := range a.Data {
			switch e.DType {
			case "F32":
				a.Data[i] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:]))
			case "F64":
				a.Data[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(buf[8*i:])))
			case "F16":
				a.Data[i] = halfToFloat(binary.LittleEndian.Uint16(buf[2*i:]))
			case "BF16":
				a.Data[i] = bf16ToFloat(binary.LittleEndian.Uint16(buf[2*i:]))
			}
		}
		if err := checkFinite(a); err != nil {
			return nil, fmt.Errorf("tensor %q: %w", name, err)
		}
		st.Tensors[name] = a
	}
	return st, nil
}

// WriteSafetensors writes the named arrays as F32 tensors, in the given
// order, with optional string metadata.
func WriteSafetensors(path string, names []string, tensors map[string]Array, metadata map[string]string) error {
	hdr := map[string]any{}
	if len(metadata) > 0 {
		hdr["__metadata__"] = metadata
	}
	var off int64
	for _, name := range names {
		a, ok := tensors[name]
		if !ok {
			return fmt.Errorf("%s: no tensor %q", path, name)
		}
		if a.Size() != len(a.Data) {
			return fmt.Errorf("%s: tensor %q: shape %v does not match %d elements", path, name, a.Shape, len(a.Data))
		}
		shape := a.Shape
		if shape == nil {
			shape = []int{}
		}
		n := int64(4 * len(a.Data))
		hdr[name] = stEntry{DType: "F32", Shape: shape, DataOffsets: [2]int64{off, off + n}}
		off += n
	}
	js, err := json.Marshal(hdr)
	if err != nil {
		return err
	}
	// The format asks for the data to start 8-byte aligned; pad with spaces.
	for len(js)%8 != 0 {
		js = append(js, ' ')
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(js)))
	w.Write(lenBuf[:])
	w.Write(js)
	var b [4]byte
	for _, name := range names {
		for _, v := range tensors[name].Data {
			binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
			w.Write(b[:])
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}
