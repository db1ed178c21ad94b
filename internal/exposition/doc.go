// Package exposition writes the per-object families (one series per table,
// index or statement) of a scrape without building a client_golang metric
// for each series.
//
// At full coverage those families are hundreds of thousands of series, and
// client_golang spends several microseconds on each: a const metric with its
// label pairs, the registry's consistency check and sort, and the encoder's
// per-series name checks. A collector here hands over a Block instead: the
// families it fills, one row of values per object and the object's labels,
// kept between scrapes with their rendered text. Serve answers the scrape as
// promhttp would (same format and compression negotiation, same encoder for
// every other family) and streams the blocks' families in their place, in
// name order, merged across databases: the text format and OpenMetrics 1.0
// are written directly, every other format (protobuf, OpenMetrics 2.0) from
// a client_model family built for one family at a time and passed to the
// same expfmt encoder. Constant labels (ConstLabels) are written there too:
// their pairs are rendered once per configuration and cut into each
// object's rendered labels at their places in label-name order. Nothing
// holds the whole response in memory. Block.Expand gives the same series as
// const metrics, for every path that wants plain client_golang.
package exposition
