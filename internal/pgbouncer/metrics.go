package pgbouncer

import "github.com/pghardening/pg_hardening_exporter/internal/metric"

// column maps one numeric column of a SHOW command to a family. scale turns
// PgBouncer's unit into the base unit (microseconds to seconds).
type column struct {
	name   string
	metric *metric.Metric
	scale  float64
}

func gauge(name, help, source, versions string, labels ...string) *metric.Metric {
	return metric.Gauge(name, help, source, versions, append([]string{"pgbouncer"}, labels...)...)
}

func counter(name, help, source, versions string, labels ...string) *metric.Metric {
	return metric.Counter(name, help, source, versions, append([]string{"pgbouncer"}, labels...)...)
}

// Names follow prometheus-community/pgbouncer_exporter where it has one, so
// its dashboards and alerts keep working.
var (
	upMetric       = gauge("pgbouncer_up", "1 if the PgBouncer's admin console answered this scrape, 0 if not.", "SHOW VERSION", "1.x")
	durationMetric = gauge("pgbouncer_scrape_duration_seconds", "Time this scrape of the PgBouncer took.", "exporter", "1.x")
	commandSuccess = gauge("pgbouncer_scrape_command_success", "1 if the SHOW command succeeded on this scrape, 0 if it failed.", "exporter", "1.x", "command")
	versionInfo    = gauge("pgbouncer_version_info", "Always 1; the version label carries the PgBouncer version.", "SHOW VERSION", "1.x", "version")

	poolLabels  = []string{"database", "user"}
	poolColumns = []column{
		{"cl_active", gauge("pgbouncer_pools_client_active_connections", "Client connections linked to a server connection and able to run queries.", "SHOW POOLS", "1.x", poolLabels...), 1},
		{"cl_waiting", gauge("pgbouncer_pools_client_waiting_connections", "Client connections that sent a query and wait for a server connection.", "SHOW POOLS", "1.x", poolLabels...), 1},
		{"cl_active_cancel_req", gauge("pgbouncer_pools_client_active_cancel_connections", "Client connections whose cancel request was forwarded to the server.", "SHOW POOLS", "1.18+", poolLabels...), 1},
		{"cl_waiting_cancel_req", gauge("pgbouncer_pools_client_waiting_cancel_connections", "Client connections whose cancel request waits to be forwarded.", "SHOW POOLS", "1.18+", poolLabels...), 1},
		{"sv_active", gauge("pgbouncer_pools_server_active_connections", "Server connections linked to a client connection.", "SHOW POOLS", "1.x", poolLabels...), 1},
		{"sv_active_cancel", gauge("pgbouncer_pools_server_active_cancel_connections", "Server connections forwarding a cancel request.", "SHOW POOLS", "1.18+", poolLabels...), 1},
		{"sv_being_canceled", gauge("pgbouncer_pools_server_being_canceled_connections", "Server connections whose query is being cancelled, not yet reusable.", "SHOW POOLS", "1.18+", poolLabels...), 1},
		{"sv_idle", gauge("pgbouncer_pools_server_idle_connections", "Server connections idle and ready for a client query.", "SHOW POOLS", "1.x", poolLabels...), 1},
		{"sv_used", gauge("pgbouncer_pools_server_used_connections", "Server connections idle longer than server_check_delay, to be checked before reuse.", "SHOW POOLS", "1.x", poolLabels...), 1},
		{"sv_tested", gauge("pgbouncer_pools_server_testing_connections", "Server connections running server_reset_query or server_check_query.", "SHOW POOLS", "1.x", poolLabels...), 1},
		{"sv_login", gauge("pgbouncer_pools_server_login_connections", "Server connections logging in.", "SHOW POOLS", "1.x", poolLabels...), 1},
	}
	poolMaxWait = gauge("pgbouncer_pools_client_maxwait_seconds", "How long the oldest waiting client has waited for a server connection (maxwait plus maxwait_us).", "SHOW POOLS", "1.x", poolLabels...)

	statsColumns = []column{
		{"total_query_count", counter("pgbouncer_stats_queries_pooled_total", "Queries pooled.", "SHOW STATS", "1.x", "database"), 1},
		{"total_query_time", counter("pgbouncer_stats_queries_duration_seconds_total", "Time spent by PgBouncer connected to PostgreSQL running queries.", "SHOW STATS", "1.x", "database"), 1e-6},
		{"total_received", counter("pgbouncer_stats_received_bytes_total", "Network traffic received from clients.", "SHOW STATS", "1.x", "database"), 1},
		{"total_sent", counter("pgbouncer_stats_sent_bytes_total", "Network traffic sent to clients.", "SHOW STATS", "1.x", "database"), 1},
		{"total_wait_time", counter("pgbouncer_stats_client_wait_seconds_total", "Time clients spent waiting for a server connection.", "SHOW STATS", "1.x", "database"), 1e-6},
		{"total_xact_count", counter("pgbouncer_stats_sql_transactions_pooled_total", "Transactions pooled.", "SHOW STATS", "1.x", "database"), 1},
		{"total_xact_time", counter("pgbouncer_stats_server_in_transaction_seconds_total", "Time spent by PgBouncer connected to PostgreSQL inside a transaction, running queries or idle.", "SHOW STATS", "1.x", "database"), 1e-6},
		{"total_server_assignment_count", counter("pgbouncer_stats_server_assignments_total", "Times a server connection was assigned to a client.", "SHOW STATS", "1.23+", "database"), 1},
		{"total_client_parse_count", counter("pgbouncer_stats_client_parses_total", "Prepared statements clients created (protocol-level Parse messages).", "SHOW STATS", "1.21+", "database"), 1},
		{"total_server_parse_count", counter("pgbouncer_stats_server_parses_total", "Prepared statements PgBouncer created on server connections.", "SHOW STATS", "1.21+", "database"), 1},
		{"total_bind_count", counter("pgbouncer_stats_binds_total", "Prepared statements clients executed (Bind messages).", "SHOW STATS", "1.21+", "database"), 1},
	}

	databaseLabels  = []string{"name", "host", "port", "database", "force_user", "pool_mode"}
	databaseColumns = []column{
		{"pool_size", gauge("pgbouncer_databases_pool_size", "Maximum server connections of each pool of the database.", "SHOW DATABASES", "1.x", databaseLabels...), 1},
		{"min_pool_size", gauge("pgbouncer_databases_min_pool_size", "Server connections kept open at least.", "SHOW DATABASES", "1.x", databaseLabels...), 1},
		{"reserve_pool", gauge("pgbouncer_databases_reserve_pool", "Extra server connections allowed when clients wait too long.", "SHOW DATABASES", "1.x", databaseLabels...), 1},
		{"max_connections", gauge("pgbouncer_databases_max_connections", "Maximum server connections to the database (0: unlimited).", "SHOW DATABASES", "1.x", databaseLabels...), 1},
		{"current_connections", gauge("pgbouncer_databases_current_connections", "Server connections to the database now.", "SHOW DATABASES", "1.x", databaseLabels...), 1},
		{"max_client_connections", gauge("pgbouncer_databases_max_client_connections", "Maximum client connections to the database (0: unlimited).", "SHOW DATABASES", "1.24+", databaseLabels...), 1},
		{"current_client_connections", gauge("pgbouncer_databases_current_client_connections", "Client connections to the database now.", "SHOW DATABASES", "1.24+", databaseLabels...), 1},
		{"paused", gauge("pgbouncer_databases_paused", "1 if the database is paused (PAUSE).", "SHOW DATABASES", "1.x", databaseLabels...), 1},
		{"disabled", gauge("pgbouncer_databases_disabled", "1 if the database is disabled (DISABLE).", "SHOW DATABASES", "1.x", databaseLabels...), 1},
	}

	listItems = map[string]*metric.Metric{}
	listOrder = []string{"databases", "users", "peers", "pools", "peer_pools", "free_clients", "used_clients", "login_clients",
		"free_servers", "used_servers", "dns_names", "dns_zones", "dns_queries", "dns_pending"}

	configColumns = []column{
		{"max_client_conn", gauge("pgbouncer_config_max_client_connections", "Setting max_client_conn: client connections PgBouncer accepts at most.", "SHOW CONFIG", "1.x"), 1},
		{"max_user_connections", gauge("pgbouncer_config_max_user_connections", "Setting max_user_connections: server connections per user at most (0: unlimited).", "SHOW CONFIG", "1.x"), 1},
		{"max_db_connections", gauge("pgbouncer_config_max_db_connections", "Setting max_db_connections: server connections per database at most (0: unlimited).", "SHOW CONFIG", "1.x"), 1},
		{"default_pool_size", gauge("pgbouncer_config_default_pool_size", "Setting default_pool_size: server connections per user/database pool.", "SHOW CONFIG", "1.x"), 1},
		{"min_pool_size", gauge("pgbouncer_config_min_pool_size", "Setting min_pool_size: server connections kept open per pool.", "SHOW CONFIG", "1.x"), 1},
		{"reserve_pool_size", gauge("pgbouncer_config_reserve_pool_size", "Setting reserve_pool_size: extra connections per pool for waiting clients.", "SHOW CONFIG", "1.x"), 1},
		{"reserve_pool_timeout", gauge("pgbouncer_config_reserve_pool_timeout_seconds", "Setting reserve_pool_timeout: how long a client waits before the reserve pool is used.", "SHOW CONFIG", "1.x"), 1},
		{"query_wait_timeout", gauge("pgbouncer_config_query_wait_timeout_seconds", "Setting query_wait_timeout: how long a query may wait for a server connection (0: forever).", "SHOW CONFIG", "1.x"), 1},
		{"max_prepared_statements", gauge("pgbouncer_config_max_prepared_statements", "Setting max_prepared_statements: prepared statements tracked per connection (0: off).", "SHOW CONFIG", "1.21+"), 1},
	}
)

func init() {
	for _, item := range listOrder {
		listItems[item] = gauge("pgbouncer_lists_"+item, "Count of "+item+" in PgBouncer's internal lists.", "SHOW LISTS", "1.x")
	}
}

// Metrics are the families the PgBouncer collector can emit, for docs/metrics.md.
func Metrics() []*metric.Metric {
	out := []*metric.Metric{upMetric, durationMetric, commandSuccess, versionInfo}
	for _, c := range poolColumns {
		out = append(out, c.metric)
	}
	out = append(out, poolMaxWait)
	for _, cs := range [][]column{statsColumns, databaseColumns} {
		for _, c := range cs {
			out = append(out, c.metric)
		}
	}
	for _, item := range listOrder {
		out = append(out, listItems[item])
	}
	for _, c := range configColumns {
		out = append(out, c.metric)
	}
	return out
}
