package collector

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pghardening/pg_hardening_exporter/internal/metric"
)

var settingsPattern = &metric.Metric{
	Name:     "pg_settings_<name>[_bytes|_seconds]",
	Help:     "Every numeric and boolean server setting (booleans as 0/1), in base units: memory and sizes in bytes, times in seconds. Names ending in _count, _sum, _bucket or _total get _value appended; the settings the exporter sets on its own session (application_name, statement_timeout, lock_timeout, default_transaction_read_only, idle_in_transaction_session_timeout) are left out.",
	Type:     prometheus.GaugeValue,
	Source:   "pg_settings",
	Versions: "13+",
	Pattern:  true,
}

func init() {
	Register(&Spec{
		Name:    "settings",
		Help:    "Numeric and boolean server settings from pg_settings, in base units",
		Scope:   Cluster,
		Default: true,
		Metrics: []*metric.Metric{settingsPattern},
		New:     func(Options) (Collector, error) { return &settingsCollector{}, nil },
	})
}

type settingsCollector struct {
	descs sync.Map // metric name -> *prometheus.Desc
}

// Settings the exporter sets on its own session (source 'client') would show
// the exporter's values, not the server's, so they are left out.
const settingsQuery = `SELECT name, setting, COALESCE(unit, ''), vartype, short_desc
 FROM pg_settings WHERE vartype IN ('bool', 'integer', 'real') AND source <> 'client'`

// unitScale maps pg_settings units to a metric suffix and a factor to base units.
var unitScale = map[string]struct {
	suffix string
	factor float64
}{
	"":     {"", 1},
	"B":    {"_bytes", 1},
	"kB":   {"_bytes", 1024},
	"8kB":  {"_bytes", 8192},
	"16kB": {"_bytes", 16384},
	"MB":   {"_bytes", 1024 * 1024},
	"16MB": {"_bytes", 16 * 1024 * 1024},
	"GB":   {"_bytes", 1024 * 1024 * 1024},
	"TB":   {"_bytes", 1024 * 1024 * 1024 * 1024},
	"us":   {"_seconds", 1e-6},
	"ms":   {"_seconds", 1e-3},
	"s":    {"_seconds", 1},
	"min":  {"_seconds", 60},
	"h":    {"_seconds", 3600},
	"d":    {"_seconds", 86400},
}

func (c *settingsCollector) Update(ctx context.Context, s *Scrape, ch chan<- prometheus.Metric) error {
	rows, err := s.Conn.Query(ctx, settingsQuery)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var name, setting, unit, vartype, help string
		if err := rows.Scan(&name, &setting, &unit, &vartype, &help); err != nil {
			return err
		}
		var v float64
		if vartype == "bool" {
			if setting == "on" {
				v = 1
			}
		} else {
			v, err = strconv.ParseFloat(setting, 64)
			if err != nil {
				continue // not a number after all: leave it out rather than fail the collector
			}
		}
		scale, ok := unitScale[unit]
		if !ok {
			scale.suffix, scale.factor = "", 1
		}
		// -1 (and other negatives) mean "disabled" or "use another setting": keep them as they are.
		if v > 0 {
			v *= scale.factor
		}
		metric := "pg_settings_" + sanitizeName(name) + scale.suffix
		// A gauge may not end like a histogram's or summary's parts (promlint).
		for _, reserved := range []string{"_count", "_sum", "_bucket", "_total"} {
			if strings.HasSuffix(metric, reserved) {
				metric += "_value"
				break
			}
		}
		ch <- prometheus.MustNewConstMetric(c.desc(metric, name, unit, help), prometheus.GaugeValue, v)
	}
	return rows.Err()
}

func (c *settingsCollector) desc(metric, name, unit, help string) *prometheus.Desc {
	if d, ok := c.descs.Load(metric); ok {
		return d.(*prometheus.Desc)
	}
	text := fmt.Sprintf("Server setting %s: %s", name, strings.TrimSuffix(help, "."))
	if unit != "" {
		text += fmt.Sprintf(" (converted from %s).", unit)
	} else {
		text += "."
	}
	d := prometheus.NewDesc(metric, text, nil, nil)
	c.descs.Store(metric, d)
	return d
}

// sanitizeName turns a setting name (which may hold '.' for extension
// settings) into a metric name part.
func sanitizeName(s string) string {
	b := []byte(strings.ToLower(s))
	for i, ch := range b {
		if !(ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}
