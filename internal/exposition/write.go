package exposition

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"mime"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/pghardening/pg_hardening_exporter/internal/metric"
)

// family is one family of the response: gathered the usual way, filled by
// blocks, or (if a name is served both ways) both.
type family struct {
	name     string
	gathered *dto.MetricFamily
	def      *metric.Metric // the blocks' declaration
	parts    []part
}

type part struct {
	b *Block
	f int // the family's index in the block
}

// series is one sample of a block family.
type series struct {
	labels *Labels
	v      float64
}

// plan lists the families of a response in name order, as a registry
// would: the gathered ones (already sorted) and the blocks'.
func plan(mfs []*dto.MetricFamily, blocks []*Block) []*family {
	byName := map[string]*family{}
	var fromBlocks []*family
	for _, b := range blocks {
		b.sortOnce.Do(b.sort)
		for f, m := range b.families {
			fam := byName[m.Name]
			if fam == nil {
				fam = &family{name: m.Name, def: m}
				byName[m.Name] = fam
				fromBlocks = append(fromBlocks, fam)
			}
			if len(b.rows) > 0 {
				fam.parts = append(fam.parts, part{b: b, f: f})
			}
		}
	}
	slices.SortFunc(fromBlocks, func(x, y *family) int { return strings.Compare(x.name, y.name) })
	out := make([]*family, 0, len(mfs)+len(fromBlocks))
	i := 0
	for _, mf := range mfs {
		name := mf.GetName()
		for i < len(fromBlocks) && fromBlocks[i].name < name {
			out = append(out, fromBlocks[i])
			i++
		}
		if fam := byName[name]; fam != nil {
			fam.gathered = mf
			if i < len(fromBlocks) && fromBlocks[i] == fam {
				i++
			}
			out = append(out, fam)
			continue
		}
		out = append(out, &family{name: name, gathered: mf})
	}
	return append(out, fromBlocks[i:]...)
}

// series returns the family's samples from its blocks in client_golang's
// order, in buf. Each block is sorted; blocks of different databases
// usually follow one another, so sorting them by their first row is enough
// and the whole is sorted again only when blocks overlap.
func (fam *family) series(buf []series) []series {
	buf = buf[:0]
	slices.SortStableFunc(fam.parts, func(x, y part) int {
		return compareLabels(x.b.rows[0].labels, y.b.rows[0].labels)
	})
	overlap := false
	for k, p := range fam.parts {
		if k > 0 && compareLabels(buf[len(buf)-1].labels, p.b.rows[0].labels) >= 0 {
			overlap = true
		}
		for _, r := range p.b.rows {
			buf = append(buf, series{labels: r.labels, v: r.values[p.f]})
		}
	}
	if overlap {
		slices.SortStableFunc(buf, func(x, y series) int { return compareLabels(x.labels, y.labels) })
	}
	return buf
}

// dedupe drops a series whose labels equal the previous one's (two blocks
// of the same object), as a registry drops a duplicate, and counts them.
func dedupe(ss []series) ([]series, int) {
	out := ss[:0]
	dropped := 0
	for i, s := range ss {
		if i > 0 && compareLabels(ss[i-1].labels, s.labels) == 0 {
			dropped++
			continue
		}
		out = append(out, s)
	}
	return out, dropped
}

var helpEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`)

// writer writes block families directly in one of the text formats, with
// the constant labels of p (nil: none).
type writer func(w *bufio.Writer, m *metric.Metric, ss []series, p *labelPlan)

// writeText writes a block family in the text format, byte for byte as
// expfmt.MetricFamilyToText would.
func writeText(w *bufio.Writer, m *metric.Metric, ss []series, p *labelPlan) {
	header(w, "# HELP ", m.Name, helpEscaper, m.Help)
	header(w, "# TYPE ", m.Name, nil, typeName(m.Type))
	samples(w, m.Name, ss, p, appendFloat)
}

// writeOpenMetrics writes a block family in OpenMetrics 1.0 (or 0.0.1),
// byte for byte as expfmt.MetricFamilyToOpenMetrics would: a counter's
// family is named without its _total suffix, help escapes quotes too, and
// values always have a decimal point or exponent.
func writeOpenMetrics(w *bufio.Writer, m *metric.Metric, ss []series, p *labelPlan) {
	family, typ := m.Name, "unknown"
	switch {
	case m.Type == prometheus.CounterValue && strings.HasSuffix(m.Name, "_total"):
		family, typ = strings.TrimSuffix(m.Name, "_total"), "counter"
	case m.Type == prometheus.GaugeValue:
		typ = "gauge"
	}
	header(w, "# HELP ", family, quotedEscaper, m.Help)
	header(w, "# TYPE ", family, nil, typ)
	samples(w, m.Name, ss, p, appendOpenMetricsFloat)
}

func header(w *bufio.Writer, kind, name string, esc *strings.Replacer, text string) {
	w.WriteString(kind)
	w.WriteString(name)
	w.WriteByte(' ')
	if esc != nil {
		_, _ = esc.WriteString(w, text)
	} else {
		w.WriteString(text)
	}
	w.WriteByte('\n')
}

func samples(w *bufio.Writer, name string, ss []series, p *labelPlan, format func([]byte, float64) []byte) {
	var num [32]byte
	for _, s := range ss {
		w.WriteString(name)
		if p == nil {
			w.WriteString(s.labels.text)
		} else {
			writeLabels(w, s.labels, p)
		}
		w.WriteByte(' ')
		w.Write(format(num[:0], s.v))
		w.WriteByte('\n')
	}
}

// writeLabels writes an object's rendered labels with the constant pairs
// cut in at their places.
func writeLabels(w *bufio.Writer, l *Labels, p *labelPlan) {
	prev := 0
	for _, in := range p.inserts {
		at := l.cut(in.gap)
		w.WriteString(l.text[prev:at])
		w.WriteString(in.text)
		prev = at
	}
	w.WriteString(l.text[prev:])
}

// appendFloat formats a sample value as expfmt's text format does.
func appendFloat(b []byte, f float64) []byte {
	switch {
	case f == 1:
		return append(b, '1')
	case f == 0:
		return append(b, '0')
	case f == -1:
		return append(b, "-1"...)
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, +1):
		return append(b, "+Inf"...)
	case math.IsInf(f, -1):
		return append(b, "-Inf"...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}

// appendOpenMetricsFloat formats a sample value as expfmt's OpenMetrics
// encoder does.
func appendOpenMetricsFloat(b []byte, f float64) []byte {
	switch {
	case f == 1:
		return append(b, "1.0"...)
	case f == 0:
		return append(b, "0.0"...)
	case f == -1:
		return append(b, "-1.0"...)
	case math.IsNaN(f), math.IsInf(f, 0):
		return appendFloat(b, f)
	}
	start := len(b)
	b = strconv.AppendFloat(b, f, 'g', -1, 64)
	if !bytes.ContainsAny(b[start:], "e.") {
		b = append(b, '.', '0')
	}
	return b
}

func typeName(t prometheus.ValueType) string {
	switch t {
	case prometheus.CounterValue:
		return "counter"
	case prometheus.GaugeValue:
		return "gauge"
	}
	return "untyped"
}

// scratch holds the client_model messages of one family at a time, reused
// from family to family of a response: the encoder is done with a family
// when Encode returns.
type scratch struct {
	ms    []dto.Metric
	ptrs  []*dto.Metric
	cs    []dto.Counter
	gs    []dto.Gauge
	us    []dto.Untyped
	vs    []float64
	lps   []dto.LabelPair
	lptrs []*dto.LabelPair
	lvs   []string
	buf   []byte // a marshalled family (protobuf)
}

// grow returns s[:n] with every element zeroed, reallocated when short.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	s = s[:n]
	clear(s)
	return s
}

// familyHeader is a block family's client_model family without its metrics.
func familyHeader(m *metric.Metric) *dto.MetricFamily {
	typ := dto.MetricType_UNTYPED
	switch m.Type {
	case prometheus.CounterValue:
		typ = dto.MetricType_COUNTER
	case prometheus.GaugeValue:
		typ = dto.MetricType_GAUGE
	}
	name, help := m.Name, m.Help
	return &dto.MetricFamily{Name: &name, Help: &help, Type: &typ}
}

// metrics fills the scratch with the client_model metrics of ss, series of
// fam, with the constant labels of p (nil: none); they live until the next
// call.
func (sc *scratch) metrics(fam *family, ss []series, p *labelPlan) []*dto.Metric {
	typ := fam.def.Type
	n := len(ss)
	names, from := fam.parts[0].b.shape.sorted, []int(nil)
	if p != nil {
		names, from = p.names, p.from
	}
	k := len(names)
	sc.ms, sc.ptrs, sc.vs = grow(sc.ms, n), grow(sc.ptrs, n), grow(sc.vs, n)
	sc.lps, sc.lptrs, sc.lvs = grow(sc.lps, n*k), grow(sc.lptrs, n*k), grow(sc.lvs, n*k)
	switch typ {
	case prometheus.CounterValue:
		sc.cs = grow(sc.cs, n)
	case prometheus.GaugeValue:
		sc.gs = grow(sc.gs, n)
	default:
		sc.us = grow(sc.us, n)
	}
	for i, s := range ss {
		sc.vs[i] = s.v
		switch typ {
		case prometheus.CounterValue:
			sc.cs[i].Value = &sc.vs[i]
			sc.ms[i].Counter = &sc.cs[i]
		case prometheus.GaugeValue:
			sc.gs[i].Value = &sc.vs[i]
			sc.ms[i].Gauge = &sc.gs[i]
		default:
			sc.us[i].Value = &sc.vs[i]
			sc.ms[i].Untyped = &sc.us[i]
		}
		// The label pairs point into the names, the labels' key and the
		// constant values.
		base, rest := i*k, s.labels.key
		for j := range k {
			lp := &sc.lps[base+j]
			if from != nil && from[j] >= 0 {
				lp.Name, lp.Value = &names[j], &p.values[from[j]]
			} else {
				sc.lvs[base+j], rest, _ = strings.Cut(rest, "\x00")
				lp.Name, lp.Value = &names[j], &sc.lvs[base+j]
			}
			sc.lptrs[base+j] = lp
		}
		sc.ms[i].Label = sc.lptrs[base : base+k : base+k]
		sc.ptrs[i] = &sc.ms[i]
	}
	return sc.ptrs
}

// dtoFamily builds the client_model family of a block family, for the
// formats written by expfmt's encoder; merged with the gathered family of
// the same name, if any. It lives until the next call.
func (sc *scratch) dtoFamily(fam *family, ss []series, p *labelPlan) (*dto.MetricFamily, error) {
	mf := familyHeader(fam.def)
	mf.Metric = sc.metrics(fam, ss, p)
	g := fam.gathered
	if g == nil {
		return mf, nil
	}
	if g.GetType() != mf.GetType() || g.GetHelp() != mf.GetHelp() {
		return g, fmt.Errorf("family %s is served by a collector and by another with a different help or type; the per-object series are left out", mf.GetName())
	}
	mf.Metric = append(slices.Clone(g.Metric), mf.Metric...)
	slices.SortStableFunc(mf.Metric, compareDTO)
	return mf, nil
}

// compareDTO orders client_model metrics by label values, as a registry does.
func compareDTO(a, b *dto.Metric) int {
	for i := range min(len(a.Label), len(b.Label)) {
		if c := strings.Compare(a.Label[i].GetValue(), b.Label[i].GetValue()); c != 0 {
			return c
		}
	}
	return len(a.Label) - len(b.Label)
}

// directWriter returns the writer for block families in format, or nil
// when they go through expfmt's encoder: the text format and OpenMetrics
// 1.0 and 0.0.1 are written directly, unless the scraper asked for dots
// escaping, which changes every name with an underscore.
func directWriter(format expfmt.Format) writer {
	if format.ToEscapingScheme() == model.DotsEscaping {
		return nil
	}
	switch format.FormatType() {
	case expfmt.TypeTextPlain:
		return writeText
	case expfmt.TypeOpenMetrics:
		if _, params, err := mime.ParseMediaType(string(format)); err == nil {
			if v := params["version"]; v == expfmt.OpenMetricsVersion_1_0_0 || v == expfmt.OpenMetricsVersion_0_0_1 {
				return writeOpenMetrics
			}
		}
	}
	return nil
}

// directProto reports whether block families in format can be marshalled
// here rather than by expfmt's encoder: delimited protobuf, without dots
// escaping (the others leave valid legacy names alone). The bytes are the
// encoder's (protodelim: a varint length, then the message).
func directProto(format expfmt.Format) bool {
	return format.FormatType() == expfmt.TypeProtoDelim && format.ToEscapingScheme() != model.DotsEscaping
}

// protoChunk is how many series' client_model messages exist at a time
// when a family is marshalled here.
var protoChunk = 1024

// writeDelimited writes a block family as expfmt's delimited protobuf
// encoder would. A message's fields are written in field order and a
// repeated field is its elements one after the other, so the family's
// name, help and type, then its metrics marshalled protoChunk at a time,
// make the same bytes as the whole family marshalled at once, and only one
// chunk's messages are ever built. The bytes go to one buffer, reused from
// family to family, as the length comes first.
func (sc *scratch) writeDelimited(w *bufio.Writer, fam *family, ss []series, p *labelPlan) error {
	var err error
	if sc.buf, err = (proto.MarshalOptions{}).MarshalAppend(sc.buf[:0], familyHeader(fam.def)); err != nil {
		return err
	}
	var part dto.MetricFamily
	for start := 0; start < len(ss); start += protoChunk {
		part.Metric = sc.metrics(fam, ss[start:min(start+protoChunk, len(ss))], p)
		if sc.buf, err = (proto.MarshalOptions{}).MarshalAppend(sc.buf, &part); err != nil {
			return err
		}
	}
	var size [binary.MaxVarintLen64]byte
	if _, err := w.Write(protowire.AppendVarint(size[:0], uint64(len(sc.buf)))); err != nil {
		return err
	}
	_, err = w.Write(sc.buf)
	return err
}
