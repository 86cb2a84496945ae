package configs

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// ResourcesBlock is a `resources { cpus, memory, gpus, time, partition,
// account }` block: what a step instance asks of a cluster scheduler (see
// `shammie run --executor slurm`). It may appear in a step and once at the
// top of the spec (the default of every step); it is not part of the cache
// key, since it does not change what a step computes. The expressions may
// use var, local, each and count; they are evaluated per instance.
type ResourcesBlock struct {
	Attrs     map[string]*hcl.Attribute
	DeclRange hcl.Range
}

// Resources are evaluated resource requests; zero fields ask for nothing
// (the cluster's defaults).
type Resources struct {
	CPUs      int    `json:"cpus,omitempty"`
	Memory    string `json:"memory,omitempty"` // Slurm --mem syntax: 4096 (MB), 16G
	GPUs      string `json:"gpus,omitempty"`   // "2" or "a100:2"
	Time      string `json:"time,omitempty"`   // Slurm --time syntax: minutes, H:MM:SS, D-HH:MM:SS
	Partition string `json:"partition,omitempty"`
	Account   string `json:"account,omitempty"`
}

// Merge returns r with the fields it leaves empty taken from def.
func (r Resources) Merge(def Resources) Resources {
	if r.CPUs == 0 {
		r.CPUs = def.CPUs
	}
	for _, f := range []struct {
		dst *string
		src string
	}{
		{&r.Memory, def.Memory}, {&r.GPUs, def.GPUs}, {&r.Time, def.Time}, {&r.Partition, def.Partition}, {&r.Account, def.Account},
	} {
		if *f.dst == "" {
			*f.dst = f.src
		}
	}
	return r
}

// ResourceNames are the attributes a resources block accepts.
var ResourceNames = []string{"cpus", "memory", "gpus", "time", "partition", "account"}

var resourcesSchema = func() *hcl.BodySchema {
	s := &hcl.BodySchema{}
	for _, n := range ResourceNames {
		s.Attributes = append(s.Attributes, hcl.AttributeSchema{Name: n})
	}
	return s
}()

// decodeResources reads a resources block, keeping its expressions.
func decodeResources(block *hcl.Block) (*ResourcesBlock, hcl.Diagnostics) {
	content, diags := block.Body.Content(resourcesSchema)
	return &ResourcesBlock{Attrs: content.Attributes, DeclRange: block.DefRange}, diags
}

// duplicateResources reports a second resources block where one is allowed.
func duplicateResources(where string, first, again hcl.Range) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Duplicate resources block",
		Detail:   fmt.Sprintf("%s already has a resources block at %s; merge them into one.", where, first),
		Subject:  again.Ptr(),
	}
}

var (
	memoryRe    = regexp.MustCompile(`^[0-9]+[KMGT]?$`)
	slurmTimeRe = regexp.MustCompile(`^([0-9]+-)?[0-9]+(:[0-9]+){0,2}$`)
	gpusRe      = regexp.MustCompile(`^([A-Za-z0-9_.-]+:)?[0-9]+$`)
	nameRe      = regexp.MustCompile(`^[A-Za-z0-9_.,-]+$`)
)

// Eval evaluates the block in ctx, checking each value's type and syntax so
// that a typo fails at validation with the attribute's range, not at sbatch.
// A nil block evaluates to no requests.
func (b *ResourcesBlock) Eval(ctx *hcl.EvalContext) (Resources, hcl.Diagnostics) {
	var r Resources
	if b == nil {
		return r, nil
	}
	var diags hcl.Diagnostics
	bad := func(a *hcl.Attribute, detail string) {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid resources." + a.Name, Detail: detail, Subject: a.Expr.Range().Ptr(), Expression: a.Expr, EvalContext: ctx})
	}
	for _, name := range ResourceNames {
		a, ok := b.Attrs[name]
		if !ok {
			continue
		}
		v, d := a.Expr.Value(ctx)
		diags = append(diags, d...)
		if d.HasErrors() || v.IsNull() {
			continue
		}
		if !v.IsWhollyKnown() {
			bad(a, "The value must be known before the step runs: resources may use var, local, each and count, not step results.")
			continue
		}
		v, _ = v.Unmark()
		switch name {
		case "cpus":
			n, ok := wholeNumber(v)
			if !ok || n < 1 {
				bad(a, "cpus must be a whole number of at least 1, like 8.")
				continue
			}
			r.CPUs = n
		case "memory":
			s, ok := numberOrString(v)
			s = strings.ToUpper(strings.TrimSuffix(strings.TrimSuffix(s, "B"), "b"))
			if !ok || !memoryRe.MatchString(s) {
				bad(a, `memory is a number of megabytes or a size with a unit K, M, G or T, like "16G".`)
				continue
			}
			r.Memory = s
		case "gpus":
			s, ok := numberOrString(v)
			if !ok || !gpusRe.MatchString(s) {
				bad(a, `gpus is a count, or a type and a count, like 2 or "a100:2".`)
				continue
			}
			r.GPUs = s
		case "time":
			s, ok := slurmTime(v)
			if !ok {
				bad(a, `time is a number of minutes, a duration like "2h30m", or Slurm's "H:MM:SS" / "D-HH:MM:SS".`)
				continue
			}
			r.Time = s
		case "partition", "account":
			s, ok := numberOrString(v)
			if !ok || !nameRe.MatchString(s) {
				bad(a, fmt.Sprintf("%s is a name like \"gpu\" (letters, digits, '_', '-', '.', or a comma-separated list).", name))
				continue
			}
			if name == "partition" {
				r.Partition = s
			} else {
				r.Account = s
			}
		}
	}
	return r, diags
}

func wholeNumber(v cty.Value) (int, bool) {
	n, err := convert.Convert(v, cty.Number)
	if err != nil || n.IsNull() {
		return 0, false
	}
	f := n.AsBigFloat()
	if !f.IsInt() {
		return 0, false
	}
	i, _ := f.Int64()
	if i > 1<<31 {
		return 0, false
	}
	return int(i), true
}

func numberOrString(v cty.Value) (string, bool) {
	s, err := convert.Convert(v, cty.String)
	if err != nil || s.IsNull() {
		return "", false
	}
	return strings.TrimSpace(s.AsString()), true
}

// slurmTime converts minutes or a Go duration to Slurm's minutes; Slurm's
// own syntax is kept.
func slurmTime(v cty.Value) (string, bool) {
	if v.Type() == cty.Number {
		n, ok := wholeNumber(v)
		return strconv.Itoa(n), ok && n > 0
	}
	s, ok := numberOrString(v)
	if !ok || s == "" {
		return "", false
	}
	if slurmTimeRe.MatchString(s) {
		return s, true
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return "", false
	}
	min := int((d + time.Minute - 1) / time.Minute)
	return strconv.Itoa(min), true
}
