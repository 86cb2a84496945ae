package sdk

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/zclconf/go-cty/cty"
)

// Warnf returns a warning diagnostic at path.
func Warnf(path cty.Path, summary, detail string) Diagnostic {
	return Diagnostic{Severity: SeverityWarning, Summary: summary, Detail: detail, Path: path}
}

// String renders the diagnostic on one line: "error: config.lr: summary: detail".
func (d Diagnostic) String() string {
	var b strings.Builder
	if d.Severity == SeverityWarning {
		b.WriteString("warning: ")
	} else {
		b.WriteString("error: ")
	}
	if len(d.Path) > 0 {
		b.WriteString(FormatPath(d.Path))
		b.WriteString(": ")
	}
	b.WriteString(d.Summary)
	if d.Detail != "" {
		b.WriteString(": ")
		b.WriteString(d.Detail)
	}
	return b.String()
}

// Err returns the diagnostics as an error when at least one is an error, and
// nil otherwise. Returning it from [Plugin.Run] fails the step with the
// diagnostics attached, so the host can point at the offending attributes.
func (d Diagnostics) Err() error {
	if !d.HasErrors() {
		return nil
	}
	return &DiagnosticsError{Diagnostics: d}
}

// Append adds diagnostics and returns the result, like append.
func (d Diagnostics) Append(more ...Diagnostic) Diagnostics { return append(d, more...) }

// DiagnosticsError is the error [Diagnostics.Err] returns. Use errors.As to
// recover the diagnostics from a wrapped error.
type DiagnosticsError struct {
	Diagnostics Diagnostics
}

func (e *DiagnosticsError) Error() string {
	lines := make([]string, len(e.Diagnostics))
	for i, d := range e.Diagnostics {
		lines[i] = d.String()
	}
	return strings.Join(lines, "; ")
}

// DiagnosticsOf extracts the diagnostics carried by err (see
// [Diagnostics.Err]), or nil.
func DiagnosticsOf(err error) Diagnostics {
	var de *DiagnosticsError
	if errors.As(err, &de) {
		return de.Diagnostics
	}
	return nil
}

// FormatPath renders an attribute path the way a user would write it in a
// spec: layers[2].d, extra["key"]. The empty path renders as "(config)".
func FormatPath(p cty.Path) string {
	if len(p) == 0 {
		return "(config)"
	}
	var b strings.Builder
	for i, s := range p {
		switch s := s.(type) {
		case cty.GetAttrStep:
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.Name)
		case cty.IndexStep:
			k := s.Key
			switch {
			case !k.IsKnown() || k.IsNull():
				b.WriteString("[?]")
			case k.Type() == cty.String:
				b.WriteString("[" + strconv.Quote(k.AsString()) + "]")
			case k.Type() == cty.Number:
				b.WriteString("[" + k.AsBigFloat().Text('f', -1) + "]")
			default:
				b.WriteString("[" + fmt.Sprint(k.GoString()) + "]")
			}
		}
	}
	return b.String()
}
