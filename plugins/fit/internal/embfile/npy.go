package embfile

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

var npyMagic = []byte("\x93NUMPY")

// ReadNPY reads a .npy file (format versions 1–3) holding a C-ordered
// little-endian float array ('<f4', '<f8' or '<f2').
func ReadNPY(path string) (Array, error) {
	f, err := os.Open(path)
	if err != nil {
		return Array{}, err
	}
	defer f.Close()
	a, err := readNPY(bufio.NewReader(f))
	if err != nil {
		return Array{}, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

func readNPY(r io.Reader) (Array, error) {
	pre := make([]byte, 8)
	if _, err := io.ReadFull(r, pre); err != nil {
		return Array{}, fmt.Errorf("not a .npy file (too short): %w", err)
	}
	if !bytes.Equal(pre[:6], npyMagic) {
		return Array{}, fmt.Errorf("not a .npy file: missing the \\x93NUMPY magic")
	}
	var hlen int
	switch pre[6] {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return Array{}, fmt.Errorf("truncated header: %w", err)
		}
		hlen = int(binary.LittleEndian.Uint16(b[:]))
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return Array{}, fmt.Errorf("truncated header: %w", err)
		}
		hlen = int(binary.LittleEndian.Uint32(b[:]))
	default:
		return Array{}, fmt.Errorf("unsupported .npy format version %d.%d", pre[6], pre[7])
	}
	if hlen > 1<<20 {
		return Array{}, fmt.Errorf("header length %d is implausible", hlen)
	}
	hdr := make([]byte, hlen)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return Array{}, fmt.Errorf("truncated header: %w", err)
	}
	descr, fortran, shape, err := parseNPYHeader(string(hdr))
	if err != nil {
		return Array{}, fmt.Errorf("header %q: %w", strings.TrimSpace(string(hdr)), err)
	}
	if fortran {
		return Array{}, fmt.Errorf("fortran_order arrays are not supported; save with np.ascontiguousarray")
	}
	a := Array{Shape: shape}
	n, err := checkedSize(shape)
	if err != nil {
		return Array{}, err
	}
	var elem int
	switch descr {
	case "<f4", "=f4":
		elem = 4
	case "<f8", "=f8":
		elem = 8
	case "<f2", "=f2":
		elem = 2
	default:
		return Array{}, fmt.Errorf("dtype %q not supported: store little-endian float32/float64/float16", descr)
	}
	// Read what the file holds rather than allocate what its header
	// claims: a corrupt shape must not cost gigabytes.
	raw, err := io.ReadAll(io.LimitReader(r, int64(n)*int64(elem)))
	if err != nil {
		return Array{}, err
	}
	if len(raw) != n*elem {
		return Array{}, fmt.Errorf("data truncated: shape %v needs %d bytes, the file holds %d", shape, n*elem, len(raw))
	}
	a.Data = make([]float32, n)
	for i := range a.Data {
		switch elem {
		case 4:
			a.Data[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		case 8:
			a.Data[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:])))
		case 2:
			a.Data[i] = halfToFloat(binary.LittleEndian.Uint16(raw[2*i:]))
		}
	}
	if err := checkFinite(a); err != nil {
		return Array{}, err
	}
	return a, nil
}

// parseNPYHeader reads the Python dict literal numpy writes, e.g.
// {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }.
func parseNPYHeader(h string) (descr string, fortran bool, shape []int, err error) {
	get := func(key string) (string, bool) {
		i := strings.Index(h, "'"+key+"'")
		if i < 0 {
			return "", false
		}
		rest := strings.TrimLeft(h[i+len(key)+2:], " ")
		if !strings.HasPrefix(rest, ":") {
			return "", false
		}
		return strings.TrimLeft(rest[1:], " "), true
	}
	v, ok := get("descr")
	if !ok || len(v) < 2 || (v[0] != '\'' && v[0] != '"') {
		return "", false, nil, fmt.Errorf("no 'descr'")
	}
	end := strings.IndexByte(v[1:], v[0])
	if end < 0 {
		return "", false, nil, fmt.Errorf("unterminated 'descr'")
	}
	descr = v[1 : 1+end]
	v, ok = get("fortran_order")
	if !ok {
		return "", false, nil, fmt.Errorf("no 'fortran_order'")
	}
	fortran = strings.HasPrefix(v, "True")
	v, ok = get("shape")
	if !ok || !strings.HasPrefix(v, "(") {
		return "", false, nil, fmt.Errorf("no 'shape' tuple")
	}
	close := strings.IndexByte(v, ')')
	if close < 0 {
		return "", false, nil, fmt.Errorf("unterminated 'shape'")
	}
	for _, part := range strings.Split(v[1:close], ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		d, err := strconv.Atoi(strings.TrimSuffix(part, "L"))
		if err != nil || d < 0 {
			return "", false, nil, fmt.Errorf("bad dimension %q in 'shape'", part)
		}
		shape = append(shape, d)
	}
	return descr, fortran, shape, nil
}

// WriteNPY writes a as a version 1.0 .npy file of '<f4'.
func WriteNPY(path string, a Array) error {
	if a.Size() != len(a.Data) {
		return fmt.Errorf("%s: shape %v does not match %d elements", path, a.Shape, len(a.Data))
	}
	dims := make([]string, len(a.Shape))
	for i, d := range a.Shape {
		dims[i] = strconv.Itoa(d)
	}
	shape := strings.Join(dims, ", ")
	if len(a.Shape) == 1 {
		shape += ","
	}
	hdr := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", shape)
	// Pad with spaces so that magic+version+len+header+'\n' is a multiple of 64.
	total := len(npyMagic) + 2 + 2 + len(hdr) + 1
	hdr += strings.Repeat(" ", (64-total%64)%64) + "\n"
	var buf bytes.Buffer
	buf.Write(npyMagic)
	buf.Write([]byte{1, 0})
	_ = binary.Write(&buf, binary.LittleEndian, uint16(len(hdr)))
	buf.WriteString(hdr)
	raw := make([]byte, 4*len(a.Data))
	for i, v := range a.Data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	buf.Write(raw)
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// maxElements bounds the element count a header may declare (2^36 float32
// values is 256 GiB, beyond any embedding file): larger is corruption, and
// the bound keeps n*elem from overflowing.
const maxElements = 1 << 36

// checkedSize is the number of elements of shape, refusing negative
// dimensions and implausible totals.
func checkedSize(shape []int) (int, error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension in shape %v", shape)
		}
		if d != 0 && n > maxElements/d {
			return 0, fmt.Errorf("shape %v is implausibly large", shape)
		}
		n *= d
	}
	return n, nil
}
