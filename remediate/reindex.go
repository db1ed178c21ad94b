package remediate

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/jackc/pgx/v5"
)

// reindexParams are the parameters of the reindex action.
type reindexParams struct {
	// MinBloatRatio is re-checked against the index's estimated bloat.
	MinBloatRatio float64 `yaml:"min_bloat_ratio"`
	// MinIndexBytes: smaller indexes are left alone (estimates are poor there
	// and the gain is nil).
	MinIndexBytes int64 `yaml:"min_index_bytes"`
}

func (p *reindexParams) validate() error {
	if p.MinBloatRatio == 0 {
		p.MinBloatRatio = 0.5
	}
	if p.MinIndexBytes == 0 {
		p.MinIndexBytes = 1 << 20
	}
	if p.MinBloatRatio <= 0 || p.MinBloatRatio >= 1 {
		return fmt.Errorf("min_bloat_ratio is %g; use a ratio between 0 and 1 such as 0.5", p.MinBloatRatio)
	}
	if p.MinIndexBytes < 0 {
		return errors.New("min_index_bytes must not be negative")
	}
	return nil
}

func init() {
	register(&actionSpec{name: "reindex", params: func() actionParams { return &reindexParams{} }, run: runReindex})
}

// indexEstimateSQL gathers what a B-tree size estimate needs: the index's
// pages and tuples, the block size, its fillfactor, and the average width
// of its columns from pg_stats (NULL where a column has no statistics or
// the index has an expression).
const indexEstimateSQL = `
SELECT c.relpages::float8, c.reltuples::float8, current_setting('block_size')::float8,
       coalesce(substring(array_to_string(c.reloptions, ',') from 'fillfactor=([0-9]+)')::float8, 90),
       am.amname::text,
       EXISTS (SELECT 1 FROM pg_constraint WHERE conindid = c.oid AND contype = 'x'),
       (SELECT CASE WHEN bool_and(s.avg_width IS NOT NULL) THEN sum(s.avg_width)::float8 END
          FROM unnest(i.indkey::int2[]) AS k(attnum)
          LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
          LEFT JOIN pg_stats s ON s.schemaname = $2 AND s.tablename = $3 AND s.attname = a.attname)
FROM pg_class c
JOIN pg_index i ON i.indexrelid = c.oid
JOIN pg_am am ON am.oid = c.relam
WHERE c.oid = $1`

type indexEstimate struct {
	Pages, Tuples, BlockSize, FillFactor float64
	AM                                   string
	Exclusion                            bool
	KeyWidth                             *float64
}

// bloat estimates the share of the index's pages a rebuild would free:
// each leaf tuple takes an 8-byte header, its keys padded to 8 bytes and a
// 4-byte line pointer; pages carry a 24-byte header and 16 bytes of B-tree
// data and are filled to fillfactor; one more page is the metapage.
func (e *indexEstimate) bloat() float64 {
	if e.Pages <= 1 || e.KeyWidth == nil {
		return 0
	}
	tuple := 8 + math.Ceil(*e.KeyWidth/8)*8 + 4
	usable := (e.BlockSize - 24 - 16) * e.FillFactor / 100
	expected := math.Ceil(e.Tuples*tuple/usable) + 1
	if expected >= e.Pages {
		return 0
	}
	return 1 - expected/e.Pages
}

func runReindex(ctx context.Context, ex *execution) outcome {
	p := ex.params().(*reindexParams)
	conn, rel, o := ex.resolveRelation(ctx, "indexrelname", "i", "reindex")
	if o != nil {
		return *o
	}
	defer closeConn(conn)
	obj := ex.rec.Object
	check := func() (string, *outcome) {
		var e indexEstimate
		if err := conn.QueryRow(ctx, indexEstimateSQL, rel.OID, rel.TableSchema, rel.TableName).Scan(
			&e.Pages, &e.Tuples, &e.BlockSize, &e.FillFactor, &e.AM, &e.Exclusion, &e.KeyWidth); err != nil {
			return "", ptr(failed(fmt.Errorf("reading the index's size: %w", err)))
		}
		switch {
		case e.Exclusion:
			return "", ptr(refused("%s backs an exclusion constraint, which REINDEX CONCURRENTLY cannot rebuild", obj))
		case e.AM != "btree":
			return "", ptr(skipped("%s is a %s index; the bloat estimate covers B-tree indexes only", obj, e.AM))
		case e.Tuples < 0 || e.KeyWidth == nil:
			return "", ptr(skipped("%s has no statistics to estimate its bloat from; ANALYZE %s first", obj, rel.table()))
		}
		if cool, why := ex.coolingDown(obj, timeZero); cool {
			return "", ptr(skipped("%s", why))
		}
		size := int64(e.Pages * e.BlockSize)
		b := e.bloat()
		if size < p.MinIndexBytes {
			return "", ptr(skipped("condition no longer holds: the index has %d bytes, below min_index_bytes %d", size, p.MinIndexBytes))
		}
		if b < p.MinBloatRatio {
			return "", ptr(skipped("condition no longer holds: estimated bloat %.2f, threshold %.2f", b, p.MinBloatRatio))
		}
		ex.rec.Detail = fmt.Sprintf("estimated bloat %.2f of %d bytes", b, size)
		return "REINDEX INDEX CONCURRENTLY " + rel.quoted(), nil
	}
	out := ex.guarded(ctx, conn, obj, check, nil)
	if out.result == ResultFailed {
		if n := dropLeftovers(ctx, conn, rel); n != "" {
			out.reason += "; dropped the invalid leftover " + n
		}
	}
	return out
}

// dropLeftovers removes the invalid index an interrupted REINDEX
// CONCURRENTLY leaves behind (named <index>_ccnew...), so a failure does
// not leave the table with an extra index to maintain.
func dropLeftovers(ctx context.Context, conn *pgx.Conn, rel *relation) string {
	rows, err := conn.Query(ctx, `
SELECT n.nspname, c.relname FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE i.indrelid = (SELECT indrelid FROM pg_index WHERE indexrelid = $1) AND NOT i.indisvalid
  AND left(c.relname, length($2) + 6) = $2 || '_ccnew'`, rel.OID, rel.Name)
	if err != nil {
		return ""
	}
	names, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (pgx.Identifier, error) {
		var s, n string
		err := r.Scan(&s, &n)
		return pgx.Identifier{s, n}, err
	})
	if err != nil {
		return ""
	}
	var dropped string
	for _, id := range names {
		if _, err := conn.Exec(ctx, "DROP INDEX CONCURRENTLY IF EXISTS "+id.Sanitize()); err == nil {
			dropped += id.Sanitize() + " "
		}
	}
	return dropped
}
