package collector

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pghardening/pg_hardening_exporter/internal/metric"
)

const (
	srcRecovery    = "pg_is_in_recovery(), pg_last_wal_*()"
	srcWalReceiver = "pg_stat_wal_receiver"
	srcStatRepl    = "pg_stat_replication"
)

var (
	replIsReplica = metric.Gauge("pg_replication_is_replica",
		"1 if the server is in recovery (a standby), 0 if it is a primary.", srcRecovery, "13+")
	replLagSeconds = metric.Gauge("pg_replication_replay_lag_seconds",
		"On a standby: how far replay is behind, 0 when everything received has been replayed (so an idle primary shows no lag), else now() minus the commit time of the last replayed transaction (absent while none has been replayed since the standby started).",
		srcRecovery, "13+")
	replLagBytes = metric.Gauge("pg_replication_replay_lag_bytes",
		"On a streaming standby: WAL received but not yet replayed.", srcRecovery, "13+")
	replLastReplay = metric.Gauge("pg_replication_last_replay_timestamp_seconds",
		"On a standby: commit time of the last transaction replayed.", srcRecovery, "13+")
	walRcvConnected = metric.Gauge("pg_replication_wal_receiver_connected",
		"On a standby: 1 if a WAL receiver is streaming from an upstream server, else 0.", srcWalReceiver, "13+")
	walRcvStatus = metric.Gauge("pg_replication_wal_receiver_status",
		"On a standby: 1 for the WAL receiver's current status (stopped when none runs), 0 for the others.", srcWalReceiver, "13+", "status")
	walRcvLastMsg = metric.Gauge("pg_replication_wal_receiver_last_message_receipt_timestamp_seconds",
		"On a standby: when the WAL receiver last heard from the upstream server.", srcWalReceiver, "13+")

	standbyLabels  = []string{"application_name", "client_addr"}
	standbyWrite   = metric.Gauge("pg_replication_standby_write_lag_seconds", "Time until a standby wrote recent WAL (0 when it has caught up and no WAL flows).", srcStatRepl, "13+", standbyLabels...)
	standbyFlush   = metric.Gauge("pg_replication_standby_flush_lag_seconds", "Time until a standby flushed recent WAL (0 when it has caught up and no WAL flows).", srcStatRepl, "13+", standbyLabels...)
	standbyReplay  = metric.Gauge("pg_replication_standby_replay_lag_seconds", "Time until a standby replayed recent WAL (0 when it has caught up and no WAL flows).", srcStatRepl, "13+", standbyLabels...)
	standbySent    = metric.Gauge("pg_replication_standby_sent_lag_bytes", "WAL not yet sent to the standby.", srcStatRepl, "13+", standbyLabels...)
	standbyWriteB  = metric.Gauge("pg_replication_standby_write_lag_bytes", "WAL not yet written by the standby.", srcStatRepl, "13+", standbyLabels...)
	standbyFlushB  = metric.Gauge("pg_replication_standby_flush_lag_bytes", "WAL not yet flushed by the standby.", srcStatRepl, "13+", standbyLabels...)
	standbyReplayB = metric.Gauge("pg_replication_standby_replay_lag_bytes", "WAL not yet replayed by the standby.", srcStatRepl, "13+", standbyLabels...)
	standbyState   = metric.Gauge("pg_replication_standby_state", "1 for the WAL sender's current state, 0 for the others. Standby series are per WAL sender, so bounded by max_wal_senders; client_addr is empty for Unix-socket connections, and senders that share application_name and client_addr get /2, /3 appended to the name in order of connection.", srcStatRepl, "13+", "application_name", "client_addr", "state")
	standbySync    = metric.Gauge("pg_replication_standby_sync_state", "1 for the standby's current synchronous state, 0 for the others.", srcStatRepl, "13+", "application_name", "client_addr", "sync_state")
	standbyConns   = metric.Gauge("pg_replication_standby_connections", "WAL senders per application_name (base backups included); more than 1 means standbys share a name.", srcStatRepl, "13+", "application_name")
	standbysUp     = metric.Gauge("pg_replication_connected_standbys", "Standbys connected through WAL senders (base backups excluded).", srcStatRepl, "13+")
)

var (
	walRcvStatuses  = []string{"stopped", "starting", "streaming", "waiting", "restarting", "stopping"}
	senderStates    = []string{"startup", "catchup", "streaming", "backup", "stopping"}
	senderSyncState = []string{"async", "potential", "sync", "quorum"}
)

func init() {
	Register(&Spec{
		Name:    "replication",
		Help:    "Role (primary or standby), standby replay lag, WAL receiver status and per-standby lag from pg_stat_replication",
		Scope:   Cluster,
		Default: true,
		Metrics: []*metric.Metric{replIsReplica, replLagSeconds, replLagBytes, replLastReplay, walRcvConnected, walRcvStatus, walRcvLastMsg,
			standbyWrite, standbyFlush, standbyReplay, standbySent, standbyWriteB, standbyFlushB, standbyReplayB,
			standbyState, standbySync, standbyConns, standbysUp},
		New: func(Options) (Collector, error) { return replicationCollector{}, nil },
	})
}

type replicationCollector struct{}

// The replay lag is 0 while replay has caught up with what was received:
// now() - pg_last_xact_replay_timestamp() alone grows without bound when the
// primary is idle. Without streaming (archive recovery) receive_lsn is NULL
// and the timestamp difference is all there is.
const recoveryQuery = `SELECT pg_is_in_recovery(),
 CASE WHEN pg_is_in_recovery() THEN
  CASE WHEN pg_last_wal_receive_lsn() IS NOT NULL AND pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() THEN 0
   ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) END END::float8,
 CASE WHEN pg_is_in_recovery() THEN GREATEST(pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()), 0) END::float8,
 EXTRACT(EPOCH FROM pg_last_xact_replay_timestamp())::float8`

const walReceiverQuery = `SELECT status, EXTRACT(EPOCH FROM last_msg_receipt_time)::float8 FROM pg_stat_wal_receiver`

// On a cascading standby the reference position is what it has replayed.
const statReplicationQuery = `SELECT COALESCE(application_name, ''), COALESCE(host(client_addr), ''), COALESCE(state, ''), COALESCE(sync_state, ''),
 COALESCE(EXTRACT(EPOCH FROM write_lag), 0)::float8, COALESCE(EXTRACT(EPOCH FROM flush_lag), 0)::float8,
 COALESCE(EXTRACT(EPOCH FROM replay_lag), 0)::float8,
 pg_wal_lsn_diff(c.lsn, sent_lsn)::float8, pg_wal_lsn_diff(c.lsn, write_lsn)::float8,
 pg_wal_lsn_diff(c.lsn, flush_lsn)::float8, pg_wal_lsn_diff(c.lsn, replay_lsn)::float8
 FROM pg_stat_replication,
 LATERAL (SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END AS lsn) c
 ORDER BY backend_start, pid`

func (replicationCollector) Update(ctx context.Context, s *Scrape, ch chan<- prometheus.Metric) error {
	var (
		inRecovery           bool
		lagSecs, lagBytes, t *float64
	)
	if err := s.Conn.QueryRow(ctx, recoveryQuery).Scan(&inRecovery, &lagSecs, &lagBytes, &t); err != nil {
		return err
	}
	replIsReplica.Emit(ch, b2f(inRecovery))
	if inRecovery {
		// Unknown (nothing replayed since the standby started) stays absent;
		// clock steps between the servers never make it negative.
		if lagSecs != nil {
			replLagSeconds.Emit(ch, max(*lagSecs, 0))
		}
		if lagBytes != nil {
			replLagBytes.Emit(ch, *lagBytes)
		}
		if t != nil {
			replLastReplay.Emit(ch, *t)
		}
		if err := walReceiver(ctx, s, ch); err != nil {
			return err
		}
	}
	return standbys(ctx, s, ch)
}

func walReceiver(ctx context.Context, s *Scrape, ch chan<- prometheus.Metric) error {
	rows, err := s.Conn.Query(ctx, walReceiverQuery)
	if err != nil {
		return err
	}
	defer rows.Close()
	status := "stopped"
	var last *float64
	for rows.Next() {
		if err := rows.Scan(&status, &last); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	walRcvConnected.Emit(ch, b2f(status == "streaming"))
	emitEnum(ch, walRcvStatus, walRcvStatuses, status)
	if last != nil {
		walRcvLastMsg.Emit(ch, *last)
	}
	return nil
}

func standbys(ctx context.Context, s *Scrape, ch chan<- prometheus.Metric) error {
	rows, err := s.Conn.Query(ctx, statReplicationQuery)
	if err != nil {
		return err
	}
	defer rows.Close()
	seen := map[[2]string]int{}
	perName := map[string]int{}
	connected := 0
	for rows.Next() {
		var (
			app, addr, state, sync string
			v                      [7]*float64 // NULL positions while a standby starts up
		)
		if err := rows.Scan(&app, &addr, &state, &sync, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6]); err != nil {
			return err
		}
		perName[app]++
		if state != "backup" {
			connected++
		}
		// Two senders with the same name and address (two standbys on one host
		// that kept the default application_name) get "/2", "/3" in order of
		// connection, so their series stay apart.
		k := [2]string{app, addr}
		seen[k]++
		name := app
		if n := seen[k]; n > 1 {
			name = fmt.Sprintf("%s/%d", app, n)
		}
		for i, m := range []*metric.Metric{standbyWrite, standbyFlush, standbyReplay, standbySent, standbyWriteB, standbyFlushB, standbyReplayB} {
			emitIf(ch, m, v[i], name, addr)
		}
		emitEnum(ch, standbyState, senderStates, state, name, addr)
		emitEnum(ch, standbySync, senderSyncState, sync, name, addr)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for app, n := range perName {
		standbyConns.Emit(ch, float64(n), app)
	}
	standbysUp.Emit(ch, float64(connected))
	return nil
}

// emitEnum emits 1 for the current value and 0 for the other known ones; an
// unknown current value (from a newer server) gets its own series.
func emitEnum(ch chan<- prometheus.Metric, m *metric.Metric, known []string, current string, labels ...string) {
	found := false
	for _, k := range known {
		v := 0.0
		if k == current {
			v, found = 1, true
		}
		m.Emit(ch, v, append(append([]string(nil), labels...), k)...)
	}
	if !found && current != "" {
		m.Emit(ch, 1, append(append([]string(nil), labels...), current)...)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
