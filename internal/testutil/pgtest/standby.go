package pgtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// StandbyApplicationName is the application_name a standby made with
// Options.StandbyOf connects to its primary with (pg_stat_replication's
// application_name on the primary).
const StandbyApplicationName = "pgtest_standby"

// cloneFrom makes s.DataDir a standby of s.opts.StandbyOf with the low-level
// base backup API (pg_backup_start/pg_backup_stop, pg_start_backup/
// pg_stop_backup before 15) and a file copy, so that, like the rest of the
// harness, it needs only initdb, pg_ctl and postgres: the npm builds have no
// pg_basebackup. The standby streams from the primary as the superuser, gets
// standby.signal and primary_conninfo, and shares the primary's superuser
// password.
func (s *Server) cloneFrom() error {
	p := s.opts.StandbyOf
	if p.BinDir != s.BinDir || p.Major != s.Major {
		return fmt.Errorf("pgtest: a standby needs the primary's binaries; primary uses %s (%d), this cluster %s (%d)",
			p.BinDir, p.Major, s.BinDir, s.Major)
	}
	s.password = p.password
	s.baseConf = p.baseConf
	// Settings such as max_prepared_transactions must not be lower on a hot
	// standby than on its primary, so by default it gets the primary's.
	if s.opts.Conf == nil {
		s.opts.Conf = append([]string(nil), p.opts.Conf...)
	}

	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	conn, err := p.Connect(ctx, "postgres")
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	start, stop := "SELECT pg_backup_start('pgtest standby', true)", "SELECT labelfile, spcmapfile FROM pg_backup_stop(false)"
	if p.Major < 15 {
		start, stop = "SELECT pg_start_backup('pgtest standby', true, false)", "SELECT labelfile, spcmapfile FROM pg_stop_backup(false, false)"
	}
	if _, err := conn.Exec(ctx, start); err != nil {
		return fmt.Errorf("pgtest: start base backup on port %d: %w", p.Port, err)
	}
	// WAL is copied after the backup ends, so the standby has every segment
	// from the backup's start on, whatever the primary recycles meanwhile.
	skip := map[string]bool{"postmaster.pid": true, "postmaster.opts": true, logName: true, "pg_wal": true, "backup_label": true, "tablespace_map": true}
	copyErr := copyTree(p.DataDir, s.DataDir, s.cred, func(rel string) bool {
		top, _, _ := strings.Cut(rel, string(filepath.Separator))
		if skip[rel] {
			return false
		}
		// Directory contents the server rebuilds.
		return !(strings.Contains(rel, string(filepath.Separator)) && (top == "pg_replslot" || top == "pg_stat_tmp"))
	})
	var label, spcmap string
	stopErr := conn.QueryRow(ctx, stop).Scan(&label, &spcmap)
	if copyErr != nil {
		return copyErr
	}
	if stopErr != nil {
		return fmt.Errorf("pgtest: stop base backup on port %d: %w", p.Port, stopErr)
	}
	if err := copyTree(filepath.Join(p.DataDir, "pg_wal"), filepath.Join(s.DataDir, "pg_wal"), s.cred, func(string) bool { return true }); err != nil {
		return err
	}
	files := map[string]string{"backup_label": label, "standby.signal": ""}
	if spcmap != "" {
		files["tablespace_map"] = spcmap
	}
	auto, err := os.ReadFile(filepath.Join(s.DataDir, "postgresql.auto.conf"))
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	conninfo := fmt.Sprintf("host=127.0.0.1 port=%d user=%s password=%s application_name=%s",
		p.Port, Superuser, p.password, StandbyApplicationName)
	files["postgresql.auto.conf"] = string(auto) + "primary_conninfo = " + confQuote(conninfo) + "\n"
	for name, content := range files {
		path := filepath.Join(s.DataDir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			return fmt.Errorf("pgtest: %w", err)
		}
		if err := s.chown(path); err != nil {
			return err
		}
	}
	if b, err := os.ReadFile(filepath.Join(s.DataDir, "PG_VERSION")); err == nil {
		if major, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			s.Major = major
		}
	}
	return nil
}

// copyTree copies the regular files, directories and symlinks under src for
// which want(relative path) holds into dst, keeping modes and handing them to
// cred (if set). Files that vanish while copying (the primary is running)
// are skipped.
func copyTree(src, dst string, cred *syscall.Credential, want func(string) bool) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return fmt.Errorf("pgtest: copy %s: %w", path, err)
		}
		rel, _ := filepath.Rel(src, path)
		if rel != "." && !want(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		switch {
		case d.IsDir():
			if err := os.MkdirAll(target, info.Mode().Perm()); err != nil {
				return fmt.Errorf("pgtest: %w", err)
			}
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return fmt.Errorf("pgtest: %w", err)
			}
			if err := os.Symlink(link, target); err != nil {
				return fmt.Errorf("pgtest: %w", err)
			}
		case d.Type().IsRegular():
			if err := copyFile(path, target, info.Mode().Perm()); err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
		default:
			return nil
		}
		if cred != nil {
			if err := os.Lchown(target, int(cred.Uid), int(cred.Gid)); err != nil {
				return fmt.Errorf("pgtest: %w", err)
			}
		}
		return nil
	})
}

func copyFile(src, dst string, mode fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("pgtest: copy %s: %w", src, err)
	}
	return out.Close()
}
