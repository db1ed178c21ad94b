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

// The pool families are per pool, labelled server (user@host:port, never a
// password): targets of one server and user that differ only in the database
// share a pool, and per-target figures would count it once per target.
var (
	poolMax          = metric.Gauge("pg_exporter_pool_max_connections", "The most connections the exporter opens to the server as this user, across its databases and the targets sharing the pool (connection.max_connections).", srcExporter, "all", "server")
	poolConns        = metric.Gauge("pg_exporter_pool_connections", "The exporter's open connections to the server as this user by state (idle, in_use).", srcExporter, "all", "server", "state")
	poolTargets      = metric.Gauge("pg_exporter_pool_targets", "Targets sharing the pool: they differ only in the database.", srcExporter, "all", "server")
	poolAcquires     = metric.Counter("pg_exporter_pool_acquires_total", "Connections handed to collectors.", srcExporter, "all", "server")
	poolAcquireErrs  = metric.Counter("pg_exporter_pool_acquire_errors_total", "Requests for a connection that failed (server unreachable or deadline reached while waiting).", srcExporter, "all", "server")
	poolAcquireWait  = metric.Counter("pg_exporter_pool_acquire_wait_seconds_total", "Time collectors spent waiting for a connection, including connecting.", srcExporter, "all", "server")
	poolConnects     = metric.Counter("pg_exporter_pool_connects_total", "Connection attempts.", srcExporter, "all", "server")
	poolConnectErrs  = metric.Counter("pg_exporter_pool_connect_errors_total", "Connection attempts that failed.", srcExporter, "all", "server")
	poolClosed       = metric.Counter("pg_exporter_pool_closed_connections_total", "Connections closed, by reason: idle (evicted or replaced by one to another database) or broken (network error, cancelled query).", srcExporter, "all", "server", "reason")
	breakerState     = metric.Gauge("pg_exporter_circuit_breaker_state", "The target's circuit breaker: 0 closed, 1 open (no connection attempts), 2 half-open (one trial allowed).", srcExporter, "all", "target")
	breakerOpened    = metric.Counter("pg_exporter_circuit_breaker_opened_total", "How often the target's circuit breaker opened.", srcExporter, "all", "target")
	targetsOpen      = metric.Gauge("pg_exporter_targets", "Open targets. Targets that differ only in the database share one pool (pg_exporter_pool_targets).", srcExporter, "all")
	reloadSuccessful = metric.Gauge("pg_exporter_config_last_reload_successful", "1 if the last configuration reload succeeded (or none was attempted), 0 if it failed and the previous configuration stays in force.", srcExporter, "all")
	reloadTimestamp  = metric.Gauge("pg_exporter_config_last_reload_success_timestamp_seconds", "When the configuration was last loaded successfully.", srcExporter, "all")
	// The Prometheus convention <program>_build_info, emitted by State.
	programBuildInfo = metric.Gauge("pg_hardening_exporter_build_info", "Always 1; the Prometheus convention <program>_build_info with the same labels as pg_exporter_build_info.", srcExporter, "all", "version", "revision", "branch", "goversion", "goos", "goarch", "tags")
	buildInfo        = metric.Gauge("pg_exporter_build_info", "Always 1; labels carry the exporter's version, revision, branch, Go version and build tags.", srcExporter, "all", "version", "revision", "branch", "goversion", "goos", "goarch", "tags")
)

// SelfMetrics are the exporter's own families, for docs/metrics.md.
func SelfMetrics() []*metric.Metric {
	return []*metric.Metric{poolMax, poolConns, poolTargets, poolAcquires, poolAcquireErrs, poolAcquireWait, poolConnects,
		poolConnectErrs, poolClosed, breakerState, breakerOpened, targetsOpen, reloadSuccessful, reloadTimestamp, buildInfo, programBuildInfo}
}

// PoolCollector reports every open pool, and every open target's circuit
// breaker.
type PoolCollector struct{ Manager *target.Manager }

// Describe sends the descriptors.
func (c PoolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range []*metric.Metric{poolMax, poolConns, poolTargets, poolAcquires, poolAcquireErrs, poolAcquireWait,
		poolConnects, poolConnectErrs, poolClosed, breakerState, breakerOpened, targetsOpen} {
		ch <- m.Desc()
	}
}

// Collect reads the pools' counters.
func (c PoolCollector) Collect(ch chan<- prometheus.Metric) {
	ts := c.Manager.Targets()
	targetsOpen.Emit(ch, float64(len(ts)))
	for _, p := range c.Manager.Pools() {
		st := p.Stats()
		poolMax.Emit(ch, float64(st.Max), p.Server)
		poolConns.Emit(ch, float64(st.Idle), p.Server, "idle")
		poolConns.Emit(ch, float64(st.InUse), p.Server, "in_use")
		poolTargets.Emit(ch, float64(p.Targets), p.Server)
		poolAcquires.Emit(ch, float64(st.Acquires), p.Server)
		poolAcquireErrs.Emit(ch, float64(st.AcquireErrors), p.Server)
		poolAcquireWait.Emit(ch, st.AcquireWait.Seconds(), p.Server)
		poolConnects.Emit(ch, float64(st.Connects), p.Server)
		poolConnectErrs.Emit(ch, float64(st.ConnectErrors), p.Server)
		poolClosed.Emit(ch, float64(st.ClosedIdle), p.Server, "idle")
		poolClosed.Emit(ch, float64(st.ClosedBroken), p.Server, "broken")
	}
	now := time.Now()
	for _, t := range ts {
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
