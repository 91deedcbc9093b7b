package testkit

import (
	"os/exec"
	"syscall"
)

// dieWithTest makes cmd die with the test binary, even one killed by a
// timeout, so that no server outlives its test.
func dieWithTest(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }
