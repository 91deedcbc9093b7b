//go:build unix && !linux

package process

import "syscall"

// childAttr puts a child in its own process group, so that a terminal's
// Ctrl-C reaches only its parent. There is no parent-death signal here: a
// parent killed with SIGKILL leaves its children running.
func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
