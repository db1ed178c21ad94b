// Package helm_test lints and renders the Helm chart with Helm's own Go
// library and decodes every rendered object strictly into its Kubernetes or
// prometheus-operator type. It is a module of its own, so that the
// product's dependency graph does not carry Helm.
package helm_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

const (
	chartDir = "pg-hardening-exporter"
	repoRoot = "../.."
)

// fullValues turns every optional part on.
var fullValues = map[string]any{
	"dataSource":     map[string]any{"name": "postgres://exporter@db.example:5432/postgres?sslmode=verify-full", "existingSecret": "pg-exporter"},
	"config":         map[string]any{"activity": map[string]any{"long_transaction_threshold": "30s"}},
	"serviceMonitor": map[string]any{"enabled": true, "labels": map[string]any{"release": "kube-prometheus-stack"}},
	"prometheusRule": map[string]any{"enabled": true},
	"dashboards":     map[string]any{"enabled": true},
	"receiver":       map[string]any{"enabled": true, "existingSecret": "pg-remediate"},
}

// objects holds what a rendering produced, decoded.
type objects struct {
	deployments     []appsv1.Deployment
	services        []corev1.Service
	configMaps      []corev1.ConfigMap
	serviceMonitors []monitoringv1.ServiceMonitor
	rules           []monitoringv1.PrometheusRule
}

// render renders the chart with vals as release "db" in "monitoring" and
// decodes every object strictly: a field its type lacks fails the test.
func render(t *testing.T, vals map[string]any) objects {
	t.Helper()
	chrt, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	rv, err := util.ToRenderValues(chrt, vals, common.ReleaseOptions{Name: "db", Namespace: "monitoring", IsInstall: true}, common.DefaultCapabilities)
	if err != nil {
		t.Fatal(err)
	}
	out, err := engine.Render(chrt, rv)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	names := make([]string, 0, len(out))
	for n := range out {
		names = append(names, n)
	}
	sort.Strings(names)
	var o objects
	for _, n := range names {
		if strings.HasSuffix(n, ".tpl") || strings.HasSuffix(n, "NOTES.txt") {
			continue
		}
		for _, doc := range strings.Split(out[n], "\n---") {
			if strings.TrimSpace(strings.TrimPrefix(doc, "---")) == "" {
				continue
			}
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
				t.Fatalf("%s: %v", n, err)
			}
			var target any
			switch tm.APIVersion + " " + tm.Kind {
			case "apps/v1 Deployment":
				target = appendZero(&o.deployments)
			case "v1 Service":
				target = appendZero(&o.services)
			case "v1 ConfigMap":
				target = appendZero(&o.configMaps)
			case "monitoring.coreos.com/v1 ServiceMonitor":
				target = appendZero(&o.serviceMonitors)
			case "monitoring.coreos.com/v1 PrometheusRule":
				target = appendZero(&o.rules)
			default:
				t.Fatalf("%s renders %s %s, which the test does not know", n, tm.APIVersion, tm.Kind)
			}
			if err := yaml.UnmarshalStrict([]byte(doc), target); err != nil {
				t.Fatalf("%s: %s does not decode strictly: %v\n%s", n, tm.Kind, err, doc)
			}
		}
	}
	return o
}

// appendZero appends a zero T to *list and returns a pointer to it, for a
// document to decode into.
func appendZero[T any](list *[]T) *T {
	*list = append(*list, *new(T))
	return &(*list)[len(*list)-1]
}

func TestLint(t *testing.T) {
	for name, vals := range map[string]map[string]any{"default values": nil, "full values": fullValues} {
		res := action.NewLint().Run([]string{chartDir}, vals)
		for _, m := range res.Messages {
			if m.Severity > support.InfoSev {
				t.Errorf("%s: %s", name, m)
			}
		}
		for _, err := range res.Errors {
			t.Errorf("%s: %v", name, err)
		}
		if res.TotalChartsLinted != 1 {
			t.Errorf("%s: linted %d charts", name, res.TotalChartsLinted)
		}
	}
}

// checkPod holds what both Deployments promise: probes on the program's
// health endpoints and a non-root, read-only, unprivileged container.
func checkPod(t *testing.T, d appsv1.Deployment) {
	t.Helper()
	pod := d.Spec.Template.Spec
	if sc := pod.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser == 0 {
		t.Errorf("%s: the pod may run as root: %+v", d.Name, sc)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%s: %d containers", d.Name, len(pod.Containers))
	}
	c := pod.Containers[0]
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/-/healthy" {
		t.Errorf("%s: liveness probe %+v, want GET /-/healthy", d.Name, c.LivenessProbe)
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/-/ready" {
		t.Errorf("%s: readiness probe %+v, want GET /-/ready", d.Name, c.ReadinessProbe)
	}
	if sc := c.SecurityContext; sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("%s: container security context %+v", d.Name, sc)
	}
}

func TestDefaultValues(t *testing.T) {
	o := render(t, nil)
	if len(o.deployments) != 1 || len(o.services) != 1 || len(o.configMaps) != 1 || len(o.serviceMonitors) != 0 || len(o.rules) != 0 {
		t.Fatalf("default values render %d Deployments, %d Services, %d ConfigMaps, %d ServiceMonitors, %d PrometheusRules; want 1, 1, 1, 0, 0",
			len(o.deployments), len(o.services), len(o.configMaps), len(o.serviceMonitors), len(o.rules))
	}
	checkPod(t, o.deployments[0])
	if got := o.configMaps[0].Data["exporter.yml"]; strings.TrimSpace(got) != "{}" {
		t.Errorf("exporter.yml from the default values is %q", got)
	}
}

func TestFullValues(t *testing.T) {
	o := render(t, fullValues)
	ruleFiles, _ := filepath.Glob(filepath.Join(repoRoot, "rules", "*.yml"))
	boardFiles, _ := filepath.Glob(filepath.Join(repoRoot, "dashboards", "*.json"))
	if len(ruleFiles) == 0 || len(boardFiles) == 0 {
		t.Fatal("no rules/ or dashboards/ in the repository")
	}
	if len(o.deployments) != 2 || len(o.services) != 2 || len(o.serviceMonitors) != 1 || len(o.rules) != len(ruleFiles) || len(o.configMaps) != 1+len(boardFiles) {
		t.Fatalf("full values render %d Deployments, %d Services, %d ServiceMonitors, %d PrometheusRules, %d ConfigMaps",
			len(o.deployments), len(o.services), len(o.serviceMonitors), len(o.rules), len(o.configMaps))
	}
	for _, d := range o.deployments {
		checkPod(t, d)
		var secret string
		for _, v := range d.Spec.Template.Spec.Volumes {
			if v.Secret != nil {
				secret = v.Secret.SecretName
			}
		}
		want := map[string]string{"db-pg-hardening-exporter": "pg-exporter", "db-pg-hardening-exporter-receiver": "pg-remediate"}[d.Name]
		if secret != want {
			t.Errorf("%s mounts Secret %q, want the existing %q", d.Name, secret, want)
		}
	}
	env := map[string]string{}
	for _, e := range o.deployments[0].Spec.Template.Spec.Containers[0].Env {
		env[e.Name] = e.Value
	}
	if env["DATA_SOURCE_NAME"] != fullValues["dataSource"].(map[string]any)["name"] || env["DATA_SOURCE_PASS_FILE"] != "/etc/pg_hardening_exporter/secret/password" {
		t.Errorf("exporter environment %v", env)
	}
	if args := o.deployments[1].Spec.Template.Spec.Containers[0].Args; len(args) == 0 || args[0] != "remediate" {
		t.Errorf("the receiver's arguments are %v", args)
	}
	if ep := o.serviceMonitors[0].Spec.Endpoints; len(ep) != 1 || ep[0].Port != "http" {
		t.Errorf("ServiceMonitor endpoints %+v", ep)
	}

	// The rule groups are the repository's rule files, alert for alert.
	var want []string
	for _, f := range ruleFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var spec monitoringv1.PrometheusRuleSpec
		if err := yaml.UnmarshalStrict(b, &spec); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		want = append(want, ruleNames(spec)...)
	}
	var got []string
	for _, r := range o.rules {
		got = append(got, ruleNames(r.Spec)...)
	}
	sort.Strings(want)
	sort.Strings(got)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("the PrometheusRules hold %d rules, the rule files %d, and they differ", len(got), len(want))
	}

	// Each dashboard is a ConfigMap with the sidecar's label and the
	// repository's JSON.
	boards := map[string]string{}
	for _, cm := range o.configMaps {
		if cm.Labels["grafana_dashboard"] == "1" {
			for k, v := range cm.Data {
				boards[k] = v
			}
		}
	}
	for _, f := range boardFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := boards[filepath.Base(f)]; !ok {
			t.Errorf("no ConfigMap labelled grafana_dashboard=1 holds %s", filepath.Base(f))
		} else if !bytes.Equal(bytes.TrimSpace([]byte(got)), bytes.TrimSpace(b)) {
			t.Errorf("the ConfigMap's %s differs from the repository's", filepath.Base(f))
		}
	}
}

func ruleNames(spec monitoringv1.PrometheusRuleSpec) []string {
	var out []string
	for _, g := range spec.Groups {
		for _, r := range g.Rules {
			out = append(out, fmt.Sprintf("%s/%s%s=%s", g.Name, r.Alert, r.Record, r.Expr.String()))
		}
	}
	return out
}
