package dashboards

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
)

// The dashboard linter's rules, rewritten for these dashboards: the
// datasource is a variable, every selector filters by job and instance, rates
// use $__rate_interval, every panel has a title, description, unit and a
// target, UIDs and panel ids are unique, counters are only read through rate,
// irate or increase, and a panel with thresholds draws them.

type jsonDashboard struct {
	UID   string `json:"uid"`
	Title string `json:"title"`
	Tags  []string
	Links []struct {
		Type string
		Tags []string
	}
	Templating struct {
		List []struct {
			Name, Type string
			Query      any
			Datasource *jsonRef
		}
	}
	Panels []jsonPanel
}

type jsonRef struct{ Type, UID string }

type jsonPanel struct {
	ID          int    `json:"id"`
	Type        string `json:"type"`
	Title       string `json:"title"`
	Description string `json:"description"`
	Datasource  *jsonRef
	Targets     []struct {
		Expr       string `json:"expr"`
		RefID      string `json:"refId"`
		Legend     string `json:"legendFormat"`
		Instant    bool   `json:"instant"`
		Datasource *jsonRef
	}
	FieldConfig struct {
		Defaults struct {
			Unit       string
			Thresholds *struct {
				Steps []struct {
					Value *float64
					Color string
				}
			}
			Custom map[string]any
		}
	}
}

func (p jsonPanel) thresholdValues() []float64 {
	var out []float64
	if t := p.FieldConfig.Defaults.Thresholds; t != nil {
		for _, s := range t.Steps {
			if s.Value != nil {
				out = append(out, *s.Value)
			}
		}
	}
	return out
}

func decode(t *testing.T, raw []byte) jsonDashboard {
	t.Helper()
	var d jsonDashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// counterSuffixes mark families that only make sense through rate, irate or
// increase.
var counterSuffixes = []string{"_total", "_bucket", "_count", "_sum"}

func lint(d jsonDashboard) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, d.UID+": "+fmt.Sprintf(format, args...)) }
	if d.UID == "" || d.Title == "" {
		bad("empty uid or title")
	}
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
		if v.Type == "query" && (v.Datasource == nil || v.Datasource.UID != "${datasource}") {
			bad("variable %s does not use the datasource variable", v.Name)
		}
	}
	if vars["datasource"] != "datasource" {
		bad("no datasource variable")
	}
	for _, name := range []string{"job", "instance"} {
		if vars[name] != "query" {
			bad("no %s variable", name)
		}
	}
	linked := false
	for _, l := range d.Links {
		if l.Type == "dashboards" && len(l.Tags) == 1 && l.Tags[0] == packTag {
			linked = true
		}
	}
	if !linked {
		bad("no link to the other dashboards by tag %s", packTag)
	}
	ids, titles := map[int]bool{}, map[string]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] || p.ID == 0 {
			bad("panel id %d missing or used twice", p.ID)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		where := fmt.Sprintf("panel %q", p.Title)
		if p.Title == "" || titles[p.Title] {
			bad("%s: title empty or used twice", where)
		}
		titles[p.Title] = true
		if strings.TrimSpace(p.Description) == "" {
			bad("%s: no description", where)
		}
		if p.FieldConfig.Defaults.Unit == "" {
			bad("%s: no unit", where)
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			bad("%s: datasource is not the variable", where)
		}
		if len(p.Targets) == 0 {
			bad("%s: no target", where)
		}
		if v := p.thresholdValues(); !sort.Float64sAreSorted(v) {
			bad("%s: threshold steps %v are not in ascending order", where, v)
		}
		if len(p.thresholdValues()) > 0 && p.Type == "timeseries" {
			style, _ := p.FieldConfig.Defaults.Custom["thresholdsStyle"].(map[string]any)
			if style == nil || style["mode"] == "off" {
				bad("%s: has thresholds but does not draw them", where)
			}
		}
		for _, tg := range p.Targets {
			where := fmt.Sprintf("panel %q target %s", p.Title, tg.RefID)
			if tg.Datasource == nil || tg.Datasource.UID != "${datasource}" {
				bad("%s: datasource is not the variable", where)
			}
			problems = append(problems, lintExpr(d.UID+": "+where, tg.Expr, vars["database"] != "")...)
		}
	}
	return problems
}

func lintExpr(where, expr string, hasDatabase bool) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, where+": "+fmt.Sprintf(format, args...)) }
	if strings.TrimSpace(expr) == "" {
		bad("empty expression")
		return problems
	}
	if strings.Contains(expr, "$__interval") {
		bad("uses $__interval; use $__rate_interval")
	}
	sels, err := selectors(expr)
	if err != nil {
		bad("%v", err)
		return problems
	}
	if len(sels) == 0 {
		bad("reads no metric")
	}
	for _, s := range sels {
		if !strings.Contains(s.Matchers, `job=~"$job"`) || !strings.Contains(s.Matchers, `instance=~"$instance"`) {
			bad("%s does not filter by job and instance", s.Metric)
		}
		if strings.Contains(s.Matchers, "$database") && !hasDatabase {
			bad("%s filters by a database variable the dashboard lacks", s.Metric)
		}
		fn := s.innermostFunc()
		if (fn == "rate" || fn == "irate") && s.Range != rateInterval {
			bad("%s(%s[%s]) does not use $__rate_interval", fn, s.Metric, s.Range)
		}
		for _, suf := range counterSuffixes {
			if strings.HasSuffix(s.Metric, suf) && fn != "rate" && fn != "irate" && fn != "increase" {
				bad("counter %s is read outside rate, irate or increase", s.Metric)
			}
		}
	}
	return problems
}

func TestLint(t *testing.T) {
	uids := map[string]string{}
	var names []string
	files := render(t)
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		d := decode(t, files[name])
		if other, dup := uids[d.UID]; dup {
			t.Errorf("%s and %s share uid %q", name, other, d.UID)
		}
		uids[d.UID] = name
		for _, p := range lint(d) {
			t.Error(p)
		}
	}
}

// TestLintFindsProblems feeds the linter broken dashboards, so a lint that
// checks nothing cannot pass.
func TestLintFindsProblems(t *testing.T) {
	raw := string(render(t)["fleet-overview.json"])
	for _, tc := range []struct{ name, from, to, want string }{
		{"no job filter", `pg_up{job=~\"$job\", `, `pg_up{`, "does not filter by job"},
		{"fixed rate range", `[$__rate_interval]`, `[5m]`, "does not use $__rate_interval"},
		{"counter without rate", `rate(pg_stat_database_xact_commit_total`, `abs(pg_stat_database_xact_commit_total`, "outside rate"},
		{"no unit", `"unit": "percentunit"`, `"unit": ""`, "no unit"},
		{"no description", `"description": "Does every server answer the exporter, and does Prometheus reach the exporter? 1 up, 0 down."`, `"description": ""`, "no description"},
		{"fixed datasource", `"uid": "${datasource}"`, `"uid": "P1809F7CD0C75ACF3"`, "datasource is not the variable"},
		{"thresholds not drawn", `"mode": "dashed"`, `"mode": "off"`, "does not draw them"},
		{"steps out of order", `"value": 0.8,`, `"value": 0.99,`, "ascending order"},
	} {
		mutated := strings.Replace(raw, tc.from, tc.to, 1)
		if mutated == raw {
			t.Fatalf("%s: %q not found in the dashboard", tc.name, tc.from)
		}
		found := false
		for _, p := range lint(decode(t, []byte(mutated))) {
			if strings.Contains(p, tc.want) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: lint did not report %q", tc.name, tc.want)
		}
	}
}
