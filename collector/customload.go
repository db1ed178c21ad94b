package collector

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/pghardening/pg_hardening_exporter/internal/metric"

	"github.com/pghardening/pg_hardening_exporter/internal/yamlfile"
)

// CustomRowLimit caps the rows one custom query may return per database and
// scrape; the rest are dropped and counted as an error.
const CustomRowLimit = 10000

// CustomSource is one queries.yaml file: Data, or the file at Name when Data
// is nil. A name ending in .gz (or gzip data) is decompressed.
type CustomSource struct {
	Name string
	Data []byte
}

type customUsage int

const (
	usageLabel customUsage = iota
	usageGauge
	usageCounter
	usageDuration
	usageMapped
	usageDiscard
	usageHistogram
)

var customUsages = map[string]customUsage{
	"LABEL": usageLabel, "GAUGE": usageGauge, "COUNTER": usageCounter, "DURATION": usageDuration,
	"MAPPEDMETRIC": usageMapped, "DISCARD": usageDiscard, "HISTOGRAM": usageHistogram,
}

// customColumn is one entry of a query's metrics list.
type customColumn struct {
	name    string
	usage   customUsage
	help    string
	mapping map[string]float64
	// minVersion and maxVersion come from postgres_exporter's pg_version range.
	minVersion, maxVersion int
	line                   int

	metric string // the family name, for value columns
	desc   *prometheus.Desc
}

type customDBMode int

const (
	dbOfDSN customDBMode = iota // the database of the connection string
	dbAll                       // every database the exporter discovers
	dbList                      // the databases listed
)

// CustomQuery is one entry of a queries.yaml file.
type CustomQuery struct {
	Name string
	File string
	Line int
	SQL  string

	columns     []*customColumn
	labels      []string // label names: the LABEL columns in order, then datname if added
	addDatname  bool     // the query runs on several databases and has no datname column
	dbMode      customDBMode
	dbList      []string
	minVersion  int
	maxVersion  int
	ttl         time.Duration
	timeout     time.Duration
	primaryOnly bool
	replicaOnly bool
	predicates  []string
	selectList  []string // the query's output columns, when they can be read from the SQL
}

// LabelNames are the labels the query's series carry.
func (q *CustomQuery) LabelNames() []string { return q.labels }

// Scope is where the query runs: once on the connection string's database,
// or on each discovered (or listed) database.
func (q *CustomQuery) Scope() Scope {
	if q.dbMode == dbOfDSN {
		return Cluster
	}
	return Database
}

var (
	metricNameRE = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelNameRE  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// LoadCustomQueries reads and validates queries.yaml files. enabled names the
// built-in collectors that run and served the exporter's other families,
// whose metric names a query must not reuse. Every problem is reported, each
// as "file:line: what; what to do".
func LoadCustomQueries(sources []CustomSource, enabled []string, served ...Served) ([]*CustomQuery, error) {
	var all []*CustomQuery
	var errs []string
	for _, src := range sources {
		data := src.Data
		if data == nil {
			b, err := os.ReadFile(src.Name)
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s: cannot read the queries file: %v; check --collector.custom.query-path and custom_queries", src.Name, pathErr(err)))
				continue
			}
			data = b
		}
		if strings.HasSuffix(src.Name, ".gz") || bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
			b, err := gunzip(data)
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s: cannot decompress: %v; give the plain YAML file or a valid .gz", src.Name, err))
				continue
			}
			data = b
		}
		qs, es := parseCustomFile(src.Name, data)
		all = append(all, qs...)
		errs = append(errs, es...)
	}
	errs = append(errs, checkCustomNames(all, enabled, served)...)
	if len(errs) > 0 {
		return nil, errors.New(strings.Join(errs, "\n"))
	}
	return all, nil
}

// gunzipLimit bounds a decompressed queries file.
const gunzipLimit = 16 << 20

func gunzip(data []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(zr, gunzipLimit+1))
	if err != nil {
		return nil, err
	}
	if len(b) > gunzipLimit {
		return nil, fmt.Errorf("larger than %d MiB once decompressed", gunzipLimit>>20)
	}
	return b, nil
}

func pathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func parseCustomFile(file string, data []byte) (qs []*CustomQuery, errs []string) {
	var root yaml.Node
	err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("the YAML parser gave up: %v", r)
			}
		}()
		return yaml.Unmarshal(data, &root)
	}()
	if err != nil {
		return nil, []string{yamlfile.Syntax(file, err)}
	}
	if len(root.Content) == 0 {
		return nil, nil // an empty file defines no queries
	}
	doc := resolve(root.Content[0])
	if doc.Kind != yaml.MappingNode {
		return nil, []string{fmt.Sprintf("%s:%d: the top level must map query names to queries (name: {query: ..., metrics: [...]})", file, doc.Line)}
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(doc.Content); i += 2 {
		k, v := doc.Content[i], resolve(doc.Content[i+1])
		if first, dup := seen[k.Value]; dup {
			errs = append(errs, fmt.Sprintf("%s:%d: query %q is defined twice (first at line %d); rename one", file, k.Line, k.Value, first))
			continue
		}
		seen[k.Value] = k.Line
		q, es := parseCustomQuery(file, k, v)
		errs = append(errs, es...)
		if len(es) == 0 {
			qs = append(qs, q)
		}
	}
	return qs, errs
}

// resolve follows YAML aliases.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 16; i++ {
		n = n.Alias
	}
	return n
}

func parseCustomQuery(file string, k, v *yaml.Node) (*CustomQuery, []string) {
	q := &CustomQuery{Name: k.Value, File: file, Line: k.Line}
	var errs []string
	add := func(line int, format string, args ...any) {
		errs = append(errs, fmt.Sprintf("%s:%d: query %s: ", file, line, q.Name)+fmt.Sprintf(format, args...))
	}
	if !metricNameRE.MatchString(q.Name) {
		errs = append(errs, fmt.Sprintf("%s:%d: query name %q is not a valid metric name prefix; use letters, digits and '_' (it starts every metric name of the query)", file, k.Line, q.Name))
		return q, errs
	}
	if v.Kind != yaml.MappingNode {
		add(v.Line, "must be a mapping with query and metrics")
		return q, errs
	}
	var master bool
	var cacheSeconds *int
	var ttlLine, masterLine, dbLine int
	var haveMetrics bool
	for i := 0; i+1 < len(v.Content); i += 2 {
		key, val := v.Content[i], resolve(v.Content[i+1])
		switch key.Value {
		case "query":
			if !scalar(val, &q.SQL) || strings.TrimSpace(q.SQL) == "" {
				add(val.Line, "query must be a non-empty SQL string")
			} else if err := oneStatement(q.SQL); err != nil {
				add(val.Line, "query %v", err)
			}
		case "metrics":
			haveMetrics = true
			if val.Kind != yaml.SequenceNode {
				add(val.Line, "metrics must be a list of {column: {usage: ..., description: ...}}")
				continue
			}
			for _, item := range val.Content {
				c, es := parseCustomColumn(file, q.Name, resolve(item))
				errs = append(errs, es...)
				if c != nil {
					q.columns = append(q.columns, c)
				}
			}
		case "master":
			masterLine = key.Line
			if val.Decode(&master) != nil {
				add(val.Line, "master must be true or false")
			}
		case "cache_seconds":
			var n int
			if val.Decode(&n) != nil || n < 0 {
				add(val.Line, "cache_seconds must be a whole number of seconds, 0 or more")
			}
			cacheSeconds = &n
		case "ttl":
			ttlLine = key.Line
			if !duration(val, &q.ttl) || q.ttl < 0 {
				add(val.Line, "ttl must be a duration such as 30s or 5m")
			}
		case "timeout":
			if !duration(val, &q.timeout) || q.timeout <= 0 {
				add(val.Line, "timeout must be a positive duration such as 2s")
			}
		case "runonserver":
			var r string
			scalar(val, &r)
			lo, hi, err := semverRange(r)
			if err != nil {
				add(val.Line, "runonserver %q: %v; or use min_version and max_version", r, err)
			}
			q.minVersion, q.maxVersion = max(q.minVersion, lo), minBound(q.maxVersion, hi)
		case "min_version", "max_version":
			n, err := versionNum(val)
			if err != nil {
				add(val.Line, "%s: %v", key.Value, err)
			}
			if key.Value == "min_version" {
				q.minVersion = max(q.minVersion, n)
			} else {
				q.maxVersion = minBound(q.maxVersion, n)
			}
		case "databases":
			dbLine = key.Line
			switch val.Kind {
			case yaml.ScalarNode:
				switch val.Value {
				case "dsn":
					q.dbMode = dbOfDSN
				case "all":
					q.dbMode = dbAll
				default:
					add(val.Line, "databases is %q; use dsn (the connection string's database), all (every discovered database) or a list of names", val.Value)
				}
			case yaml.SequenceNode:
				q.dbMode = dbList
				for _, d := range val.Content {
					var name string
					if !scalar(d, &name) || name == "" {
						add(d.Line, "databases must list database names")
						continue
					}
					q.dbList = append(q.dbList, name)
				}
				if len(q.dbList) == 0 {
					add(val.Line, "databases is an empty list; name at least one database, or use dsn or all")
				}
			default:
				add(val.Line, "databases must be dsn, all or a list of database names")
			}
		case "primary_only":
			if val.Decode(&q.primaryOnly) != nil {
				add(val.Line, "primary_only must be true or false")
			}
		case "replica_only":
			if val.Decode(&q.replicaOnly) != nil {
				add(val.Line, "replica_only must be true or false")
			}
		case "predicates":
			switch val.Kind {
			case yaml.ScalarNode:
				if err := oneStatement(val.Value); err != nil {
					add(val.Line, "predicate %v", err)
				}
				q.predicates = append(q.predicates, val.Value)
			case yaml.SequenceNode:
				for _, p := range val.Content {
					var s string
					if !scalar(p, &s) || strings.TrimSpace(s) == "" {
						add(p.Line, "each predicate must be an SQL query returning one boolean")
						continue
					}
					if err := oneStatement(s); err != nil {
						add(p.Line, "predicate %v", err)
					}
					q.predicates = append(q.predicates, s)
				}
			default:
				add(val.Line, "predicates must be an SQL query returning one boolean, or a list of them")
			}
		default:
			add(key.Line, "unknown key %q; known keys are query, metrics, master, cache_seconds, runonserver, min_version, max_version, databases, ttl, timeout, primary_only, replica_only, predicates", key.Value)
		}
	}
	if q.SQL == "" && !hasKey(v, "query") {
		add(k.Line, "has no query; add query: SELECT ...")
	}
	if !haveMetrics {
		add(k.Line, "has no metrics list; add metrics: [{column: {usage: GAUGE, description: ...}}]")
	}
	if master {
		if dbLine != 0 && q.dbMode != dbOfDSN {
			add(masterLine, "master: true runs the query on the connection string's database only, which contradicts databases; keep one")
		}
		q.dbMode = dbOfDSN
	}
	if cacheSeconds != nil {
		if ttlLine != 0 {
			add(ttlLine, "sets both ttl and cache_seconds; keep one")
		}
		q.ttl = time.Duration(*cacheSeconds) * time.Second
	}
	if q.primaryOnly && q.replicaOnly {
		add(k.Line, "sets both primary_only and replica_only, so it would never run; keep one")
	}
	if q.minVersion > 0 && q.maxVersion > 0 && q.minVersion >= q.maxVersion {
		add(k.Line, "its version bounds exclude every server (min %d >= max %d); fix min_version/max_version or runonserver", q.minVersion, q.maxVersion)
	}
	if len(errs) > 0 {
		return q, errs
	}
	errs = append(errs, q.finish()...)
	return q, errs
}

// finish checks the columns against each other and the SQL, and builds the
// descriptors.
func (q *CustomQuery) finish() []string {
	var errs []string
	add := func(line int, format string, args ...any) {
		errs = append(errs, fmt.Sprintf("%s:%d: query %s: ", q.File, line, q.Name)+fmt.Sprintf(format, args...))
	}
	seen := map[string]int{}
	values := 0
	for _, c := range q.columns {
		if first, dup := seen[c.name]; dup {
			add(c.line, "column %q is listed twice (first at line %d); list each column once", c.name, first)
			continue
		}
		seen[c.name] = c.line
		switch c.usage {
		case usageLabel:
			if !labelNameRE.MatchString(c.name) || strings.HasPrefix(c.name, "__") {
				add(c.line, "label column %q is not a valid label name; alias it in the query (AS some_name) to letters, digits and '_'", c.name)
			}
			q.labels = append(q.labels, c.name)
		case usageDiscard:
		default:
			values++
		}
	}
	if values == 0 && len(errs) == 0 {
		add(q.Line, "has no value column (GAUGE, COUNTER, DURATION, MAPPEDMETRIC or HISTOGRAM); a query of labels only emits nothing")
	}
	if q.dbMode != dbOfDSN && seen["datname"] == 0 {
		q.addDatname = true
		q.labels = append(q.labels, "datname")
	}
	q.selectList, _ = selectColumns(q.SQL)
	if q.selectList != nil {
		have := map[string]bool{}
		for _, n := range q.selectList {
			have[n] = true
		}
		for _, c := range q.columns {
			for _, need := range c.needs() {
				if !have[need] {
					add(c.line, "column %q is not in the query's SELECT list (%s); fix the column name or alias it in the query", need, strings.Join(q.selectList, ", "))
				}
			}
		}
	}
	for _, c := range q.columns {
		switch c.usage {
		case usageLabel, usageDiscard:
			continue
		case usageDuration:
			c.metric = q.Name + "_" + c.name + "_milliseconds"
		default:
			c.metric = q.Name + "_" + c.name
		}
		if !metricNameRE.MatchString(c.metric) {
			add(c.line, "metric name %q is not valid; alias the column in the query to letters, digits and '_'", c.metric)
			continue
		}
		help := c.help
		if help == "" {
			help = fmt.Sprintf("Column %s of custom query %s.", c.name, q.Name)
		}
		c.desc = prometheus.NewDesc(c.metric, help, q.labels, nil)
	}
	return errs
}

// needs lists the result columns a metrics entry reads.
func (c *customColumn) needs() []string {
	switch c.usage {
	case usageDiscard:
		return nil
	case usageHistogram:
		return []string{c.name, c.name + "_bucket", c.name + "_sum", c.name + "_count"}
	}
	return []string{c.name}
}

func parseCustomColumn(file, query string, item *yaml.Node) (*customColumn, []string) {
	bad := func(line int, format string, args ...any) []string {
		return []string{fmt.Sprintf("%s:%d: query %s: ", file, line, query) + fmt.Sprintf(format, args...)}
	}
	if item.Kind != yaml.MappingNode || len(item.Content) != 2 {
		return nil, bad(item.Line, "each metrics entry must map one column name to {usage: ..., description: ...}")
	}
	k, v := item.Content[0], resolve(item.Content[1])
	c := &customColumn{name: k.Value, line: k.Line}
	if c.name == "" {
		return nil, bad(k.Line, "a metrics entry has an empty column name")
	}
	if v.Kind != yaml.MappingNode {
		return nil, bad(v.Line, "column %s must map to {usage: ..., description: ...}", c.name)
	}
	var errs []string
	usage := ""
	for i := 0; i+1 < len(v.Content); i += 2 {
		key, val := v.Content[i], resolve(v.Content[i+1])
		switch key.Value {
		case "usage":
			scalar(val, &usage)
			u, ok := customUsages[strings.ToUpper(usage)]
			if !ok {
				errs = append(errs, bad(val.Line, "column %s has usage %q; use one of LABEL, GAUGE, COUNTER, DURATION, MAPPEDMETRIC, DISCARD, HISTOGRAM", c.name, usage)...)
			}
			c.usage = u
		case "description":
			if !scalar(val, &c.help) {
				errs = append(errs, bad(val.Line, "column %s: description must be text", c.name)...)
			}
		case "metric_mapping":
			if val.Decode(&c.mapping) != nil {
				errs = append(errs, bad(val.Line, "column %s: metric_mapping must map text values to numbers", c.name)...)
			}
		case "pg_version":
			var r string
			scalar(val, &r)
			lo, hi, err := semverRange(r)
			if err != nil {
				errs = append(errs, bad(val.Line, "column %s: pg_version %q: %v", c.name, r, err)...)
			}
			c.minVersion, c.maxVersion = lo, hi
		default:
			errs = append(errs, bad(key.Line, "column %s has unknown key %q; known keys are usage, description, metric_mapping, pg_version", c.name, key.Value)...)
		}
	}
	if usage == "" && len(errs) == 0 {
		errs = append(errs, bad(k.Line, "column %s has no usage; add usage: GAUGE (or LABEL, COUNTER, DURATION, MAPPEDMETRIC, DISCARD, HISTOGRAM)", c.name)...)
	}
	if c.usage == usageMapped && len(c.mapping) == 0 && len(errs) == 0 {
		errs = append(errs, bad(k.Line, "column %s is a MAPPEDMETRIC without metric_mapping; add metric_mapping: {text: number, ...}", c.name)...)
	}
	return c, errs
}

func scalar(n *yaml.Node, out *string) bool {
	if n.Kind != yaml.ScalarNode {
		return false
	}
	*out = n.Value
	return true
}

func hasKey(n *yaml.Node, key string) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return true
		}
	}
	return false
}

func duration(n *yaml.Node, out *time.Duration) bool {
	var s string
	if !scalar(n, &s) {
		return false
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return false
	}
	*out = d
	return true
}

// minBound is the tighter of two upper bounds where 0 means none.
func minBound(a, b int) int {
	switch {
	case a == 0:
		return b
	case b == 0:
		return a
	case b < a:
		return b
	}
	return a
}

// versionNum reads a PostgreSQL version as server_version_num: 140000, 14,
// "14", "9.6" or "14.2".
func versionNum(n *yaml.Node) (int, error) {
	var s string
	if !scalar(n, &s) {
		return 0, errors.New("must be a version such as 14, \"9.6\" or 140000")
	}
	if v, err := strconv.Atoi(s); err == nil {
		switch {
		case v >= 10000:
			return v, nil
		case v >= 10 && v < 100:
			return v * 10000, nil
		}
		return 0, fmt.Errorf("%d is not a PostgreSQL version; use a major such as 14 or a server_version_num such as 140000", v)
	}
	major, minor, ok := strings.Cut(s, ".")
	a, err1 := strconv.Atoi(major)
	b, err2 := strconv.Atoi(minor)
	if !ok || err1 != nil || err2 != nil || a < 7 || a > 99 || b < 0 || b > 99 {
		return 0, fmt.Errorf("%q is not a PostgreSQL version; use a major such as 14, \"9.6\" or a server_version_num such as 140000", s)
	}
	if a >= 10 {
		return a*10000 + b, nil
	}
	return a*10000 + b*100, nil
}

// semverRange converts postgres_exporter's version ranges (">=10.0.0 <12.0.0",
// space-separated comparisons that must all hold) to server_version_num
// bounds: lo <= version < hi, 0 meaning unbounded.
func semverRange(r string) (lo, hi int, err error) {
	if strings.Contains(r, "||") {
		return 0, 0, errors.New("alternatives (||) are not supported; split the query in two")
	}
	fields := strings.Fields(r)
	if len(fields) == 0 {
		return 0, 0, errors.New("empty version range")
	}
	for _, f := range fields {
		op := strings.TrimRight(f, "0123456789.xX*")
		ver := f[len(op):]
		n, err := semverNum(ver)
		if err != nil {
			return 0, 0, err
		}
		switch op {
		case ">=":
			lo = max(lo, n)
		case ">":
			lo = max(lo, n+1)
		case "<":
			hi = minBound(hi, n)
		case "<=":
			hi = minBound(hi, n+1)
		case "", "=", "==":
			lo, hi = max(lo, n), minBound(hi, n+1)
		default:
			return 0, 0, fmt.Errorf("unknown comparison %q; use >=, >, <, <= or =", op)
		}
	}
	return lo, hi, nil
}

func semverNum(v string) (int, error) {
	parts := strings.Split(v, ".")
	if len(parts) == 0 || len(parts) > 3 {
		return 0, fmt.Errorf("%q is not a version like 10.0.0", v)
	}
	nums := [3]int{}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 99 {
			return 0, fmt.Errorf("%q is not a version like 10.0.0", v)
		}
		nums[i] = n
	}
	if nums[0] >= 10 {
		return nums[0]*10000 + nums[1], nil
	}
	return nums[0]*10000 + nums[1]*100 + nums[2], nil
}

// exposedNames are the sample names a family can produce, so that a counter
// "x" (exposed as x_total in OpenMetrics) and a histogram's _bucket, _sum and
// _count are checked for clashes too.
func exposedNames(name string, t string) []string {
	switch t {
	case "counter":
		if base, ok := strings.CutSuffix(name, "_total"); ok {
			return []string{name, base}
		}
		return []string{name, name + "_total"}
	case "histogram":
		return []string{name, name + "_bucket", name + "_sum", name + "_count"}
	}
	return []string{name}
}

func (c *customColumn) typeName() string {
	switch c.usage {
	case usageCounter:
		return "counter"
	case usageHistogram:
		return "histogram"
	}
	return "gauge"
}

// Served is a group of families the exporter serves besides the built-in
// collectors' (its own pool and reload metrics, PgBouncers', backup
// sources'), which a custom query must not reuse either.
type Served struct {
	By      string // who serves them, for messages: "the exporter's PgBouncer metrics"
	Metrics []*metric.Metric
}

// checkCustomNames reports query names defined in two files, metric names used
// twice, and names that an enabled built-in collector, the framework or
// another part of the exporter already emits.
func checkCustomNames(qs []*CustomQuery, enabled []string, served []Served) []string {
	var errs []string
	taken := map[string]string{} // exposed name -> who has it
	type pattern struct{ prefix, who string }
	var patterns []pattern
	reserve := func(m *metric.Metric, who string) {
		if m.Pattern {
			prefix := m.Name[:strings.IndexAny(m.Name+"<", "<")]
			patterns = append(patterns, pattern{prefix, fmt.Sprintf("the %s* metrics of %s", prefix, who)})
			return
		}
		for _, n := range exposedNames(m.Name, m.TypeName()) {
			taken[n] = "metric " + m.Name + " of " + who
		}
	}
	for _, m := range append(MetaMetrics(), CustomQueryMetrics()...) {
		for _, n := range exposedNames(m.Name, m.TypeName()) {
			taken[n] = "the exporter's own meta-metric " + m.Name + "; rename the query"
		}
	}
	for _, g := range served {
		for _, m := range g.Metrics {
			reserve(m, g.By+"; rename the query or column")
		}
	}
	on := map[string]bool{}
	for _, n := range enabled {
		on[n] = true
	}
	for _, s := range Specs() {
		if !on[s.Name] {
			continue
		}
		for _, m := range s.Metrics {
			reserve(m, fmt.Sprintf("the built-in collector %s; rename the query or column, or disable that collector with --no-collector.%s", s.Name, s.Name))
		}
	}
	queries := map[string]*CustomQuery{}
	for _, q := range qs {
		if first, dup := queries[q.Name]; dup {
			errs = append(errs, fmt.Sprintf("%s:%d: query %s is also defined at %s:%d; rename one", q.File, q.Line, q.Name, first.File, first.Line))
			continue
		}
		queries[q.Name] = q
		for _, c := range q.columns {
			if c.metric == "" {
				continue
			}
			for _, n := range exposedNames(c.metric, c.typeName()) {
				if who, ok := taken[n]; ok {
					errs = append(errs, fmt.Sprintf("%s:%d: query %s: metric %s clashes with %s", q.File, c.line, q.Name, c.metric, who))
					break
				}
			}
			for _, p := range patterns {
				if strings.HasPrefix(c.metric, p.prefix) {
					errs = append(errs, fmt.Sprintf("%s:%d: query %s: metric %s may clash with %s", q.File, c.line, q.Name, c.metric, p.who))
					break
				}
			}
			for _, n := range exposedNames(c.metric, c.typeName()) {
				taken[n] = fmt.Sprintf("metric %s of query %s at %s:%d; metric names must be unique across queries.yaml files", c.metric, q.Name, q.File, c.line)
			}
		}
	}
	return errs
}
