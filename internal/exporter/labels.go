package exporter

import (
	"fmt"
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/pghardening/pg_hardening_exporter/collector"
	"github.com/pghardening/pg_hardening_exporter/internal/config"
	"github.com/pghardening/pg_hardening_exporter/internal/metric"
)

// constLabels are the constant labels in force: those for every series, and
// those a named /probe target adds.
type constLabels struct {
	global   config.ConstantLabels
	byTarget map[string]config.ConstantLabels
}

// forProbe returns the labels of /probe?target=name&auth_module=authModule:
// a target named in the file adds its own; an address probed through an
// auth module gets the global ones.
func (c *constLabels) forProbe(name, authModule string) config.ConstantLabels {
	if c == nil {
		return nil
	}
	if authModule == "" {
		if l, ok := c.byTarget[name]; ok {
			return l
		}
	}
	return c.global
}

// buildConstLabels merges the file's and the command line's constant labels
// (the command line's win; a target's win over both for its /probe) and
// refuses a name that a served series already has as a label.
func (s Settings) buildConstLabels(cfg *config.Config, custom []*collector.CustomQuery) (*constLabels, error) {
	taken := servedLabels(s.Collectors, custom)
	var problems []string
	check := func(labels config.ConstantLabels, where func(name string) string) {
		for _, name := range labels.Names() {
			if by, ok := taken[name]; ok {
				problems = append(problems, fmt.Sprintf("%s: constant label %q is already a label of %s; choose another name",
					where(name), name, by))
			}
		}
	}
	file := cfg.File()
	check(cfg.ConstantLabels, func(name string) string { return fmt.Sprintf("%s:%d", file, cfg.ConstantLabelLine(name)) })
	check(s.ConstantLabels, func(string) string { return "--constant-labels" })
	out := &constLabels{global: cfg.ConstantLabels.Merge(s.ConstantLabels), byTarget: map[string]config.ConstantLabels{}}
	for _, t := range cfg.Targets {
		check(t.ConstantLabels, func(string) string { return fmt.Sprintf("%s:%d: target %q", file, t.Line, t.Name) })
		out.byTarget[t.Name] = out.global.Merge(t.ConstantLabels)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(problems, "\n"))
	}
	return out, nil
}

// servedLabels maps every label name a served series can carry to one family
// that has it, for messages. Histogram and summary labels are included.
func servedLabels(enabled []string, custom []*collector.CustomQuery) map[string]string {
	taken := map[string]string{"le": "every histogram", "quantile": "every summary", "version": "go_info"}
	add := func(ms []*metric.Metric) {
		for _, m := range ms {
			for _, l := range m.Labels {
				if _, ok := taken[l]; !ok {
					taken[l] = m.Name
				}
			}
		}
	}
	on := map[string]bool{}
	for _, n := range enabled {
		on[n] = true
	}
	for _, sp := range collector.Specs() {
		if on[sp.Name] {
			add(sp.Metrics)
		}
	}
	add(collector.MetaMetrics())
	add(collector.CustomQueryMetrics())
	for _, sv := range servedFamilies() {
		add(sv.Metrics)
	}
	for _, q := range custom {
		for _, l := range q.LabelNames() {
			if _, ok := taken[l]; !ok {
				taken[l] = "custom query " + q.Name
			}
		}
	}
	return taken
}

// labelled adds constant labels to every series g gathers. A series that
// already has one of the names keeps its own value (the names were checked
// against every declared family when the configuration was loaded).
type labelled struct {
	g      prometheus.Gatherer
	labels config.ConstantLabels
}

func (l labelled) Gather() ([]*dto.MetricFamily, error) {
	mfs, err := l.g.Gather()
	if len(l.labels) == 0 {
		return mfs, err
	}
	names := l.labels.Names()
	for _, mf := range mfs {
		for _, m := range mf.Metric {
			have := make(map[string]bool, len(m.Label))
			for _, lp := range m.Label {
				have[lp.GetName()] = true
			}
			for _, n := range names {
				if !have[n] {
					m.Label = append(m.Label, &dto.LabelPair{Name: &n, Value: ptr(l.labels[n])})
				}
			}
			sort.Slice(m.Label, func(i, j int) bool { return m.Label[i].GetName() < m.Label[j].GetName() })
		}
	}
	return mfs, err
}

func ptr(s string) *string { return &s }
