//go:build !unix

package compare

import "errors"

func freeze(int) (func(), error) {
	return nil, errors.New("freezing a process needs a Unix system")
}
