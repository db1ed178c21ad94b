package exporter

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/version"

	"github.com/pghardening/pg_hardening_exporter/internal/metric"
	"github.com/pghardening/pg_hardening_exporter/internal/target"
)

const srcExporter = "exporter"

var (
	poolMax          = metric.Gauge("pg_exporter_pool_max_connections", "The most connections the exporter opens to the target, across its databases.", srcExporter, "all", "target")
	poolConns        = metric.Gauge("pg_exporter_pool_connections", "The exporter's open connections to the target by state (idle, in_use).", srcExporter, "all", "target", "state")
	poolAcquires     = metric.Counter("pg_exporter_pool_acquires_total", "Connections handed to collectors.", srcExporter, "all", "target")
	poolAcquireErrs  = metric.Counter("pg_exporter_pool_acquire_errors_total", "Requests for a connection that failed (server unreachable or deadline reached while waiting).", srcExporter, "all", "target")
	poolAcquireWait  = metric.Counter("pg_exporter_pool_acquire_wait_seconds_total", "Time collectors spent waiting for a connection, including connecting.", srcExporter, "all", "target")
	poolConnects     = metric.Counter("pg_exporter_pool_connects_total", "Connection attempts.", srcExporter, "all", "target")
	poolConnectErrs  = metric.Counter("pg_exporter_pool_connect_errors_total", "Connection attempts that failed.", srcExporter, "all", "target")
	poolClosed       = metric.Counter("pg_exporter_pool_closed_connections_total", "Connections closed, by reason: idle (evicted or replaced by one to another database) or broken (network error, cancelled query).", srcExporter, "all", "target", "reason")
	breakerState     = metric.Gauge("pg_exporter_circuit_breaker_state", "The target's circuit breaker: 0 closed, 1 open (no connection attempts), 2 half-open (one trial allowed).", srcExporter, "all", "target")
	breakerOpened    = metric.Counter("pg_exporter_circuit_breaker_opened_total", "How often the target's circuit breaker opened.", srcExporter, "all", "target")
	targetsOpen      = metric.Gauge("pg_exporter_targets", "Targets with an open connection pool.", srcExporter, "all")
	reloadSuccessful = metric.Gauge("pg_exporter_config_last_reload_successful", "1 if the last configuration reload succeeded (or none was attempted), 0 if it failed and the previous configuration stays in force.", srcExporter, "all")
	reloadTimestamp  = metric.Gauge("pg_exporter_config_last_reload_success_timestamp_seconds", "When the configuration was last loaded successfully.", srcExporter, "all")
	// The Prometheus convention <program>_build_info, emitted by State.
	programBuildInfo = metric.Gauge("pg_hardening_exporter_build_info", "Always 1; the Prometheus convention <program>_build_info with the same labels as pg_exporter_build_info.", srcExporter, "all", "version", "revision", "branch", "goversion", "goos", "goarch", "tags")
	buildInfo        = metric.Gauge("pg_exporter_build_info", "Always 1; labels carry the exporter's version, revision, branch, Go version and build tags.", srcExporter, "all", "version", "revision", "branch", "goversion", "goos", "goarch", "tags")
)

// SelfMetrics are the exporter's own families, for docs/metrics.md.
func SelfMetrics() []*metric.Metric {
	return []*metric.Metric{poolMax, poolConns, poolAcquires, poolAcquireErrs, poolAcquireWait, poolConnects,
		poolConnectErrs, poolClosed, breakerState, breakerOpened, targetsOpen, reloadSuccessful, reloadTimestamp, buildInfo, programBuildInfo}
}

// PoolCollector reports every open target's pool and circuit breaker.
type PoolCollector struct{ Manager *target.Manager }

// Describe sends the descriptors.
func (c PoolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range []*metric.Metric{poolMax, poolConns, poolAcquires, poolAcquireErrs, poolAcquireWait,
		poolConnects, poolConnectErrs, poolClosed, breakerState, breakerOpened, targetsOpen} {
		ch <- m.Desc()
	}
}

// Collect reads the pools' counters.
func (c PoolCollector) Collect(ch chan<- prometheus.Metric) {
	ts := c.Manager.Targets()
	targetsOpen.Emit(ch, float64(len(ts)))
	now := time.Now()
	for _, t := range ts {
		st := t.Pool.Stats()
		poolMax.Emit(ch, float64(st.Max), t.Name)
		poolConns.Emit(ch, float64(st.Idle), t.Name, "idle")
		poolConns.Emit(ch, float64(st.InUse), t.Name, "in_use")
		poolAcquires.Emit(ch, float64(st.Acquires), t.Name)
		poolAcquireErrs.Emit(ch, float64(st.AcquireErrors), t.Name)
		poolAcquireWait.Emit(ch, st.AcquireWait.Seconds(), t.Name)
		poolConnects.Emit(ch, float64(st.Connects), t.Name)
		poolConnectErrs.Emit(ch, float64(st.ConnectErrors), t.Name)
		poolClosed.Emit(ch, float64(st.ClosedIdle), t.Name, "idle")
		poolClosed.Emit(ch, float64(st.ClosedBroken), t.Name, "broken")
		state, opened := t.Breaker.State(now)
		breakerState.Emit(ch, float64(state), t.Name)
		breakerOpened.Emit(ch, float64(opened), t.Name)
	}
}

// State holds the outcome of the last configuration load and the build info.
type State struct {
	mu       sync.Mutex
	ok       bool
	loadedAt time.Time
}

// NewState records a successful first load.
func NewState() *State { return &State{ok: true, loadedAt: time.Now()} }

// Set records a reload's outcome.
func (s *State) Set(ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ok = ok
	if ok {
		s.loadedAt = time.Now()
	}
}

// Describe sends the descriptors.
func (s *State) Describe(ch chan<- *prometheus.Desc) {
	ch <- reloadSuccessful.Desc()
	ch <- reloadTimestamp.Desc()
	ch <- buildInfo.Desc()
	ch <- programBuildInfo.Desc()
}

// Collect reports the reload state and build info.
func (s *State) Collect(ch chan<- prometheus.Metric) {
	s.mu.Lock()
	ok, at := s.ok, s.loadedAt
	s.mu.Unlock()
	v := 0.0
	if ok {
		v = 1
	}
	reloadSuccessful.Emit(ch, v)
	reloadTimestamp.Emit(ch, float64(at.UnixNano())/1e9)
	for _, m := range []*metric.Metric{buildInfo, programBuildInfo} {
		m.Emit(ch, 1, version.Version, version.Revision, version.Branch, version.GoVersion, version.GoOS, version.GoArch, version.GetTags())
	}
}
