//go:build unix

package compare

import (
	"fmt"
	"syscall"
)

// freeze stops process pid (SIGSTOP) until thaw (SIGCONT): a service that
// is down without exiting, so that its supervisor does not start another.
func freeze(pid int) (thaw func(), err error) {
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		return nil, fmt.Errorf("freeze %d: %w", pid, err)
	}
	return func() { _ = syscall.Kill(pid, syscall.SIGCONT) }, nil
}
