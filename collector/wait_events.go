package collector

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pghardening/pg_hardening_exporter/internal/metric"
	"github.com/pghardening/pg_hardening_exporter/internal/target"
)

var (
	waitSessions = metric.Gauge("pg_stat_activity_wait_event_sessions",
		"Active sessions (state active, the exporter's own left out; autovacuum and other workers included) by database, wait event type and wait event; both are empty for a session that is not waiting (running, or in a wait PostgreSQL does not instrument). Bounded by activity.max_wait_events: the most common keep their labels, the rest are added up in one series whose labels are all __other__.",
		srcActivity, "13+", "datname", "wait_event_type", "wait_event")
	waitActive = metric.Gauge("pg_stat_activity_active_sessions",
		"Active sessions (state active), the exporter's own left out: the sum of pg_stat_activity_wait_event_sessions.",
		srcActivity, "13+")
)

func init() {
	Register(&Spec{
		Name:    "wait_events",
		Help:    "Active sessions by database, wait event type and wait event from pg_stat_activity, the most common up to activity.max_wait_events",
		Scope:   Cluster,
		Default: true,
		Metrics: []*metric.Metric{waitSessions, waitActive},
		New: func(o Options) (Collector, error) {
			return &waitEventsCollector{limit: o.Config.Activity.MaxWaitEvents}, nil
		},
	})
}

type waitEventsCollector struct{ limit int }

// Autovacuum workers, WAL senders and parallel workers have a state too and
// are counted with the client sessions. The exporter's own sessions are
// active while they scrape and would count themselves.
const waitEventsQuery = `SELECT COALESCE(datname, ''), COALESCE(wait_event_type, ''), COALESCE(wait_event, ''), count(*)::float8
 FROM pg_stat_activity
 WHERE state = 'active' AND application_name IS DISTINCT FROM '` + target.ApplicationName + `'
 GROUP BY 1, 2, 3`

func (c *waitEventsCollector) Update(ctx context.Context, s *Scrape, ch chan<- prometheus.Metric) error {
	rows, err := s.Conn.Query(ctx, waitEventsQuery)
	if err != nil {
		return err
	}
	defer rows.Close()
	events := newBreakdown(3)
	var total float64
	for rows.Next() {
		var db, typ, event string
		var n float64
		if err := rows.Scan(&db, &typ, &event, &n); err != nil {
			return err
		}
		events.add(n, db, typ, event)
		total += n
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, set := range events.top(c.limit) {
		waitSessions.Emit(ch, set.value, set.labels...)
	}
	waitActive.Emit(ch, total)
	return nil
}
