package mixin

import (
	"fmt"
	"math"

	"github.com/pghardening/pg_hardening_exporter/mixin/names"
)

// sliWindows are the windows the burn-rate alerts compare.
var sliWindows = []string{"5m", "30m", "1h", "2h", "6h", "1d", "3d"}

// Latency SLIs are exact bucket ratios, so their bounds must be bucket upper
// bounds of pg_statement_duration_seconds, written as the exporter writes le.
// Both are fractions, which Prometheus 3 stores as written; it rewrites only
// whole-number bounds ("1" becomes "1.0").
const (
	fastBucket = "0.1" // P95 < 100 ms
	slowBucket = "0.5" // P99 < 500 ms, and the slow-query threshold
)

func (b *builder) recordingGroups() []Group {
	L := b.by()
	rec := func(name, expr string) Rule { return Rule{Record: name, Expr: expr} }
	sumRate := func(metric string, extra ...string) string {
		return fmt.Sprintf("sum by (%s) (rate(%s[5m]))", L, b.pg(metric, extra...))
	}
	core := Group{Name: "postgres.recording", Rules: []Rule{
		rec(names.RecXactRate5m, sumRate(names.XactCommit)+"\n+\n"+sumRate(names.XactRollback)),
		rec(names.RecRollbackRatio5m, sumRate(names.XactRollback)+"\n/\n("+names.RecXactRate5m+" > 0)"),
		rec(names.RecBlksAccessedRate5m, sumRate(names.BlksHit)+"\n+\n"+sumRate(names.BlksRead)),
		rec(names.RecCacheHitRatio5m, sumRate(names.BlksHit)+"\n/\n("+names.RecBlksAccessedRate5m+" > 0)"),
		rec(names.RecConnectionsRatio, fmt.Sprintf("max by (%s) (%s)\n/\n(max by (%s) (%s) - max by (%s) (%s) > 0)",
			L, b.pg(names.ConnsInUse), L, b.pg(names.ConnsMax), L, b.pg(names.ConnsReserved))),
		rec(names.RecPoolUtilization, fmt.Sprintf("sum by (%s) (%s)\n/ on(%s)\n(max by (%s) (%s) > 0)",
			b.by("pool"), b.pg(names.PoolConnections), b.by("pool"), b.by("pool"), b.pg(names.PoolMax))),
		rec(names.RecDatabaseSize, fmt.Sprintf("sum by (%s) (%s)", L, b.pg(names.DatabaseSize))),
		rec(names.RecCallsRate5m, sumRate(names.StmtCount)),
		rec(names.RecP95Rate5m, b.latencyQuantile("0.95")),
		rec(names.RecP99Rate5m, b.latencyQuantile("0.99")),
		rec(names.RecWALAtRisk, fmt.Sprintf("time() - min by (%s) (%s)\nor\n(\n  time() - max by (%s) (%s)\n  and on(%s)\n  max by (%s) (%s) > 0\n)",
			L, b.pg(names.ArchiveReadyOldest), L, b.pg(names.LastArchived), L, L, b.pg(names.WALUnarchived))),
		rec(names.RecSlowRatio5m, fmt.Sprintf("(%s - %s)\n/\n(%s > 0)",
			names.RecCallsRate5m, sumRate(names.StmtBucket, `le="`+slowBucket+`"`), names.RecCallsRate5m)),
	}}
	avail := Group{Name: "postgres.sli.availability"}
	latency := Group{Name: "postgres.sli.latency"}
	for _, w := range sliWindows {
		avail.Rules = append(avail.Rules, rec(names.RecAvailability+w, b.availability(w)))
	}
	for _, bucket := range []struct{ le, family string }{{fastBucket, names.RecWithin100ms}, {slowBucket, names.RecWithin500ms}} {
		for _, w := range sliWindows {
			latency.Rules = append(latency.Rules, rec(bucket.family+w,
				fmt.Sprintf("sum by (%s) (rate(%s[%s]))\n/\n(sum by (%s) (rate(%s[%s])) > 0)",
					L, b.pg(names.StmtBucket, `le="`+bucket.le+`"`), w, L, b.pg(names.StmtCount), w)))
		}
	}
	return []Group{core, avail, latency}
}

// sloSpec is one objective with its multi-window, multi-burn-rate alert.
type sloSpec struct {
	Name    string
	Summary string
	SLI     string // recording-rule prefix, completed by the window
	What    string // for the description
	Target  func(c *Config) float64
}

var sloSpecs = []sloSpec{
	{Name: "PostgresAvailabilityBudgetBurn", Summary: "PostgreSQL is using up its availability error budget too fast.",
		SLI: names.RecAvailability, What: "availability", Target: func(c *Config) float64 { return c.SLO.Availability }},
	{Name: "PostgresLatencyP95BudgetBurn", Summary: "Too many PostgreSQL statements are slower than 100 ms.",
		SLI: names.RecWithin100ms, What: "share of statements within 100ms", Target: func(c *Config) float64 { return c.SLO.LatencyP95 }},
	{Name: "PostgresLatencyP99BudgetBurn", Summary: "Too many PostgreSQL statements are slower than 500 ms.",
		SLI: names.RecWithin500ms, What: "share of statements within 500ms", Target: func(c *Config) float64 { return c.SLO.LatencyP99 }},
}

// burnTier is one pair of windows and the burn rate both must exceed.
type burnTier struct {
	long, short string
	factor      float64
}

// Page at 14.4x (2 % of a 30-day budget in an hour) and 6x (5 % in six
// hours); ticket at 3x (10 % in a day) and 1x (10 % in three days).
var (
	pageTiers   = []burnTier{{"1h", "5m", 14.4}, {"6h", "30m", 6}}
	ticketTiers = []burnTier{{"1d", "2h", 3}, {"3d", "6h", 1}}
)

func (b *builder) sloAlerts() []Rule {
	var out []Rule
	for _, s := range sloSpecs {
		target := s.Target(b.c)
		budget := math.Round((1-target)*1e12) / 1e12
		for _, sev := range []struct {
			name  string
			tiers []burnTier
			forD  Duration
		}{{"critical", pageTiers, b.c.SLO.PageFor}, {"warning", ticketTiers, b.c.SLO.TicketFor}} {
			expr := ""
			for i, t := range sev.tiers {
				if i > 0 {
					expr += "\nor\n"
				}
				expr += fmt.Sprintf("(\n  (1 - %s%s) / %s > %s\nand\n  (1 - %s%s) / %s > %s\n)",
					s.SLI, t.long, num(budget), num(t.factor), s.SLI, t.short, num(budget), num(t.factor))
			}
			r := Rule{
				Alert:  s.Name,
				Expr:   expr,
				Labels: map[string]string{"severity": sev.name},
				Annotations: map[string]string{
					"summary": s.Summary,
					"description": fmt.Sprintf("{{ $labels.instance }} is spending the error budget of its %s objective (%s) {{ $value | humanize }} times faster than sustainable (alerting at %sx over %s and %s, or %sx over %s and %s).",
						s.What, pct(target), num(sev.tiers[0].factor), sev.tiers[0].long, sev.tiers[0].short,
						num(sev.tiers[1].factor), sev.tiers[1].long, sev.tiers[1].short),
					"runbook_url": b.runbook(s.Name),
				},
			}
			if sev.forD > 0 {
				r.For = sev.forD.String()
			}
			out = append(out, r)
		}
	}
	return out
}

// availability is the share of scrapes in the window that returned pg_up 1.
// A failed scrape (up 0, a host or network outage) returns no pg_up at all,
// so the scrapes are counted from up: pg_up samples over up samples, with
// 0 when none answered. Where up is not there (a federated copy of pg_up
// alone), the share of pg_up samples that are 1 is all there is.
func (b *builder) availability(w string) string {
	L := b.by()
	up := fmt.Sprintf("sum by (%s) (count_over_time(%s[%s]))", L, b.pg(names.PrometheusUp), w)
	return fmt.Sprintf("(\n  sum by (%s) (sum_over_time(%s[%s]))\n  or\n  %s * 0\n)\n/\n%s\nor\navg by (%s) (avg_over_time(%s[%s]))",
		L, b.pg(names.Up), w, up, up, L, b.pg(names.Up), w)
}

// latencyQuantile is a statement latency quantile over 5 minutes from the
// native histogram where Prometheus stores one (scraped with
// scrape_native_histograms), else from the classic buckets.
func (b *builder) latencyQuantile(q string) string {
	return fmt.Sprintf("histogram_quantile(%s, sum by (%s) (rate(%s[5m])))\nor\nhistogram_quantile(%s, sum by (%s) (rate(%s[5m])))",
		q, b.by(), b.pg(names.StmtDuration), q, b.by("le"), b.pg(names.StmtBucket))
}
