//lint:file-ignore SA1019 the classic dashboard model (not dashboardv2) is the JSON that Grafana 9 to 12 import and provision from files

package dashboards

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/heatmap"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	tablepanel "github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
	"github.com/pghardening/pg_hardening_exporter/mixin/names"
)

// packTag is on every dashboard; the link bar lists the dashboards that have it.
const packTag = "pg-hardening"

// datasource is the templated data source every panel and variable uses.
var datasource = common.DataSourceRef{Type: ptr("prometheus"), Uid: ptr("${datasource}")}

// panelBuilder is what the SDK's panel builders have in common.
type panelBuilder[T any] interface {
	cog.Builder[dashboard.Panel]
	Id(uint32) T
	Title(string) T
	Description(string) T
	Datasource(common.DataSourceRef) T
	Unit(string) T
	Min(float64) T
	Max(float64) T
	Thresholds(cog.Builder[dashboard.ThresholdsConfig]) T
	WithTarget(cog.Builder[variants.Dataquery]) T
	Span(uint32) T
	Height(uint32) T
}

func apply[T panelBuilder[T]](b T, p panel, id uint32) T {
	w := p.Width
	if w == 0 {
		w = 8
	}
	b = b.Id(id).Title(p.Title).Description(p.Description).Datasource(datasource).Unit(p.Unit).
		Thresholds(thresholds(p.Lines)).Span(w).Height(8)
	if p.Min != nil {
		b = b.Min(*p.Min)
	}
	if p.Max != nil {
		b = b.Max(*p.Max)
	}
	for i, q := range p.Queries {
		t := prometheus.NewDataqueryBuilder().Expr(q.Expr).RefId(string(rune('A' + i))).Datasource(datasource)
		if q.Legend != "" {
			t = t.LegendFormat(q.Legend)
		}
		if q.Instant {
			t = t.Instant()
		} else {
			t = t.Range()
		}
		switch q.Format {
		case "table":
			t = t.Format(prometheus.PromQueryFormatTable)
		case "heatmap":
			t = t.Format(prometheus.PromQueryFormatHeatmap)
		}
		b = b.WithTarget(t)
	}
	return b
}

// thresholds draws each line. Below a ceiling the series is green, past the
// first (warning) orange, past the last (critical) red; a floor the other way
// round. Grafana wants the steps in ascending order.
func thresholds(lines []line) *dashboard.ThresholdsConfigBuilder {
	values := make([]float64, 0, len(lines))
	below := false
	for _, l := range lines {
		values = append(values, l.Value)
		below = below || l.Below
	}
	sort.Float64s(values)
	colors := []string{"green", "orange", "red"} // from good to bad
	if below {
		colors = []string{"red", "orange", "green"}
	}
	if len(values) < 2 {
		colors = []string{colors[0], colors[2]}
		if below {
			colors = []string{"red", "green"}
		}
	}
	steps := []dashboard.Threshold{{Color: colors[0]}}
	for i, v := range values {
		c := colors[min(i+1, len(colors)-1)]
		steps = append(steps, dashboard.Threshold{Value: ptr(v), Color: c})
	}
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(steps)
}

func buildPanel(p panel, id uint32) (cog.Builder[dashboard.Panel], error) {
	switch p.Viz {
	case vizTimeseries:
		b := apply(timeseries.NewPanelBuilder(), p, id).FillOpacity(10).ShowPoints(common.VisibilityModeNever)
		if len(p.Lines) > 0 {
			b = b.ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashed))
		}
		if p.Stack {
			b = b.Stacking(common.NewStackingConfigBuilder().Mode(common.StackingModeNormal))
		}
		return b, nil
	case vizTable:
		return apply(tablepanel.NewPanelBuilder(), p, id).
			Footer(common.NewTableFooterOptionsBuilder().Show(false).Reducer([]string{"sum"})).
			WithTransformation(dashboard.DataTransformerConfig{
				Id: "organize", Options: map[string]any{"excludeByName": map[string]any{"Time": true}},
			}), nil
	case vizHeatmap:
		return apply(heatmap.NewPanelBuilder(), p, id).Calculate(false).
			YAxis(heatmap.NewYAxisConfigBuilder().Unit(p.Unit)), nil
	}
	return nil, fmt.Errorf("panel %q: unknown visualization %q", p.Title, p.Viz)
}

func variable(name, label, query string, multi bool) *dashboard.QueryVariableBuilder {
	v := dashboard.NewQueryVariableBuilder(name).Label(label).Datasource(datasource).
		Query(dashboard.StringOrMap{String: ptr(query)}).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).Sort(dashboard.VariableSortAlphabeticalAsc)
	if multi {
		v = v.Multi(true).IncludeAll(true).AllValue(".*")
	}
	return v
}

func matchers(extra string, base ...string) string {
	if extra != "" {
		base = append(base, extra)
	}
	if len(base) == 0 {
		return ""
	}
	return "{" + strings.Join(base, ", ") + "}"
}

// servedBy matches the series that name a job and instance to offer: pg_up
// where the exporter scrapes a server, pg_exporter_build_info where an
// exporter serves its own metrics. With one exporter per server both are on
// the same job and instance; beside /probe the exporter's own job has no
// pg_up but carries its pools, PgBouncers and backup sources, so it has to
// be offered too.
const servedBy = `__name__=~"` + names.Up + `|` + names.ExporterBuildInfo + `"`

// jobValues is the job variable's query.
func jobValues(cfg Config) string {
	return "label_values(" + matchers(cfg.Selector, servedBy) + ", job)"
}

// instanceValues is the instance variable's query.
func instanceValues() string {
	return "label_values(" + matchers("", servedBy, `job=~"$job"`) + ", instance)"
}

func buildBoard(cfg Config, b board) (dashboard.Dashboard, error) {
	d := dashboard.NewDashboardBuilder(b.Title).Uid(b.UID).Description(b.Description).
		Tags([]string{packTag, b.Tag}).Refresh(cfg.Refresh).Time("now-1h", "now").
		Timezone(common.TimeZoneBrowser).Tooltip(dashboard.DashboardCursorSyncCrosshair).Readonly().
		Link(dashboard.NewDashboardLinkBuilder("PostgreSQL hardening").Type(dashboard.DashboardLinkTypeDashboards).
			Tags([]string{packTag}).AsDropdown(true).IncludeVars(true).KeepTime(true))
	d = d.WithVariable(dashboard.NewDatasourceVariableBuilder("datasource").Label("Data source").Type("prometheus"))
	if b.Receiver {
		d = d.WithVariable(variable("job", "Job", "label_values("+names.RemQueueCapacity+matchers(cfg.RemediationSelector)+", job)", false)).
			WithVariable(variable("instance", "Instance", "label_values("+names.RemQueueCapacity+matchers("", `job=~"$job"`)+", instance)", true))
	} else {
		d = d.WithVariable(variable("job", "Job", jobValues(cfg), false)).
			WithVariable(variable("instance", "Instance", instanceValues(), true)).
			WithVariable(variable("database", "Database", "label_values("+names.NumBackends+matchers("", sel)+", datname)", true))
	}
	id := uint32(0)
	for _, r := range b.Rows {
		id++
		d = d.WithRow(dashboard.NewRowBuilder(r.Title).Id(id))
		for _, p := range r.Panels {
			id++
			pb, err := buildPanel(p, id)
			if err != nil {
				return dashboard.Dashboard{}, fmt.Errorf("dashboard %s: %w", b.UID, err)
			}
			d = d.WithPanel(pb)
		}
	}
	out, err := d.Build()
	if err != nil {
		return dashboard.Dashboard{}, fmt.Errorf("dashboard %s: %w", b.UID, err)
	}
	return out, nil
}

// Render builds every dashboard and returns file name -> JSON.
func Render(cfg Config) (map[string][]byte, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("dashboards: %w", err)
	}
	out := map[string][]byte{}
	for _, b := range boards(cfg) {
		d, err := buildBoard(cfg, b)
		if err != nil {
			return nil, err
		}
		js, err := json.MarshalIndent(d, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("dashboard %s: %w", b.UID, err)
		}
		out[b.File] = append(js, '\n')
	}
	return out, nil
}
