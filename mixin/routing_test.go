package mixin

import (
	"strings"
	"testing"
)

// droppedLabels returns the routing labels an expression's aggregations drop:
// every "by (...)" list must hold them all, and an aggregation without a by
// or without clause drops every label.
func droppedLabels(expr string, routing []string) []string {
	toks := tokenize(expr)
	var out []string
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if t.kind != tokIdent || i+1 >= len(toks) {
			continue
		}
		switch {
		case t.text == "by" && toks[i+1].text == "(":
			end := skipParens(toks, i+1)
			have := map[string]bool{}
			for _, l := range toks[i+1 : end] {
				have[l.text] = true
			}
			for _, r := range routing {
				if !have[r] {
					out = append(out, r+" (by "+joinTokens(toks[i+1:end+1])+")")
				}
			}
			i = end
		case aggregators[t.text] && toks[i+1].text == "(":
			end := skipParens(toks, i+1)
			if end+1 >= len(toks) || (toks[end+1].text != "by" && toks[end+1].text != "without") {
				out = append(out, "every label ("+t.text+" without by)")
			}
		}
	}
	return out
}

func joinTokens(toks []token) string {
	var s []string
	for _, t := range toks {
		s = append(s, t.text)
	}
	return strings.Join(s, "")
}

// TestRoutingLabelsSurviveAggregation renders the pack with routing labels
// beyond the default cluster and proves no recording rule or alert
// aggregates them away.
func TestRoutingLabelsSurviveAggregation(t *testing.T) {
	c, err := Parse("m.yml", []byte("routing_labels: [cluster, env, team]\n"))
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for file, f := range c.Rules() {
		for _, g := range f.Groups {
			for _, r := range g.Rules {
				checked++
				for _, d := range droppedLabels(r.Expr, c.RoutingLabels) {
					t.Errorf("%s %s%s drops routing label %s", file, r.Alert, r.Record, d)
				}
			}
		}
	}
	if checked < 50 {
		t.Fatalf("only %d rules checked", checked)
	}
}

// TestDroppedLabels proves the check finds an aggregation that loses a
// routing label, and accepts one that keeps it.
func TestDroppedLabels(t *testing.T) {
	for _, tc := range []struct {
		expr string
		bad  bool
	}{
		{`max by (job, instance) (pg_up) == 0`, true},
		{`max by (job, instance, cluster, env) (pg_up) == 0`, false},
		{`count(pg_up) > 1`, true},
		{`sum(pg_up) without (instance)`, false},
		{`pg_up == 0 and on(job, instance) max by (job, instance, cluster, env) (pg_up)`, false},
		{`time() - pg_postmaster_start_timestamp_seconds < 600`, false},
	} {
		got := droppedLabels(tc.expr, []string{"cluster", "env"})
		if (len(got) > 0) != tc.bad {
			t.Errorf("%s: dropped %v, want dropped: %v", tc.expr, got, tc.bad)
		}
	}
}
