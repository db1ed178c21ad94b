//go:build !linux

package collector

import "errors"

func statFS(string) (fsStats, error) {
	return fsStats{}, errors.New("filesystem statistics are implemented for Linux only")
}
