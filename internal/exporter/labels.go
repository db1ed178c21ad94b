package exporter

import (
	"fmt"
	"strings"

	"github.com/pghardening/pg_hardening_exporter/collector"
	"github.com/pghardening/pg_hardening_exporter/internal/config"
	"github.com/pghardening/pg_hardening_exporter/internal/exposition"
	"github.com/pghardening/pg_hardening_exporter/internal/metric"
)

// constLabels are the constant labels in force, ready to write: those for
// every series, and those of each named /probe target (the global ones with
// the target's over them).
type constLabels struct {
	global   *exposition.ConstLabels
	byTarget map[string]*exposition.ConstLabels
}

// forProbe returns the labels of /probe?target=name&auth_module=authModule:
// a target named in the file adds its own; an address probed through an
// auth module gets the global ones.
func (c *constLabels) forProbe(name, authModule string) *exposition.ConstLabels {
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
	global := cfg.ConstantLabels.Merge(s.ConstantLabels)
	out := &constLabels{global: exposition.NewConstLabels(global), byTarget: map[string]*exposition.ConstLabels{}}
	for _, t := range cfg.Targets {
		check(t.ConstantLabels, func(string) string { return fmt.Sprintf("%s:%d: target %q", file, t.Line, t.Name) })
		out.byTarget[t.Name] = exposition.NewConstLabels(global.Merge(t.ConstantLabels))
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
