package dashboards

import (
	"strconv"
	"strings"
)

// viz is a Grafana panel plugin.
type viz string

const (
	vizTimeseries viz = "timeseries"
	vizTable      viz = "table"
	vizHeatmap    viz = "heatmap"
)

// query is one PromQL target of a panel.
type query struct {
	Expr    string
	Legend  string
	Instant bool   // table panels ask for the value at the end of the range
	Format  string // "" (time series), "table" or "heatmap"
}

// line is a threshold drawn on a panel. Below marks a floor (the series should
// stay above it); otherwise the series should stay below it.
type line struct {
	Value float64
	Below bool
}

// panel is what a dashboard shows in one place; Description is the question
// the panel answers, and docs/dashboards.md lists it.
type panel struct {
	Title       string
	Description string
	Unit        string
	Viz         viz
	Queries     []query
	Lines       []line
	Min, Max    *float64
	Stack       bool
	Width       uint32 // grid columns out of 24; 8 if zero
}

type row struct {
	Title  string
	Panels []panel
}

// board is one dashboard. Receiver boards read the remediation receiver's
// metrics, which carry no database label, so they have no database variable.
type board struct {
	File        string
	UID         string
	Title       string
	Description string
	Tag         string
	Receiver    bool
	Rows        []row
}

func (b board) panels() []panel {
	var out []panel
	for _, r := range b.Rows {
		out = append(out, r.Panels...)
	}
	return out
}

const (
	rateInterval = "$__rate_interval"
	rangeVar     = "$__range"
	// serverBy groups by the labels that name one server.
	serverBy = "job, instance"
)

// sel is the job and instance filter every query starts from.
const sel = `job=~"$job", instance=~"$instance"`

// dbSel adds the database variable for families with a datname label.
const dbSel = sel + `, datname=~"$database"`

// m selects a family on the chosen servers, with extra matchers.
func m(name string, extra ...string) string {
	return name + "{" + strings.Join(append([]string{sel}, extra...), ", ") + "}"
}

// Per-object families sum the objects beyond the exporter's limits into one
// series per database with empty object labels; "top objects" panels show
// the named series only.
const (
	namedTable = `relname!=""`
	namedIndex = `indexrelname!=""`
)

// md selects a family with a datname label on the chosen servers and databases.
func md(name string, extra ...string) string {
	return name + "{" + strings.Join(append([]string{dbSel}, extra...), ", ") + "}"
}

// rate is the per-second rate of a counter selection over Grafana's rate interval.
func rate(series string) string { return "rate(" + series + "[" + rateInterval + "])" }

// increaseRange is a counter's increase over the dashboard's time range.
func increaseRange(series string) string { return "increase(" + series + "[" + rangeVar + "])" }

// num prints a threshold as PromQL and Grafana read it.
func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// bucket selects the classic-histogram bucket whose upper bound is v.
// Prometheus 3 stores a whole-number bound as a float ("1.0") where the
// exporter writes "1" and Prometheus 2 keeps that, so such a bound matches
// both spellings; a fractional one is written the same by all of them.
func bucket(v float64) string {
	s := num(v)
	if strings.Contains(s, ".") {
		return `le="` + s + `"`
	}
	return `le=~"` + s + `([.]0)?"`
}

func ptr[T any](v T) *T { return &v }

func ts(title, unit, desc string, qs ...query) panel {
	return panel{Title: title, Unit: unit, Description: desc, Viz: vizTimeseries, Queries: qs}
}

func table(title, unit, desc string, qs ...query) panel {
	for i := range qs {
		qs[i].Instant, qs[i].Format = true, "table"
	}
	return panel{Title: title, Unit: unit, Description: desc, Viz: vizTable, Queries: qs, Width: 12}
}

func q(expr, legend string) query { return query{Expr: expr, Legend: legend} }

func (p panel) over(v float64) panel { p.Lines = append(p.Lines, line{Value: v}); return p }
func (p panel) under(v float64) panel {
	p.Lines = append(p.Lines, line{Value: v, Below: true})
	return p
}
func (p panel) stacked() panel { p.Stack = true; return p }
func (p panel) ratio() panel   { p.Min, p.Max = ptr(0.0), ptr(1.0); return p }

// overBoth draws a warning and a critical ceiling.
func (p panel) overBoth(v [2]float64) panel { return p.over(v[0]).over(v[1]) }

// underBoth draws a warning and a critical floor.
func (p panel) underBoth(v [2]float64) panel { return p.under(v[0]).under(v[1]) }
