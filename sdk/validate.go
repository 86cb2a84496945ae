package sdk

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/zclconf/go-cty/cty"
)

// Validator is the one way a plugin's ValidateConfig checks a config. It
// decodes the config into the plugin's struct and runs each check only when
// every attribute the check reads is known, so the same code validates a
// config whose values from upstream steps are still unknown (the host's
// first pass, before anything runs) and the full config (right before Run):
//
//	func (*Plugin) ValidateConfig(_ context.Context, c sdk.Config) sdk.Diagnostics {
//		var cfg Config
//		v := sdk.NewValidator(c, &cfg)
//		v.Check(cfg.Steps >= 1, "steps", "At least one step is needed", "")
//		v.OneOf("mode", cfg.Mode, "train", "eval")
//		v.CheckAll(cfg.Lo <= cfg.Hi, []string{"lo", "hi"}, "The range is empty", "")
//		return v.Diagnostics()
//	}
//
// The condition is evaluated eagerly (an unknown attribute decodes to its
// zero value) and only its verdict is discarded while unknown. Summaries
// are sentence case, like the host's: [Validator.Check] capitalises the
// first letter if a plugin forgets.
type Validator struct {
	cfg   Config
	diags Diagnostics
}

// NewValidator decodes c into target (a pointer to the config struct, or nil
// to skip decoding) and returns a Validator. A decoding error becomes an
// error diagnostic at the config's root.
func NewValidator(c Config, target any) *Validator {
	v := &Validator{cfg: c}
	if target != nil {
		if err := c.Decode(target); err != nil {
			v.diags = append(v.diags, Errorf(nil, "Invalid config", err.Error()))
		}
	}
	return v
}

// Known reports whether every named top-level attribute is known.
func (v *Validator) Known(attrs ...string) bool {
	for _, a := range attrs {
		if !v.cfg.IsKnown(a) {
			return false
		}
	}
	return true
}

// Check adds an error at attr when ok is false and attr is known.
func (v *Validator) Check(ok bool, attr, summary, detail string) {
	v.CheckAll(ok, []string{attr}, summary, detail)
}

// FileExists adds an error at attr when path, a known non-empty file name,
// cannot be stat'ed; the error's detail is the reason. An empty path is
// left to the caller (optional here, required there).
func (v *Validator) FileExists(attr, path, summary string) {
	if path == "" {
		return
	}
	_, err := os.Stat(path)
	detail := ""
	if err != nil {
		detail = err.Error()
	}
	v.Check(err == nil, attr, summary, detail)
}

// CheckAll adds an error at the first of attrs when ok is false and every
// attribute in attrs is known: a check that combines several attributes
// names them all.
func (v *Validator) CheckAll(ok bool, attrs []string, summary, detail string) {
	if ok || len(attrs) == 0 || !v.Known(attrs...) {
		return
	}
	v.Add(Errorf(cty.GetAttrPath(attrs[0]), summary, detail))
}

// CheckPath adds an error at path when ok is false and the value at path is
// known (for an element of a list or an attribute of a nested block).
func (v *Validator) CheckPath(ok bool, path cty.Path, summary, detail string) {
	if ok || !v.cfg.Known(path) {
		return
	}
	v.Add(Errorf(path, summary, detail))
}

// OneOf checks that a known string attribute holds one of allowed.
func (v *Validator) OneOf(attr, value string, allowed ...string) {
	v.Check(slices.Contains(allowed, value), attr, fmt.Sprintf("Unknown %s %q", attr, value),
		"Use "+orList(allowed)+".")
}

// Range checks lo <= value <= hi for a known numeric attribute.
func (v *Validator) Range(attr string, value, lo, hi float64) {
	v.Check(value >= lo && value <= hi, attr, fmt.Sprintf("The %s must be between %v and %v", attr, lo, hi),
		fmt.Sprintf("Got %v.", value))
}

// Min checks value >= lo for a known numeric attribute.
func (v *Validator) Min(attr string, value, lo float64) {
	v.Check(value >= lo, attr, fmt.Sprintf("The %s must be at least %v", attr, lo), fmt.Sprintf("Got %v.", value))
}

// Add appends diagnostics as they are (summaries are put in sentence case).
func (v *Validator) Add(ds ...Diagnostic) {
	for _, d := range ds {
		d.Summary = SentenceCase(d.Summary)
		v.diags = append(v.diags, d)
	}
}

// Diagnostics returns what the checks found.
func (v *Validator) Diagnostics() Diagnostics { return v.diags }

// SentenceCase upper-cases the first letter of a diagnostic summary, the
// style of every summary the host prints. Summaries that start with an
// identifier a user types (a lower-case attribute name) are better
// rephrased ("The lr must be positive"); this is the safety net.
func SentenceCase(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError || unicode.IsUpper(r) {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}

func orList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = fmt.Sprintf("%q", x)
	}
	switch len(q) {
	case 0:
		return "nothing"
	case 1:
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}
