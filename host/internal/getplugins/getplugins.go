// Package getplugins finds plugin binaries on disk and picks the version a
// spec asks for.
//
// A plugin named "fit" is the executable shammie-plugin-fit, or, so that
// several versions can sit side by side in one directory,
// shammie-plugin-fit_v<anything> (e.g. shammie-plugin-fit_v0.2.0). The
// directories searched, in order, are ./bin, the plugins dir
// (--plugins-dir, default ~/.shammie/plugins) and every entry of
// $SHAMMIE_PLUGIN_PATH (colon-separated). A binary's version is what it
// reports when launched (Metadata), never its file name: the name could lie.
package getplugins

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/go-version"

	"github.com/shammie-ml/shammie/sdk"
)

// PathEnv lists extra plugin directories, colon-separated.
const PathEnv = "SHAMMIE_PLUGIN_PATH"

// SearchDirs returns the directories to search, in order, without
// duplicates: ./bin (relative to cwd), pluginsDir (or ~/.shammie/plugins
// when empty), then the entries of pathEnv.
func SearchDirs(cwd, pluginsDir, pathEnv string) []string {
	var dirs []string
	add := func(d string) {
		if d == "" {
			return
		}
		if !filepath.IsAbs(d) {
			d = filepath.Join(cwd, d)
		}
		d = filepath.Clean(d)
		for _, x := range dirs {
			if x == d {
				return
			}
		}
		dirs = append(dirs, d)
	}
	add("bin")
	if pluginsDir == "" {
		if home, err := os.UserHomeDir(); err == nil {
			pluginsDir = filepath.Join(home, ".shammie", "plugins")
		}
	}
	add(pluginsDir)
	for _, d := range filepath.SplitList(pathEnv) {
		add(d)
	}
	return dirs
}

// Candidate is one binary found for a plugin.
type Candidate struct {
	Path     string
	Metadata sdk.Metadata
	Version  *version.Version // nil when Err is set
	// Err says why the binary is unusable (it did not start, reported a
	// different name or an invalid version).
	Err error
}

// MetadataFunc launches a binary and asks for its metadata.
type MetadataFunc func(ctx context.Context, path string) (sdk.Metadata, error)

// Finder looks for plugin binaries.
type Finder struct {
	Dirs     []string
	Metadata MetadataFunc
}

// Binaries lists the files in the search dirs that may be the plugin
// with binary name bin (shammie-plugin-<source>), in search order.
func (f *Finder) Binaries(bin string) []string {
	var out []string
	for _, d := range f.Dirs {
		entries, err := os.ReadDir(d)
		if err != nil {
			continue // a missing dir is normal (no ./bin yet, no ~/.shammie)
		}
		for _, e := range entries {
			name := e.Name()
			if name != bin && !strings.HasPrefix(name, bin+"_v") {
				continue
			}
			p := filepath.Join(d, name)
			fi, err := os.Stat(p) // follows symlinks: a symlinked install is fine
			if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
				continue
			}
			out = append(out, p)
		}
	}
	return out
}

// Find launches every binary for the plugin named source and reads its
// version.
func (f *Finder) Find(ctx context.Context, source string) []Candidate {
	bin := "shammie-plugin-" + source
	var out []Candidate
	for _, p := range f.Binaries(bin) {
		c := Candidate{Path: p}
		if err := Untrusted(p); err != nil {
			// Never launched: it is not even asked for its version.
			c.Err = err
			out = append(out, c)
			continue
		}
		md, err := f.Metadata(ctx, p)
		switch {
		case err != nil:
			c.Err = err
		case md.Name != source:
			c.Err = fmt.Errorf("it says it is plugin %q, not %q", md.Name, source)
		default:
			c.Metadata = md
			v, err := version.NewVersion(md.Version)
			if err != nil {
				c.Err = fmt.Errorf("it reports version %q: %v", md.Version, err)
			} else {
				c.Version = v
			}
		}
		out = append(out, c)
	}
	return out
}

// Select picks the highest version satisfying constraints (nil: any) among
// the usable candidates; for equal versions the first found wins (search
// order). The error lists everything that was found and why it was not
// chosen, and where it was looked for.
func Select(source string, constraints version.Constraints, cands []Candidate, dirs []string) (*Candidate, error) {
	var best *Candidate
	for i := range cands {
		c := &cands[i]
		if c.Err != nil || (constraints != nil && !constraints.Check(c.Version)) {
			continue
		}
		if best == nil || c.Version.GreaterThan(best.Version) {
			best = c
		}
	}
	if best != nil {
		return best, nil
	}
	want := "any version"
	if constraints != nil {
		want = "version " + constraints.String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "no binary of plugin %q with %s was found", source, want)
	if len(cands) == 0 {
		fmt.Fprintf(&b, "; no file named shammie-plugin-%s (or shammie-plugin-%s_v*) is in %s", source, source, strings.Join(quoteAll(dirs), ", "))
	} else {
		b.WriteString("; found:")
		sorted := append([]Candidate(nil), cands...)
		sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
		for _, c := range sorted {
			if c.Err != nil {
				fmt.Fprintf(&b, "\n  %s: unusable: %v", c.Path, firstLine(c.Err.Error()))
			} else {
				fmt.Fprintf(&b, "\n  %s: version %s (does not satisfy %s)", c.Path, c.Version, want)
			}
		}
	}
	fmt.Fprintf(&b, "\nBuild or install the plugin (make build puts it in ./bin), point --plugins-dir or %s at it, or change the version constraint in the spec.", PathEnv)
	return nil, fmt.Errorf("%s", b.String())
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}
