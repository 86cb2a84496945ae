//go:build !linux

package pluginhost

import "os/exec"

func isolate(*exec.Cmd) {}

func killGroup(int) {}

func guardGroup(int) {}

func releaseGroup(int) {}
