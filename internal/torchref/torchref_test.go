package torchref

import (
	"strings"
	"testing"
)

func TestKernelFor(t *testing.T) {
	for _, tc := range []struct{ name, flags, want string }{
		{"zen5", "fpu sse3 avx2 fma avx512f avx512bw avx512vl", "SkylakeX"},
		{"avx2 only", "fpu sse3 avx avx2 fma", "Haswell"},
		{"avx512f without bw", "fpu avx2 fma avx512f", "Haswell"},
		{"old", "fpu sse3 ssse3", ""},
	} {
		got := kernelFor("processor\t: 0\nflags\t\t: " + tc.flags + "\n")
		if got != tc.want {
			t.Errorf("%s: kernelFor = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestEnvReplacesMachineSettings(t *testing.T) {
	t.Setenv("OPENBLAS_CORETYPE", "Prescott")
	t.Setenv("OPENBLAS_L2_SIZE", "1")
	t.Setenv("OPENBLAS_NUM_THREADS", "8")
	t.Setenv(OverrideEnv, "Zen")
	var got []string
	for _, kv := range Env() {
		if strings.HasPrefix(kv, "OPENBLAS_") {
			got = append(got, kv)
		}
	}
	want := "OPENBLAS_NUM_THREADS=1,OPENBLAS_CORETYPE=Zen"
	if strings.Join(got, ",") != want {
		t.Errorf("OpenBLAS env = %v, want %s", got, want)
	}
}
