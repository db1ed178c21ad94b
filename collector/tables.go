package collector

import (
	"context"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pghardening/pg_hardening_exporter/internal/config"
	"github.com/pghardening/pg_hardening_exporter/internal/exposition"
	"github.com/pghardening/pg_hardening_exporter/internal/metric"
)

const (
	srcUserTables   = "pg_stat_user_tables"
	srcStatioTables = "pg_statio_user_tables"
)

var tableLabels = []string{"datname", "schemaname", "relname"}

// The per-table counters and gauges, in the query's column order. Tables
// outside the limits are summed into one series per database with empty
// schemaname and relname.
var tableStats = []*metric.Metric{
	metric.Counter("pg_stat_user_tables_seq_scan_total", "Sequential scans started on the table.", srcUserTables, "13+", tableLabels...),
	metric.Counter("pg_stat_user_tables_seq_tup_read_total", "Live rows fetched by sequential scans.", srcUserTables, "13+", tableLabels...),
	metric.Counter("pg_stat_user_tables_idx_scan_total", "Index scans started on the table's indexes.", srcUserTables, "13+", tableLabels...),
	metric.Counter("pg_stat_user_tables_idx_tup_fetch_total", "Live rows fetched by index scans.", srcUserTables, "13+", tableLabels...),
	metric.Counter("pg_stat_user_tables_n_tup_ins_total", "Rows inserted.", srcUserTables, "13+", tableLabels...),
	metric.Counter("pg_stat_user_tables_n_tup_upd_total", "Rows updated (HOT updates included).", srcUserTables, "13+", tableLabels...),
	metric.Counter("pg_stat_user_tables_n_tup_del_total", "Rows deleted.", srcUserTables, "13+", tableLabels...),
	metric.Counter("pg_stat_user_tables_n_tup_hot_upd_total", "Rows updated without touching indexes (HOT).", srcUserTables, "13+", tableLabels...),
	metric.Gauge("pg_stat_user_tables_n_live_tup", "Estimated live rows.", srcUserTables, "13+", tableLabels...),
	metric.Gauge("pg_stat_user_tables_n_dead_tup", "Estimated dead rows (VACUUM is due past 10 000).", srcUserTables, "13+", tableLabels...),
	metric.Gauge("pg_stat_user_tables_n_mod_since_analyze", "Rows changed since the last ANALYZE (ANALYZE is due past 5 000).", srcUserTables, "13+", tableLabels...),
	metric.Counter("pg_stat_user_tables_vacuum_count_total", "Manual VACUUMs.", srcUserTables, "13+", tableLabels...),
	metric.Counter("pg_stat_user_tables_autovacuum_count_total", "Autovacuum runs.", srcUserTables, "13+", tableLabels...),
	metric.Counter("pg_stat_user_tables_analyze_count_total", "Manual ANALYZEs.", srcUserTables, "13+", tableLabels...),
	metric.Counter("pg_stat_user_tables_autoanalyze_count_total", "Autoanalyze runs.", srcUserTables, "13+", tableLabels...),
	metric.Counter("pg_statio_user_tables_heap_blks_read_total", "Heap blocks read (missed shared buffers).", srcStatioTables, "13+", tableLabels...),
	metric.Counter("pg_statio_user_tables_heap_blks_hit_total", "Heap blocks found in shared buffers.", srcStatioTables, "13+", tableLabels...),
	metric.Counter("pg_statio_user_tables_idx_blks_read_total", "Blocks of the table's indexes read.", srcStatioTables, "13+", tableLabels...),
	metric.Counter("pg_statio_user_tables_idx_blks_hit_total", "Blocks of the table's indexes found in shared buffers.", srcStatioTables, "13+", tableLabels...),
	metric.Counter("pg_statio_user_tables_toast_blks_read_total", "TOAST blocks read (TOAST index included).", srcStatioTables, "13+", tableLabels...),
	metric.Counter("pg_statio_user_tables_toast_blks_hit_total", "TOAST blocks found in shared buffers (TOAST index included).", srcStatioTables, "13+", tableLabels...),
}

// Timestamps are per table only (a sum of them means nothing).
var tableTimes = []*metric.Metric{
	metric.Gauge("pg_stat_user_tables_last_vacuum_timestamp_seconds", "Last manual VACUUM (absent if never).", srcUserTables, "13+", tableLabels...),
	metric.Gauge("pg_stat_user_tables_last_autovacuum_timestamp_seconds", "Last autovacuum (absent if never).", srcUserTables, "13+", tableLabels...),
	metric.Gauge("pg_stat_user_tables_last_analyze_timestamp_seconds", "Last manual ANALYZE (absent if never).", srcUserTables, "13+", tableLabels...),
	metric.Gauge("pg_stat_user_tables_last_autoanalyze_timestamp_seconds", "Last autoanalyze (absent if never).", srcUserTables, "13+", tableLabels...),
}

// Sizes, from the TTL-cached sizes query.
var tableSizes = []*metric.Metric{
	metric.Gauge("pg_table_size_bytes", "Heap size with its free space and visibility maps, without TOAST and indexes.", "pg_table_size()", "13+", tableLabels...),
	metric.Gauge("pg_table_toast_size_bytes", "TOAST table and TOAST index size.", "pg_total_relation_size()", "13+", tableLabels...),
	metric.Gauge("pg_table_indexes_size_bytes", "Size of the table's indexes.", "pg_indexes_size()", "13+", tableLabels...),
}

// The families with a series per table and for the rest, and their labels.
var (
	tableBlock = append(append([]*metric.Metric{}, tableStats...), tableSizes...)
	tableShape = exposition.NewShape(tableLabels...)
)

var (
	tablesReported = metric.Gauge("pg_tables_reported", "Tables with series of their own (within objects.tables limits).", srcUserTables, "13+", "datname")
	tablesFolded   = metric.Gauge("pg_tables_folded", "Tables summed into the per-database series with empty schemaname and relname.", srcUserTables, "13+", "datname")
)

func init() {
	ms := append(append(append([]*metric.Metric{}, tableStats...), tableTimes...), tableSizes...)
	Register(&Spec{
		Name:    "tables",
		Help:    "Per-table scans, row changes, vacuum/analyze, block I/O and sizes from pg_stat_user_tables and pg_statio_user_tables, bounded by objects.tables",
		Scope:   Database,
		Default: true,
		Metrics: append(ms, tablesReported, tablesFolded),
		New: func(o Options) (Collector, error) {
			return &tablesCollector{limits: &o.Config.Objects.Tables, sizesTTL: o.Config.Objects.SizesTTL}, nil
		},
	})
}

type tablesCollector struct {
	limits   *config.TableLimits
	sizesTTL time.Duration
	choices  choices
}

// userTables selects the relations pg_stat_user_tables shows (its TOAST
// tables aside: they are counted with their owners).
const (
	userTablesFrom  = `pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace`
	userTablesWhere = ` WHERE c.relkind IN ('r', 'm', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'`
	userTables      = userTablesFrom + userTablesWhere
)

// forVersion adapts a query over userTables to the server: before 14,
// pg_stat_user_tables leaves out partitioned tables, which have no
// statistics of their own there.
func forVersion(q string, versionNum int) string {
	if versionNum >= 140000 {
		return q
	}
	return strings.Replace(q, "c.relkind IN ('r', 'm', 'p')", "c.relkind IN ('r', 'm')", 1)
}

// What a choice of tables is made from: each table's activity (scans and
// rows written, as pg_stat_user_tables counts them, since the statistics
// reset), its dead rows and rows changed since its last analyze, and
// whether its shape counts it.
const tableCandidatesQuery = `SELECT c.oid::int8, n.nspname, c.relname, n.nspname !~ '^pg_temp_',
 (pg_stat_get_numscans(c.oid) + pg_stat_get_tuples_inserted(c.oid) + pg_stat_get_tuples_updated(c.oid)
  + pg_stat_get_tuples_deleted(c.oid))::float8 + COALESCE(x.scans, 0),
 pg_stat_get_dead_tuples(c.oid)::float8, pg_stat_get_mod_since_analyze(c.oid)::float8
 FROM ` + userTablesFrom + `
 LEFT JOIN (SELECT indrelid, sum(pg_stat_get_numscans(indexrelid))::float8 AS scans FROM pg_index GROUP BY 1) x ON x.indrelid = c.oid
` + userTablesWhere

// The columns of pg_stat_user_tables and pg_statio_user_tables, read with
// the statistics functions those views are made of, for every table in one
// pass, grouped: a row per chosen table ($1) and one (grp 0) summing the
// rest. The views sum each table's indexes in a per-table subquery; here one
// pass over pg_index serves all tables, its own indexes and those of its
// TOAST table, whose blocks count as TOAST blocks, as tidx_blks_* do. The
// timestamps and names are read for chosen tables only. Every row ends with
// the shape of the permanent tables.
const tablesQuery = `WITH t AS MATERIALIZED (
 SELECT c.oid, c.reltoastrelid AS toast,
  CASE WHEN c.oid IN (SELECT unnest($1::oid[])) THEN c.oid ELSE 0 END AS grp, n.nspname !~ '^pg_temp_' AS permanent
 FROM ` + userTables + `),
owner AS (SELECT oid AS rel, grp, false AS toast FROM t UNION ALL SELECT toast, grp, true FROM t WHERE toast <> 0),
ix AS (
 SELECT o.grp,
  sum(pg_stat_get_numscans(i.indexrelid)::float8) FILTER (WHERE NOT o.toast) AS scans,
  sum(pg_stat_get_tuples_fetched(i.indexrelid)::float8) FILTER (WHERE NOT o.toast) AS fetched,
  sum((pg_stat_get_blocks_fetched(i.indexrelid) - pg_stat_get_blocks_hit(i.indexrelid))::float8) FILTER (WHERE NOT o.toast) AS rd,
  sum(pg_stat_get_blocks_hit(i.indexrelid)::float8) FILTER (WHERE NOT o.toast) AS hit,
  sum((pg_stat_get_blocks_fetched(i.indexrelid) - pg_stat_get_blocks_hit(i.indexrelid))::float8) FILTER (WHERE o.toast) AS trd,
  sum(pg_stat_get_blocks_hit(i.indexrelid)::float8) FILTER (WHERE o.toast) AS thit
 FROM owner o JOIN pg_index i ON i.indrelid = o.rel GROUP BY 1),
g AS (
 SELECT grp, count(*)::float8 AS n,
  sum(pg_stat_get_numscans(oid)::float8) AS seq_scan, sum(pg_stat_get_tuples_returned(oid)::float8) AS seq_tup_read,
  sum(pg_stat_get_tuples_fetched(oid)::float8) AS fetched,
  sum(pg_stat_get_tuples_inserted(oid)::float8) AS ins, sum(pg_stat_get_tuples_updated(oid)::float8) AS upd,
  sum(pg_stat_get_tuples_deleted(oid)::float8) AS del, sum(pg_stat_get_tuples_hot_updated(oid)::float8) AS hot,
  sum(pg_stat_get_live_tuples(oid)::float8) AS live, sum(pg_stat_get_dead_tuples(oid)::float8) AS dead,
  sum(pg_stat_get_mod_since_analyze(oid)::float8) AS mod,
  sum(pg_stat_get_vacuum_count(oid)::float8) AS vac, sum(pg_stat_get_autovacuum_count(oid)::float8) AS avac,
  sum(pg_stat_get_analyze_count(oid)::float8) AS an, sum(pg_stat_get_autoanalyze_count(oid)::float8) AS aan,
  sum((pg_stat_get_blocks_fetched(oid) - pg_stat_get_blocks_hit(oid))::float8) AS heap_rd,
  sum(pg_stat_get_blocks_hit(oid)::float8) AS heap_hit,
  sum(COALESCE(pg_stat_get_blocks_fetched(NULLIF(toast, 0)) - pg_stat_get_blocks_hit(NULLIF(toast, 0)), 0)::float8) AS toast_rd,
  sum(COALESCE(pg_stat_get_blocks_hit(NULLIF(toast, 0)), 0)::float8) AS toast_hit,
  max(EXTRACT(EPOCH FROM pg_stat_get_last_vacuum_time(oid))::float8) FILTER (WHERE grp <> 0) AS lv,
  max(EXTRACT(EPOCH FROM pg_stat_get_last_autovacuum_time(oid))::float8) FILTER (WHERE grp <> 0) AS lav,
  max(EXTRACT(EPOCH FROM pg_stat_get_last_analyze_time(oid))::float8) FILTER (WHERE grp <> 0) AS la,
  max(EXTRACT(EPOCH FROM pg_stat_get_last_autoanalyze_time(oid))::float8) FILTER (WHERE grp <> 0) AS laa
 FROM t GROUP BY grp),
sh AS (SELECT count(*) FILTER (WHERE permanent) AS n, COALESCE(sum(oid::int8) FILTER (WHERE permanent), 0)::int8 AS sum FROM t)
SELECT g.grp::int8,
 COALESCE((SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = g.grp), ''),
 COALESCE((SELECT relname FROM pg_class WHERE oid = g.grp), ''), g.n,
 g.seq_scan, g.seq_tup_read, COALESCE(x.scans, 0), g.fetched + COALESCE(x.fetched, 0),
 g.ins, g.upd, g.del, g.hot, g.live, g.dead, g.mod, g.vac, g.avac, g.an, g.aan,
 g.heap_rd, g.heap_hit, COALESCE(x.rd, 0), COALESCE(x.hit, 0),
 g.toast_rd + COALESCE(x.trd, 0), g.toast_hit + COALESCE(x.thit, 0),
 COALESCE(g.lv, 0), COALESCE(g.lav, 0), COALESCE(g.la, 0), COALESCE(g.laa, 0), sh.n, sh.sum
 FROM g LEFT JOIN ix x USING (grp) CROSS JOIN sh`

// Sizes of every user table in one pass; size functions need no privilege
// on the table.
const tableSizesQuery = `SELECT c.oid::int8,
 (pg_table_size(c.oid) - COALESCE(pg_total_relation_size(NULLIF(c.reltoastrelid, 0)), 0))::float8,
 COALESCE(pg_total_relation_size(NULLIF(c.reltoastrelid, 0)), 0)::float8,
 pg_indexes_size(c.oid)::float8
 FROM ` + userTables

type tableRow struct {
	oid          int64
	schema, name string
	n            float64 // tables summed in the row
	stats        [21]float64
	times        [4]float64
}

// tablesRead is what one scrape reads: the blocks of the chosen tables and
// of the rest, how many tables were chosen and summed.
type tablesRead struct {
	series   *exposition.Block
	times    []*exposition.Block
	reported int
	folded   float64
}

func (c *tablesCollector) Update(ctx context.Context, s *Scrape, ch chan<- prometheus.Metric) error {
	_, got, err := readChosen(ctx, s, &c.choices, c.sizesTTL, forVersion(tableSizesQuery, s.Facts.VersionNum), len(tableSizes), c.choose, c.read)
	if err != nil {
		return err
	}
	ch <- got.series
	for _, tb := range got.times {
		ch <- tb
	}
	tablesReported.Emit(ch, float64(got.reported), s.Database)
	tablesFolded.Emit(ch, got.folded, s.Database)
	return nil
}

// choose reads every table's activity and chooses, with the sizes given
// (and those of tables created since they were read), the tables reported
// one by one. Tables in temporary schemas are never chosen: autovacuum does
// not process them, so they would stay due for as long as their session.
func (c *tablesCollector) choose(ctx context.Context, s *Scrape, sizesOf func([]int64) (map[int64][]float64, error)) (*choice, error) {
	rows, err := s.Conn.Query(ctx, forVersion(tableCandidatesQuery, s.Facts.VersionNum))
	if err != nil {
		return nil, err
	}
	type row struct {
		oid            int64
		name           string
		permanent      bool
		act, dead, mod float64
	}
	var rs []row
	var seen []int64 // the permanent objects
	ch := &choice{restSizes: make([]float64, len(tableSizes))}
	for rows.Next() {
		var r row
		var schema, name string
		if err := rows.Scan(&r.oid, &schema, &name, &r.permanent, &r.act, &r.dead, &r.mod); err != nil {
			rows.Close()
			return nil, err
		}
		r.name = schema + "." + name
		if r.permanent {
			ch.shape.add(r.oid)
			seen = append(seen, r.oid)
		}
		rs = append(rs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	szs, err := sizesOf(seen)
	if err != nil {
		return nil, err
	}
	ch.sizes = szs
	due := &c.limits.MaintenanceDue
	cs := make([]candidate, len(rs))
	for i, r := range rs {
		total := 0.0
		for _, v := range szs[r.oid] {
			total += v
		}
		cs[i] = candidate{name: r.name, size: total, activity: r.act,
			eligible: r.permanent && eligible(&c.limits.ObjectLimits, r.name, total),
			due:      dueFor(r.dead, r.mod, due.DeadTuples, due.ModSinceAnalyze)}
	}
	var chosen []int64
	for i, ok := range pickObjects(cs, c.limits.TopN) {
		if ok {
			chosen = append(chosen, rs[i].oid)
			continue
		}
		for j, v := range szs[rs[i].oid] {
			ch.restSizes[j] += v
		}
	}
	ch.chosen, ch.nChosen = oidArray(chosen), len(chosen)
	return ch, nil
}

// read runs tablesQuery for a choice and puts each row, with its sizes,
// straight into the blocks: the chosen tables, the rest summed, and the
// shape of the tables now.
func (c *tablesCollector) read(ctx context.Context, s *Scrape, cur *choice) (got tablesRead, sh shape, err error) {
	rows, err := s.Conn.Query(ctx, forVersion(tablesQuery, s.Facts.VersionNum), cur.chosen)
	if err != nil {
		return got, sh, err
	}
	defer rows.Close()
	db := s.Database
	labels := c.choices.labels(s.Target.Name, db, tableShape)
	defer labels.Done()
	got.series = exposition.NewBlock(tableShape, tableBlock...)
	got.series.Grow(cur.nChosen + 1)
	got.times = make([]*exposition.Block, len(tableTimes))
	for j, m := range tableTimes {
		got.times[j] = exposition.NewBlock(tableShape, m)
	}
	var t tableRow
	dest := []any{&t.oid, &t.schema, &t.name, &t.n}
	for i := range t.stats {
		dest = append(dest, &t.stats[i])
	}
	for i := range t.times {
		dest = append(dest, &t.times[i])
	}
	dest = append(dest, &sh.n, &sh.sum)
	vals := make([]float64, len(tableBlock))
	sizes := vals[len(tableStats):]
	restSeen := false
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return got, sh, err
		}
		copy(vals, t.stats[:])
		if t.oid == 0 {
			copy(sizes, cur.restSizes)
			got.series.Add(labels.Get(0, db, "", ""), vals...)
			got.folded, restSeen = t.n, true
			continue
		}
		if v := cur.sizes[t.oid]; v != nil {
			copy(sizes, v)
		} else {
			clear(sizes) // created since the sizes were read
		}
		l := labels.Get(t.oid, db, t.schema, t.name)
		got.series.Add(l, vals...)
		for j, v := range t.times {
			if v > 0 {
				got.times[j].Add(l, v)
			}
		}
		got.reported++
	}
	if err := rows.Err(); err != nil {
		return got, sh, err
	}
	if !restSeen { // every table chosen: the rest's series stay, at zero
		clear(vals)
		copy(sizes, cur.restSizes)
		got.series.Add(labels.Get(0, db, "", ""), vals...)
	}
	return got, sh, nil
}
