package dashboards

import "github.com/pghardening/pg_hardening_exporter/mixin/names"

func remediationBoard(cfg Config) board {
	_ = cfg
	return board{
		File: "remediation.json", UID: "pg-remediation", Title: "PostgreSQL / Remediation", Tag: "pg-remediation", Receiver: true,
		Description: "What the remediation receiver decided for each alert it was sent: actions by result, skipped and refused decisions, circuit breakers and the queue.",
		Rows: []row{
			{Title: "Decisions", Panels: []panel{
				ts("Actions by result", "short", "What became of the remediation actions: ran, dry run, skipped, refused, deferred, cancelled, failed?",
					q("sum by (result) ("+rate(m(names.RemActions))+")", "{{result}}")).stacked(),
				ts("Failed actions", "short", "Which actions failed, for which alert?",
					q("sum by (action, alertname) ("+rate(m(names.RemActions, `result="failed"`))+")", "{{action}} {{alertname}}")).over(0),
				table("Skipped, refused and deferred decisions", "short", "Which actions did the guards stop in the selected range, for which alert, and how? The audit log holds each reason.",
					q("sum by (action, alertname, result) ("+increaseRange(m(names.RemActions, `result=~"skipped|refused|deferred|cancelled"`))+") > 0", "")),
				ts("Alerts received", "short", "Which alerts reach the receiver, and which are ignored because no rule maps them?",
					q("sum by (result) ("+rate(m(names.RemAlerts))+")", "{{result}}")).stacked(),
				ts("Action duration P95", "s", "How long do actions take, from leaving the queue to their decision?",
					q("histogram_quantile(0.95, sum by (action, le) ("+rate(m(names.RemDurationBucket))+"))", "{{action}}")),
			}},
			{Title: "Guards and queue", Panels: []panel{
				ts("Circuit state per target", "short", "Has the receiver stopped acting on a target after repeated failures? 0 closed, 1 open, 2 half-open.",
					q(m(names.RemCircuit), "{{target}}")).over(1),
				ts("Queue length against capacity", "short", "Is the action queue filling up? A full queue answers Alertmanager with 503.",
					q(m(names.RemQueueLength), "{{instance}} queued"),
					q(m(names.RemQueueCapacity), boundLegend+"{{instance}} capacity")),
				ts("Actions waiting for their window", "short", "How many heavy actions wait for the maintenance window?",
					q(m(names.RemDeferred), "{{instance}}")),
				ts("Webhook requests by status", "reqps", "Does Alertmanager reach the receiver, and are its notifications accepted?",
					q("sum by (code) ("+rate(m(names.RemRequests))+")", "{{code}}")),
				ts("Receiver configuration loaded", "short", "Did the last configuration reload of the receiver succeed?",
					q(m(names.RemReloadOK), "{{instance}}")).under(1).ratio(),
			}},
		},
	}
}
