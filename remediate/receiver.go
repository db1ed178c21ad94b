package remediate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pghardening/pg_hardening_exporter/internal/target"
)

// maxInFlight is how many webhook requests are read and decoded at once.
// Decoding is CPU work; more at once would not accept faster, but would
// hold more bodies (up to webhook.max_body_bytes each) in memory.
const maxInFlight = 4

// ErrFull is returned by Accept when taking the alerts would go past one of
// the receiver's bounds (the queue, the remembered notifications, the
// deferred actions); the webhook answers 503 so that Alertmanager retries.
var ErrFull = errors.New("the receiver is full")

func full(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrFull}, args...)...)
}

// Receiver turns alerts into guarded actions: it deduplicates notifications,
// maps alerts to rules, queues the work and runs it on a pool of workers.
type Receiver struct {
	logger *slog.Logger
	access Access
	// authenticated is true when the web configuration makes every client
	// authenticate; only then does a failed reload show its error over HTTP.
	authenticated atomic.Bool
	cfg           atomic.Pointer[Config]
	// names are the alert names of the rules configured since the start:
	// the values of the alertname label of pg_remediation_actions_total.
	names atomic.Pointer[map[string]bool]
	// inflight bounds the webhook requests read and decoded at once, and so
	// the memory their bodies take.
	inflight chan struct{}
	audit    *AuditLog
	hist     *history
	m        *metrics
	queue    chan *job
	now      func() time.Time
	// connect opens database sessions (pgx.ConnectConfig).
	connect func(context.Context, *pgx.ConnConfig) (*pgx.Conn, error)

	mu        sync.Mutex
	seen      map[uint64]time.Time // notification key -> when it may be accepted again
	lastSweep time.Time
	pending   map[string][]*job // fingerprint -> jobs queued or deferred
	deferred  map[*job]struct{}
	// toDefer counts the queued jobs that were going to wait for their
	// window when accepted: with the deferred ones they stay within
	// limits.deferred_actions.
	toDefer   int
	targets   map[string]*targetState
	cooldowns map[string]time.Time // action|target|object -> last run

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type targetState struct {
	breaker *target.Breaker
	sem     chan struct{}
}

// Job states.
const (
	jobQueued int32 = iota
	jobDeferred
	jobRunning
	jobCancelled
)

// job is one action for one alert. It names its rule by action and rank
// (the how-manieth rule of that action that maps the alert) rather than
// holding it, so that it runs under the configuration current when it runs:
// a reload to dry-run, narrower allowlists or a removed rule reach work
// already queued or deferred.
type job struct {
	alert  Alert
	action string
	rank   int
	state  atomic.Int32
	// timer brings a deferred job back (r.mu).
	timer *time.Timer
	// reserved: the job counts in r.toDefer (r.mu).
	reserved bool
}

// Options configure a Receiver.
type Options struct {
	Logger   *slog.Logger
	Registry prometheus.Registerer
	// Access is who can reach the receiver; enforce mode needs authentication
	// unless the network is declared trusted.
	Access Access
	// Now replaces the clock (tests).
	Now func() time.Time
}

// New starts a receiver with cfg: it opens the audit log and starts the
// workers. Close stops them.
func New(cfg *Config, opts Options) (*Receiver, error) {
	authenticated, err := opts.Access.check(cfg.Mode)
	if err != nil {
		return nil, err
	}
	audit, err := OpenAudit(cfg.Audit.File, cfg.Audit.Fsync)
	if err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &Receiver{
		logger:    opts.Logger,
		access:    opts.Access,
		audit:     audit,
		hist:      newHistory(cfg.History),
		queue:     make(chan *job, cfg.Queue.Size),
		inflight:  make(chan struct{}, maxInFlight),
		now:       opts.Now,
		connect:   pgx.ConnectConfig,
		seen:      map[uint64]time.Time{},
		pending:   map[string][]*job{},
		deferred:  map[*job]struct{}{},
		targets:   map[string]*targetState{},
		cooldowns: map[string]time.Time{},
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.m = newMetrics(opts.Registry, r)
	r.setAuthenticated(authenticated, cfg.Mode)
	r.apply(cfg)
	r.m.reloadOK.Set(1)
	r.m.reloadTime.Set(float64(r.now().Unix()))
	for i := 0; i < cfg.Queue.Workers; i++ {
		r.wg.Add(1)
		go r.worker()
	}
	return r, nil
}

// Config returns the configuration in use.
func (r *Receiver) Config() *Config { return r.cfg.Load() }

// Reload switches to cfg, unless the web configuration (read again) does
// not allow its mode or its audit file cannot be opened; then the previous
// configuration stays and the error says why. The audit file is opened
// again even when its path did not change, for log rotation. Breakers, cooldowns and the queue carry over; the queue size and
// the worker count keep the values the receiver started with.
func (r *Receiver) Reload(cfg *Config) error {
	authenticated, err := r.access.check(cfg.Mode)
	if err == nil {
		err = r.audit.Reopen(cfg.Audit.File, cfg.Audit.Fsync)
	}
	if err != nil {
		r.ReloadFailed()
		return err
	}
	r.setAuthenticated(authenticated, cfg.Mode)
	r.apply(cfg)
	r.m.reloadOK.Set(1)
	r.m.reloadTime.Set(float64(r.now().Unix()))
	return nil
}

// ReloadFailed records a configuration that could not be loaded. The audit
// file is reopened all the same, so that log rotation (rename, then SIGHUP)
// works whatever the state of the configuration file.
func (r *Receiver) ReloadFailed() {
	r.reopenAudit() // first: the gauge tells that the reload is over
	r.m.reloadOK.Set(0)
}

// reopenAudit reopens the audit file of the configuration in use.
func (r *Receiver) reopenAudit() {
	a := r.cfg.Load().Audit
	if err := r.audit.Reopen(a.File, a.Fsync); err != nil {
		r.logger.Error("cannot reopen the audit log; it keeps writing to the file it had open", "err", err)
	}
}

// setAuthenticated records whether clients authenticate, and says so when
// they do not.
func (r *Receiver) setAuthenticated(ok bool, mode string) {
	r.authenticated.Store(ok)
	switch {
	case ok:
	case mode == ModeEnforce:
		r.logger.Warn("enforce mode without authentication (--web.trusted-network): anyone who can reach the listen address can make the receiver act")
	default:
		r.logger.Warn("no authentication: anyone who can reach the listen address can post alerts, read /api/v1/actions and reload; enforce mode will need basic auth or client certificates in --web.config.file")
	}
}

func (r *Receiver) apply(cfg *Config) {
	names := map[string]bool{}
	if old := r.names.Load(); old != nil {
		maps.Copy(names, *old)
	}
	for _, rule := range cfg.Rules {
		names[rule.Alertname] = true
	}
	r.names.Store(&names)
	r.m.zeroSeries(cfg)
	r.mu.Lock()
	defer r.mu.Unlock()
	keep := map[string]*targetState{}
	for _, t := range cfg.Targets {
		ts := r.targets[t.Name]
		if ts == nil {
			ts = &targetState{breaker: &target.Breaker{}}
		}
		ts.breaker.Threshold, ts.breaker.OpenFor = cfg.Breaker.Failures, cfg.Breaker.OpenFor
		if ts.sem == nil || cap(ts.sem) != t.Concurrency {
			ts.sem = make(chan struct{}, t.Concurrency)
		}
		keep[t.Name] = ts
	}
	r.targets = keep
	r.cfg.Store(cfg)
	r.rescheduleLocked(cfg, r.now())
}

// Close stops the workers after the actions in progress end (they are
// cancelled through their context), and closes the audit log.
func (r *Receiver) Close() {
	r.cancel()
	r.wg.Wait()
	_ = r.audit.Close()
}

// Summary says what Accept did with a payload.
type Summary struct {
	Queued     int `json:"queued"`
	Duplicates int `json:"duplicates"`
	Ignored    int `json:"ignored"`
	Resolved   int `json:"resolved"`
	Cancelled  int `json:"cancelled"`
}

// Accept queues the actions the alerts of m map to. It never runs them.
func (r *Receiver) Accept(m *Message) (Summary, error) {
	var s Summary
	cfg := r.cfg.Load()
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sweepLocked(now)
	for i := range m.Alerts {
		a := m.Alerts[i].bounded()
		key := a.key()
		_, known := r.seen[key]
		if a.Status == "resolved" {
			if err := r.roomLocked(cfg, known); err != nil {
				return s, err
			}
			s.Resolved++
			r.m.alerts.WithLabelValues(alertResolved).Inc()
			// A firing copy that arrives after the resolution must not start anything.
			r.seen[key] = now.Add(cfg.DedupeFor)
			s.Cancelled += r.cancelLocked(a.Fingerprint, now)
			continue
		}
		if known {
			s.Duplicates++
			r.m.alerts.WithLabelValues(ResultDuplicate).Inc()
			r.recordLocked(&Record{Time: now, Mode: cfg.Mode, Result: ResultDuplicate, Alertname: a.Labels["alertname"],
				Fingerprint: a.Fingerprint, StartsAt: a.StartsAt, Reason: "this notification (fingerprint and startsAt) was already received"}, actionNone)
			continue
		}
		rules := cfg.rulesFor(a.Labels)
		if len(rules) == 0 {
			s.Ignored++
			r.m.alerts.WithLabelValues(ResultIgnored).Inc()
			r.recordLocked(&Record{Time: now, Mode: cfg.Mode, Result: ResultIgnored, Alertname: truncate(a.Labels["alertname"], 128),
				Fingerprint: a.Fingerprint, StartsAt: a.StartsAt, Reason: "no rule maps this alert"}, actionNone)
			continue
		}
		if err := r.roomLocked(cfg, false); err != nil {
			return s, err
		}
		deferring := 0
		for _, rule := range rules {
			if rule.defersAt(now) {
				deferring++
			}
		}
		if n := len(r.deferred) + r.toDefer + deferring; n > cfg.Limits.DeferredActions {
			return s, full("%d actions would wait for their maintenance window, more than limits.deferred_actions (%d)", n, cfg.Limits.DeferredActions)
		}
		if len(r.queue)+len(rules) > cap(r.queue) {
			return s, full("the action queue is full (queue.size %d)", cap(r.queue))
		}
		ranks := map[string]int{}
		for _, rule := range rules {
			j := &job{alert: a, action: rule.Action, rank: ranks[rule.Action], reserved: rule.defersAt(now)}
			ranks[rule.Action]++
			select {
			case r.queue <- j:
			default: // a deferred action re-entered the queue meanwhile
				return s, full("the action queue is full (queue.size %d)", cap(r.queue))
			}
			if j.reserved {
				r.toDefer++
			}
			r.pending[a.Fingerprint] = append(r.pending[a.Fingerprint], j)
			s.Queued++
		}
		r.m.alerts.WithLabelValues(alertQueued).Inc()
		r.seen[key] = now.Add(cfg.DedupeFor)
	}
	return s, nil
}

// roomLocked says whether one more notification can be remembered; known
// is true when it already is.
func (r *Receiver) roomLocked(cfg *Config, known bool) error {
	if known || len(r.seen) < cfg.Limits.RememberedAlerts {
		return nil
	}
	return full("%d notifications are remembered, the most limits.remembered_alerts allows; each is forgotten dedupe_for (%s) after it arrived",
		len(r.seen), cfg.DedupeFor)
}

// sweepLocked forgets expired notification keys and cooldowns that no rule
// can still be in, at most once a second.
func (r *Receiver) sweepLocked(now time.Time) {
	if now.Sub(r.lastSweep) < time.Second {
		return
	}
	r.lastSweep = now
	for k, until := range r.seen {
		if now.After(until) {
			delete(r.seen, k)
		}
	}
	var longest time.Duration
	for _, rule := range r.cfg.Load().Rules {
		longest = max(longest, rule.Cooldown)
	}
	for k, last := range r.cooldowns {
		if now.Sub(last) > longest {
			delete(r.cooldowns, k)
		}
	}
}

// cancelLocked cancels the jobs of an alert that have not started.
func (r *Receiver) cancelLocked(fingerprint string, now time.Time) int {
	n := 0
	mode := r.cfg.Load().Mode
	for _, j := range r.pending[fingerprint] {
		if j.state.CompareAndSwap(jobQueued, jobCancelled) || j.state.CompareAndSwap(jobDeferred, jobCancelled) {
			n++
			r.undeferLocked(j)
			r.recordLocked(&Record{Time: now, Mode: mode, Result: ResultCancelled, Action: j.action,
				Alertname: j.alert.Labels["alertname"], Fingerprint: fingerprint, StartsAt: j.alert.StartsAt,
				Reason: "the alert resolved before the action ran"}, j.action)
		}
	}
	delete(r.pending, fingerprint)
	return n
}

func (r *Receiver) dropPendingLocked(j *job) {
	list := r.pending[j.alert.Fingerprint]
	for i, p := range list {
		if p == j {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(r.pending, j.alert.Fingerprint)
	} else {
		r.pending[j.alert.Fingerprint] = list
	}
}

// record writes a decision to the audit log, the history and the counters.
// Each of them locks on its own, so r.mu is not needed: recordLocked is
// record called by code that already holds it.
func (r *Receiver) record(rec *Record, action string) { r.recordLocked(rec, action) }

func (r *Receiver) recordLocked(rec *Record, action string) {
	rec.bound()
	if err := r.audit.Write(rec); err != nil {
		r.auditFailed(err)
	}
	r.hist.add(*rec)
	r.m.actions.WithLabelValues(action, r.metricAlertname(rec.Alertname), rec.Result).Inc()
	lvl := slog.LevelInfo
	if rec.Result == ResultFailed {
		lvl = slog.LevelWarn
	}
	if rec.Result != ResultIgnored && rec.Result != ResultDuplicate {
		r.logger.Log(context.Background(), lvl, "remediation", "result", rec.Result, "action", rec.Action, "alertname", rec.Alertname,
			"target", rec.Target, "object", rec.Object, "reason", rec.Reason)
	}
}

// otherAlertname stands, in pg_remediation_actions_total, for every alert
// name no rule has had since the start, so that senders cannot add series.
const otherAlertname = "other"

func (r *Receiver) metricAlertname(name string) string {
	if (*r.names.Load())[name] {
		return name
	}
	return otherAlertname
}

// auditFailed reports an audit record that could not be written.
func (r *Receiver) auditFailed(err error) {
	r.m.auditErrors.Inc()
	r.logger.Error("cannot write the audit log; actions do not run until it can be written", "err", err)
}

// Recent returns the latest decisions, newest first.
func (r *Receiver) Recent() []Record { return r.hist.recent() }

func (r *Receiver) worker() {
	defer r.wg.Done()
	for {
		select {
		case <-r.ctx.Done():
			return
		case j := <-r.queue:
			r.mu.Lock()
			if j.reserved {
				j.reserved = false
				r.toDefer--
			}
			running := j.state.CompareAndSwap(jobQueued, jobRunning)
			if running {
				r.dropPendingLocked(j)
			}
			r.mu.Unlock()
			if running { // else cancelled; already audited
				r.process(j)
			}
		}
	}
}

// outcome is what an action decided.
type outcome struct {
	result string
	reason string
	// err is a failure that counts against the target's circuit breaker.
	err error
}

func ran(reason string) outcome { return outcome{result: ResultRan, reason: reason} }
func skipped(format string, args ...any) outcome {
	return outcome{result: ResultSkipped, reason: fmt.Sprintf(format, args...)}
}
func refused(format string, args ...any) outcome {
	return outcome{result: ResultRefused, reason: fmt.Sprintf(format, args...)}
}
func failed(err error) outcome { return outcome{result: ResultFailed, reason: err.Error(), err: err} }

func (r *Receiver) process(j *job) {
	start := r.now()
	// The configuration current now, not the one the job was queued under.
	cfg := r.cfg.Load()
	rec := &Record{Mode: cfg.Mode, Action: j.action, Alertname: truncate(j.alert.Labels["alertname"], 128),
		Fingerprint: j.alert.Fingerprint, StartsAt: j.alert.StartsAt}
	out := r.execute(cfg, j, rec, start)
	if out.result == "" {
		return // deferred; audited when deferring
	}
	d := r.now().Sub(start)
	rec.Time, rec.Result, rec.Reason, rec.DurationSeconds = r.now(), out.result, out.reason, d.Seconds()
	r.m.duration.WithLabelValues(j.action).Observe(d.Seconds())
	r.record(rec, j.action)
}

// ruleFor returns the rule of cfg that job j stands for, nil when cfg no
// longer maps its alert to its action.
func (cfg *Config) ruleFor(j *job) *Rule {
	n := 0
	for _, rule := range cfg.rulesFor(j.alert.Labels) {
		if rule.Action != j.action {
			continue
		}
		if n == j.rank {
			return rule
		}
		n++
	}
	return nil
}

func (r *Receiver) execute(cfg *Config, j *job, rec *Record, now time.Time) outcome {
	rule := cfg.ruleFor(j)
	if rule == nil {
		return skipped("the configuration no longer maps this alert to %s (changed by a reload after the action was queued)", j.action)
	}
	t := cfg.targetFor(j.alert.Labels)
	if t == nil {
		return refused("no target in the configuration matches the alert's labels (%s)", describeLabels(j.alert.Labels))
	}
	rec.Target = t.Name
	if w := rule.window; w != nil && !w.Open(now) {
		next := w.Next(now)
		if !rule.defers() {
			return skipped("outside maintenance window %q (next opening %s)", rule.Window, next.Format(time.RFC3339))
		}
		if o := r.deferUntil(cfg, j, rule, rec, next, now); o != nil {
			return *o
		}
		return outcome{}
	}
	r.mu.Lock()
	ts := r.targets[t.Name]
	r.mu.Unlock()
	if ts == nil {
		return skipped("target %q left the configuration", t.Name)
	}
	if err := ts.breaker.Allow(now); err != nil {
		return skipped("target %s: %v", t.Name, err)
	}
	sem := ts.sem
	select {
	case sem <- struct{}{}:
	case <-r.ctx.Done():
		ts.breaker.Record(r.now(), nil)
		return skipped("the receiver is shutting down")
	}
	defer func() { <-sem }()
	ex := &execution{r: r, cfg: cfg, rule: rule, target: t, labels: j.alert.Labels, rec: rec, dryRun: cfg.dryRun(), now: now}
	out := rule.action.run(r.ctx, ex)
	ts.breaker.Record(r.now(), out.err)
	return out
}

// deferUntil parks j until its window opens; a resolution cancels it
// meanwhile, and a reload brings it back at the new configuration's opening.
// Past limits.deferred_actions it is skipped instead.
func (r *Receiver) deferUntil(cfg *Config, j *job, rule *Rule, rec *Record, next, now time.Time) *outcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n := len(r.deferred); n >= cfg.Limits.DeferredActions {
		return ptr(skipped("outside maintenance window %q, and %d actions already wait for their window (limits.deferred_actions)", rule.Window, n))
	}
	j.state.Store(jobDeferred)
	r.pending[j.alert.Fingerprint] = append(r.pending[j.alert.Fingerprint], j)
	r.deferred[j] = struct{}{}
	rec.Time, rec.Result = now, ResultDeferred
	rec.Reason = fmt.Sprintf("outside maintenance window %q; deferred to %s", rule.Window, next.Format(time.RFC3339))
	r.recordLocked(rec, j.action)
	j.timer = time.AfterFunc(next.Sub(now), func() { r.wake(j) })
	return nil
}

// wake queues a deferred job again, where it goes through every check
// under the configuration current then.
func (r *Receiver) wake(j *job) {
	r.mu.Lock()
	delete(r.deferred, j)
	r.mu.Unlock()
	if !j.state.CompareAndSwap(jobDeferred, jobQueued) {
		return // cancelled, or already woken
	}
	select {
	case r.queue <- j:
	case <-r.ctx.Done():
	}
}

// undeferLocked forgets a deferred job that will not run.
func (r *Receiver) undeferLocked(j *job) {
	if j.timer != nil {
		j.timer.Stop()
	}
	delete(r.deferred, j)
}

// rescheduleLocked moves the wake-up of every deferred job to what cfg
// says: its rule's window's next opening, or now when cfg no longer defers
// it (the job then decides under cfg at once).
func (r *Receiver) rescheduleLocked(cfg *Config, now time.Time) {
	for j := range r.deferred {
		var wait time.Duration
		if rule := cfg.ruleFor(j); rule != nil && rule.window != nil && rule.defers() {
			wait = rule.window.Next(now).Sub(now)
		}
		j.timer.Reset(wait)
	}
}

// describeLabels lists the labels that usually pick a target, for messages.
func describeLabels(labels map[string]string) string {
	var parts []string
	for _, k := range []string{"instance", "job", "target", "cluster"} {
		if v, ok := labels[k]; ok {
			parts = append(parts, k+"="+truncate(v, 64))
		}
	}
	sort.Strings(parts)
	if len(parts) == 0 {
		return "no instance, job, target or cluster label"
	}
	return strings.Join(parts, ", ")
}
