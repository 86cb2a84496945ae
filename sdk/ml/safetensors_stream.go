package ml

import (
	"bytes"
	gocontext "context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// This file streams safetensors: a file is opened by reading only its
// header, and each tensor is read on demand with ReadAt, so a checkpoint
// larger than memory can be walked tensor by tensor. Writing fixes every
// name, dtype and shape up front, so the header (and with it every offset)
// is written first and tensors follow in any order; the file appears under
// its name only on Commit, by an atomic rename. The files are byte-identical
// to WriteSafetensors' for the same tensors and metadata.
//
// Validation follows the reference implementation (huggingface/safetensors'
// Metadata::validate): offsets contiguous from 0 in file order, each range
// exactly dtype size × shape, the last one ending at the end of the file.
// Unlike it, a repeated tensor name is an error rather than last-one-wins.

// maxHeaderBytes bounds the JSON header (the reference uses 100 MB too).
const maxHeaderBytes = 100 << 20

// TensorInfo describes one tensor of a safetensors file.
type TensorInfo struct {
	Name  string
	DType dtypes.DType
	Shape []int
	// Offset is where the tensor's bytes start, counted from the start of
	// the data section (the header's data_offsets[0]); Size is their length.
	Offset, Size int64
}

// Elements is the number of values in the tensor.
func (ti TensorInfo) Elements() int64 {
	n := int64(1)
	for _, d := range ti.Shape {
		n *= int64(d)
	}
	return n
}

// SafetensorsFile is a safetensors file opened for reading tensor by tensor.
type SafetensorsFile struct {
	Path     string
	Metadata map[string]string

	f         *os.File
	dataStart int64
	infos     []TensorInfo // by name
	byName    map[string]int
}

// OpenSafetensors opens path and reads and validates its header only.
// Errors name the file and, where one is at fault, the tensor.
func OpenSafetensors(path string) (*SafetensorsFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	h, err := parseSafetensorsHeader(f, fi.Size())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("safetensors %s: %w", path, err)
	}
	s := &SafetensorsFile{Path: path, Metadata: h.meta, f: f, dataStart: h.dataStart, infos: h.tensors, byName: map[string]int{}}
	for i, ti := range s.infos {
		s.byName[ti.Name] = i
	}
	return s, nil
}

// Close closes the file.
func (s *SafetensorsFile) Close() error { return s.f.Close() }

// Tensors lists the file's tensors sorted by name.
func (s *SafetensorsFile) Tensors() []TensorInfo { return slices.Clone(s.infos) }

// Info describes the named tensor.
func (s *SafetensorsFile) Info(name string) (TensorInfo, bool) {
	i, ok := s.byName[name]
	if !ok {
		return TensorInfo{}, false
	}
	return s.infos[i], true
}

// ReadBytes reads the named tensor's raw little-endian bytes into buf
// (grown when too small) and returns the filled slice.
func (s *SafetensorsFile) ReadBytes(name string, buf []byte) ([]byte, error) {
	ti, ok := s.Info(name)
	if !ok {
		return buf, fmt.Errorf("safetensors %s: no tensor %q", s.Path, name)
	}
	if int64(cap(buf)) < ti.Size {
		buf = make([]byte, ti.Size)
	}
	buf = buf[:ti.Size]
	if _, err := s.f.ReadAt(buf, s.dataStart+ti.Offset); err != nil {
		return buf, fmt.Errorf("safetensors %s: tensor %q: %w", s.Path, name, err)
	}
	return buf, nil
}

// ReadTensor reads the named tensor.
func (s *SafetensorsFile) ReadTensor(name string) (*tensors.Tensor, error) {
	ti, ok := s.Info(name)
	if !ok {
		return nil, fmt.Errorf("safetensors %s: no tensor %q", s.Path, name)
	}
	t := tensors.FromShape(shapes.Make(ti.DType, ti.Shape...))
	if ti.Size == 0 {
		return t, nil
	}
	var rerr error
	if err := t.MutableBytes(func(b []byte) { _, rerr = s.f.ReadAt(b, s.dataStart+ti.Offset) }); err != nil {
		return nil, err
	}
	if rerr != nil {
		return nil, fmt.Errorf("safetensors %s: tensor %q: %w", s.Path, name, rerr)
	}
	return t, nil
}

type stHeader struct {
	meta      map[string]string
	tensors   []TensorInfo // by name
	dataStart int64
}

// parseSafetensorsHeader reads and validates the header of a safetensors
// image of the given size. Errors do not name the file; callers add it.
func parseSafetensorsHeader(r io.ReaderAt, size int64) (*stHeader, error) {
	var lenBuf [8]byte
	if size < 8 {
		return nil, fmt.Errorf("file too short for the 8-byte header length (%d bytes)", size)
	}
	if _, err := r.ReadAt(lenBuf[:], 0); err != nil {
		return nil, fmt.Errorf("reading the header length: %w", err)
	}
	hlen := binary.LittleEndian.Uint64(lenBuf[:])
	if hlen > uint64(size-8) || hlen > maxHeaderBytes {
		return nil, fmt.Errorf("header length %d does not fit in a %d-byte file (at most %d)", hlen, size, maxHeaderBytes)
	}
	hb := make([]byte, hlen)
	if _, err := r.ReadAt(hb, 8); err != nil {
		return nil, fmt.Errorf("reading the header: %w", err)
	}
	entries, err := splitHeaderObject(hb)
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	h := &stHeader{meta: map[string]string{}, dataStart: 8 + int64(hlen)}
	for _, kv := range entries {
		if kv.name == "__metadata__" {
			if err := json.Unmarshal(kv.raw, &h.meta); err != nil {
				return nil, fmt.Errorf("__metadata__ must map strings to strings: %w", err)
			}
			continue
		}
		ti, err := parseTensorEntry(kv.name, kv.raw)
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", kv.name, err)
		}
		h.tensors = append(h.tensors, ti)
	}
	if err := checkLayout(h.tensors, size-h.dataStart); err != nil {
		return nil, err
	}
	sort.Slice(h.tensors, func(i, j int) bool { return h.tensors[i].Name < h.tensors[j].Name })
	return h, nil
}

type rawEntry struct {
	name string
	raw  json.RawMessage
}

// splitHeaderObject splits the top-level JSON object into its entries in
// order, refusing repeated keys (json.Unmarshal into a map keeps the last).
func splitHeaderObject(hb []byte) ([]rawEntry, error) {
	dec := json.NewDecoder(bytes.NewReader(hb))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	seen := map[string]bool{}
	var out []rawEntry
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("invalid JSON: %w", err)
		}
		name, ok := tok.(string)
		if !ok {
			return nil, errors.New("invalid JSON: object key is not a string")
		}
		if seen[name] {
			return nil, fmt.Errorf("%q appears twice", name)
		}
		seen[name] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("invalid JSON at %q: %w", name, err)
		}
		out = append(out, rawEntry{name, raw})
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	// Only the padding (spaces) may follow the object.
	if len(bytes.TrimRight(hb[dec.InputOffset():], " ")) != 0 {
		return nil, errors.New("bytes other than space padding after the JSON object")
	}
	return out, nil
}

func parseTensorEntry(name string, raw json.RawMessage) (TensorInfo, error) {
	var e struct {
		DType       *string  `json:"dtype"`
		Shape       *[]int64 `json:"shape"`
		DataOffsets *[]int64 `json:"data_offsets"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return TensorInfo{}, err
	}
	if name == "" {
		return TensorInfo{}, errors.New("empty tensor name")
	}
	if e.DType == nil || e.Shape == nil || e.DataOffsets == nil {
		return TensorInfo{}, errors.New("needs dtype, shape and data_offsets")
	}
	dt, ok := stDType(*e.DType)
	if !ok {
		return TensorInfo{}, fmt.Errorf("unsupported dtype %q", *e.DType)
	}
	if len(*e.DataOffsets) != 2 {
		return TensorInfo{}, fmt.Errorf("data_offsets has %d values, want 2", len(*e.DataOffsets))
	}
	size := int64(dt.Size())
	shape := make([]int, len(*e.Shape))
	for i, d := range *e.Shape {
		if d < 0 || (d > 0 && size > math.MaxInt64/8/d) {
			return TensorInfo{}, fmt.Errorf("shape %v: dimension %d out of range", *e.Shape, d)
		}
		size *= d
		shape[i] = int(d)
	}
	b, end := (*e.DataOffsets)[0], (*e.DataOffsets)[1]
	if b < 0 || end < b || end-b != size {
		return TensorInfo{}, fmt.Errorf("byte range [%d, %d) does not hold shape %v %s (%d bytes)", b, end, *e.Shape, *e.DType, size)
	}
	return TensorInfo{Name: name, DType: dt, Shape: shape, Offset: b, Size: size}, nil
}

// checkLayout checks that the tensors tile the data section exactly.
func checkLayout(ts []TensorInfo, dataLen int64) error {
	byOffset := slices.Clone(ts)
	sort.SliceStable(byOffset, func(i, j int) bool {
		a, b := byOffset[i], byOffset[j]
		return a.Offset < b.Offset || (a.Offset == b.Offset && a.Size < b.Size)
	})
	var pos int64
	for _, ti := range byOffset {
		if ti.Offset != pos {
			what := "leaves a gap after"
			if ti.Offset < pos {
				what = "overlaps"
			}
			return fmt.Errorf("tensor %q: byte range [%d, %d) %s the previous tensor's, which ends at %d", ti.Name, ti.Offset, ti.Offset+ti.Size, what, pos)
		}
		pos += ti.Size
	}
	if pos != dataLen {
		return fmt.Errorf("tensors hold %d bytes but the data section has %d", pos, dataLen)
	}
	return nil
}

// TensorSpec fixes the name, dtype and shape of a tensor to be written.
type TensorSpec struct {
	Name  string
	DType dtypes.DType
	Shape []int
}

// SafetensorsWriter writes a safetensors file tensor by tensor into a
// temporary file next to its path. Commit renames it into place once every
// tensor is written; Abort (safe to defer, a no-op after Commit) removes it.
type SafetensorsWriter struct {
	path      string
	tmp       *os.File
	dataStart int64
	infos     map[string]TensorInfo
	written   map[string]bool
	done      bool
}

// CreateSafetensors starts writing path with the given tensors (any order;
// laid out by name as WriteSafetensors does) and metadata; the header is
// written at once.
func CreateSafetensors(path string, specs []TensorSpec, metadata map[string]string) (*SafetensorsWriter, error) {
	specs = slices.Clone(specs)
	sort.Slice(specs, func(i, j int) bool { return specs[i].Name < specs[j].Name })
	header := map[string]any{}
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	w := &SafetensorsWriter{path: path, infos: map[string]TensorInfo{}, written: map[string]bool{}}
	var off int64
	for i, sp := range specs {
		if sp.Name == "" || sp.Name == "__metadata__" {
			return nil, fmt.Errorf("safetensors %s: invalid tensor name %q", path, sp.Name)
		}
		if i > 0 && specs[i-1].Name == sp.Name {
			return nil, fmt.Errorf("safetensors %s: tensor name %q appears twice", path, sp.Name)
		}
		dt, ok := stDTypes[sp.DType]
		if !ok {
			return nil, fmt.Errorf("safetensors %s: tensor %q has dtype %s, which safetensors cannot hold", path, sp.Name, sp.DType)
		}
		ti := TensorInfo{Name: sp.Name, DType: sp.DType, Shape: slices.Clone(sp.Shape), Offset: off, Size: int64(sp.DType.Size())}
		for _, d := range sp.Shape {
			if d < 0 {
				return nil, fmt.Errorf("safetensors %s: tensor %q has negative dimension in %v", path, sp.Name, sp.Shape)
			}
			ti.Size *= int64(d)
		}
		if ti.Shape == nil {
			ti.Shape = []int{}
		}
		header[sp.Name] = stEntry{DType: dt, Shape: ti.Shape, DataOffsets: [2]int64{off, off + ti.Size}}
		w.infos[sp.Name] = ti
		off += ti.Size
	}
	hb, err := json.Marshal(header)
	if err != nil {
		return nil, err
	}
	if pad := (8 - len(hb)%8) % 8; pad > 0 {
		hb = append(hb, strings.Repeat(" ", pad)...)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, err
	}
	w.tmp = tmp
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(hb)))
	if _, err := tmp.Write(append(lenBuf[:], hb...)); err != nil {
		w.Abort()
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	w.dataStart = 8 + int64(len(hb))
	return w, nil
}

// WriteBytes writes the named tensor's raw little-endian bytes.
func (w *SafetensorsWriter) WriteBytes(name string, data []byte) error {
	ti, ok := w.infos[name]
	switch {
	case w.done:
		return fmt.Errorf("safetensors %s: write after Commit or Abort", w.path)
	case !ok:
		return fmt.Errorf("safetensors %s: tensor %q is not in the header", w.path, name)
	case w.written[name]:
		return fmt.Errorf("safetensors %s: tensor %q written twice", w.path, name)
	case int64(len(data)) != ti.Size:
		return fmt.Errorf("safetensors %s: tensor %q is %v %s (%d bytes), got %d bytes", w.path, name, ti.Shape, ti.DType, ti.Size, len(data))
	}
	if _, err := w.tmp.WriteAt(data, w.dataStart+ti.Offset); err != nil {
		return fmt.Errorf("writing %s: tensor %q: %w", w.path, name, err)
	}
	w.written[name] = true
	return nil
}

// WriteTensor writes the named tensor, whose dtype and shape must match
// its spec.
func (w *SafetensorsWriter) WriteTensor(name string, t *tensors.Tensor) error {
	ti, ok := w.infos[name]
	if ok && !t.Shape().Equal(shapes.Make(ti.DType, ti.Shape...)) {
		return fmt.Errorf("safetensors %s: tensor %q is %s, the header says %s", w.path, name, t.Shape(), shapes.Make(ti.DType, ti.Shape...))
	}
	if t.Shape().Size() == 0 {
		return w.WriteBytes(name, nil) // ConstBytes panics on empty tensors
	}
	var werr error
	if err := t.ConstBytes(func(b []byte) { werr = w.WriteBytes(name, b) }); err != nil {
		return err
	}
	return werr
}

// Commit checks that every tensor was written, syncs the file and renames
// it into place.
func (w *SafetensorsWriter) Commit() error {
	if w.done {
		return fmt.Errorf("safetensors %s: Commit after Commit or Abort", w.path)
	}
	var missing []string
	for name := range w.infos {
		if !w.written[name] {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		w.Abort()
		return fmt.Errorf("safetensors %s: %d tensors never written (first %q); nothing written", w.path, len(missing), missing[0])
	}
	w.done = true
	if err := w.tmp.Sync(); err != nil {
		w.tmp.Close()
		os.Remove(w.tmp.Name())
		return fmt.Errorf("writing %s: %w", w.path, err)
	}
	if err := w.tmp.Close(); err != nil {
		os.Remove(w.tmp.Name())
		return fmt.Errorf("writing %s: %w", w.path, err)
	}
	if err := os.Rename(w.tmp.Name(), w.path); err != nil {
		os.Remove(w.tmp.Name())
		return err
	}
	return nil
}

// Abort drops the temporary file; after Commit it does nothing.
func (w *SafetensorsWriter) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.tmp.Close()
	os.Remove(w.tmp.Name())
}

// MapTensor is one tensor of every input of MapSafetensors.
type MapTensor struct {
	Name  string
	DType dtypes.DType
	Shape []int
	// In holds each input's raw little-endian bytes, in the order of the
	// input paths; the slices are reused for the next tensor.
	In [][]byte
}

// MapOptions tunes MapSafetensors.
type MapOptions struct {
	Metadata map[string]string // the output's __metadata__
	// Progress, when set, is called after each tensor with the input bytes
	// read so far and in all.
	Progress func(tensor string, done, total int64)
}

// OpenCheckpoints opens safetensors files that must hold the same tensors
// (names, dtypes and shapes): checkpoints of one architecture. Only the
// headers are read. Errors name the files and the first tensor at fault.
func OpenCheckpoints(paths []string) ([]*SafetensorsFile, error) {
	if len(paths) == 0 {
		return nil, errors.New("no checkpoints given")
	}
	var files []*SafetensorsFile
	closeAll := func() {
		for _, f := range files {
			f.Close()
		}
	}
	for _, p := range paths {
		f, err := OpenSafetensors(p)
		if err != nil {
			closeAll()
			return nil, err
		}
		files = append(files, f)
	}
	if err := SameTensors(files); err != nil {
		closeAll()
		return nil, err
	}
	return files, nil
}

// SameTensors checks that the files hold tensors of the same names, dtypes
// and shapes as the first.
func SameTensors(files []*SafetensorsFile) error {
	ref := files[0]
	for _, f := range files[1:] {
		for _, ti := range ref.infos {
			o, ok := f.Info(ti.Name)
			switch {
			case !ok:
				return fmt.Errorf("checkpoint %s has no tensor %q, which %s has (%v %s): not the same architecture", f.Path, ti.Name, ref.Path, ti.Shape, ti.DType)
			case o.DType != ti.DType:
				return fmt.Errorf("tensor %q is %s in %s but %s in %s", ti.Name, ti.DType, ref.Path, o.DType, f.Path)
			case !slices.Equal(o.Shape, ti.Shape):
				return fmt.Errorf("tensor %q has shape %v in %s but %v in %s: not the same architecture", ti.Name, ti.Shape, ref.Path, o.Shape, f.Path)
			}
		}
		for _, o := range f.infos {
			if _, ok := ref.Info(o.Name); !ok {
				return fmt.Errorf("checkpoint %s has a tensor %q (%v %s) that %s lacks: not the same architecture", f.Path, o.Name, o.Shape, o.DType, ref.Path)
			}
		}
	}
	return nil
}

// MapSafetensors writes out by applying fn to each tensor of the input
// checkpoints, which must hold the same tensors (checked on the headers
// before anything is written). It holds one tensor per input at a time
// (plus fn's output), read with ReadAt in the first input's file order;
// fn fills out, which has the inputs' dtype and size. On any error or
// cancellation nothing is written at out. The next tensor of every input is
// read while fn runs, so at most two tensors per input are in memory.
func MapSafetensors(ctx gocontext.Context, out string, inputs []string, opts MapOptions, fn func(t MapTensor, out []byte) error) error {
	files, err := OpenCheckpoints(inputs)
	if err != nil {
		return err
	}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	infos := files[0].Tensors()
	specs := make([]TensorSpec, len(infos))
	var total int64
	for i, ti := range infos {
		specs[i] = TensorSpec{ti.Name, ti.DType, ti.Shape}
		total += ti.Size * int64(len(files))
	}
	w, err := CreateSafetensors(out, specs, opts.Metadata)
	if err != nil {
		return err
	}
	defer w.Abort()
	// File order keeps each input's reads sequential. A reader goroutine
	// fetches the next tensor of every input (the K reads in parallel, so
	// the disk sees them together) while fn works on the current one.
	sort.Slice(infos, func(i, j int) bool { return infos[i].Offset < infos[j].Offset })
	ready, stop := prefetch(files, infos)
	defer stop()
	var outBuf []byte
	var done int64
	for tb := range ready {
		if tb.err != nil {
			return tb.err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		ti := tb.info
		if int64(cap(outBuf)) < ti.Size {
			outBuf = make([]byte, ti.Size)
		}
		outBuf = outBuf[:ti.Size]
		if err := fn(MapTensor{Name: ti.Name, DType: ti.DType, Shape: ti.Shape, In: tb.in}, outBuf); err != nil {
			return fmt.Errorf("tensor %q: %w", ti.Name, err)
		}
		if err := w.WriteBytes(ti.Name, outBuf); err != nil {
			return err
		}
		tb.release()
		done += ti.Size * int64(len(files))
		if opts.Progress != nil {
			opts.Progress(ti.Name, done, total)
		}
	}
	return w.Commit()
}

type prefetched struct {
	info    TensorInfo
	in      [][]byte
	err     error
	release func() // hands the buffers back for the tensor after next
}

// prefetch reads the tensors of every file in the given order into two
// alternating buffer sets. stop ends the reader and waits for it.
func prefetch(files []*SafetensorsFile, order []TensorInfo) (<-chan prefetched, func()) {
	pool := make(chan [][]byte, 2)
	pool <- make([][]byte, len(files))
	pool <- make([][]byte, len(files))
	ready := make(chan prefetched, 1)
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(ready)
		for _, ti := range order {
			var bufs [][]byte
			select {
			case bufs = <-pool:
			case <-quit:
				return
			}
			errs := make([]error, len(files))
			var reads sync.WaitGroup
			for k, f := range files {
				reads.Add(1)
				go func() {
					defer reads.Done()
					bufs[k], errs[k] = f.ReadBytes(ti.Name, bufs[k])
				}()
			}
			reads.Wait()
			p := prefetched{info: ti, in: bufs, err: errors.Join(errs...), release: func() { pool <- bufs }}
			select {
			case ready <- p:
			case <-quit:
				return
			}
			if p.err != nil {
				return
			}
		}
	}()
	var once sync.Once
	return ready, func() { once.Do(func() { close(quit); wg.Wait() }) }
}
