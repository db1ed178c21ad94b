package metricsdoc

import (
	"bytes"
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/metrics.md from the code")

const path = "../../docs/metrics.md"

func TestMetricsDocMatchesCode(t *testing.T) {
	got := Render()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v; run go test ./internal/metricsdoc -update", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("docs/metrics.md is out of date with the registered descriptors; run go test ./internal/metricsdoc -update")
	}
}
