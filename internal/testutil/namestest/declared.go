package namestest

import (
	"strings"

	"github.com/pghardening/pg_hardening_exporter/internal/metricsdoc"
)

// Families are the metric families the exporter declares.
type Families struct {
	names    map[string]bool
	prefixes []string // of pattern families such as pg_settings_<name>
}

// Declared returns the families the exporter declares, from its
// descriptors: collectors, the framework's meta-metrics, its self metrics,
// PgBouncer, backup sources and the remediation receiver.
func Declared() Families {
	f := Families{names: map[string]bool{}}
	for _, m := range metricsdoc.All() {
		if m.Pattern {
			f.prefixes = append(f.prefixes, m.Name[:strings.Index(m.Name, "<")])
			continue
		}
		f.names[m.Name] = true
	}
	return f
}

// Has reports whether the exporter declares name, reading a histogram's
// _bucket, _count and _sum series as its family.
func (f Families) Has(name string) bool {
	if f.names[name] {
		return true
	}
	for _, suf := range []string{"_bucket", "_count", "_sum"} {
		if base, ok := strings.CutSuffix(name, suf); ok && f.names[base] {
			return true
		}
	}
	for _, p := range f.prefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}
