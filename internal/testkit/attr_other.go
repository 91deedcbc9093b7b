//go:build !linux

package testkit

import "os/exec"

// dieWithTest has no parent-death signal to set off Linux.
func dieWithTest(*exec.Cmd) {}
