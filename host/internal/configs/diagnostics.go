package configs

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// WriteDiagnostics renders diagnostics for people — the one renderer: the
// CLI prints with it and the specsuite goldens pin it: severity and summary, the
// position as file:line:col, the source line(s) with the range underlined,
// then the detail.
//
//	Error: Unsupported argument
//	  --> bad.hcl:8:5
//	   |
//	 8 |     colour = "red"
//	   |     ^^^^^^
//	An argument named "colour" is not expected here.
func WriteDiagnostics(w io.Writer, files map[string]*hcl.File, diags hcl.Diagnostics) error {
	var b strings.Builder
	for _, d := range diags {
		sev := "Error"
		if d.Severity == hcl.DiagWarning {
			sev = "Warning"
		}
		fmt.Fprintf(&b, "%s: %s\n", sev, d.Summary)
		if r := d.Subject; r != nil && r.Filename != "" {
			fmt.Fprintf(&b, "  --> %s:%d:%d\n", r.Filename, r.Start.Line, r.Start.Column)
			writeSnippet(&b, sourceOf(files, r.Filename), *r)
		}
		if d.Detail != "" {
			b.WriteString(strings.TrimRight(d.Detail, "\n") + "\n")
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func sourceOf(files map[string]*hcl.File, name string) []byte {
	if f := files[name]; f != nil {
		return f.Bytes
	}
	src, _ := os.ReadFile(name)
	return src
}

// writeSnippet prints the lines of r (at most 3) with a caret underline of
// the range on each.
func writeSnippet(b *strings.Builder, src []byte, r hcl.Range) {
	if len(src) == 0 || r.Start.Line < 1 {
		return
	}
	lines := strings.Split(string(src), "\n")
	if r.Start.Line > len(lines) {
		return
	}
	last := min(max(r.End.Line, r.Start.Line), len(lines), r.Start.Line+2)
	width := len(fmt.Sprint(last))
	pad := strings.Repeat(" ", width)
	fmt.Fprintf(b, " %s |\n", pad)
	for ln := r.Start.Line; ln <= last; ln++ {
		line := strings.TrimRight(lines[ln-1], "\r")
		fmt.Fprintf(b, " %*d | %s\n", width, ln, line)
		from, to := 1, len(line)+1
		if ln == r.Start.Line {
			from = r.Start.Column
		}
		if ln == r.End.Line {
			to = r.End.Column
		}
		// Columns count characters; the underline assumes one cell each.
		prefix := []rune(line)
		if from-1 > len(prefix) {
			from = len(prefix) + 1
		}
		lead := strings.Map(func(c rune) rune {
			if c == '\t' {
				return '\t'
			}
			return ' '
		}, string(prefix[:from-1]))
		fmt.Fprintf(b, " %s | %s%s\n", pad, lead, strings.Repeat("^", max(1, to-from)))
	}
}
