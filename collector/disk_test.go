package collector_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/scrapetest"
)

// The exporter runs on the database host here: data directory, WAL directory
// and a tablespace are measured, and agree with statfs(2) on the same paths.
func TestDiskFilesystems(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	ctx := context.Background()
	base, err := os.MkdirTemp("", "tblspc-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	loc := filepath.Join(base, "ts")
	if err := os.Mkdir(loc, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(loc, pgtest.UnprivilegedUID, pgtest.UnprivilegedGID); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Exec(ctx, "", "CREATE TABLESPACE disk_probe LOCATION '"+loc+"'"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Exec(ctx, "", "DROP TABLESPACE IF EXISTS disk_probe") })
	monDSN, err := s.CreateMonitorRole(ctx, "disk_monitor", "diskpw")
	if err != nil {
		t.Fatal(err)
	}
	r := scrapetest.New(t, monDSN, nil, "disk").Scrape(t)
	r.RequireUp(t)
	for _, c := range []struct{ usage, tablespace, path string }{
		{"data", "", s.DataDir},
		{"wal", "", filepath.Join(s.DataDir, "pg_wal")},
		{"tablespace", "disk_probe", loc},
	} {
		labels := map[string]string{"usage": c.usage, "tablespace": c.tablespace, "path": c.path}
		size := mustValue(t, r, "pg_filesystem_size_bytes", labels)
		avail := mustValue(t, r, "pg_filesystem_avail_bytes", labels)
		var st syscall.Statfs_t
		if err := syscall.Statfs(c.path, &st); err != nil {
			t.Fatal(err)
		}
		if want := float64(st.Blocks) * float64(st.Frsize); size != want {
			t.Errorf("%s: size %v, statfs says %v", c.usage, size, want)
		}
		if avail <= 0 || avail > size || mustValue(t, r, "pg_filesystem_free_bytes", labels) < avail {
			t.Errorf("%s: avail %v not within free and size %v", c.usage, avail, size)
		}
	}
}
