package process

import "syscall"

// childAttr puts a child in its own process group, so that a terminal's
// Ctrl-C reaches only its parent, which stops its children in order; and
// gives it a parent-death signal, so that a killed parent still takes its
// children with it.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
