package mixin

import (
	"github.com/prometheus/common/model"
)

// alertSpec defines one alert: its defaults and how to render it. Tiers
// (info, warning, critical) share the name and differ in threshold and
// severity; an alert without thresholds has one rule of Severity.
type alertSpec struct {
	Name string
	// Help explains the thresholds and the guard, for examples/mixin.yml.
	Help     string
	For      string
	Info     *float64
	Warning  *float64
	Critical *float64
	Min      *float64
	// Plan, when set, says what an optional absolute capacity figure
	// (AlertConfig.Plan) counts; the expression reads it from b.plan.
	Plan     string
	Severity string // for alerts without thresholds
	Summary  string
	// Expr is the condition for one tier's threshold; min is the guard.
	Expr func(b *builder, thr, min float64) string
	// Desc is the templated description for one tier's threshold.
	Desc func(b *builder, thr float64) string
}

type alertGroup struct {
	file   string
	name   string
	alerts []*alertSpec
}

func f(v float64) *float64 { return &v }

// alertByName finds an alert's definition, including the SLO alerts.
func alertByName(name string) *alertSpec {
	for _, g := range alertGroups {
		for _, s := range g.alerts {
			if s.Name == name {
				return s
			}
		}
	}
	return nil
}

// AlertNames lists every alert the pack can render, in file order.
func AlertNames() []string {
	var out []string
	for _, g := range alertGroups {
		for _, s := range g.alerts {
			out = append(out, s.Name)
		}
	}
	for _, s := range sloSpecs {
		out = append(out, s.Name)
	}
	return out
}

// resolved is an alert's defaults with the configuration applied.
type resolved struct {
	disabled                     bool
	forDur                       Duration
	info, warning, critical, min *float64
	plan                         *float64
}

// tier is one severity of an alert with its threshold.
type tier struct {
	severity  string
	threshold float64
}

// tiers are the severities the alert has thresholds for, from info up.
func (r resolved) tiers() []tier {
	var out []tier
	for _, t := range []struct {
		sev string
		v   *float64
	}{{"info", r.info}, {"warning", r.warning}, {"critical", r.critical}} {
		if t.v != nil {
			out = append(out, tier{t.sev, *t.v})
		}
	}
	return out
}

func (c *Config) resolve(s *alertSpec) resolved {
	d, err := model.ParseDuration(s.For)
	if err != nil {
		panic("alert " + s.Name + ": bad default for: " + s.For)
	}
	r := resolved{forDur: Duration(d), info: s.Info, warning: s.Warning, critical: s.Critical, min: s.Min}
	a, ok := c.Alerts[s.Name]
	if !ok {
		return r
	}
	r.disabled = a.Disabled
	if a.For != nil {
		r.forDur = *a.For
	}
	set := func(dst **float64, v *Value) {
		if v != nil && *dst != nil {
			x := float64(*v)
			*dst = &x
		}
	}
	set(&r.info, a.Info)
	set(&r.warning, a.Warning)
	set(&r.critical, a.Critical)
	set(&r.min, a.Min)
	if a.Plan != nil && s.Plan != "" {
		x := float64(*a.Plan)
		r.plan = &x
	}
	return r
}

func (b *builder) alertRules(s *alertSpec) []Rule {
	r := b.c.resolve(s)
	if r.disabled {
		return nil
	}
	min := 0.0
	if r.min != nil {
		min = *r.min
	}
	b.plan = r.plan
	defer func() { b.plan = nil }()
	rule := func(severity string, thr float64) Rule {
		desc := s.Desc(b, thr)
		if r.forDur > 0 {
			// The for adds to the threshold's own window; say so.
			desc += " The condition has held for " + r.forDur.String() + "."
		}
		out := Rule{
			Alert:  s.Name,
			Expr:   s.Expr(b, thr, min),
			Labels: map[string]string{"severity": severity},
			Annotations: map[string]string{
				"summary":     s.Summary,
				"description": desc,
				"runbook_url": b.runbook(s.Name),
			},
		}
		if r.forDur > 0 {
			out.For = r.forDur.String()
		}
		return out
	}
	var out []Rule
	for _, t := range r.tiers() {
		out = append(out, rule(t.severity, t.threshold))
	}
	if s.Info == nil && s.Warning == nil && s.Critical == nil {
		out = append(out, rule(s.Severity, 0))
	}
	return out
}
