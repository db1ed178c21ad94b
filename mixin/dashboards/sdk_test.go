//lint:file-ignore SA1019 the classic dashboard model (not dashboardv2) is the JSON that Grafana 9 to 12 import and provision from files

package dashboards

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/heatmap"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	tablepanel "github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// TestStrictRoundTrip decodes every dashboard with the SDK's strict decoder
// (unknown, missing or mistyped fields fail), validates it against the
// schema's constraints and encodes it again to the same bytes.
func TestStrictRoundTrip(t *testing.T) {
	registerStrictPlugins()
	for name, raw := range render(t) {
		d, err := strictDecode(raw)
		if err != nil {
			t.Errorf("%s: strict decode: %v", name, err)
			continue
		}
		if err := sdkErr(d.Validate()); err != nil {
			t.Errorf("%s: validate: %v", name, err)
		}
		again, err := json.MarshalIndent(d, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(append(again, '\n'), raw) {
			t.Errorf("%s: does not survive a strict decode and encode unchanged", name)
		}
	}
}

// registerStrictPlugins registers the SDK's plugins. The strict decoders of
// v0.0.22 return an empty error list (a typed nil) on success, and the callers
// of the panel and query decoders take it for a failure and drop what was
// decoded; the plugins this package uses are registered again with decoders
// that return a plain nil.
func registerStrictPlugins() {
	plugins.RegisterDefaultPlugins()
	rt := cog.NewRuntime()
	ts := timeseries.VariantConfig()
	ts.StrictOptionsUnmarshaler = strictOf[timeseries.Options]()
	ts.StrictFieldConfigUnmarshaler = strictOf[timeseries.FieldConfig]()
	tb := tablepanel.VariantConfig()
	tb.StrictOptionsUnmarshaler = strictOf[tablepanel.Options]()
	tb.StrictFieldConfigUnmarshaler = strictOf[tablepanel.FieldConfig]()
	hm := heatmap.VariantConfig()
	hm.StrictOptionsUnmarshaler = strictOf[heatmap.Options]()
	hm.StrictFieldConfigUnmarshaler = strictOf[heatmap.FieldConfig]()
	for _, c := range []variants.PanelcfgConfig{ts, tb, hm} {
		rt.RegisterPanelcfgVariant(c)
	}
	pq := prometheus.VariantConfig()
	pq.StrictDataqueryUnmarshaler = func(raw []byte) (variants.Dataquery, error) {
		q := &prometheus.Dataquery{}
		if err := sdkErr(q.UnmarshalJSONStrict(raw)); err != nil {
			return nil, err
		}
		return q, nil
	}
	rt.RegisterDataqueryVariant(pq)
}

type strictDecoder interface{ UnmarshalJSONStrict([]byte) error }

func strictOf[T any, PT interface {
	*T
	strictDecoder
}]() func([]byte) (any, error) {
	return func(raw []byte) (any, error) {
		v := PT(new(T))
		if err := sdkErr(v.UnmarshalJSONStrict(raw)); err != nil {
			return nil, err
		}
		return v, nil
	}
}

// strictDecode runs the SDK's strict decoder. Dashboard's own decoder drops
// panels for the same reason as above, so the panels are decoded one by one,
// each as strictly.
func strictDecode(raw []byte) (dashboard.Dashboard, error) {
	var d dashboard.Dashboard
	if err := sdkErr(d.UnmarshalJSONStrict(raw)); err != nil {
		return d, err
	}
	var top struct {
		Panels []json.RawMessage `json:"panels"`
	}
	if err := json.Unmarshal(raw, &top); err != nil {
		return d, err
	}
	d.Panels = nil
	for i, p := range top.Panels {
		var kind struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(p, &kind); err != nil {
			return d, err
		}
		var item dashboard.PanelOrRowPanel
		var err error
		if kind.Type == "row" {
			item.RowPanel = &dashboard.RowPanel{}
			err = item.RowPanel.UnmarshalJSONStrict(p)
			if item.RowPanel.Panels == nil {
				item.RowPanel.Panels = []dashboard.Panel{} // the decoder reads [] as nil
			}
		} else {
			item.Panel = &dashboard.Panel{}
			err = item.Panel.UnmarshalJSONStrict(p)
		}
		if err := sdkErr(err); err != nil {
			return d, fmt.Errorf("panels[%d]: %w", i, err)
		}
		d.Panels = append(d.Panels, item)
	}
	return d, nil
}

// sdkErr turns the SDK's empty error list (a typed nil) into nil.
func sdkErr(err error) error {
	if be, ok := err.(cog.BuildErrors); ok && len(be) == 0 {
		return nil
	}
	return err
}

// TestStrictDecoderCatchesMistakes makes sure the round trip would notice a
// field Grafana's schema does not know.
func TestStrictDecoderCatchesMistakes(t *testing.T) {
	registerStrictPlugins()
	raw := render(t)["fleet-overview.json"]
	bad := bytes.Replace(raw, []byte(`"legendFormat"`), []byte(`"legendFormatt"`), 1)
	if _, err := strictDecode(bad); err == nil {
		t.Error("a misspelt target field decoded without error")
	}
	bad = bytes.Replace(raw, []byte(`"description"`), []byte(`"descriptionn"`), 1)
	if _, err := strictDecode(bad); err == nil {
		t.Error("a misspelt dashboard field decoded without error")
	}
}
