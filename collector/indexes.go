package collector

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pghardening/pg_hardening_exporter/internal/config"
)

const (
	srcUserIndexes   = "pg_stat_user_indexes"
	srcStatioIndexes = "pg_statio_user_indexes"
	// UnusedIndexMinSize is the size from which an index never scanned is
	// reported as unused; smaller ones cost too little to matter.
	UnusedIndexMinSize = 1 << 20
)

var indexLabels = []string{"datname", "schemaname", "relname", "indexrelname"}

// Per-index counters in the query's column order; indexes outside the limits
// are summed into one series per database with empty object labels.
var indexStats = []*Metric{
	Counter("pg_stat_user_indexes_idx_scan_total", "Index scans started on the index.", srcUserIndexes, "13+", indexLabels...),
	Counter("pg_stat_user_indexes_idx_tup_read_total", "Index entries returned by scans of the index.", srcUserIndexes, "13+", indexLabels...),
	Counter("pg_stat_user_indexes_idx_tup_fetch_total", "Live table rows fetched by simple scans of the index.", srcUserIndexes, "13+", indexLabels...),
	Counter("pg_statio_user_indexes_idx_blks_read_total", "Index blocks read (missed shared buffers).", srcStatioIndexes, "13+", indexLabels...),
	Counter("pg_statio_user_indexes_idx_blks_hit_total", "Index blocks found in shared buffers.", srcStatioIndexes, "13+", indexLabels...),
}

var (
	indexSize       = Gauge("pg_index_size_bytes", "Size of the index.", "pg_relation_size()", "13+", indexLabels...)
	indexInvalid    = Gauge("pg_index_invalid", "1 for an index left invalid (by a failed CREATE INDEX CONCURRENTLY or REINDEX CONCURRENTLY); named whatever the limits, up to objects.indexes.top_n.", "pg_index", "13+", indexLabels...)
	indexUnused     = Gauge("pg_index_unused", "1 for an index never scanned since the statistics reset, at least 1 MB, not enforcing a constraint or uniqueness; named up to objects.indexes.top_n, largest first.", srcUserIndexes, "13+", indexLabels...)
	indexesInvalid  = Gauge("pg_indexes_invalid", "Invalid indexes in the database.", "pg_index", "13+", "datname")
	indexesUnused   = Gauge("pg_indexes_unused", "Unused indexes (as pg_index_unused) in the database.", srcUserIndexes, "13+", "datname")
	indexesUnusedSz = Gauge("pg_indexes_unused_size_bytes", "Total size of the unused indexes in the database.", srcUserIndexes, "13+", "datname")
	indexesReported = Gauge("pg_indexes_reported", "Indexes with series of their own (within objects.indexes limits).", srcUserIndexes, "13+", "datname")
	indexesFolded   = Gauge("pg_indexes_folded", "Indexes summed into the per-database series with empty object labels.", srcUserIndexes, "13+", "datname")
)

func init() {
	Register(&Spec{
		Name:    "indexes",
		Help:    "Per-index scans, block I/O and size, invalid and unused indexes from pg_stat_user_indexes and pg_statio_user_indexes, bounded by objects.indexes",
		Scope:   Database,
		Default: true,
		Metrics: append(append([]*Metric{}, indexStats...), indexSize, indexInvalid, indexUnused,
			indexesInvalid, indexesUnused, indexesUnusedSz, indexesReported, indexesFolded),
		New: func(o Options) (Collector, error) {
			return &indexesCollector{limits: &o.Config.Objects.Indexes, sizesTTL: o.Config.Objects.SizesTTLOr()}, nil
		},
	})
}

type indexesCollector struct {
	limits   *config.ObjectLimits
	sizesTTL time.Duration
	sizes    sizeCache
}

// An index enforces something when a constraint uses it (primary key,
// unique, exclusion, or the key a foreign key references) or it is unique.
// IN, not a correlated EXISTS: pg_constraint has no index on conindid, and
// IN is hashed once where EXISTS under OR would scan it once per index.
const indexesQuery = `SELECT s.indexrelid::int8, s.schemaname, s.relname, s.indexrelname,
 s.idx_scan::float8, s.idx_tup_read::float8, s.idx_tup_fetch::float8,
 COALESCE(io.idx_blks_read, 0)::float8, COALESCE(io.idx_blks_hit, 0)::float8,
 NOT i.indisvalid, i.indisunique OR s.indexrelid IN (SELECT conindid FROM pg_constraint)
 FROM pg_stat_user_indexes s JOIN pg_statio_user_indexes io ON io.indexrelid = s.indexrelid
 JOIN pg_index i ON i.indexrelid = s.indexrelid`

const indexSizesQuery = `SELECT c.oid::int8, pg_relation_size(c.oid)::float8
 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('i', 'I') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'`

type indexRow struct {
	schema, table, name string
	stats               [5]float64
	size                float64
	invalid, enforces   bool
}

func (c *indexesCollector) Update(ctx context.Context, s *Scrape, ch chan<- prometheus.Metric) error {
	szs, err := c.sizes.get(ctx, s.Target.Name, s.Database, c.sizesTTL, func(ctx context.Context) (map[int64][]float64, error) {
		return readSizes(ctx, s, indexSizesQuery, 1)
	})
	if err != nil {
		return fmt.Errorf("reading index sizes: %w", err)
	}
	rows, err := s.Conn.Query(ctx, indexesQuery)
	if err != nil {
		return err
	}
	var idx []indexRow
	var cs []candidate
	for rows.Next() {
		var r indexRow
		var oid int64
		dest := []any{&oid, &r.schema, &r.table, &r.name}
		for i := range r.stats {
			dest = append(dest, &r.stats[i])
		}
		dest = append(dest, &r.invalid, &r.enforces)
		if err := rows.Scan(dest...); err != nil {
			rows.Close()
			return err
		}
		if v := szs[oid]; v != nil {
			r.size = v[0]
		}
		q := r.schema + "." + r.table
		idx = append(idx, r)
		cs = append(cs, candidate{name: q + "." + r.name, size: r.size, activity: r.stats[0], eligible: eligible(c.limits, q, r.size)})
	}
	if err := rows.Err(); err != nil {
		return err
	}
	n := c.limits.TopNOr(config.DefaultIndexesTopN)
	chosen := pickObjects(cs, n)
	db := s.Database
	var rest indexRow
	reported, invalid, unused := 0, 0, 0
	var unusedSize float64
	var unusedIdx []int
	for i := range idx {
		r := &idx[i]
		if r.invalid {
			if invalid < n {
				indexInvalid.Emit(ch, 1, db, r.schema, r.table, r.name)
			}
			invalid++
		}
		if r.stats[0] == 0 && !r.invalid && !r.enforces && r.size >= UnusedIndexMinSize {
			unused++
			unusedSize += r.size
			unusedIdx = append(unusedIdx, i)
		}
		if !chosen[i] {
			for j := range r.stats {
				rest.stats[j] += r.stats[j]
			}
			rest.size += r.size
			continue
		}
		reported++
		for j, m := range indexStats {
			m.Emit(ch, r.stats[j], db, r.schema, r.table, r.name)
		}
		indexSize.Emit(ch, r.size, db, r.schema, r.table, r.name)
	}
	// The largest unused indexes are named, up to n.
	unusedCs := make([]candidate, len(unusedIdx))
	for k, i := range unusedIdx {
		unusedCs[k] = candidate{name: cs[i].name, size: idx[i].size, activity: idx[i].size, eligible: true}
	}
	for k, ok := range pickObjects(unusedCs, n) {
		if ok {
			r := &idx[unusedIdx[k]]
			indexUnused.Emit(ch, 1, db, r.schema, r.table, r.name)
		}
	}
	for j, m := range indexStats {
		m.Emit(ch, rest.stats[j], db, "", "", "")
	}
	indexSize.Emit(ch, rest.size, db, "", "", "")
	indexesInvalid.Emit(ch, float64(invalid), db)
	indexesUnused.Emit(ch, float64(unused), db)
	indexesUnusedSz.Emit(ch, unusedSize, db)
	indexesReported.Emit(ch, float64(reported), db)
	indexesFolded.Emit(ch, float64(len(idx)-reported), db)
	return nil
}
