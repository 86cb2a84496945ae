package pluginhost

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestTailBuffer(t *testing.T) {
	tests := []struct {
		name  string
		n     int
		write []string // written in these chunks
		want  string
	}{
		{"keeps last lines", 2, []string{"a\nb\nc\n"}, "b\nc"},
		{"joins chunks", 3, []string{"he", "llo\nwor", "ld\n"}, "hello\nworld"},
		{"unterminated last line", 2, []string{"a\nb\nc"}, "b\nc"},
		{"hclog json rendered", 1, []string{`{"@level":"error","@message":"boom","step":3,"@timestamp":"x"}` + "\n"}, "[ERROR] boom step=3"},
		{"not json stays", 1, []string{"{oops\n"}, "{oops"},
		{"panic line kept", 3, []string{"panic: kaboom\n\ngoroutine 1 [running]:\nmain.f()\n\t/x.go:1\nmain.main()\n\t/x.go:2\nexit status 2\n"},
			"panic: kaboom\n[…]\nmain.main()\n\t/x.go:2\nexit status 2"},
		{"panic line in tail not repeated", 5, []string{"x\npanic: kaboom\ngoroutine 1\n"}, "x\npanic: kaboom\ngoroutine 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newTail(tt.n)
			for _, w := range tt.write {
				fmt.Fprint(b, w)
			}
			if diff := cmp.Diff(tt.want, b.String()); diff != "" {
				t.Errorf("tail (-want +got):\n%s", diff)
			}
		})
	}
	b := newTail(2)
	fmt.Fprint(b, strings.Repeat("x", 70<<10))
	if got := b.String(); len(got) > 65<<10+10 || !strings.HasSuffix(got, "…") {
		t.Errorf("a 70 KiB line kept as %d bytes", len(got))
	}
}
