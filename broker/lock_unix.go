//go:build unix

package broker

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockDir takes dir for this process alone, until release: two embedded
// servers on one store would corrupt it. The kernel lets the lock go with
// the process, however it ends.
func lockDir(dir string) (release func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, "atrium.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s is in use by another embedded NATS server (another atrium on this --data-dir): give each its own --data-dir, or share an external server with --nats", dir)
	}
	return func() { f.Close() }, nil
}
