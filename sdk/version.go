package sdk

import (
	_ "embed"
	"runtime/debug"
	"strings"
)

//go:embed VERSION
var versionFile string

// Version is this SDK's version (module tag sdk/v<Version>). Every plugin
// reports the SDK version it was built with in its metadata, and
// `shammie plugins list` shows it. It is read from the module's VERSION
// file, so it is right whichever way the plugin is built.
var Version = strings.TrimSpace(versionFile)

// DevVersion is what [BuildVersion] reports for a binary built without a
// stamped version and outside a versioned module (`go build` in a checkout
// with -buildvcs=false). It sorts below every release, so a spec's version
// constraint never picks it by accident.
const DevVersion = "0.0.0-dev"

// BuildVersion returns a plugin binary's version: stamped when the build
// set it (the convention is a package variable in main,
//
//	var version string // set by -ldflags "-X main.version=$(cat VERSION)"
//
// which `make build` and plugintest.Build fill from the plugin's VERSION
// file), else the main module's version when the binary was built with
// `go install module@vX.Y.Z`, else [DevVersion]. A leading "v" is dropped.
func BuildVersion(stamped string) string {
	if v := strings.TrimPrefix(strings.TrimSpace(stamped), "v"); v != "" {
		return v
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			return strings.TrimPrefix(v, "v")
		}
	}
	return DevVersion
}
