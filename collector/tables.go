package collector

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pghardening/pg_hardening_exporter/internal/config"
)

const (
	srcUserTables   = "pg_stat_user_tables"
	srcStatioTables = "pg_statio_user_tables"
)

var tableLabels = []string{"datname", "schemaname", "relname"}

// The per-table counters and gauges, in the query's column order. Tables
// outside the limits are summed into one series per database with empty
// schemaname and relname.
var tableStats = []*Metric{
	Counter("pg_stat_user_tables_seq_scan_total", "Sequential scans started on the table.", srcUserTables, "13+", tableLabels...),
	Counter("pg_stat_user_tables_seq_tup_read_total", "Live rows fetched by sequential scans.", srcUserTables, "13+", tableLabels...),
	Counter("pg_stat_user_tables_idx_scan_total", "Index scans started on the table's indexes.", srcUserTables, "13+", tableLabels...),
	Counter("pg_stat_user_tables_idx_tup_fetch_total", "Live rows fetched by index scans.", srcUserTables, "13+", tableLabels...),
	Counter("pg_stat_user_tables_n_tup_ins_total", "Rows inserted.", srcUserTables, "13+", tableLabels...),
	Counter("pg_stat_user_tables_n_tup_upd_total", "Rows updated (HOT updates included).", srcUserTables, "13+", tableLabels...),
	Counter("pg_stat_user_tables_n_tup_del_total", "Rows deleted.", srcUserTables, "13+", tableLabels...),
	Counter("pg_stat_user_tables_n_tup_hot_upd_total", "Rows updated without touching indexes (HOT).", srcUserTables, "13+", tableLabels...),
	Gauge("pg_stat_user_tables_n_live_tup", "Estimated live rows.", srcUserTables, "13+", tableLabels...),
	Gauge("pg_stat_user_tables_n_dead_tup", "Estimated dead rows (VACUUM is due past 10 000).", srcUserTables, "13+", tableLabels...),
	Gauge("pg_stat_user_tables_n_mod_since_analyze", "Rows changed since the last ANALYZE (ANALYZE is due past 5 000).", srcUserTables, "13+", tableLabels...),
	Counter("pg_stat_user_tables_vacuum_count_total", "Manual VACUUMs.", srcUserTables, "13+", tableLabels...),
	Counter("pg_stat_user_tables_autovacuum_count_total", "Autovacuum runs.", srcUserTables, "13+", tableLabels...),
	Counter("pg_stat_user_tables_analyze_count_total", "Manual ANALYZEs.", srcUserTables, "13+", tableLabels...),
	Counter("pg_stat_user_tables_autoanalyze_count_total", "Autoanalyze runs.", srcUserTables, "13+", tableLabels...),
	Counter("pg_statio_user_tables_heap_blks_read_total", "Heap blocks read (missed shared buffers).", srcStatioTables, "13+", tableLabels...),
	Counter("pg_statio_user_tables_heap_blks_hit_total", "Heap blocks found in shared buffers.", srcStatioTables, "13+", tableLabels...),
	Counter("pg_statio_user_tables_idx_blks_read_total", "Blocks of the table's indexes read.", srcStatioTables, "13+", tableLabels...),
	Counter("pg_statio_user_tables_idx_blks_hit_total", "Blocks of the table's indexes found in shared buffers.", srcStatioTables, "13+", tableLabels...),
	Counter("pg_statio_user_tables_toast_blks_read_total", "TOAST blocks read (TOAST index included).", srcStatioTables, "13+", tableLabels...),
	Counter("pg_statio_user_tables_toast_blks_hit_total", "TOAST blocks found in shared buffers (TOAST index included).", srcStatioTables, "13+", tableLabels...),
}

// Timestamps are per table only (a sum of them means nothing).
var tableTimes = []*Metric{
	Gauge("pg_stat_user_tables_last_vacuum_timestamp_seconds", "Last manual VACUUM (absent if never).", srcUserTables, "13+", tableLabels...),
	Gauge("pg_stat_user_tables_last_autovacuum_timestamp_seconds", "Last autovacuum (absent if never).", srcUserTables, "13+", tableLabels...),
	Gauge("pg_stat_user_tables_last_analyze_timestamp_seconds", "Last manual ANALYZE (absent if never).", srcUserTables, "13+", tableLabels...),
	Gauge("pg_stat_user_tables_last_autoanalyze_timestamp_seconds", "Last autoanalyze (absent if never).", srcUserTables, "13+", tableLabels...),
}

// Sizes, from the TTL-cached sizes query.
var tableSizes = []*Metric{
	Gauge("pg_table_size_bytes", "Heap size with its free space and visibility maps, without TOAST and indexes.", "pg_table_size()", "13+", tableLabels...),
	Gauge("pg_table_toast_size_bytes", "TOAST table and TOAST index size.", "pg_total_relation_size()", "13+", tableLabels...),
	Gauge("pg_table_indexes_size_bytes", "Size of the table's indexes.", "pg_indexes_size()", "13+", tableLabels...),
}

var (
	tablesReported = Gauge("pg_tables_reported", "Tables with series of their own (within objects.tables limits).", srcUserTables, "13+", "datname")
	tablesFolded   = Gauge("pg_tables_folded", "Tables summed into the per-database series with empty schemaname and relname.", srcUserTables, "13+", "datname")
)

func init() {
	ms := append(append(append([]*Metric{}, tableStats...), tableTimes...), tableSizes...)
	Register(&Spec{
		Name:    "tables",
		Help:    "Per-table scans, row changes, vacuum/analyze, block I/O and sizes from pg_stat_user_tables and pg_statio_user_tables, bounded by objects.tables",
		Scope:   Database,
		Default: true,
		Metrics: append(ms, tablesReported, tablesFolded),
		New: func(o Options) (Collector, error) {
			return &tablesCollector{limits: &o.Config.Objects.Tables, sizesTTL: o.Config.Objects.SizesTTLOr()}, nil
		},
	})
}

type tablesCollector struct {
	limits   *config.ObjectLimits
	sizesTTL time.Duration
	sizes    sizeCache
}

// The columns of pg_stat_user_tables and pg_statio_user_tables, read with
// the statistics functions those views are made of, in one pass: the views
// sum each table's indexes in a per-table subquery, where one grouped pass
// over pg_index serves all tables (about 1.6 times less server time on
// 10 000 tables). Index blocks of a TOAST table count toward its owner, as
// tidx_blks_* do. The timestamps come last.
const tablesQuery = `WITH ix AS (
  SELECT COALESCE(o.oid, i.indrelid) AS rel,
   sum(pg_stat_get_numscans(i.indexrelid)) FILTER (WHERE o.oid IS NULL) AS scans,
   sum(pg_stat_get_tuples_fetched(i.indexrelid)) FILTER (WHERE o.oid IS NULL) AS fetched,
   sum(pg_stat_get_blocks_fetched(i.indexrelid) - pg_stat_get_blocks_hit(i.indexrelid)) FILTER (WHERE o.oid IS NULL) AS rd,
   sum(pg_stat_get_blocks_hit(i.indexrelid)) FILTER (WHERE o.oid IS NULL) AS hit,
   sum(pg_stat_get_blocks_fetched(i.indexrelid) - pg_stat_get_blocks_hit(i.indexrelid)) FILTER (WHERE o.oid IS NOT NULL) AS trd,
   sum(pg_stat_get_blocks_hit(i.indexrelid)) FILTER (WHERE o.oid IS NOT NULL) AS thit
  FROM pg_index i LEFT JOIN pg_class o ON o.reltoastrelid = i.indrelid AND o.reltoastrelid <> 0
  GROUP BY 1)
SELECT c.oid::int8, n.nspname, c.relname,
 pg_stat_get_numscans(c.oid)::float8, pg_stat_get_tuples_returned(c.oid)::float8,
 COALESCE(x.scans, 0)::float8, (COALESCE(x.fetched, 0) + pg_stat_get_tuples_fetched(c.oid))::float8,
 pg_stat_get_tuples_inserted(c.oid)::float8, pg_stat_get_tuples_updated(c.oid)::float8,
 pg_stat_get_tuples_deleted(c.oid)::float8, pg_stat_get_tuples_hot_updated(c.oid)::float8,
 pg_stat_get_live_tuples(c.oid)::float8, pg_stat_get_dead_tuples(c.oid)::float8, pg_stat_get_mod_since_analyze(c.oid)::float8,
 pg_stat_get_vacuum_count(c.oid)::float8, pg_stat_get_autovacuum_count(c.oid)::float8,
 pg_stat_get_analyze_count(c.oid)::float8, pg_stat_get_autoanalyze_count(c.oid)::float8,
 (pg_stat_get_blocks_fetched(c.oid) - pg_stat_get_blocks_hit(c.oid))::float8, pg_stat_get_blocks_hit(c.oid)::float8,
 COALESCE(x.rd, 0)::float8, COALESCE(x.hit, 0)::float8,
 COALESCE(pg_stat_get_blocks_fetched(NULLIF(c.reltoastrelid, 0)) - pg_stat_get_blocks_hit(NULLIF(c.reltoastrelid, 0)) + COALESCE(x.trd, 0), 0)::float8,
 COALESCE(pg_stat_get_blocks_hit(NULLIF(c.reltoastrelid, 0)) + COALESCE(x.thit, 0), 0)::float8,
 COALESCE(EXTRACT(EPOCH FROM pg_stat_get_last_vacuum_time(c.oid)), 0)::float8,
 COALESCE(EXTRACT(EPOCH FROM pg_stat_get_last_autovacuum_time(c.oid)), 0)::float8,
 COALESCE(EXTRACT(EPOCH FROM pg_stat_get_last_analyze_time(c.oid)), 0)::float8,
 COALESCE(EXTRACT(EPOCH FROM pg_stat_get_last_autoanalyze_time(c.oid)), 0)::float8
 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN ix x ON x.rel = c.oid
 WHERE c.relkind IN ('r', 'm', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'`

// Sizes of every user table in one pass; size functions need no privilege
// on the table.
const tableSizesQuery = `SELECT c.oid::int8,
 (pg_table_size(c.oid) - COALESCE(pg_total_relation_size(NULLIF(c.reltoastrelid, 0)), 0))::float8,
 COALESCE(pg_total_relation_size(NULLIF(c.reltoastrelid, 0)), 0)::float8,
 pg_indexes_size(c.oid)::float8
 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'm', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'`

type tableRow struct {
	schema, name string
	stats        [21]float64
	times        [4]float64
	sizes        []float64
}

func (c *tablesCollector) Update(ctx context.Context, s *Scrape, ch chan<- prometheus.Metric) error {
	szs, err := c.sizes.get(ctx, s.Target.Name, s.Database, c.sizesTTL, func(ctx context.Context) (map[int64][]float64, error) {
		return readSizes(ctx, s, tableSizesQuery, 3)
	})
	if err != nil {
		return fmt.Errorf("reading table sizes: %w", err)
	}
	rows, err := s.Conn.Query(ctx, tablesQuery)
	if err != nil {
		return err
	}
	var tabs []tableRow
	var cs []candidate
	zero := make([]float64, 3)
	for rows.Next() {
		var t tableRow
		var relid int64
		dest := []any{&relid, &t.schema, &t.name}
		for i := range t.stats {
			dest = append(dest, &t.stats[i])
		}
		for i := range t.times {
			dest = append(dest, &t.times[i])
		}
		if err := rows.Scan(dest...); err != nil {
			rows.Close()
			return err
		}
		if t.sizes = szs[relid]; t.sizes == nil {
			t.sizes = zero // created since the sizes were read
		}
		q := t.schema + "." + t.name
		total := t.sizes[0] + t.sizes[1] + t.sizes[2]
		// Activity: scans plus rows written, since the statistics reset.
		act := t.stats[0] + t.stats[2] + t.stats[4] + t.stats[5] + t.stats[6]
		tabs = append(tabs, t)
		cs = append(cs, candidate{name: q, size: total, activity: act, eligible: eligible(c.limits, q, total)})
	}
	if err := rows.Err(); err != nil {
		return err
	}
	chosen := pickObjects(cs, c.limits.TopNOr(config.DefaultTablesTopN))
	var rest tableRow
	rest.sizes = make([]float64, 3)
	reported := 0
	db := s.Database
	for i := range tabs {
		t := &tabs[i]
		if !chosen[i] {
			for j := range t.stats {
				rest.stats[j] += t.stats[j]
			}
			for j := range t.sizes {
				rest.sizes[j] += t.sizes[j]
			}
			continue
		}
		reported++
		for j, m := range tableStats {
			m.Emit(ch, t.stats[j], db, t.schema, t.name)
		}
		for j, m := range tableTimes {
			if t.times[j] > 0 {
				m.Emit(ch, t.times[j], db, t.schema, t.name)
			}
		}
		for j, m := range tableSizes {
			m.Emit(ch, t.sizes[j], db, t.schema, t.name)
		}
	}
	for j, m := range tableStats {
		m.Emit(ch, rest.stats[j], db, "", "")
	}
	for j, m := range tableSizes {
		m.Emit(ch, rest.sizes[j], db, "", "")
	}
	tablesReported.Emit(ch, float64(reported), db)
	tablesFolded.Emit(ch, float64(len(tabs)-reported), db)
	return nil
}

// readSizes runs a sizes query whose first column is an oid and the next n
// are sizes.
func readSizes(ctx context.Context, s *Scrape, q string, n int) (map[int64][]float64, error) {
	rows, err := s.Conn.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64][]float64{}
	for rows.Next() {
		var oid int64
		v := make([]float64, n)
		dest := []any{&oid}
		for i := range v {
			dest = append(dest, &v[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		out[oid] = v
	}
	return out, rows.Err()
}
