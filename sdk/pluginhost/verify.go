package pluginhost

import (
	"os"
	"sync"
)

// verified remembers binaries whose checksum was already checked in this
// process, keyed by the expected sha256 and the file's identity (see
// fileIdentity). Hashing a 20 MB plugin costs ~40 ms here, which would
// dominate the per-step overhead of a sweep launching the same binary a
// thousand times; a binary that is replaced or rewritten gets a new inode
// or change time and is hashed again.
var verified sync.Map // string -> struct{}

func verifiedKey(path, sha string) (string, bool) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", false
	}
	id, ok := fileIdentity(fi)
	if !ok {
		return "", false
	}
	return sha + "|" + path + "|" + id, true
}
