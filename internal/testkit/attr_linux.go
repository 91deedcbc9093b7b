package testkit

import (
	"os/exec"
	"os/user"
	"strconv"
	"syscall"
)

// dieWithTest makes cmd die with the test binary, even one killed by a
// timeout, so that no server outlives its test.
func dieWithTest(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }

// runAs makes cmd run as u; nil leaves it as the test's own user.
func runAs(cmd *exec.Cmd, u *user.User) {
	if u == nil {
		return
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}
