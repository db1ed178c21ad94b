package collector

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pghardening/pg_hardening_exporter/internal/config"
	"github.com/pghardening/pg_hardening_exporter/internal/metric"
)

const srcBloat = "pg_class, pg_stats"

var (
	tableBloatBytes = metric.Gauge("pg_table_bloat_bytes", "Estimated heap space beyond what the live rows need at the table's fillfactor, from planner statistics (see docs/bloat.md); the per-database rest has empty schemaname and relname.", srcBloat, "13+", tableLabels...)
	tableBloatRatio = metric.Gauge("pg_table_bloat_ratio", "pg_table_bloat_bytes over the heap size (REINDEX/repack is due past 0.5).", srcBloat, "13+", tableLabels...)
	indexBloatBytes = metric.Gauge("pg_index_bloat_bytes", "Estimated B-tree index space beyond what its entries need at the index's fillfactor; the per-database rest has empty object labels.", srcBloat, "13+", indexLabels...)
	indexBloatRatio = metric.Gauge("pg_index_bloat_ratio", "pg_index_bloat_bytes over the index size (REINDEX CONCURRENTLY is due past 0.5).", srcBloat, "13+", indexLabels...)
	bloatMeasured   = metric.Gauge("pg_table_bloat_measured_ratio", "Dead rows plus free space over the heap size, measured by pgstattuple_approx for the reported tables (objects.bloat.pgstattuple).", "pgstattuple_approx()", "13+", tableLabels...)
	bloatUnknown    = metric.Gauge("pg_bloat_unestimated_relations", "Tables and indexes with no estimate: never analyzed, or column statistics the exporter's role may not read (pg_stats shows only columns it may SELECT).", srcBloat, "13+", "datname")
	bloatMetrics    = []*metric.Metric{tableBloatBytes, tableBloatRatio, indexBloatBytes, indexBloatRatio, bloatMeasured, bloatUnknown}
)

func init() {
	Register(&Spec{
		Name:    "bloat",
		Help:    "Estimated table and B-tree index bloat from planner statistics, and optionally measured with pgstattuple_approx",
		Scope:   Database,
		Default: true,
		TTL:     10 * time.Minute,
		Metrics: bloatMetrics,
		New: func(o Options) (Collector, error) {
			return &bloatCollector{limits: &o.Config.Objects.Bloat}, nil
		},
	})
}

type bloatCollector struct{ limits *config.BloatLimits }

// The estimate: a heap tuple takes its header (23 bytes plus a null bitmap
// when some column has nulls, aligned to 8) plus the columns' average widths
// weighted by their non-null share (aligned to 8) plus a 4-byte line
// pointer; a page of block_size bytes keeps 24 bytes of header and leaves
// (100 - fillfactor) % free. The rows' expected pages against relpages give
// the bloat. A table is estimated only when every column has statistics.
const tableBloatQuery = `WITH cols AS (
  SELECT s.schemaname, s.tablename, count(*) AS n, sum((1 - s.null_frac) * s.avg_width) AS width, bool_or(s.null_frac > 0) AS nulls
  FROM pg_stats s WHERE NOT s.inherited AND s.schemaname NOT IN ('pg_catalog', 'information_schema')
  GROUP BY 1, 2
), t AS (
  SELECT c.oid, n.nspname, c.relname, c.relpages::float8 AS pages, c.reltuples::float8 AS tuples, c.relnatts AS natts,
   COALESCE((SELECT substr(o, 12)::int FROM unnest(c.reloptions) o WHERE o LIKE 'fillfactor=%'), 100) AS ff,
   current_setting('block_size')::float8 AS bs, k.n, k.width, k.nulls
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN cols k ON k.schemaname = n.nspname AND k.tablename = c.relname
  WHERE c.relkind IN ('r', 'm') AND ` + userSchemas + `
), sized AS (
  SELECT t.*, ceil((23 + CASE WHEN t.nulls THEN ceil(t.natts / 8.0) ELSE 0 END) / 8.0) * 8 + ceil(t.width / 8.0) * 8 + 4 AS tuple_bytes,
   (SELECT count(*) FROM pg_attribute a WHERE a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped) AS live_cols
  FROM t
)
SELECT oid::int8, nspname, relname, pages * bs,
 CASE WHEN n IS NULL OR n < live_cols OR tuples < 0 OR pages = 0 THEN -1
  ELSE greatest(pages - ceil(tuples / greatest(floor(((bs - 24) - bs * (100 - ff) / 100.0) / tuple_bytes), 1)), 0) * bs END
FROM sized`

// B-tree entries: an 8-byte tuple header plus the key columns' average
// widths (aligned to 8) plus a 4-byte line pointer; a page keeps 24 bytes
// of header and 16 of B-tree special space, and is filled to the fillfactor
// (90 by default). Expression and partial indexes are left out.
const indexBloatQuery = `WITH st AS (
  SELECT s.schemaname, s.tablename, s.attname, s.avg_width FROM pg_stats s
  WHERE NOT s.inherited AND s.schemaname NOT IN ('pg_catalog', 'information_schema')
), keys AS (
  SELECT i.indexrelid, count(*) AS n, count(st.avg_width) AS known, sum(st.avg_width) AS width
  FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
  CROSS JOIN LATERAL unnest(string_to_array(i.indkey::text, ' ')::int2[]) AS k(attnum)
  LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
  LEFT JOIN st ON st.schemaname = n.nspname AND st.tablename = t.relname AND st.attname = a.attname
  WHERE i.indexprs IS NULL AND i.indpred IS NULL AND ` + userSchemas + `
  GROUP BY i.indexrelid
)
SELECT c.oid::int8, n.nspname, t.relname, c.relname, c.relpages::float8 * current_setting('block_size')::float8,
 CASE WHEN k.known IS NULL OR k.known < k.n OR c.reltuples < 0 OR c.relpages = 0 THEN -1
  ELSE greatest(c.relpages - 1 - ceil(c.reltuples / greatest(floor((current_setting('block_size')::float8 - 40)
   * COALESCE((SELECT substr(o, 12)::int FROM unnest(c.reloptions) o WHERE o LIKE 'fillfactor=%'), 90) / 100.0
   / (8 + ceil(k.width / 8.0) * 8 + 4)), 1)), 0) * current_setting('block_size')::float8 END
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_am am ON am.oid = c.relam
LEFT JOIN keys k ON k.indexrelid = i.indexrelid
WHERE am.amname = 'btree' AND ` + userSchemas

type bloatRow struct {
	oid                 int64
	schema, table, name string
	size, bloat         float64
}

func (c *bloatCollector) Update(ctx context.Context, s *Scrape, ch chan<- prometheus.Metric) error {
	db := s.Database
	tabs, err := readBloat(ctx, s, tableBloatQuery, false)
	if err != nil {
		return fmt.Errorf("estimating table bloat: %w", err)
	}
	idxs, err := readBloat(ctx, s, indexBloatQuery, true)
	if err != nil {
		return fmt.Errorf("estimating index bloat: %w", err)
	}
	n := c.limits.TopN
	unknown := 0
	emit := func(rows []bloatRow, bytesM, ratioM *metric.Metric, isIndex bool) []bloatRow {
		cs := make([]candidate, len(rows))
		for i, r := range rows {
			if r.bloat < 0 {
				unknown++
			}
			// Only bloat ranks here, so both halves of the slots go by it.
			cs[i] = candidate{name: r.schema + "." + r.table + "." + r.name, size: r.bloat, activity: r.bloat,
				eligible: r.bloat > 0 && eligible(&c.limits.ObjectLimits, r.schema+"."+r.table, r.size)}
		}
		var restSize, restBloat float64
		var reported []bloatRow
		for i, ok := range pickObjects(cs, n) {
			r := rows[i]
			if !ok {
				if r.bloat > 0 {
					restSize += r.size
					restBloat += r.bloat
				}
				continue
			}
			reported = append(reported, r)
			labels := []string{db, r.schema, r.table}
			if isIndex {
				labels = append(labels, r.name)
			}
			bytesM.Emit(ch, r.bloat, labels...)
			ratioM.Emit(ch, r.bloat/r.size, labels...)
		}
		rest := []string{db, "", ""}
		if isIndex {
			rest = append(rest, "")
		}
		bytesM.Emit(ch, restBloat, rest...)
		ratio := 0.0
		if restSize > 0 {
			ratio = restBloat / restSize
		}
		ratioM.Emit(ch, ratio, rest...)
		return reported
	}
	reported := emit(tabs, tableBloatBytes, tableBloatRatio, false)
	emit(idxs, indexBloatBytes, indexBloatRatio, true)
	bloatUnknown.Emit(ch, float64(unknown), db)
	if _, ok := s.Extensions["pgstattuple"]; ok && c.limits.Pgstattuple && len(reported) > 0 {
		return c.measure(ctx, s, reported, ch)
	}
	return nil
}

// measure asks pgstattuple_approx about the reported tables, in one query.
func (c *bloatCollector) measure(ctx context.Context, s *Scrape, tabs []bloatRow, ch chan<- prometheus.Metric) error {
	oids := make([]string, len(tabs))
	byOID := map[int64]bloatRow{}
	for i, t := range tabs {
		oids[i] = strconv.FormatInt(t.oid, 10)
		byOID[t.oid] = t
	}
	q := `SELECT r.oid::int8, CASE WHEN a.table_len > 0 THEN (a.dead_tuple_len + a.approx_free_space)::float8 / a.table_len ELSE 0 END
 FROM unnest('{` + strings.Join(oids, ",") + `}'::oid[]) AS r(oid) CROSS JOIN LATERAL pgstattuple_approx(r.oid::regclass) a`
	rows, err := s.Conn.Query(ctx, q)
	if err != nil {
		return fmt.Errorf("measuring bloat with pgstattuple_approx: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var oid int64
		var ratio float64
		if err := rows.Scan(&oid, &ratio); err != nil {
			return err
		}
		t := byOID[oid]
		bloatMeasured.Emit(ch, ratio, s.Database, t.schema, t.table)
	}
	return rows.Err()
}

func readBloat(ctx context.Context, s *Scrape, q string, index bool) ([]bloatRow, error) {
	rows, err := s.Conn.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []bloatRow
	for rows.Next() {
		var r bloatRow
		dest := []any{&r.oid, &r.schema, &r.table}
		if index {
			dest = append(dest, &r.name)
		}
		dest = append(dest, &r.size, &r.bloat)
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
