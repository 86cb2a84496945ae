package sdk

import "os"

// stderrAtInit is the process's real stderr. go-plugin replaces os.Stderr
// with a pipe forwarded over gRPC once serving; the logger and crash output
// must reach the real fd 2, which the host reads directly (and which
// survives the process dying).
var stderrAtInit = os.Stderr

func realStderr() *os.File { return stderrAtInit }

// startedByHost reports whether this process was launched by a Shammie host
// (go-plugin passes the magic cookie in the environment).
func startedByHost() bool {
	return os.Getenv(Handshake.MagicCookieKey) == Handshake.MagicCookieValue
}

// HostPIDEnv names the environment variable in which the host passes its
// process id, so that the plugin's parent-death watch notices a host that
// died before the watch started.
const HostPIDEnv = "SHAMMIE_HOST_PID"
