package dataset

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/shammie-ml/shammie/plugins/fit/internal/embfile"
	"github.com/shammie-ml/shammie/plugins/fit/internal/imitation"
)

// Bundle tensor and metadata names: one safetensors file holds a whole
// embedding set, so that a step can hand it to the next as one artifact.
const (
	TrainPrefix     = "train/"     // train/<concept>: [images, width]
	GeneratedPrefix = "generated/" // generated/<concept>: [prompts, images, width] or [images, width]
	CountPrefix     = "count/"     // __metadata__ count/<concept>: image count
	// OrderKey (optional __metadata__) holds a JSON list of the concept
	// names in their original order; safetensors keeps no tensor order of
	// its own (sdk/ml writes tensors sorted by name). Without it concepts
	// come in name order.
	OrderKey = "fit.concepts"
)

// EmbeddingSet is the embeddings of every concept, ready to score.
type EmbeddingSet struct {
	Names    []string
	Counts   []int64
	Concepts []imitation.Concept
	Width    int
}

// ReadEmbeddings reads a safetensors bundle (.safetensors) or a CSV
// manifest (.csv with columns concept, count, train, generated; one row per
// prompt, paths relative to the manifest, .npy or single-tensor
// .safetensors files).
func ReadEmbeddings(path string, opt Options) (*EmbeddingSet, Drops, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".safetensors":
		return readBundle(path, opt.Drop)
	case ".csv":
		return readManifest(path, opt.Drop)
	}
	return nil, Drops{}, fmt.Errorf("%s: unknown embeddings format %q: use a .safetensors bundle or a .csv manifest", path, filepath.Ext(path))
}

// promptsOf splits a generated-images array into prompts.
func promptsOf(a embfile.Array) ([][][]float32, int, error) {
	rows, width, err := a.Rows()
	if err != nil {
		return nil, 0, err
	}
	if len(a.Shape) == 2 {
		return [][][]float32{rows}, width, nil
	}
	perPrompt := a.Shape[1]
	var out [][][]float32
	for p := 0; p < a.Shape[0]; p++ {
		out = append(out, rows[p*perPrompt:(p+1)*perPrompt])
	}
	return out, width, nil
}

// setBuilder collects concepts, checking widths against the first one.
type setBuilder struct {
	set   EmbeddingSet
	drops Drops
	drop  bool
}

// add validates one concept; a problem is an error, or a counted drop.
func (b *setBuilder) add(where, name string, count int64, c imitation.Concept, rows int) error {
	check := func() error {
		if len(c.Train) == 0 {
			return errors.New("no training-image embeddings")
		}
		if len(c.Prompts) == 0 {
			return errors.New("no generated-image embeddings")
		}
		w := len(c.Train[0])
		if w == 0 {
			return errors.New("embeddings have width 0")
		}
		for p, pr := range c.Prompts {
			if len(pr) == 0 {
				return fmt.Errorf("prompt %d has no generated images", p)
			}
			if len(pr[0]) != w {
				return fmt.Errorf("generated embeddings have width %d but training embeddings %d", len(pr[0]), w)
			}
		}
		if b.set.Width != 0 && w != b.set.Width {
			return fmt.Errorf("embedding width %d differs from %d (concept %q)", w, b.set.Width, b.set.Names[0])
		}
		return nil
	}
	if err := check(); err != nil {
		msg := fmt.Sprintf("%s: concept %q: %v", where, name, err)
		if !b.drop {
			return errors.New(msg)
		}
		b.drops.add(rows, 1, msg)
		return nil
	}
	b.set.Width = len(c.Train[0])
	b.set.Names = append(b.set.Names, name)
	b.set.Counts = append(b.set.Counts, count)
	b.set.Concepts = append(b.set.Concepts, c)
	return nil
}

func (b *setBuilder) fail(msg string) error {
	if !b.drop {
		return errors.New(msg)
	}
	b.drops.add(0, 1, msg)
	return nil
}

func readBundle(path string, drop bool) (*EmbeddingSet, Drops, error) {
	st, err := embfile.ReadSafetensors(path)
	if err != nil {
		return nil, Drops{}, err
	}
	b := &setBuilder{drop: drop}
	// Every concept named anywhere: in the order list, by a tensor or by a
	// count.
	seen := map[string]bool{}
	var names []string
	note := func(n string) {
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	if js, ok := st.Metadata[OrderKey]; ok {
		var order []string
		if err := json.Unmarshal([]byte(js), &order); err != nil {
			return nil, Drops{}, fmt.Errorf("%s: metadata %s must be a JSON list of concept names: %v", path, OrderKey, err)
		}
		for _, n := range order {
			note(n)
		}
	}
	for _, n := range st.Names {
		switch {
		case strings.HasPrefix(n, TrainPrefix):
			note(strings.TrimPrefix(n, TrainPrefix))
		case strings.HasPrefix(n, GeneratedPrefix):
			note(strings.TrimPrefix(n, GeneratedPrefix))
		default:
			if err := b.fail(fmt.Sprintf("%s: tensor %q is neither %s<concept> nor %s<concept>", path, n, TrainPrefix, GeneratedPrefix)); err != nil {
				return nil, b.drops, err
			}
		}
	}
	var metaKeys []string
	for k := range st.Metadata {
		if strings.HasPrefix(k, CountPrefix) {
			metaKeys = append(metaKeys, strings.TrimPrefix(k, CountPrefix))
		}
	}
	sort.Strings(metaKeys)
	for _, k := range metaKeys {
		note(k)
	}
	for _, name := range names {
		where := path
		train, okT := st.Tensors[TrainPrefix+name]
		gen, okG := st.Tensors[GeneratedPrefix+name]
		countStr, okC := st.Metadata[CountPrefix+name]
		var missing []string
		if !okT {
			missing = append(missing, "tensor "+TrainPrefix+name)
		}
		if !okG {
			missing = append(missing, "tensor "+GeneratedPrefix+name)
		}
		if !okC {
			missing = append(missing, "metadata "+CountPrefix+name)
		}
		if len(missing) > 0 {
			if err := b.fail(fmt.Sprintf("%s: concept %q is incomplete: no %s", where, name, strings.Join(missing, ", "))); err != nil {
				return nil, b.drops, err
			}
			continue
		}
		count, err := parseCount(countStr)
		if err != nil {
			if err := b.fail(fmt.Sprintf("%s: concept %q: metadata %s%s: %v", where, name, CountPrefix, name, err)); err != nil {
				return nil, b.drops, err
			}
			continue
		}
		var c imitation.Concept
		var e1, e2 error
		c.Train, _, e1 = train.Rows()
		if len(train.Shape) != 2 {
			e1 = fmt.Errorf("tensor %s%s has shape %v, expected [images, width]", TrainPrefix, name, train.Shape)
		}
		c.Prompts, _, e2 = promptsOf(gen)
		if err := errors.Join(e1, e2); err != nil {
			if err := b.fail(fmt.Sprintf("%s: concept %q: %v", where, name, err)); err != nil {
				return nil, b.drops, err
			}
			continue
		}
		if err := b.add(where, name, count, c, 0); err != nil {
			return nil, b.drops, err
		}
	}
	if len(b.set.Names) == 0 {
		return nil, b.drops, fmt.Errorf("%s: no usable concepts", path)
	}
	return &b.set, b.drops, nil
}

func readArray(path string) (embfile.Array, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".npy":
		return embfile.ReadNPY(path)
	case ".safetensors":
		st, err := embfile.ReadSafetensors(path)
		if err != nil {
			return embfile.Array{}, err
		}
		if len(st.Names) != 1 {
			return embfile.Array{}, fmt.Errorf("%s: holds %d tensors; a manifest entry must hold exactly one", path, len(st.Names))
		}
		return st.Tensors[st.Names[0]], nil
	}
	return embfile.Array{}, fmt.Errorf("%s: unknown array format: use .npy or .safetensors", path)
}

func readManifest(path string, drop bool) (*EmbeddingSet, Drops, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, Drops{}, err
	}
	defer f.Close()
	dir := filepath.Dir(path)
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return nil, Drops{}, fmt.Errorf("%s:1: expected a header row concept,count,train,generated: %v", path, err)
	}
	idx := map[string]int{}
	for i, h := range header {
		idx[strings.TrimSpace(h)] = i
	}
	for _, c := range []string{"concept", "count", "train", "generated"} {
		if _, ok := idx[c]; !ok {
			return nil, Drops{}, fmt.Errorf("%s:1: no column %q in header %q", path, c, strings.Join(header, ","))
		}
	}
	type entry struct {
		where, train string
		count        int64
		c            imitation.Concept
		rows         int
		bad          string
	}
	b := &setBuilder{drop: drop}
	byName := map[string]*entry{}
	var order []string
	trainCache := map[string][][]float32{}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := r.FieldPos(0)
		where := fmt.Sprintf("%s:%d", path, line)
		rowFail := func(msg string) error {
			if !drop {
				return fmt.Errorf("%s: %s", where, msg)
			}
			b.drops.add(1, 0, where+": "+msg)
			return nil
		}
		if err != nil || len(rec) != len(header) {
			if err == nil {
				err = fmt.Errorf("%d fields, the header has %d", len(rec), len(header))
			}
			if err := rowFail(err.Error()); err != nil {
				return nil, b.drops, err
			}
			continue
		}
		name := strings.TrimSpace(rec[idx["concept"]])
		count, cerr := parseCount(rec[idx["count"]])
		if name == "" || cerr != nil {
			if name == "" {
				cerr = errors.New("empty concept name")
			}
			if err := rowFail(cerr.Error()); err != nil {
				return nil, b.drops, err
			}
			continue
		}
		e, ok := byName[name]
		if !ok {
			e = &entry{where: where, count: count, train: strings.TrimSpace(rec[idx["train"]])}
			byName[name] = e
			order = append(order, name)
		}
		e.rows++
		if e.bad != "" {
			continue
		}
		badConcept := func(msg string) error {
			if !drop {
				return fmt.Errorf("%s: concept %q: %s", where, name, msg)
			}
			e.bad = fmt.Sprintf("%s: concept %q: %s", where, name, msg)
			return nil
		}
		if count != e.count || strings.TrimSpace(rec[idx["train"]]) != e.train {
			if err := badConcept(fmt.Sprintf("count/train (%d, %s) differ from those at %s (%d, %s)", count, rec[idx["train"]], e.where, e.count, e.train)); err != nil {
				return nil, b.drops, err
			}
			continue
		}
		if e.c.Train == nil {
			tp := filepath.Join(dir, e.train)
			rows, ok := trainCache[tp]
			if !ok {
				a, err := readArray(tp)
				if err == nil && len(a.Shape) != 2 {
					err = fmt.Errorf("%s: shape %v, expected [images, width]", tp, a.Shape)
				}
				if err == nil {
					rows, _, err = a.Rows()
				}
				if err != nil {
					if err := badConcept(err.Error()); err != nil {
						return nil, b.drops, err
					}
					continue
				}
				trainCache[tp] = rows
			}
			e.c.Train = rows
		}
		gp := filepath.Join(dir, strings.TrimSpace(rec[idx["generated"]]))
		a, err := readArray(gp)
		var prompts [][][]float32
		if err == nil {
			prompts, _, err = promptsOf(a)
		}
		if err != nil {
			if err := badConcept(err.Error()); err != nil {
				return nil, b.drops, err
			}
			continue
		}
		e.c.Prompts = append(e.c.Prompts, prompts...)
	}
	for _, name := range order {
		e := byName[name]
		if e.bad != "" {
			b.drops.add(e.rows, 1, e.bad)
			continue
		}
		if err := b.add(e.where, name, e.count, e.c, e.rows); err != nil {
			return nil, b.drops, err
		}
	}
	if len(b.set.Names) == 0 {
		return nil, b.drops, fmt.Errorf("%s: no usable concepts", path)
	}
	return &b.set, b.drops, nil
}
