package command

import (
	"context"
	"errors"

	"github.com/shammie-ml/shammie/host/internal/runner"
)

// Exit codes of the shammie CLI (the README's table; see exitCodes).
const (
	exitOK          = 0
	exitStepFailed  = 1
	exitUsage       = 2 // bad command line, spec or config
	exitPlugin      = 3 // plugin or lock file problem
	exitInterrupted = 130
)

// exitCodeOf maps a runner error's kind to the exit code.
func exitCodeOf(e *runner.Error) int {
	switch e.Kind {
	case runner.KindInvalid:
		return exitUsage
	case runner.KindPlugin:
		return exitPlugin
	case runner.KindInterrupted:
		return exitInterrupted
	}
	return exitStepFailed
}

// exitCode returns the exit code for err (exitOK for nil; 1 for an error
// that is neither a *runner.Error nor a cancellation).
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var e *runner.Error
	if errors.As(err, &e) {
		return exitCodeOf(e)
	}
	if errors.Is(err, context.Canceled) {
		return exitInterrupted
	}
	return exitStepFailed
}
