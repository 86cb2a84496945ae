// Command testplugin is a plugin whose behaviour the pluginhost tests pick
// with the config's mode: succeed, fail, panic, crash, exit, hang, ... It
// prints to stdout in init and in Run to prove stdout cannot corrupt the
// protocol.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/sdk"
)

func init() {
	fmt.Println("stdout noise from init")
}

type config struct {
	Mode string `cty:"mode" doc:"what the plugin does"`
	Text string `cty:"text" default:"\"hi\""`
}

type testPlugin struct{}

func (testPlugin) Metadata() sdk.Metadata {
	return sdk.Metadata{Name: "testplugin", Version: "0.1.0", Description: "pluginhost test double", Backends: []string{"go"}}
}

func (testPlugin) Schema() sdk.Schema {
	return sdk.Schema{
		Config:    sdk.MustBlockOf(config{}),
		Outputs:   []sdk.OutputDecl{{Name: "answer", Type: cty.Number}, {Name: "echo", Type: cty.String}},
		Artifacts: []sdk.ArtifactDecl{{Name: "out", MediaType: "text/plain"}},
	}
}

func (testPlugin) ValidateConfig(_ context.Context, cfg sdk.Config) sdk.Diagnostics {
	text := cfg.Value.GetAttr("text")
	if text.IsKnown() && !text.IsNull() && text.AsString() == "invalid" {
		return sdk.Diagnostics{sdk.Errorf(cty.GetAttrPath("text"), "Invalid text", `"invalid" is not accepted`)}
	}
	return nil
}

func (testPlugin) Run(ctx context.Context, run *sdk.Run) error {
	var cfg config
	if err := run.Config.Decode(&cfg); err != nil {
		return err
	}
	fmt.Println("stdout noise from Run")
	switch cfg.Mode {
	case "ok":
		for i := int64(1); i <= 3; i++ {
			run.Progress("count", i, 3, "steps")
			run.Metric("loss", i, 1/float64(i))
		}
		run.Logf("hello %s", cfg.Text)
		run.Warnf("careful")
		if err := os.WriteFile(run.Path("out.txt"), []byte(cfg.Text), 0o644); err != nil {
			return err
		}
		if err := run.Artifact("out", "out.txt", "text/plain"); err != nil {
			return err
		}
		run.Output("answer", cty.NumberIntVal(42))
		run.Output("echo", cty.StringVal(cfg.Text+" from "+run.Step))
		return nil
	case "noop":
		return nil
	case "fail":
		return errors.New("boom")
	case "diags":
		return sdk.Diagnostics{sdk.Errorf(cty.GetAttrPath("text"), "Bad text", "the text is wrong")}.Err()
	case "panic":
		panic("kaboom")
	case "goroutine-panic":
		go func() { panic("kaboom in goroutine") }()
		select {}
	case "exit":
		fmt.Fprintln(os.Stderr, "about to exit 3")
		os.Exit(3)
	case "wait":
		run.Progress("waiting", 0, 0, "")
		<-ctx.Done()
		return ctx.Err()
	case "ignore-stop":
		run.Progress("stubborn", 0, 0, "")
		time.Sleep(time.Hour)
	}
	return fmt.Errorf("unknown mode %q", cfg.Mode)
}

func main() {
	sdk.Serve(testPlugin{})
}
