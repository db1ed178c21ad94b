package mixin

import (
	"fmt"

	"github.com/pghardening/pg_hardening_exporter/mixin/names"
)

const alertsFile = "postgres-alerts.yml"

var availabilityAlerts = []*alertSpec{
	{
		Name: "PostgresDown", For: "1m", Severity: "critical",
		Help:    "The exporter answers but cannot reach PostgreSQL (pg_up is 0).",
		Summary: "PostgreSQL does not answer the exporter.",
		Expr:    func(b *builder, _, _ float64) string { return b.pg(names.Up) + " == 0" },
		Desc: func(_ *builder, _ float64) string {
			return "PostgreSQL at {{ $labels.instance }} (job {{ $labels.job }}) did not answer the exporter's first query (pg_up is {{ $value }}): it is down, refusing connections, or the exporter's circuit breaker is open."
		},
	},
	{
		Name: "PostgresExporterDown", For: "5m", Severity: "warning",
		Help:    "Prometheus cannot scrape the exporter at all (up is 0), so nothing about the server is known: a target of the postgres selector, or any target that served the exporter's build info within the last week, whatever its job is called (the exporter's own job beside /probe).",
		Summary: "Prometheus cannot scrape the PostgreSQL exporter.",
		Expr: func(b *builder, _, _ float64) string {
			// The exporter's own job (beside /probe) has no fixed name:
			// recognise it by the build info it served before it went down.
			return fmt.Sprintf("%s == 0\nor\n%s == 0\nand on(%s)\ngroup by (%s) (max_over_time(%s[1w]))",
				b.pg(names.PrometheusUp), b.exporter(names.PrometheusUp), b.by(), b.by(), b.exporter(names.ExporterBuildInfo))
		},
		Desc: func(_ *builder, _ float64) string {
			return "The scrape of {{ $labels.instance }} (job {{ $labels.job }}) has failed (up is {{ $value }}); every other PostgreSQL alert for this target is blind until it works again."
		},
	},
	{
		Name: "PostgresRestarted", For: "0s", Info: f(600),
		Help:    "info: the server started less than this long ago (seconds or a duration).",
		Summary: "PostgreSQL restarted recently.",
		Expr: func(b *builder, thr, _ float64) string {
			return fmt.Sprintf("time() - %s < %s", b.pg(names.PostmasterStart), num(thr))
		},
		Desc: func(_ *builder, thr float64) string {
			return "PostgreSQL at {{ $labels.instance }} started {{ $value | humanizeDuration }} ago (alerting for " + dur(thr) + " after a start); check whether the restart was planned."
		},
	},
	{
		Name: "PostgresCollectorFailing", For: "15m", Severity: "warning",
		Help:    "A collector has reported pg_scrape_collector_success 0 for the whole duration.",
		Summary: "An exporter collector keeps failing.",
		Expr:    func(b *builder, _, _ float64) string { return b.pg(names.CollectorSuccess) + " == 0" },
		Desc: func(_ *builder, _ float64) string {
			return "Collector {{ $labels.collector }}{{ if $labels.datname }} in database {{ $labels.datname }}{{ end }} on {{ $labels.instance }} has failed every scrape (success {{ $value }}); its metrics and the alerts built on them are missing."
		},
	},
	{
		Name: "PostgresExporterConfigReloadFailed", For: "5m", Severity: "warning",
		Help:    "The exporter's last configuration reload failed; it keeps running on the previous configuration. Read under any job (the exporter selector, empty by default).",
		Summary: "The exporter could not reload its configuration.",
		Expr:    func(b *builder, _, _ float64) string { return b.exporter(names.ReloadSuccessful) + " == 0" },
		Desc: func(_ *builder, _ float64) string {
			return "The exporter at {{ $labels.instance }} rejected its new configuration file (reload success {{ $value }}) and still runs the previous one."
		},
	},
	{
		Name: "PostgresFailover", For: "0s", Severity: "warning",
		Help:    "A server that was a replica in the last 10 minutes now accepts writes.",
		Summary: "A PostgreSQL replica was promoted to primary.",
		Expr: func(b *builder, _, _ float64) string {
			return fmt.Sprintf("max_over_time(%s[10m]) == 1\nand\n%s == 0", b.pg(names.IsReplica), b.pg(names.IsReplica))
		},
		Desc: func(_ *builder, _ float64) string {
			return "{{ $labels.instance }} was a replica within the last 10 minutes and is now a primary: a failover happened (value {{ $value }}); make sure clients and the old primary followed."
		},
	},
	{
		Name: "PostgresSplitBrain", For: "1m", Severity: "critical",
		Help:    "More than one server with the same cluster label accepts writes. Series without the cluster label are never compared.",
		Summary: "More than one PostgreSQL primary in one cluster.",
		Expr: func(b *builder, _, _ float64) string {
			by := b.clusterBy()
			return fmt.Sprintf("count by (%s) (%s == 0) > 1", by, b.pg(names.IsReplica, b.c.ClusterLabel+`!=""`))
		},
		Desc: func(b *builder, _ float64) string {
			l := b.c.ClusterLabel
			return "{{ $value }} servers with " + l + " {{ $labels." + l + " }} are primaries at once; writes may be diverging."
		},
	},
	{
		Name: "PostgresNoPrimary", For: "1m", Severity: "critical",
		Help:    "Every server reporting under a cluster label is a standby (or the primary reports nothing): the cluster takes no writes. Series without the cluster label are never compared.",
		Summary: "A PostgreSQL cluster has no writable primary.",
		Expr: func(b *builder, _, _ float64) string {
			by := b.clusterBy()
			sel := b.pg(names.IsReplica, b.c.ClusterLabel+`!=""`)
			return fmt.Sprintf("count by (%s) (%s)\nunless on(%s)\ncount by (%s) (%s == 0)", by, sel, by, by, sel)
		},
		Desc: func(b *builder, _ float64) string {
			l := b.c.ClusterLabel
			return "All {{ $value }} servers reporting with " + l + " {{ $labels." + l + " }} are standbys: no primary accepts writes (it is down, unobserved, or was demoted without a promotion)."
		},
	},
}

var connectionAlerts = []*alertSpec{
	{
		Name: "PostgresConnectionsHigh", For: "5m", Warning: f(0.8), Critical: f(0.95),
		Help:    "Share (0-1) of max_connections minus reserved slots that client sessions use.",
		Summary: "PostgreSQL is running out of connection slots.",
		Expr: func(b *builder, thr, _ float64) string {
			return names.RecConnectionsRatio + " >= " + num(thr)
		},
		Desc: func(_ *builder, thr float64) string {
			return "{{ $labels.instance }} uses {{ $value | humanizePercentage }} of the connection slots open to ordinary roles (threshold " + pct(thr) + "); new sessions will soon be refused."
		},
	},
	{
		Name: "PostgresPoolUtilizationHigh", For: "5m", Warning: f(0.7),
		Help:    "Share (0-1) of a configured service pool's max_connections in use (70 % by default: above it a burst can exhaust the pool).",
		Summary: "A service's connection pool is nearly full.",
		Expr: func(b *builder, thr, _ float64) string {
			return names.RecPoolUtilization + " >= " + num(thr)
		},
		Desc: func(_ *builder, thr float64) string {
			return "Pool {{ $labels.pool }} on {{ $labels.instance }} uses {{ $value | humanizePercentage }} of its configured maximum (threshold " + pct(thr) + ")."
		},
	},
	{
		Name: "PostgresPoolExhausted", For: "2m", Critical: f(1),
		Help:    "Share (0-1) of a configured service pool's max_connections in use at which it counts as exhausted.",
		Summary: "A service's connection pool is exhausted.",
		Expr: func(b *builder, thr, _ float64) string {
			return names.RecPoolUtilization + " >= " + num(thr)
		},
		Desc: func(_ *builder, thr float64) string {
			return "Pool {{ $labels.pool }} on {{ $labels.instance }} uses {{ $value | humanizePercentage }} of its configured maximum (threshold " + pct(thr) + "); its clients are waiting for or being refused connections."
		},
	},
	{
		Name: "PostgresConnectionsBypassPool", For: "15m", Info: f(1),
		Help:    "info: client sessions matching no configured pool, per application_name; silent when no pool is configured.",
		Summary: "Client sessions connect outside every configured pool.",
		Expr: func(b *builder, thr, _ float64) string {
			return fmt.Sprintf("sum by (%s) (%s) >= %s\nand on(%s)\ncount by (%s) (%s)",
				b.by("application_name"), b.pg(names.PoolUnmatched), num(thr), b.by(), b.by(), b.pg(names.PoolMax))
		},
		Desc: func(_ *builder, thr float64) string {
			return "{{ $value }} sessions of application {{ $labels.application_name }} on {{ $labels.instance }} match no configured pool (threshold " + num(thr) + "); every service should connect through its pool."
		},
	},
	{
		Name: "PostgresConnectionCapacityForecast", For: "1h", Warning: f(0.9), Plan: "client sessions",
		Help:    "Share (0-1) of the server's own usable connection slots (max_connections minus reserved) the last day's trend reaches within 7 days. plan: an absolute number of client sessions to alert on as well (the capacity plan; unset by default).",
		Summary: "Connections will outgrow the server's connection slots within a week.",
		Expr: func(b *builder, thr, _ float64) string {
			forecast := fmt.Sprintf("predict_linear(%s[1d], 604800)", b.pg(names.ConnsInUse))
			return fmt.Sprintf("%s\n>= on(%s)\n(max by (%s) (%s) - max by (%s) (%s)) * %s",
				forecast, b.by(), b.by(), b.pg(names.ConnsMax), b.by(), b.pg(names.ConnsReserved), num(thr)) + b.orPlan(forecast)
		},
		Desc: func(b *builder, thr float64) string {
			return "At the last day's trend {{ $labels.instance }} will have {{ $value | humanize }} client sessions in 7 days, over " + pct(thr) + " of its usable max_connections" + b.planText(" sessions") + "."
		},
	},
	{
		Name: "PostgresStorageCapacityForecast", For: "1h", Warning: f(0.8), Plan: "bytes",
		Help:    "Share (0-1) of the data directory's filesystem that the databases' size reaches within 7 days at the last day's trend (needs the disk collector on the database host). plan: an absolute size in bytes to alert on as well, for servers whose filesystem the exporter cannot see (the capacity plan; unset by default).",
		Summary: "Database size will outgrow the server's storage within a week.",
		Expr: func(b *builder, thr, _ float64) string {
			forecast := "predict_linear(" + names.RecDatabaseSize + "[1d], 604800)"
			return fmt.Sprintf("%s\n>= on(%s)\nmax by (%s) (%s) * %s",
				forecast, b.by(), b.by(), b.pg(names.FSSize, `usage="data"`), num(thr)) + b.orPlan(forecast)
		},
		Desc: func(b *builder, thr float64) string {
			return "At the last day's trend the databases of {{ $labels.instance }} will hold {{ $value | humanize1024 }}B in 7 days, over " + pct(thr) + " of the data directory's filesystem" + b.planText(" bytes") + "."
		},
	},
	{
		Name: "PostgresThroughputCapacityForecast", For: "1h", Warning: f(1.5), Plan: "statements per second",
		Help:    "Factor over the busiest 5 minutes of the last 28 days that the statement rate reaches within 7 days at the last day's trend (1.5 by default: load the server has never carried). plan: an absolute rate in statements per second to alert on as well (the capacity plan; unset by default).",
		Summary: "Query throughput will outgrow what the server has carried within a week.",
		Expr: func(b *builder, thr, _ float64) string {
			forecast := "predict_linear(" + names.RecCallsRate5m + "[1d], 604800)"
			return fmt.Sprintf("%s\n>= on(%s)\nmax_over_time(%s[28d]) * %s",
				forecast, b.by(), names.RecCallsRate5m, num(thr)) + b.orPlan(forecast)
		},
		Desc: func(b *builder, thr float64) string {
			return "At the last day's trend {{ $labels.instance }} will run {{ $value | humanize }} statements per second in 7 days, over " + num(thr) + " times its busiest 5 minutes of the last 28 days" + b.planText(" statements per second") + "."
		},
	},
}

var transactionAlerts = []*alertSpec{
	{
		Name: "PostgresLongRunningTransaction", For: "0s", Warning: f(30), Critical: f(300),
		Help:    "Age in seconds of the oldest open transaction per database (30 s by default, warning, and 5 minutes, critical: an open transaction holds its locks and keeps vacuum from cleaning up).",
		Summary: "A transaction has been open for too long.",
		Expr: func(b *builder, thr, _ float64) string {
			return fmt.Sprintf("max by (%s) (%s) >= %s", b.by("datname"), b.pg(names.MaxTxDuration), num(thr))
		},
		Desc: func(_ *builder, thr float64) string {
			return "The oldest transaction in database {{ $labels.datname }} on {{ $labels.instance }} has been open for {{ $value | humanizeDuration }} (threshold " + dur(thr) + "); it holds locks and keeps vacuum from cleaning up."
		},
	},
	{
		Name: "PostgresIdleInTransaction", For: "0s", Warning: f(60), Critical: f(300),
		Help:    "Seconds the longest-idle session inside a transaction has been idle, per database.",
		Summary: "A session sits idle inside an open transaction.",
		Expr: func(b *builder, thr, _ float64) string {
			return fmt.Sprintf("max by (%s) (%s) >= %s", b.by("datname"), b.pg(names.IdleInTxDuration), num(thr))
		},
		Desc: func(_ *builder, thr float64) string {
			return "A session in database {{ $labels.datname }} on {{ $labels.instance }} has been idle in a transaction for {{ $value | humanizeDuration }} (threshold " + dur(thr) + "); its locks and snapshot stay held."
		},
	},
	{
		Name: "PostgresBlockingSessions", For: "2m", Warning: f(1),
		Help:    "Sessions waiting for a lock that another session holds.",
		Summary: "Sessions are blocked by other sessions' locks.",
		Expr: func(b *builder, thr, _ float64) string {
			return fmt.Sprintf("sum by (%s) (%s) >= %s", b.by(), b.pg(names.BlockedSessions), num(thr))
		},
		Desc: func(_ *builder, thr float64) string {
			return "{{ $value }} sessions on {{ $labels.instance }} are blocked by locks other sessions hold (threshold " + num(thr) + ")."
		},
	},
	{
		Name: "PostgresLockWaitsHigh", For: "5m", Warning: f(10),
		Help:    "Processes waiting for a heavyweight lock.",
		Summary: "Many sessions are waiting for locks.",
		Expr: func(b *builder, thr, _ float64) string {
			return fmt.Sprintf("sum by (%s) (%s) >= %s", b.by(), b.pg(names.LocksWaiting), num(thr))
		},
		Desc: func(_ *builder, thr float64) string {
			return "{{ $value }} processes on {{ $labels.instance }} are waiting for a lock (threshold " + num(thr) + ")."
		},
	},
	{
		Name: "PostgresDeadlocksHigh", For: "0s", Warning: f(5),
		Help:    "Deadlocks detected in a database over the last 10 minutes.",
		Summary: "PostgreSQL is detecting deadlocks.",
		Expr: func(b *builder, thr, _ float64) string {
			return fmt.Sprintf("sum by (%s) (increase(%s[10m])) >= %s", b.by("datname"), b.pg(names.Deadlocks), num(thr))
		},
		Desc: func(_ *builder, thr float64) string {
			return "Database {{ $labels.datname }} on {{ $labels.instance }} had {{ $value | humanize }} deadlocks in the last 10 minutes (threshold " + num(thr) + "); each one rolled back a transaction."
		},
	},
	{
		Name: "PostgresRollbackRatioHigh", For: "10m", Warning: f(0.05), Min: f(1),
		Help:    "Share (0-1) of transactions rolled back over 5 minutes; min: the transactions per second below which the ratio is ignored.",
		Summary: "Many PostgreSQL transactions roll back.",
		Expr: func(b *builder, thr, min float64) string {
			return b.busy(names.RecRollbackRatio5m+" >= "+num(thr), names.RecXactRate5m, min)
		},
		Desc: func(_ *builder, thr float64) string {
			return "{{ $value | humanizePercentage }} of the transactions on {{ $labels.instance }} rolled back over the last 5 minutes (threshold " + pct(thr) + "); serialization failures, deadlock victims and application errors end here."
		},
	},
	{
		Name: "PostgresXidWraparound", For: "5m", Warning: f(0.5), Critical: f(0.75),
		Help:    "Share (0-1) of the 2^31 transaction ID space a database's oldest unfrozen XID has used.",
		Summary: "A database is approaching transaction ID wraparound.",
		Expr: func(b *builder, thr, _ float64) string {
			return fmt.Sprintf("max by (%s) (%s) / 2147483648 >= %s", b.by("datname"), b.pg(names.XidAge), num(thr))
		},
		Desc: func(_ *builder, thr float64) string {
			return "Database {{ $labels.datname }} on {{ $labels.instance }} has used {{ $value | humanizePercentage }} of its transaction ID space (threshold " + pct(thr) + "); at 100 % PostgreSQL stops accepting writes."
		},
	},
	{
		Name: "PostgresMultixactWraparound", For: "5m", Warning: f(0.5), Critical: f(0.75),
		Help:    "Share (0-1) of the 2^31 multixact ID space a database's oldest multixact (datminmxid) has used. Row locks shared by several transactions (foreign keys, SELECT FOR SHARE) consume multixacts, which wrap around like transaction IDs and stop writes the same way.",
		Summary: "A database is approaching multixact ID wraparound.",
		Expr: func(b *builder, thr, _ float64) string {
			return fmt.Sprintf("max by (%s) (%s) / 2147483648 >= %s", b.by("datname"), b.pg(names.MxidAge), num(thr))
		},
		Desc: func(_ *builder, thr float64) string {
			return "Database {{ $labels.datname }} on {{ $labels.instance }} has used {{ $value | humanizePercentage }} of its multixact ID space (threshold " + pct(thr) + "); at 100 % PostgreSQL stops accepting writes until the database is vacuumed."
		},
	},
}
