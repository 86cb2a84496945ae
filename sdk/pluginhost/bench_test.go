package pluginhost_test

import (
	"context"
	"testing"

	"github.com/shammie-ml/shammie/sdk/pluginhost"
)

// BenchmarkStepOverhead is the protocol's share of a step's cost: launch
// with mTLS and checksum check, metadata, schema, validation, an empty run
// and teardown. (`make bench-host` measures the host's figure on top.)
func BenchmarkStepOverhead(b *testing.B) {
	ctx := context.Background()
	sum := hashFile(b, testPluginBin)
	work := b.TempDir()
	for b.Loop() {
		c, err := pluginhost.Launch(ctx, pluginhost.LaunchOptions{Path: testPluginBin, SHA256: sum, AutoMTLS: true})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Metadata(ctx); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Schema(ctx); err != nil {
			b.Fatal(err)
		}
		if _, err := c.ValidateConfig(ctx, config("noop")); err != nil {
			b.Fatal(err)
		}
		st, err := c.Run(ctx, pluginhost.RunRequest{Step: "s", Config: config("noop"), WorkDir: work}, nil)
		if err != nil || st.State != pluginhost.Succeeded {
			b.Fatal(st, err)
		}
		c.Kill()
	}
}

// BenchmarkRunOnWarmPlugin is the cost of one more step on a plugin that
// is already running (what a sweep pays if the host reuses processes).
func BenchmarkRunOnWarmPlugin(b *testing.B) {
	ctx := context.Background()
	c, err := pluginhost.Launch(ctx, pluginhost.LaunchOptions{Path: testPluginBin, AutoMTLS: true})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Kill()
	work := b.TempDir()
	for b.Loop() {
		st, err := c.Run(ctx, pluginhost.RunRequest{Step: "s", Config: config("noop"), WorkDir: work}, nil)
		if err != nil || st.State != pluginhost.Succeeded {
			b.Fatal(st, err)
		}
	}
}
