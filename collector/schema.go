package collector

import (
	"context"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pghardening/pg_hardening_exporter/internal/metric"
)

var (
	schemaIssues = metric.Gauge("pg_schema_issues", "Schema problems in the database by kind: table_without_primary_key, foreign_key_without_index, constraint_not_validated, trigger_disabled.", "pg_constraint, pg_index, pg_trigger", "13+", "datname", "issue")
	schemaIssue  = metric.Gauge("pg_schema_issue", "1 for each object with a schema problem (object is the constraint or trigger name, empty for a table); up to objects.schema.max_objects per kind, by name.", "pg_constraint, pg_index, pg_trigger", "13+", "datname", "issue", "schemaname", "relname", "object")
	seqUsed      = metric.Gauge("pg_sequence_used_ratio", "Share of the sequence's range already used; the most used up to objects.schema.max_objects per database.", "pg_sequences", "13+", "datname", "schemaname", "sequencename")
	seqMaxUsed   = metric.Gauge("pg_sequences_max_used_ratio", "The highest pg_sequence_used_ratio among the sequences the exporter may read.", "pg_sequences", "13+", "datname")
	seqHidden    = metric.Gauge("pg_sequences_unreadable", "Sequences whose value the exporter's role may not read (grant USAGE or SELECT on them, or pg_read_all_data on 14+).", "pg_sequences", "13+", "datname")
)

// SchemaIssueKinds are the values of the issue label.
var SchemaIssueKinds = []string{"table_without_primary_key", "foreign_key_without_index", "constraint_not_validated", "trigger_disabled"}

func init() {
	Register(&Spec{
		Name:    "schema",
		Help:    "Schema health: tables without a primary key, foreign keys without an index, unvalidated constraints, disabled triggers, sequences near exhaustion",
		Scope:   Database,
		Default: true,
		TTL:     5 * time.Minute,
		Metrics: []*metric.Metric{schemaIssues, schemaIssue, seqUsed, seqMaxUsed, seqHidden},
		New: func(o Options) (Collector, error) {
			return &schemaCollector{max: o.Config.Objects.Schema.MaxObjects}, nil
		},
	})
}

type schemaCollector struct{ max int }

const userSchemas = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast' AND n.nspname !~ '^pg_temp_'`

// A foreign key is supported when some valid index's leading columns are
// exactly the key's columns, in any order.
const schemaQuery = `SELECT 'table_without_primary_key', n.nspname, c.relname, ''
 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND ` + userSchemas + `
 AND NOT EXISTS (SELECT 1 FROM pg_constraint p WHERE p.conrelid = c.oid AND p.contype = 'p')
UNION ALL
SELECT 'foreign_key_without_index', n.nspname, c.relname, f.conname
 FROM pg_constraint f JOIN pg_class c ON c.oid = f.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE f.contype = 'f' AND ` + userSchemas + `
 AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = f.conrelid AND i.indisvalid AND i.indpred IS NULL
  AND (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(f.conkey)] @> f.conkey
  AND (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(f.conkey)] <@ f.conkey)
UNION ALL
SELECT 'constraint_not_validated', n.nspname, c.relname, k.conname
 FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE NOT k.convalidated AND ` + userSchemas + `
UNION ALL
SELECT 'trigger_disabled', n.nspname, c.relname, t.tgname
 FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE NOT t.tgisinternal AND t.tgenabled = 'D' AND ` + userSchemas + `
ORDER BY 1, 2, 3, 4`

// last_value is NULL both for a sequence never used and for one the role may
// not read; the privilege check tells them apart.
const sequencesQuery = `SELECT s.schemaname, s.sequencename,
 has_sequence_privilege(format('%I.%I', s.schemaname, s.sequencename), 'SELECT,USAGE'),
 COALESCE(CASE WHEN s.increment_by > 0 THEN (s.last_value::float8 - s.min_value::float8)
   ELSE (s.max_value::float8 - s.last_value::float8) END / NULLIF(s.max_value::float8 - s.min_value::float8, 0), 0)
 FROM pg_sequences s`

type seqRow struct {
	schema, name string
	ratio        float64
}

func (c *schemaCollector) Update(ctx context.Context, s *Scrape, ch chan<- prometheus.Metric) error {
	db := s.Database
	rows, err := s.Conn.Query(ctx, schemaQuery)
	if err != nil {
		return err
	}
	counts := map[string]int{}
	for rows.Next() {
		var issue, schema, rel, obj string
		if err := rows.Scan(&issue, &schema, &rel, &obj); err != nil {
			rows.Close()
			return err
		}
		if counts[issue] < c.max {
			schemaIssue.Emit(ch, 1, db, issue, schema, rel, obj)
		}
		counts[issue]++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, k := range SchemaIssueKinds {
		schemaIssues.Emit(ch, float64(counts[k]), db, k)
	}

	rows, err = s.Conn.Query(ctx, sequencesQuery)
	if err != nil {
		return err
	}
	var seqs []seqRow
	hidden := 0
	for rows.Next() {
		var r seqRow
		var readable bool
		if err := rows.Scan(&r.schema, &r.name, &readable, &r.ratio); err != nil {
			rows.Close()
			return err
		}
		if !readable {
			hidden++
			continue
		}
		seqs = append(seqs, r)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	sort.Slice(seqs, func(i, j int) bool {
		if seqs[i].ratio != seqs[j].ratio {
			return seqs[i].ratio > seqs[j].ratio
		}
		return seqs[i].schema+"."+seqs[i].name < seqs[j].schema+"."+seqs[j].name
	})
	maxRatio := 0.0
	for i, r := range seqs {
		if i == 0 {
			maxRatio = r.ratio
		}
		if i < c.max {
			seqUsed.Emit(ch, r.ratio, db, r.schema, r.name)
		}
	}
	seqMaxUsed.Emit(ch, maxRatio, db)
	seqHidden.Emit(ch, float64(hidden), db)
	return nil
}
