package collector

import "syscall"

func statFS(path string) (fsStats, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return fsStats{}, err
	}
	bs := float64(st.Frsize)
	if bs == 0 {
		bs = float64(st.Bsize)
	}
	return fsStats{
		size: float64(st.Blocks) * bs, free: float64(st.Bfree) * bs, avail: float64(st.Bavail) * bs,
		files: float64(st.Files), filesFree: float64(st.Ffree),
	}, nil
}
