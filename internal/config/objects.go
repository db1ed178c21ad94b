package config

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/pghardening/pg_hardening_exporter/internal/yamlfile"
)

// Objects bounds the per-object series of the tables, indexes, bloat,
// schema and statements collectors, so a database with tens of thousands of
// tables stays affordable to scrape and to store. Everything outside the
// limits is folded into one per-database aggregate.
type Objects struct {
	Tables     TableLimits      `yaml:"tables"`
	Indexes    ObjectLimits     `yaml:"indexes"`
	Bloat      BloatLimits      `yaml:"bloat"`
	Schema     SchemaLimits     `yaml:"schema"`
	Statements StatementsLimits `yaml:"statements"`
	Functions  FunctionLimits   `yaml:"functions"`
	// SizesTTL is how long relation sizes (one stat() per file) are reused
	// between scrapes by the tables and indexes collectors, and with them
	// their choice of the objects reported one by one. 0 means the default.
	SizesTTL time.Duration `yaml:"sizes_ttl"`

	Line int `yaml:"-"`
}

// ObjectLimits select which tables (or indexes) get series of their own.
// Patterns are anchored regular expressions matched against "schema.name"
// (the table's name for indexes too).
type ObjectLimits struct {
	Include []string `yaml:"include"`
	Exclude []string `yaml:"exclude"`
	// MinSize leaves smaller objects to the aggregate.
	MinSize ByteSize `yaml:"min_size"`
	// TopN caps the objects reported one by one per database (0: only the
	// per-database aggregate).
	TopN int `yaml:"top_n"`

	include, exclude []*regexp.Regexp
}

// TableLimits tune the tables collector.
type TableLimits struct {
	ObjectLimits `yaml:",inline"`
	// MaintenanceDue puts the tables that need a VACUUM or an ANALYZE ahead
	// of size and activity when the reported tables are chosen, so that the
	// per-table maintenance alerts see every such table (up to top_n).
	MaintenanceDue MaintenanceDue `yaml:"maintenance_due"`
}

// MaintenanceDue are the thresholds past which a table needs maintenance;
// 0 turns one off.
type MaintenanceDue struct {
	DeadTuples      int64 `yaml:"dead_tuples"`
	ModSinceAnalyze int64 `yaml:"mod_since_analyze"`
}

// BloatLimits tune the bloat collector.
type BloatLimits struct {
	ObjectLimits `yaml:",inline"`
	// Pgstattuple asks pgstattuple_approx for exact figures of the reported
	// tables where that extension is installed.
	Pgstattuple bool `yaml:"pgstattuple"`
}

// SchemaLimits cap the objects the schema collector names per issue.
type SchemaLimits struct {
	MaxObjects int `yaml:"max_objects"`
}

// StatementsLimits tune the statements collector.
type StatementsLimits struct {
	TopN int `yaml:"top_n"`
	// QueryText adds pg_stat_statements_query_info with the (shortened) text
	// of each top statement. Off by default: query text can hold data.
	QueryText       bool `yaml:"query_text"`
	QueryTextLength int  `yaml:"query_text_length"`
}

// FunctionLimits tune the functions collector.
type FunctionLimits struct {
	// TopN caps the functions reported one by one per database, those with
	// the most time spent in them first (0: only the per-database aggregate).
	TopN int `yaml:"top_n"`
}

// Defaults of the objects section.
const (
	DefaultTablesTopN      = 500
	DefaultIndexesTopN     = 500
	DefaultBloatTopN       = 100
	DefaultSchemaObjects   = 100
	DefaultStatementsTopN  = 100
	DefaultFunctionsTopN   = 100
	DefaultQueryTextLength = 200
	DefaultSizesTTL        = 5 * time.Minute
	// The maintenance thresholds (dead rows past which a table is due for
	// VACUUM, rows changed past which it is due for ANALYZE), which the rule
	// pack's PostgresDeadTuplesHigh and PostgresAnalyzeOverdue use too.
	DefaultDueDeadTuples      = 10000
	DefaultDueModSinceAnalyze = 5000
	maxTopN                   = 100000
)

// UnmarshalYAML records the section's line for messages.
func (o *Objects) UnmarshalYAML(n *yaml.Node) error {
	type plain Objects
	if err := strictDecode(n, (*plain)(o), "config.Objects"); err != nil {
		return err
	}
	o.Line = n.Line
	if o.SizesTTL == 0 { // 0 means the default, as when left out
		o.SizesTTL = DefaultSizesTTL
	}
	return nil
}

// defaultObjects are the limits where the file is silent.
func defaultObjects() Objects {
	return Objects{
		Tables: TableLimits{
			ObjectLimits:   ObjectLimits{TopN: DefaultTablesTopN},
			MaintenanceDue: MaintenanceDue{DeadTuples: DefaultDueDeadTuples, ModSinceAnalyze: DefaultDueModSinceAnalyze},
		},
		Indexes:    ObjectLimits{TopN: DefaultIndexesTopN},
		Bloat:      BloatLimits{ObjectLimits: ObjectLimits{TopN: DefaultBloatTopN}},
		Schema:     SchemaLimits{MaxObjects: DefaultSchemaObjects},
		Statements: StatementsLimits{TopN: DefaultStatementsTopN, QueryTextLength: DefaultQueryTextLength},
		Functions:  FunctionLimits{TopN: DefaultFunctionsTopN},
		SizesTTL:   DefaultSizesTTL,
	}
}

// Selected reports whether "schema.name" passes the include and exclude patterns.
func (l *ObjectLimits) Selected(qualified string) bool {
	if len(l.include) > 0 {
		ok := false
		for _, re := range l.include {
			if re.MatchString(qualified) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	for _, re := range l.exclude {
		if re.MatchString(qualified) {
			return false
		}
	}
	return true
}

// validateObjects checks the objects section and compiles its patterns.
func (c *Config) validateObjects(errs *yamlfile.Errors) {
	o := &c.Objects
	add := func(format string, args ...any) { errs.Add(o.Line, format, args...) }
	checkN := func(name string, v int) {
		if v < 0 || v > maxTopN {
			add("objects.%s is %d; use 0 (only the per-database aggregate) to %d", name, v, maxTopN)
		}
	}
	for name, l := range map[string]*ObjectLimits{"tables": &o.Tables.ObjectLimits, "indexes": &o.Indexes, "bloat": &o.Bloat.ObjectLimits} {
		var err error
		if l.include, err = compileAll(l.Include); err != nil {
			add("objects.%s.include: %v", name, err)
		}
		if l.exclude, err = compileAll(l.Exclude); err != nil {
			add("objects.%s.exclude: %v", name, err)
		}
		checkN(name+".top_n", l.TopN)
	}
	for name, v := range map[string]int64{"dead_tuples": o.Tables.MaintenanceDue.DeadTuples, "mod_since_analyze": o.Tables.MaintenanceDue.ModSinceAnalyze} {
		if v < 0 {
			add("objects.tables.maintenance_due.%s is %d; use a number of rows, or 0 to turn it off", name, v)
		}
	}
	checkN("schema.max_objects", o.Schema.MaxObjects)
	checkN("statements.top_n", o.Statements.TopN)
	checkN("functions.top_n", o.Functions.TopN)
	if v := o.Statements.QueryTextLength; v < 16 || v > 4096 {
		add("objects.statements.query_text_length is %d; use 16 to 4096 characters", v)
	}
	if o.SizesTTL < 0 {
		add("objects.sizes_ttl must not be negative; use a duration such as 5m")
	}
}

// ByteSize is a size in bytes, written as a number of bytes or with a unit:
// 512kB, 1MB, 2GB (powers of 1024, as PostgreSQL's pg_size_pretty).
type ByteSize int64

var byteSizeRE = regexp.MustCompile(`^\s*(\d+(?:\.\d+)?)\s*([kKMGT]?B?)\s*$`)

// ParseByteSize reads "1048576", "1MB", "1.5GB", "512kB".
func ParseByteSize(s string) (ByteSize, error) {
	m := byteSizeRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("size %q is not a number of bytes or a number with kB, MB, GB or TB", s)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: %v", s, err)
	}
	mult := 1.0
	switch strings.ToUpper(strings.TrimSuffix(m[2], "B")) {
	case "K":
		mult = 1 << 10
	case "M":
		mult = 1 << 20
	case "G":
		mult = 1 << 30
	case "T":
		mult = 1 << 40
	}
	v *= mult
	if v > math.MaxInt64/2 {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return ByteSize(v), nil
}

// UnmarshalYAML accepts a plain number or a number with a unit.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a size must be a number of bytes or a string such as 1MB", n.Line)
	}
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %v", n.Line, err)
	}
	*b = v
	return nil
}
