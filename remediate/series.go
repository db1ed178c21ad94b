package remediate

import (
	"strconv"
	"time"
)

// The result label of pg_remediation_alerts_total: what became of an alert.
// Duplicate and ignored share the audit log's results.
const (
	alertQueued   = "queued"
	alertResolved = "resolved"
)

var alertResults = []string{alertQueued, ResultDuplicate, ResultIgnored, alertResolved}

// actionNone is the action label of decisions taken before any rule applies
// (duplicate, ignored).
const actionNone = "none"

// dryRun is true unless the mode is enforce.
func (c *Config) dryRun() bool { return c.Mode != ModeEnforce }

// defers is true when the rule waits for its window's next opening rather
// than skipping.
func (r *Rule) defers() bool { return r.OutsideWindow != "skip" }

// defersAt is true when a job of the rule would wait for its window at now.
func (r *Rule) defersAt(now time.Time) bool {
	return r.window != nil && r.defers() && !r.window.Open(now)
}

// decides reports whether a job of rule, queued under c, can be decided
// result: ran only in enforce mode, dry_run only in dry-run mode, deferred
// only for a rule with a window it defers to; the other results can happen
// to any rule.
func (c *Config) decides(rule *Rule, result string) bool {
	switch result {
	case ResultRan:
		return !c.dryRun()
	case ResultDryRun:
		return c.dryRun()
	case ResultDeferred:
		return rule.window != nil && rule.defers()
	}
	return true
}

// zeroSeries creates at 0 the counter series whose labels cfg and the code
// know before anything happens, so that the first event is a rise from 0
// that rate() and increase() see, not a series born at 1. It runs at start
// and on every reload, before cfg is in use:
//   - each webhook status code and each fate of an alert;
//   - per rule, its action and alert name with every result it can be
//     decided, and its action's duration histogram;
//   - per configured alert name, the duplicate it can be (action "none"),
//     and ignored when every rule of that name has matchers (an alert of
//     the name that none of them fits is ignored; a rule without matchers
//     maps all of them);
//   - ignored under the alert name "other", which every name no rule has
//     is counted as.
//
// The breakers' series (pg_remediation_circuit_opened_total and the state)
// are reported per configured target from the breakers themselves, from 0.
//
// Series of rules a reload removes stay until the receiver restarts: jobs
// queued or deferred under the previous configuration still decide under
// their labels (a deferred one at its window's next opening, hours later
// perhaps), and a series deleted then would come back born at 1. They stay
// bounded by the rules configured since the start.
func (m *metrics) zeroSeries(cfg *Config) {
	for _, code := range webhookCodes {
		m.requests.WithLabelValues(strconv.Itoa(code))
	}
	for _, res := range alertResults {
		m.alerts.WithLabelValues(res)
	}
	unconditional := map[string]bool{}
	for _, rule := range cfg.Rules {
		name := truncate(rule.Alertname, 128)
		for _, res := range decisionResults {
			if cfg.decides(rule, res) {
				m.actions.WithLabelValues(rule.Action, name, res)
			}
		}
		m.duration.WithLabelValues(rule.Action)
		m.actions.WithLabelValues(actionNone, name, ResultDuplicate)
		if _, seen := unconditional[name]; !seen {
			unconditional[name] = false
		}
		if len(rule.Match) == 0 && len(rule.MatchRE) == 0 {
			unconditional[name] = true
		}
	}
	m.actions.WithLabelValues(actionNone, otherAlertname, ResultIgnored)
	for name, all := range unconditional {
		if !all {
			m.actions.WithLabelValues(actionNone, name, ResultIgnored)
		}
	}
}
