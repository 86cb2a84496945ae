package runner

import (
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/host/internal/lang"
)

// Sensitive variables are marked (lang.SensitiveMark) and the marks follow
// them into configs, which the run store records redacted. What a plugin
// sends back carries no marks, so the host also masks the strings of
// sensitive values wherever they come back, as CI systems mask secrets in
// logs: an output containing one is marked (recorded and shown as
// "(sensitive)", marked again for the steps reading it), and log lines,
// messages and diagnostics have it replaced.

// minSecretLen: shorter values ("1", "go") would mask half of every line.
const minSecretLen = 4

// collectSecrets lists the string forms of every sensitive value, longest
// first (so that a secret containing another is masked whole).
func collectSecrets(vars map[string]cty.Value) []string {
	seen := map[string]bool{}
	for _, v := range vars {
		if !v.ContainsMarked() {
			continue
		}
		plain, paths := v.UnmarkDeepWithPaths()
		for _, pm := range paths {
			sub, err := pm.Path.Apply(plain)
			if err != nil {
				continue
			}
			_ = cty.Walk(sub, func(_ cty.Path, x cty.Value) (bool, error) {
				if !x.IsKnown() || x.IsNull() {
					return true, nil
				}
				var s string
				switch x.Type() {
				case cty.String:
					s = x.AsString()
				case cty.Number:
					s = x.AsBigFloat().Text('g', -1)
				}
				if len(s) >= minSecretLen {
					seen[s] = true
				}
				return true, nil
			})
		}
	}
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// mask replaces every secret in text.
func (s *Session) mask(text string) string {
	for _, sec := range s.secrets {
		text = strings.ReplaceAll(text, sec, "(sensitive)")
	}
	return text
}

func (s *Session) maskAll(lines []string) []string {
	for i := range lines {
		lines[i] = s.mask(lines[i])
	}
	return lines
}

// maskDiags masks summaries and details of diagnostics (a validation's
// error_message may interpolate the value).
func (s *Session) maskDiags(diags hcl.Diagnostics) hcl.Diagnostics {
	if len(s.secrets) == 0 {
		return diags
	}
	for _, d := range diags {
		d.Summary, d.Detail = s.mask(d.Summary), s.mask(d.Detail)
		d.Expression, d.EvalContext = nil, nil // their values would be shown
	}
	return diags
}

// markIfSecret marks v when one of its strings contains a secret.
func (s *Session) markIfSecret(v cty.Value) cty.Value {
	if len(s.secrets) == 0 || v.IsMarked() || !v.IsWhollyKnown() {
		return v
	}
	found := false
	plain, _ := v.UnmarkDeep()
	_ = cty.Walk(plain, func(_ cty.Path, x cty.Value) (bool, error) {
		if !x.IsNull() && x.Type() == cty.String && s.mask(x.AsString()) != x.AsString() {
			found = true
			return false, nil
		}
		return !found, nil
	})
	if found {
		return v.Mark(lang.SensitiveMark)
	}
	return v
}
