package collector

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pghardening/pg_hardening_exporter/internal/metric"
)

const srcStatfs = "statfs(2) on data_directory, pg_wal, pg_tablespace_location()"

var (
	fsLabels    = []string{"usage", "tablespace", "path"}
	fsSize      = metric.Gauge("pg_filesystem_size_bytes", "Size of the filesystem holding the data directory (usage data), the WAL directory (wal) or a tablespace; only when the exporter runs on the database host and can reach the path.", srcStatfs, "13+", fsLabels...)
	fsFree      = metric.Gauge("pg_filesystem_free_bytes", "Free bytes on that filesystem, including those reserved for root.", srcStatfs, "13+", fsLabels...)
	fsAvail     = metric.Gauge("pg_filesystem_avail_bytes", "Bytes on that filesystem available to unprivileged users such as the server's.", srcStatfs, "13+", fsLabels...)
	fsFiles     = metric.Gauge("pg_filesystem_files", "Inodes on that filesystem.", srcStatfs, "13+", fsLabels...)
	fsFilesFree = metric.Gauge("pg_filesystem_files_free", "Free inodes on that filesystem.", srcStatfs, "13+", fsLabels...)
)

func init() {
	Register(&Spec{
		Name:    "disk",
		Help:    "Free and total space of the filesystems holding the data directory, WAL and tablespaces, when the exporter runs on the database host",
		Scope:   Cluster,
		Default: true,
		Metrics: []*metric.Metric{fsSize, fsFree, fsAvail, fsFiles, fsFilesFree},
		New: func(o Options) (Collector, error) {
			return &diskCollector{logger: o.Logger}, nil
		},
	})
}

type diskCollector struct {
	logger *slog.Logger
	// told holds "target\x00path" for paths whose unreachability was logged.
	told sync.Map
}

const tablespaceQuery = `SELECT spcname::text, pg_tablespace_location(oid) FROM pg_tablespace
 WHERE pg_tablespace_location(oid) <> '' ORDER BY spcname`

// fsPath is one path to measure.
type fsPath struct{ usage, tablespace, path string }

func (c *diskCollector) Update(ctx context.Context, s *Scrape, ch chan<- prometheus.Metric) error {
	dataDir := s.Facts.Settings["data_directory"]
	if dataDir == "" {
		return nil
	}
	// The data directory must be this server's: a path that merely exists on
	// the exporter's host (same layout, another machine) must not be reported.
	if err := sameServer(dataDir, s.Facts.Major()); err != nil {
		c.tell(s.Target.Name, dataDir, err)
		return nil
	}
	paths := []fsPath{{"data", "", dataDir}, {"wal", "", filepath.Join(dataDir, "pg_wal")}}
	rows, err := s.Conn.Query(ctx, tablespaceQuery)
	if err != nil {
		return err
	}
	for rows.Next() {
		var name, loc string
		if err := rows.Scan(&name, &loc); err != nil {
			rows.Close()
			return err
		}
		paths = append(paths, fsPath{"tablespace", name, loc})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, p := range paths {
		st, err := statFS(p.path)
		if err != nil {
			c.tell(s.Target.Name, p.path, err)
			continue
		}
		l := []string{p.usage, p.tablespace, p.path}
		fsSize.Emit(ch, st.size, l...)
		fsFree.Emit(ch, st.free, l...)
		fsAvail.Emit(ch, st.avail, l...)
		fsFiles.Emit(ch, st.files, l...)
		fsFilesFree.Emit(ch, st.filesFree, l...)
	}
	return nil
}

// sameServer checks that dir holds a data directory of the server's major
// version (its PG_VERSION file).
func sameServer(dir string, major int) error {
	b, err := os.ReadFile(filepath.Join(dir, "PG_VERSION"))
	if err != nil {
		return err
	}
	v := strings.TrimSpace(string(b))
	if v != strconv.Itoa(major) {
		return fmt.Errorf("%s holds PG_VERSION %q, but the server is version %d: another server's data directory", dir, v, major)
	}
	return nil
}

// tell logs once per target and path that a path cannot be measured: on a
// remote host or without permission that is the normal state, not an error.
func (c *diskCollector) tell(target, path string, err error) {
	if _, loaded := c.told.LoadOrStore(target+"\x00"+path, true); loaded {
		return
	}
	c.logger.Info("disk: path not reachable from the exporter (it runs on another host or lacks permission); no filesystem metrics for it",
		"target", target, "path", path, "err", err)
}

type fsStats struct{ size, free, avail, files, filesFree float64 }
