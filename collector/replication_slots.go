package collector

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pghardening/pg_hardening_exporter/internal/metric"
)

const srcSlots = "pg_replication_slots"

var (
	slotLabels   = []string{"slot_name", "slot_type", "database"}
	slotActive   = metric.Gauge("pg_replication_slot_active", "1 if a connection is using the slot now, else 0.", srcSlots, "13+", slotLabels...)
	slotRetained = metric.Gauge("pg_replication_slot_retained_wal_bytes",
		"WAL the slot keeps from being removed: the current WAL position (on a standby, the last received or replayed one) minus restart_lsn.",
		srcSlots, "13+", slotLabels...)
	slotWALStatus = metric.Gauge("pg_replication_slot_wal_status",
		"1 for the slot's current wal_status (reserved, extended, unreserved, lost), 0 for the others.",
		srcSlots, "13+", "slot_name", "slot_type", "database", "wal_status")
	slotSafeSize = metric.Gauge("pg_replication_slot_safe_wal_size_bytes",
		"WAL that can still be written before the slot risks losing what it needs (absent when max_slot_wal_keep_size is -1).",
		srcSlots, "13+", slotLabels...)
	slotXminAge        = metric.Gauge("pg_replication_slot_xmin_age", "Age in transactions of the oldest transaction the slot keeps VACUUM from cleaning up after (absent when the slot holds none).", srcSlots, "13+", slotLabels...)
	slotCatalogXminAge = metric.Gauge("pg_replication_slot_catalog_xmin_age", "Age in transactions of the oldest catalog transaction the slot holds back (logical slots).", srcSlots, "13+", slotLabels...)
	slotCount          = metric.Gauge("pg_replication_slots", "Replication slots on the server, by type and whether they are active.", srcSlots, "13+", "slot_type", "active")
)

var slotWALStatuses = []string{"reserved", "extended", "unreserved", "lost"}

func init() {
	Register(&Spec{
		Name:    "replication_slots",
		Help:    "Replication slots: activity, retained WAL, wal_status, safe_wal_size and xmin ages",
		Scope:   Cluster,
		Default: true,
		Metrics: []*metric.Metric{slotActive, slotRetained, slotWALStatus, slotSafeSize, slotXminAge, slotCatalogXminAge, slotCount},
		New:     func(Options) (Collector, error) { return slotsCollector{}, nil },
	})
}

type slotsCollector struct{}

// Slots are bounded by max_replication_slots, so every slot gets its series.
const slotsQuery = `SELECT slot_name::text, slot_type, COALESCE(database::text, ''), active,
 pg_wal_lsn_diff(c.lsn, restart_lsn)::float8, COALESCE(wal_status, ''), safe_wal_size::float8,
 age(xmin)::float8, age(catalog_xmin)::float8
 FROM pg_replication_slots,
 LATERAL (SELECT CASE WHEN pg_is_in_recovery() THEN COALESCE(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())
  ELSE pg_current_wal_lsn() END AS lsn) c`

func (slotsCollector) Update(ctx context.Context, s *Scrape, ch chan<- prometheus.Metric) error {
	rows, err := s.Conn.Query(ctx, slotsQuery)
	if err != nil {
		return err
	}
	defer rows.Close()
	counts := map[[2]string]int{}
	for _, t := range []string{"physical", "logical"} {
		counts[[2]string{t, "0"}] = 0
		counts[[2]string{t, "1"}] = 0
	}
	for rows.Next() {
		var (
			name, typ, db, walStatus   string
			active                     bool
			retained, safe, xmin, cxmn *float64
		)
		if err := rows.Scan(&name, &typ, &db, &active, &retained, &walStatus, &safe, &xmin, &cxmn); err != nil {
			return err
		}
		l := []string{name, typ, db}
		slotActive.Emit(ch, b2f(active), l...)
		if retained != nil {
			slotRetained.Emit(ch, *retained, l...)
		}
		if walStatus != "" {
			emitEnum(ch, slotWALStatus, slotWALStatuses, walStatus, l...)
		}
		if safe != nil {
			slotSafeSize.Emit(ch, *safe, l...)
		}
		if xmin != nil {
			slotXminAge.Emit(ch, *xmin, l...)
		}
		if cxmn != nil {
			slotCatalogXminAge.Emit(ch, *cxmn, l...)
		}
		a := "0"
		if active {
			a = "1"
		}
		counts[[2]string{typ, a}]++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for k, n := range counts {
		slotCount.Emit(ch, float64(n), k[0], k[1])
	}
	return nil
}
