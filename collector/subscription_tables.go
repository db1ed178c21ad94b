package collector

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pghardening/pg_hardening_exporter/internal/metric"
)

const srcSubRel = "pg_subscription_rel"

var (
	subTables = metric.Gauge("pg_subscription_tables",
		"Tables of a subscription in this database by synchronization state: init, data_copy, finished_copy (14+), sync, ready.",
		srcSubRel, "13+", "datname", "subname", "state")
	subTableNotReady = metric.Gauge("pg_subscription_table_not_ready",
		"1 for each table of a subscription that is not yet ready (its initial copy or catch-up is still running or failed), with its state; up to objects.schema.max_objects per database, by name.",
		srcSubRel, "13+", "datname", "subname", "schemaname", "relname", "state")
)

// subTableStates maps pg_subscription_rel.srsubstate to the state label.
var subTableStates = []struct{ code, name string }{
	{"i", "init"}, {"d", "data_copy"}, {"f", "finished_copy"}, {"s", "sync"}, {"r", "ready"},
}

func subTableState(code string) string {
	for _, st := range subTableStates {
		if st.code == code {
			return st.name
		}
	}
	return code
}

func init() {
	Register(&Spec{
		Name:    "subscription_tables",
		Help:    "Synchronization state of the tables of each logical replication subscription, from pg_subscription_rel (per database; nothing where a database has no subscription)",
		Scope:   Database,
		Default: true,
		Metrics: []*metric.Metric{subTables, subTableNotReady},
		New: func(o Options) (Collector, error) {
			return &subscriptionTablesCollector{max: o.Config.Objects.Schema.MaxObjects}, nil
		},
	})
}

type subscriptionTablesCollector struct{ max int }

// pg_subscription is shared by every database, pg_subscription_rel is not:
// each database holds the tables of its own subscriptions. Only the columns
// of pg_subscription open to every role are read, and 13 does not open oid:
// pg_stat_subscription, which lists every subscription, maps names to oids.
// A name is unique within a database, and a same-named subscription of
// another database has no rows in this database's pg_subscription_rel.
const subscriptionTablesQuery = `SELECT s.subname::text, COALESCE(r.srsubstate::text, ''), COALESCE(n.nspname::text, ''), COALESCE(c.relname::text, '')
 FROM pg_subscription s
 LEFT JOIN (SELECT DISTINCT subid, subname FROM pg_stat_subscription) w ON w.subname = s.subname
 LEFT JOIN pg_subscription_rel r ON r.srsubid = w.subid
 LEFT JOIN pg_class c ON c.oid = r.srrelid
 LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())
 ORDER BY 1, 3, 4`

func (c *subscriptionTablesCollector) Update(ctx context.Context, s *Scrape, ch chan<- prometheus.Metric) error {
	rows, err := s.Conn.Query(ctx, subscriptionTablesQuery)
	if err != nil {
		return err
	}
	defer rows.Close()
	type key struct{ sub, state string }
	counts := map[key]float64{}
	var subs []string
	named := 0
	for rows.Next() {
		var sub, code, schema, rel string
		if err := rows.Scan(&sub, &code, &schema, &rel); err != nil {
			return err
		}
		if len(subs) == 0 || subs[len(subs)-1] != sub {
			subs = append(subs, sub)
		}
		if code == "" {
			continue // a subscription without tables
		}
		state := subTableState(code)
		counts[key{sub, state}]++
		if code != "r" && named < c.max {
			subTableNotReady.Emit(ch, 1, s.Database, sub, schema, rel, state)
			named++
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(subs) == 0 {
		return ErrNotApplicable
	}
	for _, sub := range subs {
		for _, st := range subTableStates {
			if st.code == "f" && s.Facts.VersionNum < 140000 {
				continue
			}
			subTables.Emit(ch, counts[key{sub, st.name}], s.Database, sub, st.name)
			delete(counts, key{sub, st.name})
		}
	}
	// A state a newer server adds keeps its own series.
	for k, n := range counts {
		subTables.Emit(ch, n, s.Database, k.sub, k.state)
	}
	return nil
}
