package process

import (
	"os"
	"syscall"
)

// childAttr has nothing to add on Windows: children share the console and
// outlive a killed parent.
func childAttr() *syscall.SysProcAttr { return nil }

// terminate kills: Windows cannot ask a process to exit with a signal.
func terminate(p *os.Process) error { return p.Kill() }

// rollSignals is empty on Windows: roll a Cluster through its admin API.
func rollSignals() []os.Signal { return nil }
