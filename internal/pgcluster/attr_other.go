//go:build !linux

package pgcluster

import (
	"os/exec"
	"os/user"
)

// dieWithParent has no parent-death signal to set off Linux.
func dieWithParent(*exec.Cmd) {}

// runAs cannot change a program's user off Linux, where atrium runs as a
// user already.
func runAs(*exec.Cmd, *user.User) {}
