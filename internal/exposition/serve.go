package exposition

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
)

var gzipPool = sync.Pool{New: func() any { return gzip.NewWriter(nil) }}

// Serve answers a scrape with g's families and the blocks that gathering g
// left in blocks, as promhttp.HandlerFor(g, opts) would answer with the
// blocks expanded: the same format negotiation (opts.EnableOpenMetrics,
// opts.AcceptedFormats), compression (gzip; opts.DisableCompression,
// opts.OfferedCompressions), name[] filter, error handling and encoder. Of
// the options, MaxRequestsInFlight, Timeout, Registry and CoalesceGather
// are not applied. Every series gets the constant labels (nil: none), as
// if g's collectors had been registered through
// prometheus.WrapRegistererWith, except that a series that already has one
// of the names keeps its own value.
func Serve(w http.ResponseWriter, r *http.Request, g prometheus.Gatherer, blocks *Blocks, labels *ConstLabels, opts promhttp.HandlerOpts) {
	logf := func(format string, args ...any) {
		if opts.ErrorLog != nil {
			opts.ErrorLog.Println(fmt.Sprintf(format, args...))
		}
	}
	if !opts.ProcessStartTime.IsZero() {
		w.Header().Set("Process-Start-Time-Unix", strconv.FormatInt(opts.ProcessStartTime.Unix(), 10))
	}
	mfs, err := g.Gather()
	labels.addTo(mfs)
	bs := blocks.List()
	if err != nil {
		logf("error gathering metrics: %v", err)
		switch opts.ErrorHandling {
		case promhttp.PanicOnError:
			panic(err)
		case promhttp.HTTPErrorOnError:
			httpError(w, err)
			return
		default:
			if len(mfs) == 0 && len(bs) == 0 {
				httpError(w, err)
				return
			}
		}
	}

	accepted := opts.AcceptedFormats
	if len(accepted) == 0 {
		accepted = expfmt.DefaultAcceptedFormats()
		if opts.EnableOpenMetrics {
			accepted = expfmt.DefaultOpenMetricsAcceptedFormats()
		}
	}
	format := expfmt.NegotiateAccept(r.Header, accepted...)
	w.Header().Add("Vary", "Accept")
	var offers []string
	if !opts.DisableCompression {
		offers = []string{string(promhttp.Identity), string(promhttp.Gzip)}
		if len(opts.OfferedCompressions) > 0 {
			offers = offers[:0]
			for _, c := range opts.OfferedCompressions {
				offers = append(offers, string(c))
			}
		}
		w.Header().Add("Vary", "Accept-Encoding")
	}
	w.Header().Set("Content-Type", string(format))
	var out io.Writer = w
	if len(offers) > 0 {
		switch enc := negotiateEncoding(r, offers); enc {
		case "gzip":
			gz := gzipPool.Get().(*gzip.Writer)
			gz.Reset(w)
			defer func() { _ = gz.Close(); gzipPool.Put(gz) }()
			w.Header().Set("Content-Encoding", "gzip")
			out = gz
		default:
			// identity, or no offer is acceptable ("gzip;q=0"): the body
			// goes uncompressed either way, as with promhttp, which also
			// logs an error for the latter; that would let any caller
			// fill the log with a header of its choosing.
		}
	}
	bw := bufio.NewWriterSize(out, 64<<10)
	defer bw.Flush()
	var encOpts []expfmt.EncoderOption
	if opts.EnableOpenMetricsTextCreatedSamples {
		encOpts = append(encOpts, expfmt.WithCreatedLines())
	}
	enc := expfmt.NewEncoder(bw, format, encOpts...)
	direct := directWriter(format)
	delimited := directProto(format)

	var filter map[string]bool
	if r.URL != nil {
		if names := r.URL.Query()["name[]"]; len(names) > 0 {
			filter = map[string]bool{}
			for _, n := range names {
				filter[n] = true
			}
		}
	}
	// stop handles an encoding error as promhttp does and says whether to stop.
	stop := func(err error) bool {
		if err == nil {
			return false
		}
		logf("error encoding and sending metric family: %v", err)
		switch opts.ErrorHandling {
		case promhttp.PanicOnError:
			panic(err)
		case promhttp.HTTPErrorOnError:
			return true
		}
		return false
	}
	var buf []series
	var sc scratch
	dropped := 0
	for _, fam := range plan(mfs, bs) {
		if filter != nil && !filter[fam.name] {
			continue
		}
		if len(fam.parts) == 0 {
			if fam.gathered != nil && stop(enc.Encode(fam.gathered)) {
				return
			}
			continue
		}
		var n int
		buf, n = dedupe(fam.series(buf))
		dropped += n
		p := labels.plan(fam.parts[0].b.shape)
		if direct != nil && fam.gathered == nil {
			direct(bw, fam.def, buf, p)
			continue
		}
		if delimited && fam.gathered == nil {
			if stop(sc.writeDelimited(bw, fam, buf, p)) {
				return
			}
			continue
		}
		mf, err := sc.dtoFamily(fam, buf, p)
		if err != nil {
			logf("%v", err)
		}
		if stop(enc.Encode(mf)) {
			return
		}
	}
	if dropped > 0 {
		logf("%d duplicate per-object series were dropped", dropped)
	}
	if c, ok := enc.(expfmt.Closer); ok {
		_ = stop(c.Close())
	}
	if err := bw.Flush(); err != nil {
		_ = stop(err)
	}
}

func httpError(w http.ResponseWriter, err error) {
	w.Header().Del("Content-Encoding")
	http.Error(w, "An error has occurred while serving metrics:\n\n"+err.Error(), http.StatusInternalServerError)
}

// negotiateEncoding picks the offer with the highest quality in
// Accept-Encoding, the first offer on a tie ("identity" when nothing
// matches, "" when the best match has quality 0), as promhttp does.
func negotiateEncoding(r *http.Request, offers []string) string {
	best, bestQ := "identity", -1.0
	specs := parseAcceptEncoding(r.Header.Values("Accept-Encoding"))
	for _, offer := range offers {
		for _, s := range specs {
			if s.q > bestQ && (s.value == "*" || s.value == offer) {
				best, bestQ = offer, s.q
			}
		}
	}
	if bestQ == 0 {
		return ""
	}
	return best
}

type acceptSpec struct {
	value string
	q     float64
}

// parseAcceptEncoding reads "gzip;q=0.5, identity" lists; a malformed
// element ends its header value, as in promhttp's parser.
func parseAcceptEncoding(values []string) []acceptSpec {
	var out []acceptSpec
	for _, v := range values {
		for _, el := range strings.Split(v, ",") {
			name, params, _ := strings.Cut(el, ";")
			s := acceptSpec{value: strings.TrimSpace(name), q: 1}
			if s.value == "" {
				break
			}
			if params = strings.TrimSpace(params); params != "" {
				q, ok := strings.CutPrefix(params, "q=")
				f, err := strconv.ParseFloat(strings.TrimSpace(q), 64)
				if !ok || err != nil || f < 0 || f > 1 {
					break
				}
				s.q = f
			}
			out = append(out, s)
		}
	}
	return out
}
