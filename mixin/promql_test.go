package mixin

import (
	"reflect"
	"testing"
)

func TestMetricNames(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{`pg_up{job="postgres"} == 0`, []string{"pg_up"}},
		{`up == 0`, []string{"up"}},
		{`sum by (job, instance) (rate(a_total{le="0.5", x=~"a{b}"}[5m])) / on(job) group_left(pool) b > 0`, []string{"a_total", "b"}},
		{`histogram_quantile(0.95, sum by (job, le) (rate(h_bucket[5m])))`, []string{"h_bucket"}},
		{`max without (instance) (x) and ignoring(le) y or z unless w`, []string{"w", "x", "y", "z"}},
		{`count by (cluster) (r{cluster!=""} == 0) > 1`, []string{"r"}},
		{`time() - x offset 5m >= 1e+06 and 2.5e-3 < y[1h:5m] and Inf > -NaN`, []string{"x", "y"}},
		{`predict_linear(instance:pg_database_size_bytes:sum[1d], 604800) >= 250000000000`, []string{"instance:pg_database_size_bytes:sum"}},
		{`sum(x) by (a, b)`, []string{"x"}},
		{`topk(3, x) + quantile(0.5, y) + count_values("v", z)`, []string{"x", "y", "z"}},
		{`sum by (job) (1 - by_metric) + on_metric * sum_total`, []string{"by_metric", "on_metric", "sum_total"}},
		{`label_replace(x, "dst", "$1", "src", "(.*)")`, []string{"x"}},
		{`# a comment with a_name
x`, []string{"x"}},
		{`vector(1)`, []string{}},
	} {
		got := MetricNames(tc.expr)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("MetricNames(%q) = %q, want %q", tc.expr, got, tc.want)
		}
	}
}

func FuzzMetricNames(f *testing.F) {
	for _, s := range []string{`sum by (a) (rate(x{y="z"}[5m]))`, `"unterminated`, `{`, `[`, `a offset 1e+`, `by (`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, n := range MetricNames(s) {
			if n == "" || !isIdentStart(n[0]) {
				t.Fatalf("bad name %q from %q", n, s)
			}
		}
	})
}
