//go:build !linux

package testkit

import (
	"os/exec"
	"os/user"
)

// dieWithTest has no parent-death signal to set off Linux.
func dieWithTest(*exec.Cmd) {}

// runAs cannot change a program's user off Linux; the tests run there as
// a user already.
func runAs(*exec.Cmd, *user.User) {}
