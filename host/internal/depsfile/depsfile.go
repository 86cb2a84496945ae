// Package depsfile reads and writes shammie.lock.hcl, the lock file that
// `shammie init` writes beside a spec. It pins, for every plugin block of
// the spec, the binary that was chosen (its version, path and sha256), so
// that later runs launch exactly that binary: every launch checks the
// sha256, and a plugin missing from the lock is refused.
//
//	plugin "fit" {
//	  version = "0.1.0"
//	  path    = "../bin/shammie-plugin-fit"
//	  sha256  = "3f9a…"
//	}
//
// A relative path is relative to the lock file's directory, so that a
// repository can be moved without invalidating its lock.
package depsfile

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/hashicorp/go-version"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// FileName is the lock file's name; it lives in the spec's directory.
const FileName = "shammie.lock.hcl"

// PathFor returns the lock file path for a spec file.
func PathFor(specPath string) string {
	return filepath.Join(filepath.Dir(specPath), FileName)
}

// Plugin is one locked plugin.
type Plugin struct {
	// Name is the label of the spec's plugin block.
	Name    string
	Version string
	// Path is absolute once loaded (relative paths are resolved against the
	// lock file's directory).
	Path   string
	SHA256 string
	// DeclRange is where the entry is in the lock file (zero for entries
	// that were not read from a file).
	DeclRange hcl.Range
}

// Lock is the content of a lock file.
type Lock struct {
	// Filename is where the lock was read from or will be written to.
	Filename string
	Plugins  map[string]*Plugin
	// Source is the file's text as read (recorded in each run).
	Source []byte
}

// New returns an empty lock for filename.
func New(filename string) *Lock {
	return &Lock{Filename: filename, Plugins: map[string]*Plugin{}}
}

type pluginBody struct {
	Version string `hcl:"version"`
	Path    string `hcl:"path"`
	SHA256  string `hcl:"sha256"`
}

var fileSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "plugin", LabelNames: []string{"name"}}}}

// Load reads a lock file. A missing file is reported with a diagnostic
// that says to run `shammie init`. The parsed files are returned so that
// callers can render diagnostics with snippets.
func Load(path string) (*Lock, map[string]*hcl.File, hcl.Diagnostics) {
	p := hclparse.NewParser()
	src, err := os.ReadFile(path)
	if err != nil {
		detail := fmt.Sprintf("%s. The lock file pins the plugin binaries a spec runs with; run `shammie init %s` to discover the plugins and write it.", err, specHint(path))
		return nil, p.Files(), hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "No lock file", Detail: detail}}
	}
	f, diags := p.ParseHCL(src, path)
	if diags.HasErrors() {
		return nil, p.Files(), diags
	}
	content, diags := f.Body.Content(fileSchema)
	l := New(path)
	l.Source = src
	dir := filepath.Dir(path)
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	for _, blk := range content.Blocks {
		var b pluginBody
		if d := gohcl.DecodeBody(blk.Body, nil, &b); d.HasErrors() {
			diags = append(diags, d...)
			continue
		}
		name, rng := blk.Labels[0], blk.DefRange
		if prev, dup := l.Plugins[name]; dup {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: "Duplicate plugin in lock file",
				Detail:  fmt.Sprintf("Plugin %q is locked twice (first at %s). Run `shammie init` to rewrite the lock file.", name, prev.DeclRange),
				Subject: rng.Ptr(),
			})
			continue
		}
		if _, err := version.NewVersion(b.Version); err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid version in lock file",
				Detail: fmt.Sprintf("Plugin %q: %s. Run `shammie init` to rewrite the lock file.", name, err), Subject: rng.Ptr()})
		}
		if sum, err := hex.DecodeString(b.SHA256); err != nil || len(sum) != sha256.Size {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid sha256 in lock file",
				Detail: fmt.Sprintf("Plugin %q: %q is not a hex sha256. Run `shammie init` to rewrite the lock file.", name, b.SHA256), Subject: rng.Ptr()})
		}
		pth := b.Path
		if !filepath.IsAbs(pth) {
			pth = filepath.Join(dir, filepath.FromSlash(pth))
		}
		l.Plugins[name] = &Plugin{Name: name, Version: b.Version, Path: pth, SHA256: b.SHA256, DeclRange: rng}
	}
	return l, p.Files(), diags
}

func specHint(lockPath string) string {
	return filepath.Join(filepath.Dir(lockPath), "<spec>.hcl")
}

// Bytes renders the lock file with hclwrite: plugins sorted by name, paths
// relative to the lock file's directory when the binary is below or beside
// it.
func (l *Lock) Bytes() []byte {
	f := hclwrite.NewEmptyFile()
	body := f.Body()
	body.AppendUnstructuredTokens(hclwrite.Tokens{{Type: hclsyntax.TokenComment, Bytes: []byte("# Written by `shammie init`: the plugin binaries this spec runs with.\n# Every launch checks the sha256; run `shammie init` again after rebuilding a plugin.\n")}})
	names := make([]string, 0, len(l.Plugins))
	for n := range l.Plugins {
		names = append(names, n)
	}
	sort.Strings(names)
	dir := filepath.Dir(l.Filename)
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	for i, n := range names {
		if i > 0 {
			body.AppendNewline()
		}
		p := l.Plugins[n]
		blk := body.AppendNewBlock("plugin", []string{n}).Body()
		blk.SetAttributeValue("version", cty.StringVal(p.Version))
		blk.SetAttributeValue("path", cty.StringVal(relPath(dir, p.Path)))
		blk.SetAttributeValue("sha256", cty.StringVal(p.SHA256))
	}
	return hclwrite.Format(f.Bytes())
}

func relPath(dir, p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	rel, err := filepath.Rel(dir, abs)
	if err != nil {
		return abs
	}
	return filepath.ToSlash(rel)
}

// Write saves the lock file atomically (temp file + rename).
func (l *Lock) Write() error {
	data := l.Bytes()
	tmp, err := os.CreateTemp(filepath.Dir(l.Filename), ".shammie.lock.*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	l.Source = data
	return os.Rename(tmp.Name(), l.Filename)
}
