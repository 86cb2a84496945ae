package sdk

import (
	"os"

	"github.com/shammie-ml/shammie/sdk/internal/handshake"
)

// stderrAtInit is the process's real stderr. go-plugin replaces os.Stderr
// with a pipe forwarded over gRPC once serving; the logger and crash output
// must reach the real fd 2, which the host reads directly (and which
// survives the process dying).
var stderrAtInit = os.Stderr

func realStderr() *os.File { return stderrAtInit }

// startedByHost reports whether this process was launched by a Shammie host
// (go-plugin passes the magic cookie in the environment).
func startedByHost() bool {
	return os.Getenv(handshake.Config.MagicCookieKey) == handshake.Config.MagicCookieValue
}
