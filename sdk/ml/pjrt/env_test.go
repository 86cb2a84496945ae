package pjrt

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestReexec runs this test binary as a program that calls Reexec: started
// without the CUDA libraries on LD_LIBRARY_PATH, it must execute itself again
// with them (once), and then see them.
func TestReexec(t *testing.T) {
	if os.Getenv("PJRT_TEST_REEXEC") == "1" {
		s, err := Reexec("cuda")
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(3)
		}
		fmt.Printf("plugin=%s\nld=%s\nmark=%s\n", s.Plugin, os.Getenv("LD_LIBRARY_PATH"), os.Getenv(reexecMark))
		os.Exit(0)
	}
	root := t.TempDir()
	_, site := fakeTree(t, root)
	plugin := filepath.Join(site, "jax_plugins", "xla_cuda13", "xla_cuda_plugin.so")
	cmd := exec.Command(os.Args[0], "-test.run=^TestReexec$")
	cmd.Env = append(os.Environ(), "PJRT_TEST_REEXEC=1", PathEnv+"="+plugin, "LD_LIBRARY_PATH=/keep", reexecMark+"=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := fmt.Sprintf("ld=%s:%s:/keep", filepath.Join(site, "nvidia", "cu13", "lib"), filepath.Join(site, "nvidia", "cudnn", "lib"))
	if !strings.Contains(string(out), want) || !strings.Contains(string(out), "mark=1") {
		t.Errorf("after Reexec the program saw\n%s\nwant %q and the re-exec marker", out, want)
	}
}

func TestAdded(t *testing.T) {
	got := Added([]string{"A=1", "B=2"}, []string{"A=1", "B=3", "C=4"})
	if strings.Join(got, " ") != "B=3 C=4" {
		t.Errorf("Added = %q, want the changed and the new entries", got)
	}
}
