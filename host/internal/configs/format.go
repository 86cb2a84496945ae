package configs

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

// Format returns native-syntax HCL source in canonical layout (aligned
// equals signs, two-space indentation), like `terraform fmt`. Source that
// does not parse is returned with the diagnostics and left unchanged, since
// hclwrite would otherwise rewrite a broken file.
func Format(src []byte) []byte {
	out, _ := FormatChecked("<input>", src)
	return out
}

// FormatChecked is Format that also reports syntax errors in src.
func FormatChecked(filename string, src []byte) ([]byte, hcl.Diagnostics) {
	if _, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos); diags.HasErrors() {
		return src, diags
	}
	return hclwrite.Format(src), nil
}
