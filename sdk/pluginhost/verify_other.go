//go:build !linux

package pluginhost

import "os"

// fileIdentity: without a portable change time, every launch hashes.
func fileIdentity(os.FileInfo) (string, bool) { return "", false }
