package config

import (
	"strings"
	"testing"
)

// A constant label value that is not valid UTF-8 would make every scrape
// fail in Prometheus, so it is refused where it is given.
func TestConstantLabelValueNotUTF8(t *testing.T) {
	if _, err := ParseConstantLabels("--constant-labels", "env=prod,site=a\xffb"); err == nil || !strings.Contains(err.Error(), "not valid UTF-8") {
		t.Errorf("--constant-labels with an invalid UTF-8 value: %v, want a refusal saying it is not valid UTF-8", err)
	}
	labels, err := ParseConstantLabels("--constant-labels", "site=zürich,path=a=b, ,")
	if err != nil || labels["site"] != "zürich" || labels["path"] != "a=b" || len(labels) != 2 {
		t.Errorf("valid list read as %q, %v", labels, err)
	}
}
