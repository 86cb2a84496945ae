package pluginhost_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shammie-ml/shammie/sdk/internal/wire"
)

// testPluginBin and v2PluginBin are the testdata plugins, built once for
// the whole package because linking gRPC binaries is the slow part.
var testPluginBin, v2PluginBin string

func TestMain(m *testing.M) {
	// The parent-death test runs this test binary as a stand-in host.
	if p := os.Getenv("SHAMMIE_TEST_FAKEHOST"); p != "" {
		fakeHost(p)
		return
	}
	dir, err := os.MkdirTemp("", "pluginhost-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testPluginBin = filepath.Join(dir, "testplugin")
	v2PluginBin = filepath.Join(dir, "v2plugin")
	cmd := exec.Command("go", "build", "-o", dir, "./testdata/testplugin", "./testdata/v2plugin")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the test plugin:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// fakeHost starts the plugin the way go-plugin does (cookie, protocol
// versions), waits for the handshake, prints the plugin's pid and then
// sleeps until it is killed, leaving the plugin orphaned.
func fakeHost(pluginPath string) {
	cmd := exec.Command(pluginPath)
	cmd.Env = append(os.Environ(),
		wire.Handshake.MagicCookieKey+"="+wire.Handshake.MagicCookieValue,
		"PLUGIN_PROTOCOL_VERSIONS=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		panic(err)
	}
	if err := cmd.Start(); err != nil {
		panic(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "1|1|") {
		fmt.Printf("BADHANDSHAKE %q %v\n", line, err)
		os.Exit(1)
	}
	fmt.Printf("PID %d\n", cmd.Process.Pid)
	time.Sleep(time.Hour)
}
