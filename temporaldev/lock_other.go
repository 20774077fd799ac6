//go:build !unix

package temporaldev

import (
	"path/filepath"
	"sync"
)

var (
	lockedMu sync.Mutex
	locked   = map[string]bool{}
)

// lockDir refuses a second server on the same data directory within this
// process. Without flock, another process is not detected.
func lockDir(path string) (unlock func(), err error) {
	path, err = filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	lockedMu.Lock()
	defer lockedMu.Unlock()
	if locked[path] {
		return nil, errDirInUse
	}
	locked[path] = true
	return func() {
		lockedMu.Lock()
		delete(locked, path)
		lockedMu.Unlock()
	}, nil
}
