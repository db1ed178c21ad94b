package config

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/pghardening/pg_hardening_exporter/internal/yamlfile"
)

// ConstantLabels are label names and values added to every series the
// exporter serves: at the top level of the file to all of them, on a target
// to that target's /probe series as well.
type ConstantLabels map[string]string

var constantLabelRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// ConstantLabelProblem says what is wrong with a constant label ("" if nothing).
func ConstantLabelProblem(name, value string) string {
	switch {
	case !constantLabelRE.MatchString(name):
		return "is not a valid label name; use letters, digits and '_', not starting with a digit"
	case strings.HasPrefix(name, "__"):
		return "starts with \"__\", which Prometheus reserves for itself"
	case value == "":
		return "has an empty value, which Prometheus treats as no label; give it a value or remove it"
	case !utf8.ValidString(value):
		return "has a value that is not valid UTF-8, which would fail every scrape; give it a UTF-8 value"
	}
	return ""
}

// Names returns the label names, sorted.
func (l ConstantLabels) Names() []string {
	out := make([]string, 0, len(l))
	for k := range l {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Merge returns l with over's labels added, over's values winning.
func (l ConstantLabels) Merge(over ConstantLabels) ConstantLabels {
	out := make(ConstantLabels, len(l)+len(over))
	for k, v := range l {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}

// ParseConstantLabels reads "name=value,name=value" (postgres_exporter's
// --constantLabels form), as given to setting.
func ParseConstantLabels(setting, list string) (ConstantLabels, error) {
	out := ConstantLabels{}
	for _, pair := range strings.Split(list, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		name, value, ok := strings.Cut(pair, "=")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok {
			return nil, &LabelError{Setting: setting, Pair: pair, Problem: "is not name=value"}
		}
		if p := ConstantLabelProblem(name, value); p != "" {
			return nil, &LabelError{Setting: setting, Pair: pair, Problem: "label " + p}
		}
		out[name] = value
	}
	return out, nil
}

// LabelError is a bad constant label given outside the file.
type LabelError struct{ Setting, Pair, Problem string }

func (e *LabelError) Error() string {
	return fmt.Sprintf("%s: %q %s", e.Setting, e.Pair, e.Problem) + " (the form is name=value,name=value)"
}

// validateConstantLabels checks the names and values of the top level's and
// every target's constant labels.
func (c *Config) validateConstantLabels(errs *yamlfile.Errors) {
	c.labelLines = map[string]int{}
	for _, name := range c.ConstantLabels.Names() {
		c.labelLines[name] = errs.Line("constant_labels", name)
		if p := ConstantLabelProblem(name, c.ConstantLabels[name]); p != "" {
			errs.Add(errs.Line("constant_labels", name), "constant_labels: %q %s", name, p)
		}
	}
	for _, t := range c.Targets {
		for _, name := range t.ConstantLabels.Names() {
			if p := ConstantLabelProblem(name, t.ConstantLabels[name]); p != "" {
				errs.Add(t.Line, "target %q: constant label %q %s", t.Name, name, p)
			}
		}
	}
}

// ConstantLabelLine is the line of a top-level constant label in the file.
func (c *Config) ConstantLabelLine(name string) int { return c.labelLines[name] }
