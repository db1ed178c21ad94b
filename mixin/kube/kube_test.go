package kube

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/pghardening/pg_hardening_exporter/mixin"
	"github.com/pghardening/pg_hardening_exporter/mixin/dashboards"
)

var update = flag.Bool("update", false, "rewrite deploy/kubernetes and the Helm chart's files/ from the defaults")

const repoRoot = "../.."

// golden maps each generated path (relative to the repository) to what the
// defaults render: deploy/kubernetes/*.yaml, and the Helm chart's copies of
// the rule files and dashboards, which its templates wrap in objects.
func golden(t *testing.T) map[string][]byte {
	t.Helper()
	c := mixin.Defaults()
	tmp := t.TempDir()
	if err := Write(tmp, c); err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, n := range []string{RulesFile, DashboardsFile} {
		b, err := os.ReadFile(filepath.Join(tmp, "kubernetes", n))
		if err != nil {
			t.Fatal(err)
		}
		out["deploy/kubernetes/"+n] = b
	}
	for name, f := range c.Rules() {
		b, err := mixin.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		out["deploy/helm/pg-hardening-exporter/files/rules/"+name] = b
	}
	boards, err := dashboards.Render(c.Dashboards())
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range boards {
		out["deploy/helm/pg-hardening-exporter/files/dashboards/"+name] = b
	}
	return out
}

// TestGolden proves deploy/kubernetes and the chart's files/ are what the
// generator renders from the defaults; -update rewrites them.
func TestGolden(t *testing.T) {
	want := golden(t)
	if *update {
		for _, dir := range []string{"deploy/kubernetes", "deploy/helm/pg-hardening-exporter/files"} {
			if err := os.RemoveAll(filepath.Join(repoRoot, dir)); err != nil {
				t.Fatal(err)
			}
		}
		for p, b := range want {
			path := filepath.Join(repoRoot, p)
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	got := map[string][]byte{}
	for _, dir := range []string{"deploy/kubernetes", "deploy/helm/pg-hardening-exporter/files"} {
		_ = filepath.WalkDir(filepath.Join(repoRoot, dir), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				rel, _ := filepath.Rel(repoRoot, p)
				got[filepath.ToSlash(rel)], _ = os.ReadFile(p)
			}
			return nil
		})
	}
	for p, b := range want {
		if g, ok := got[p]; !ok {
			t.Errorf("%s is missing; run go test ./mixin/kube -update", p)
		} else if !bytes.Equal(g, b) {
			t.Errorf("%s differs from the generator's output; run go test ./mixin/kube -update", p)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("%s is not generated any more; run go test ./mixin/kube -update", p)
		}
	}
}

// documents splits a YAML stream into its documents.
func documents(b []byte) [][]byte {
	var out [][]byte
	for _, d := range bytes.Split(b, []byte("\n---\n")) {
		if s := strings.TrimSpace(string(d)); s != "" && !strings.HasPrefix(s, "#") {
			out = append(out, d)
		}
	}
	return out
}

// Every object decodes strictly (no field the type lacks) into
// prometheus-operator's PrometheusRule or Kubernetes' ConfigMap, and carries
// the rule files' rules and the dashboards unchanged.
func TestObjectsDecodeStrictlyAndCarryThePack(t *testing.T) {
	c := mixin.Defaults()
	tmp := t.TempDir()
	if err := Write(tmp, c); err != nil {
		t.Fatal(err)
	}
	rulesYAML, err := os.ReadFile(filepath.Join(tmp, "kubernetes", RulesFile))
	if err != nil {
		t.Fatal(err)
	}
	var alerts, records int
	for _, f := range c.Rules() {
		for _, g := range f.Groups {
			for _, r := range g.Rules {
				if r.Alert != "" {
					alerts++
				} else {
					records++
				}
			}
		}
	}
	var gotAlerts, gotRecords int
	docs := documents(rulesYAML)
	if len(docs) != len(c.Rules()) {
		t.Fatalf("%d PrometheusRules for %d rule files", len(docs), len(c.Rules()))
	}
	for _, d := range docs {
		var pr monitoringv1.PrometheusRule
		if err := yaml.UnmarshalStrict(d, &pr); err != nil {
			t.Fatalf("a PrometheusRule does not decode strictly: %v", err)
		}
		if pr.Kind != "PrometheusRule" || pr.APIVersion != "monitoring.coreos.com/v1" || pr.Name == "" {
			t.Errorf("object %s/%s %q", pr.APIVersion, pr.Kind, pr.Name)
		}
		for _, g := range pr.Spec.Groups {
			for _, r := range g.Rules {
				if r.Expr.String() == "" {
					t.Errorf("%s%s has no expression", r.Alert, r.Record)
				}
				if r.Alert != "" {
					gotAlerts++
					if r.Labels["severity"] == "" || r.Annotations["runbook_url"] == "" {
						t.Errorf("%s lost its severity or runbook_url", r.Alert)
					}
				} else {
					gotRecords++
				}
			}
		}
	}
	if gotAlerts != alerts || gotRecords != records {
		t.Errorf("PrometheusRules hold %d alerts and %d recording rules; the rule files %d and %d", gotAlerts, gotRecords, alerts, records)
	}

	boardsYAML, err := os.ReadFile(filepath.Join(tmp, "kubernetes", DashboardsFile))
	if err != nil {
		t.Fatal(err)
	}
	boards, err := dashboards.Render(c.Dashboards())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]byte{}
	for _, d := range documents(boardsYAML) {
		var cm corev1.ConfigMap
		if err := yaml.UnmarshalStrict(d, &cm); err != nil {
			t.Fatalf("a ConfigMap does not decode strictly: %v", err)
		}
		if cm.Labels[DashboardLabel] != DashboardLabelValue {
			t.Errorf("ConfigMap %s lacks %s: %q", cm.Name, DashboardLabel, DashboardLabelValue)
		}
		for k, v := range cm.Data {
			got[k] = []byte(v)
		}
	}
	if !reflect.DeepEqual(got, boards) {
		t.Errorf("the ConfigMaps hold %d dashboards that differ from the %d rendered", len(got), len(boards))
	}
}
