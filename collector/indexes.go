package collector

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pghardening/pg_hardening_exporter/internal/config"
	"github.com/pghardening/pg_hardening_exporter/internal/exposition"
	"github.com/pghardening/pg_hardening_exporter/internal/metric"
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
var indexStats = []*metric.Metric{
	metric.Counter("pg_stat_user_indexes_idx_scan_total", "Index scans started on the index.", srcUserIndexes, "13+", indexLabels...),
	metric.Counter("pg_stat_user_indexes_idx_tup_read_total", "Index entries returned by scans of the index.", srcUserIndexes, "13+", indexLabels...),
	metric.Counter("pg_stat_user_indexes_idx_tup_fetch_total", "Live table rows fetched by simple scans of the index.", srcUserIndexes, "13+", indexLabels...),
	metric.Counter("pg_statio_user_indexes_idx_blks_read_total", "Index blocks read (missed shared buffers).", srcStatioIndexes, "13+", indexLabels...),
	metric.Counter("pg_statio_user_indexes_idx_blks_hit_total", "Index blocks found in shared buffers.", srcStatioIndexes, "13+", indexLabels...),
}

var (
	indexSize       = metric.Gauge("pg_index_size_bytes", "Size of the index.", "pg_relation_size()", "13+", indexLabels...)
	indexInvalid    = metric.Gauge("pg_index_invalid", "1 for an index left invalid (by a failed CREATE INDEX CONCURRENTLY or REINDEX CONCURRENTLY); named whatever the limits, up to objects.indexes.top_n.", "pg_index", "13+", indexLabels...)
	indexUnused     = metric.Gauge("pg_index_unused", "1 for an index never scanned since the statistics reset, at least 1 MB, not enforcing a constraint or uniqueness; named up to objects.indexes.top_n, largest first.", srcUserIndexes, "13+", indexLabels...)
	indexesInvalid  = metric.Gauge("pg_indexes_invalid", "Invalid indexes in the database.", "pg_index", "13+", "datname")
	indexesUnused   = metric.Gauge("pg_indexes_unused", "Unused indexes (as pg_index_unused) in the database.", srcUserIndexes, "13+", "datname")
	indexesUnusedSz = metric.Gauge("pg_indexes_unused_size_bytes", "Total size of the unused indexes in the database.", srcUserIndexes, "13+", "datname")
	indexesReported = metric.Gauge("pg_indexes_reported", "Indexes with series of their own (within objects.indexes limits).", srcUserIndexes, "13+", "datname")
	indexesFolded   = metric.Gauge("pg_indexes_folded", "Indexes summed into the per-database series with empty object labels.", srcUserIndexes, "13+", "datname")
)

// The families with a series per index and for the rest, and their labels.
var (
	indexBlock = append(append([]*metric.Metric{}, indexStats...), indexSize)
	indexShape = exposition.NewShape(indexLabels...)
)

func init() {
	Register(&Spec{
		Name:    "indexes",
		Help:    "Per-index scans, block I/O and size, invalid and unused indexes from pg_stat_user_indexes and pg_statio_user_indexes, bounded by objects.indexes",
		Scope:   Database,
		Default: true,
		Metrics: append(append([]*metric.Metric{}, indexStats...), indexSize, indexInvalid, indexUnused,
			indexesInvalid, indexesUnused, indexesUnusedSz, indexesReported, indexesFolded),
		New: func(o Options) (Collector, error) {
			return &indexesCollector{limits: &o.Config.Objects.Indexes, sizesTTL: o.Config.Objects.SizesTTL}, nil
		},
	})
}

type indexesCollector struct {
	limits   *config.ObjectLimits
	sizesTTL time.Duration
	choices  choices
}

// The indexes pg_stat_user_indexes shows, as that view selects them (by
// their tables), and their names.
const (
	userIndexTables = `pg_index x JOIN pg_class c ON c.oid = x.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 't', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'`
	userIndexes = `pg_class i, ` + userIndexTables + ` AND i.oid = x.indexrelid`
)

// What a choice of indexes is made from: each index's scans since the
// statistics reset, whether its shape counts it, and whether it enforces
// something (see indexesQuery).
const indexCandidatesQuery = `SELECT i.oid::int8, n.nspname, c.relname, i.relname, n.nspname !~ '^pg_temp_',
 pg_stat_get_numscans(i.oid)::float8, x.indisunique OR i.oid IN (SELECT conindid FROM pg_constraint)
 FROM ` + userIndexes

// The columns of pg_stat_user_indexes and pg_statio_user_indexes, read with
// the statistics functions those views are made of, for every index in one
// pass: a row for each chosen index ($1), each invalid one and each one
// still never scanned of those that could be unused when the choice was made
// ($2, see choice.big), with its chosen flag and its names (looked up for
// these rows only); then one row (OID 0) summing the indexes not chosen,
// which ends with the shape of the permanent indexes. The OID lists are
// matched with IN (SELECT unnest(...)), hashed on every version (13 does not
// hash = ANY of an array).
//
// An index enforces something when a constraint uses it (primary key,
// unique, exclusion, or the key a foreign key references) or it is unique.
// IN, not a correlated EXISTS: pg_constraint has no index on conindid, and
// IN is hashed once where EXISTS under OR would scan it once per index.
const indexesQuery = `WITH s AS MATERIALIZED (
 SELECT x.indexrelid AS oid, x.indrelid,
  pg_stat_get_numscans(x.indexrelid)::float8 AS scan, pg_stat_get_tuples_returned(x.indexrelid)::float8 AS tup_read,
  pg_stat_get_tuples_fetched(x.indexrelid)::float8 AS tup_fetch,
  pg_stat_get_blocks_fetched(x.indexrelid)::float8 AS blks_fetched, pg_stat_get_blocks_hit(x.indexrelid)::float8 AS blks_hit,
  NOT x.indisvalid AS invalid, x.indisunique AS uniq,
  x.indexrelid IN (SELECT unnest($1::oid[])) AS chosen, x.indexrelid IN (SELECT unnest($2::oid[])) AS big,
  n.nspname !~ '^pg_temp_' AS permanent
 FROM ` + userIndexTables + `)
SELECT s.oid::int8, (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = s.indrelid),
 (SELECT relname FROM pg_class WHERE oid = s.indrelid), (SELECT relname FROM pg_class WHERE oid = s.oid),
 scan, tup_read, tup_fetch, blks_fetched - blks_hit, blks_hit,
 invalid, uniq OR s.oid IN (SELECT conindid FROM pg_constraint), chosen, 1::float8, 0::int8, 0::int8
 FROM s WHERE chosen OR invalid OR (big AND scan = 0)
UNION ALL
SELECT 0, '', '', '', COALESCE(sum(scan) FILTER (WHERE NOT chosen), 0), COALESCE(sum(tup_read) FILTER (WHERE NOT chosen), 0),
 COALESCE(sum(tup_fetch) FILTER (WHERE NOT chosen), 0), COALESCE(sum(blks_fetched - blks_hit) FILTER (WHERE NOT chosen), 0),
 COALESCE(sum(blks_hit) FILTER (WHERE NOT chosen), 0), false, false, false, count(*) FILTER (WHERE NOT chosen)::float8,
 count(*) FILTER (WHERE permanent), COALESCE(sum(oid::int8) FILTER (WHERE permanent), 0)::int8
 FROM s`

const indexSizesQuery = `SELECT c.oid::int8, pg_relation_size(c.oid)::float8
 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('i', 'I') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'`

type indexRow struct {
	oid                 int64
	schema, table, name string
	stats               [5]float64
	invalid, enforces   bool
	chosen              bool
	n                   float64 // indexes summed in the row
}

// indexesRead is what one scrape reads: the blocks of the chosen indexes
// and the rest, of the invalid and of the unused indexes, and their counts.
type indexesRead struct {
	series, invalid, unused     *exposition.Block
	reported, nInvalid, nUnused int
	unusedSize, folded          float64
}

func (c *indexesCollector) Update(ctx context.Context, s *Scrape, ch chan<- prometheus.Metric) error {
	_, got, err := readChosen(ctx, s, &c.choices, c.sizesTTL, indexSizesQuery, 1, c.choose, c.read)
	if err != nil {
		return err
	}
	db := s.Database
	ch <- got.series
	ch <- got.invalid
	ch <- got.unused
	indexesInvalid.Emit(ch, float64(got.nInvalid), db)
	indexesUnused.Emit(ch, float64(got.nUnused), db)
	indexesUnusedSz.Emit(ch, got.unusedSize, db)
	indexesReported.Emit(ch, float64(got.reported), db)
	indexesFolded.Emit(ch, got.folded, db)
	return nil
}

// choose reads every index's scans and chooses, with the sizes given (and
// those of indexes created since they were read), the indexes reported one
// by one. Indexes of temporary tables are never chosen.
func (c *indexesCollector) choose(ctx context.Context, s *Scrape, sizesOf func([]int64) (map[int64][]float64, error)) (*choice, error) {
	rows, err := s.Conn.Query(ctx, indexCandidatesQuery)
	if err != nil {
		return nil, err
	}
	type row struct {
		oid                 int64
		table, name         string
		permanent, enforces bool
		scans               float64
	}
	var rs []row
	var seen []int64 // the permanent objects
	ch := &choice{restSizes: make([]float64, 1)}
	for rows.Next() {
		var r row
		var schema string
		if err := rows.Scan(&r.oid, &schema, &r.table, &r.name, &r.permanent, &r.scans, &r.enforces); err != nil {
			rows.Close()
			return nil, err
		}
		r.table = schema + "." + r.table
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
	var big []int64
	cs := make([]candidate, len(rs))
	for i, r := range rs {
		var size float64
		if v := szs[r.oid]; v != nil {
			size = v[0]
		}
		if r.permanent && size >= UnusedIndexMinSize && r.scans == 0 && !r.enforces {
			big = append(big, r.oid)
		}
		cs[i] = candidate{name: r.table + "." + r.name, size: size, activity: r.scans,
			eligible: r.permanent && eligible(c.limits, r.table, size)}
	}
	var chosen []int64
	for i, ok := range pickObjects(cs, c.limits.TopN) {
		if ok {
			chosen = append(chosen, rs[i].oid)
		} else if v := szs[rs[i].oid]; v != nil {
			ch.restSizes[0] += v[0]
		}
	}
	ch.chosen, ch.nChosen, ch.big = oidArray(chosen), len(chosen), oidArray(big)
	return ch, nil
}

// read runs indexesQuery for a choice and puts each row, with its size,
// straight into the blocks: the chosen indexes, the invalid ones and the
// unused ones (up to top_n each), the rest summed, and the shape of the
// indexes now.
func (c *indexesCollector) read(ctx context.Context, s *Scrape, cur *choice) (got indexesRead, sh shape, err error) {
	rows, err := s.Conn.Query(ctx, indexesQuery, cur.chosen, cur.big)
	if err != nil {
		return got, sh, err
	}
	defer rows.Close()
	n := c.limits.TopN
	db := s.Database
	labels := c.choices.labels(s.Target.Name, db, indexShape)
	defer labels.Done()
	got.series = exposition.NewBlock(indexShape, indexBlock...)
	got.series.Grow(cur.nChosen + 1)
	got.invalid, got.unused = exposition.NewBlock(indexShape, indexInvalid), exposition.NewBlock(indexShape, indexUnused)
	var unusedCs []candidate
	var unusedIdx []*exposition.Labels
	var r indexRow
	var rsh shape
	dest := []any{&r.oid, &r.schema, &r.table, &r.name}
	for i := range r.stats {
		dest = append(dest, &r.stats[i])
	}
	dest = append(dest, &r.invalid, &r.enforces, &r.chosen, &r.n, &rsh.n, &rsh.sum)
	vals := make([]float64, len(indexBlock))
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return got, sh, err
		}
		copy(vals, r.stats[:])
		if r.oid == 0 {
			vals[len(indexStats)] = cur.restSizes[0]
			got.series.Add(labels.Get(0, db, "", "", ""), vals...)
			got.folded, sh = r.n, rsh
			continue
		}
		var size float64
		if v := cur.sizes[r.oid]; v != nil {
			size = v[0]
		}
		l := labels.Get(r.oid, db, r.schema, r.table, r.name)
		if r.invalid {
			if got.nInvalid < n {
				got.invalid.Add(l, 1)
			}
			got.nInvalid++
		}
		if r.stats[0] == 0 && !r.invalid && !r.enforces && size >= UnusedIndexMinSize {
			got.nUnused++
			got.unusedSize += size
			unusedIdx = append(unusedIdx, l)
			unusedCs = append(unusedCs, candidate{name: r.schema + "." + r.table + "." + r.name, size: size, activity: size, eligible: true})
		}
		if r.chosen {
			got.reported++
			vals[len(indexStats)] = size
			got.series.Add(l, vals...)
		}
	}
	// The largest unused indexes are named, up to n.
	for k, ok := range pickObjects(unusedCs, n) {
		if ok {
			got.unused.Add(unusedIdx[k], 1)
		}
	}
	return got, sh, rows.Err()
}
