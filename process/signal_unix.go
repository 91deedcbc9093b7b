//go:build unix

package process

import (
	"os"
	"syscall"
)

func terminate(p *os.Process) error { return p.Signal(syscall.SIGTERM) }

// rollSignals make a Cluster replace its workers, one at a time.
func rollSignals() []os.Signal { return []os.Signal{syscall.SIGHUP, syscall.SIGUSR2} }
