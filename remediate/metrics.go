package remediate

import (
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/version"

	"github.com/pghardening/pg_hardening_exporter/internal/metric"
)

const (
	srcReceiver = "receiver"
	allVersions = "all"
)

// The receiver's families, served on its own /metrics. They are declared
// here once: the receiver builds its collectors from these declarations and
// docs/metrics.md lists them (Metrics).
var (
	mActions = metric.Counter("pg_remediation_actions_total",
		"Remediation decisions by action, alert name (a configured one, or \""+otherAlertname+"\" for every other) and result ("+strings.Join(decisionResults, ", ")+").",
		srcReceiver, allVersions, "action", "alertname", "result")
	mDuration = metric.Histogram("pg_remediation_action_duration_seconds",
		"Time spent on an action, from leaving the queue to its decision.",
		srcReceiver, allVersions, []float64{0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120, 600, 3600}, "action")
	mAlerts = metric.Counter("pg_remediation_alerts_total",
		"Alerts received, by what became of them (queued, duplicate, ignored when no rule maps them, resolved).",
		srcReceiver, allVersions, "result")
	mRequests = metric.Counter("pg_remediation_webhook_requests_total",
		"Webhook requests by HTTP status code.", srcReceiver, allVersions, "code")
	mAcceptDuration = metric.Histogram("pg_remediation_webhook_accept_duration_seconds",
		"Time to validate and queue one webhook request.",
		srcReceiver, allVersions, []float64{0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25})
	mReloadOK = metric.Gauge("pg_remediation_config_last_reload_successful",
		"1 if the last configuration load succeeded.", srcReceiver, allVersions)
	mReloadTime = metric.Gauge("pg_remediation_config_last_reload_success_timestamp_seconds",
		"When the configuration was last loaded successfully.", srcReceiver, allVersions)
	mQueueLength = metric.Gauge("pg_remediation_queue_length",
		"Actions waiting in the queue.", srcReceiver, allVersions)
	mQueueCapacity = metric.Gauge("pg_remediation_queue_capacity",
		"Size of the queue; a notification that does not fit is answered 503.", srcReceiver, allVersions)
	mDeferred = metric.Gauge("pg_remediation_deferred_actions",
		"Actions waiting for their maintenance window.", srcReceiver, allVersions)
	mDeferredCapacity = metric.Gauge("pg_remediation_deferred_actions_capacity",
		"limits.deferred_actions: past it, a notification whose action would wait for its window is answered 503.", srcReceiver, allVersions)
	mRemembered = metric.Gauge("pg_remediation_remembered_alerts",
		"Notifications (fingerprint and startsAt) remembered for dedupe_for to drop duplicates and late firing copies of resolved alerts.",
		srcReceiver, allVersions)
	mRememberedCapacity = metric.Gauge("pg_remediation_remembered_alerts_capacity",
		"limits.remembered_alerts: past it, a notification that would be remembered is answered 503.", srcReceiver, allVersions)
	mCooldowns = metric.Gauge("pg_remediation_cooldowns",
		"Objects (action, target, object) whose last run the receiver remembers for a rule's cooldown; each is forgotten once no rule's cooldown can still apply.",
		srcReceiver, allVersions)
	mCircuit = metric.Gauge("pg_remediation_circuit_state",
		"Circuit breaker of a target: 0 closed, 1 open, 2 half-open.", srcReceiver, allVersions, "target")
	mCircuitOpens = metric.Counter("pg_remediation_circuit_opened_total",
		"Times a target's circuit breaker opened.", srcReceiver, allVersions, "target")
	mAuditErrors = metric.Counter("pg_remediation_audit_write_errors_total",
		"Audit records that could not be written; an action whose \"started\" record cannot be written does not run.",
		srcReceiver, allVersions)
	mBuildInfo = metric.Gauge("pg_remediation_build_info",
		"Always 1; labels carry the receiver's version, revision, branch, Go version and build tags.",
		srcReceiver, allVersions, "version", "revision", "branch", "goversion", "goos", "goarch", "tags")
)

// Metrics are the receiver's families, for docs/metrics.md.
func Metrics() []*metric.Metric {
	return []*metric.Metric{mActions, mDuration, mAlerts, mRequests, mAcceptDuration, mReloadOK, mReloadTime,
		mQueueLength, mQueueCapacity, mDeferred, mDeferredCapacity, mRemembered, mRememberedCapacity, mCooldowns, mCircuit, mCircuitOpens, mAuditErrors, mBuildInfo}
}

// metrics are the receiver's own series on /metrics.
type metrics struct {
	actions        *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	alerts         *prometheus.CounterVec
	requests       *prometheus.CounterVec
	acceptDuration prometheus.Histogram
	reloadOK       prometheus.Gauge
	reloadTime     prometheus.Gauge
	auditErrors    prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, r *Receiver) *metrics {
	m := &metrics{
		actions:        prometheus.NewCounterVec(prometheus.CounterOpts{Name: mActions.Name, Help: mActions.Help}, mActions.Labels),
		duration:       prometheus.NewHistogramVec(histogramOpts(mDuration), mDuration.Labels),
		alerts:         prometheus.NewCounterVec(prometheus.CounterOpts{Name: mAlerts.Name, Help: mAlerts.Help}, mAlerts.Labels),
		requests:       prometheus.NewCounterVec(prometheus.CounterOpts{Name: mRequests.Name, Help: mRequests.Help}, mRequests.Labels),
		acceptDuration: prometheus.NewHistogram(histogramOpts(mAcceptDuration)),
		reloadOK:       prometheus.NewGauge(prometheus.GaugeOpts{Name: mReloadOK.Name, Help: mReloadOK.Help}),
		reloadTime:     prometheus.NewGauge(prometheus.GaugeOpts{Name: mReloadTime.Name, Help: mReloadTime.Help}),
		auditErrors:    prometheus.NewCounter(prometheus.CounterOpts{Name: mAuditErrors.Name, Help: mAuditErrors.Help}),
	}
	reg.MustRegister(m.actions, m.duration, m.alerts, m.requests, m.acceptDuration, m.reloadOK, m.reloadTime,
		m.auditErrors, stateCollector{r})
	return m
}

func histogramOpts(m *metric.Metric) prometheus.HistogramOpts {
	return prometheus.HistogramOpts{Name: m.Name, Help: m.Help, Buckets: m.Buckets}
}

// stateCollector reads the queue and breakers at scrape time, and reports
// the build.
type stateCollector struct{ r *Receiver }

func (c stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range []*metric.Metric{mQueueLength, mQueueCapacity, mDeferred, mDeferredCapacity, mRemembered, mRememberedCapacity,
		mCooldowns, mCircuit, mCircuitOpens, mBuildInfo} {
		ch <- m.Desc()
	}
}

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	mQueueLength.Emit(ch, float64(len(c.r.queue)))
	mQueueCapacity.Emit(ch, float64(cap(c.r.queue)))
	limits := c.r.cfg.Load().Limits
	c.r.mu.Lock()
	deferred, remembered, cooldowns := len(c.r.deferred), len(c.r.seen), len(c.r.cooldowns)
	names := make([]string, 0, len(c.r.targets))
	states := map[string]*targetState{}
	for n, ts := range c.r.targets {
		names = append(names, n)
		states[n] = ts
	}
	c.r.mu.Unlock()
	mDeferred.Emit(ch, float64(deferred))
	mDeferredCapacity.Emit(ch, float64(limits.DeferredActions))
	mRemembered.Emit(ch, float64(remembered))
	mRememberedCapacity.Emit(ch, float64(limits.RememberedAlerts))
	mCooldowns.Emit(ch, float64(cooldowns))
	now := time.Now()
	for _, n := range names {
		st, opened := states[n].breaker.State(now)
		mCircuit.Emit(ch, float64(st), n)
		mCircuitOpens.Emit(ch, float64(opened), n)
	}
	mBuildInfo.Emit(ch, 1, version.Version, version.GetRevision(), version.Branch, version.GoVersion, version.GoOS, version.GoArch, version.GetTags())
}
