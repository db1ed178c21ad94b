package collector

import (
	"context"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pghardening/pg_hardening_exporter/internal/metric"
)

var (
	pmStartTime = metric.Gauge("pg_postmaster_start_timestamp_seconds", "When the server was started.", "pg_postmaster_start_time()", "13+")
	pmConfLoad  = metric.Gauge("pg_config_load_timestamp_seconds", "When the server last loaded its configuration files.", "pg_conf_load_time()", "13+")
	pmVersion   = metric.Gauge("pg_server_version_num", "The server's version as a number, e.g. 170004 for 17.4.", "server_version_num", "13+")
	pmInfo      = metric.Gauge("pg_server_info", "Always 1; labels carry the server's version and major version.", "server_version", "13+", "version", "major")
)

func init() {
	Register(&Spec{
		Name:    "postmaster",
		Help:    "Server start time, configuration load time and version",
		Scope:   Cluster,
		Default: true,
		Metrics: []*metric.Metric{pmStartTime, pmConfLoad, pmVersion, pmInfo},
		New:     func(Options) (Collector, error) { return postmasterCollector{}, nil },
	})
}

type postmasterCollector struct{}

// Update reports the facts the framework read at the start of the scrape; it
// sends no query of its own.
func (postmasterCollector) Update(_ context.Context, s *Scrape, ch chan<- prometheus.Metric) error {
	f := s.Facts
	pmStartTime.Emit(ch, float64(f.StartTime.UnixNano())/1e9)
	pmConfLoad.Emit(ch, float64(f.ConfLoadTime.UnixNano())/1e9)
	pmVersion.Emit(ch, float64(f.VersionNum))
	pmInfo.Emit(ch, 1, f.Version, strconv.Itoa(f.Major()))
	return nil
}
