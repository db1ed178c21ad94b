package collector

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pghardening/pg_hardening_exporter/internal/metric"
)

const srcSlotStats = "pg_stat_replication_slots"

func slotStatCounter(name, help string) *metric.Metric {
	return metric.Counter(name, help, srcSlotStats, "14+", "slot_name", "database")
}

var (
	slotStatValues = []*metric.Metric{
		slotStatCounter("pg_stat_replication_slots_spill_txns_total", "Transactions spilled to disk because logical decoding exceeded logical_decoding_work_mem."),
		slotStatCounter("pg_stat_replication_slots_spill_count_total", "Times transactions were spilled to disk (a transaction can spill more than once)."),
		slotStatCounter("pg_stat_replication_slots_spill_bytes_total", "Decoded transaction data spilled to disk."),
		slotStatCounter("pg_stat_replication_slots_stream_txns_total", "In-progress transactions streamed to the output plugin because logical_decoding_work_mem was exceeded."),
		slotStatCounter("pg_stat_replication_slots_stream_count_total", "Times in-progress transactions were streamed."),
		slotStatCounter("pg_stat_replication_slots_stream_bytes_total", "Decoded transaction data streamed."),
		slotStatCounter("pg_stat_replication_slots_decoded_txns_total", "Transactions decoded and sent to the output plugin (total_txns)."),
		slotStatCounter("pg_stat_replication_slots_decoded_bytes_total", "Decoded transaction data sent to the output plugin (total_bytes)."),
	}
	slotStatReset = metric.Gauge("pg_stat_replication_slots_stats_reset_timestamp_seconds",
		"When the slot's statistics were last reset (absent if never).", srcSlotStats, "14+", "slot_name", "database")
)

func init() {
	Register(&Spec{
		Name:       "replication_slot_stats",
		Help:       "Logical decoding statistics per logical replication slot (spilled, streamed and decoded transactions and bytes) from pg_stat_replication_slots",
		Scope:      Cluster,
		Default:    true,
		MinVersion: 140000,
		Metrics:    append(append([]*metric.Metric(nil), slotStatValues...), slotStatReset),
		New:        func(Options) (Collector, error) { return slotStatsCollector{}, nil },
	})
}

type slotStatsCollector struct{}

// The view has a row per logical slot, so the series are bounded by
// max_replication_slots like those of pg_replication_slots.
const slotStatsQuery = `SELECT st.slot_name::text, COALESCE(sl.database::text, ''),
 st.spill_txns::float8, st.spill_count::float8, st.spill_bytes::float8,
 st.stream_txns::float8, st.stream_count::float8, st.stream_bytes::float8,
 st.total_txns::float8, st.total_bytes::float8, EXTRACT(EPOCH FROM st.stats_reset)::float8
 FROM pg_stat_replication_slots st LEFT JOIN pg_replication_slots sl ON sl.slot_name = st.slot_name`

func (slotStatsCollector) Update(ctx context.Context, s *Scrape, ch chan<- prometheus.Metric) error {
	rows, err := s.Conn.Query(ctx, slotStatsQuery)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var name, db string
		v := make([]float64, len(slotStatValues))
		var reset *float64
		dest := []any{&name, &db}
		for i := range v {
			dest = append(dest, &v[i])
		}
		if err := rows.Scan(append(dest, &reset)...); err != nil {
			return err
		}
		for i, m := range slotStatValues {
			m.Emit(ch, v[i], name, db)
		}
		emitIf(ch, slotStatReset, reset, name, db)
	}
	return rows.Err()
}
