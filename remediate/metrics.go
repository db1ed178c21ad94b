package remediate

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the receiver's own series on /metrics.
type metrics struct {
	actions        *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	alerts         *prometheus.CounterVec
	requests       *prometheus.CounterVec
	acceptDuration prometheus.Histogram
	reloadOK       prometheus.Gauge
	reloadTime     prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer, r *Receiver) *metrics {
	m := &metrics{
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pg_remediation_actions_total",
			Help: "Remediation decisions by action, alert name and result (ran, dry_run, skipped, refused, deferred, cancelled, failed).",
		}, []string{"action", "alertname", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "pg_remediation_action_duration_seconds",
			Help:    "Time spent on an action, from leaving the queue to its decision.",
			Buckets: []float64{0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120, 600, 3600},
		}, []string{"action"}),
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pg_remediation_alerts_total",
			Help: "Alerts received, by what became of them (queued, duplicate, ignored when no rule maps them, resolved).",
		}, []string{"result"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pg_remediation_webhook_requests_total",
			Help: "Webhook requests by HTTP status code.",
		}, []string{"code"}),
		acceptDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "pg_remediation_webhook_accept_duration_seconds",
			Help:    "Time to validate and queue one webhook request.",
			Buckets: []float64{0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25},
		}),
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pg_remediation_config_last_reload_successful",
			Help: "1 if the last configuration load succeeded.",
		}),
		reloadTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pg_remediation_config_last_reload_success_timestamp_seconds",
			Help: "When the configuration was last loaded successfully.",
		}),
	}
	reg.MustRegister(m.actions, m.duration, m.alerts, m.requests, m.acceptDuration, m.reloadOK, m.reloadTime,
		stateCollector{r})
	return m
}

var (
	queueLengthDesc = prometheus.NewDesc("pg_remediation_queue_length",
		"Actions waiting in the queue.", nil, nil)
	queueCapacityDesc = prometheus.NewDesc("pg_remediation_queue_capacity",
		"Size of the queue; a notification that does not fit is answered 503.", nil, nil)
	deferredDesc = prometheus.NewDesc("pg_remediation_deferred_actions",
		"Actions waiting for their maintenance window.", nil, nil)
	circuitDesc = prometheus.NewDesc("pg_remediation_circuit_state",
		"Circuit breaker of a target: 0 closed, 1 open, 2 half-open.", []string{"target"}, nil)
	circuitOpensDesc = prometheus.NewDesc("pg_remediation_circuit_opened_total",
		"Times a target's circuit breaker opened.", []string{"target"}, nil)
)

// stateCollector reads the queue and breakers at scrape time.
type stateCollector struct{ r *Receiver }

func (c stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueLengthDesc
	ch <- queueCapacityDesc
	ch <- deferredDesc
	ch <- circuitDesc
	ch <- circuitOpensDesc
}

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(queueLengthDesc, prometheus.GaugeValue, float64(len(c.r.queue)))
	ch <- prometheus.MustNewConstMetric(queueCapacityDesc, prometheus.GaugeValue, float64(cap(c.r.queue)))
	c.r.mu.Lock()
	deferred := c.r.deferred
	names := make([]string, 0, len(c.r.targets))
	states := map[string]*targetState{}
	for n, ts := range c.r.targets {
		names = append(names, n)
		states[n] = ts
	}
	c.r.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(deferredDesc, prometheus.GaugeValue, float64(deferred))
	now := time.Now()
	for _, n := range names {
		st, opened := states[n].breaker.State(now)
		ch <- prometheus.MustNewConstMetric(circuitDesc, prometheus.GaugeValue, float64(st), n)
		ch <- prometheus.MustNewConstMetric(circuitOpensDesc, prometheus.CounterValue, float64(opened), n)
	}
}
