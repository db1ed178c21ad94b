package remediate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// WebhookPath is where Alertmanager posts notifications.
const WebhookPath = "/webhook"

// Routes returns the receiver's HTTP routes: POST /webhook, GET
// /api/v1/actions, /metrics (gatherer), /-/healthy, /-/ready and, when
// reload is not nil, POST /-/reload.
func (r *Receiver) Routes(gatherer prometheus.Gatherer, reload func() error) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc(WebhookPath, r.Webhook)
	mux.HandleFunc("/api/v1/actions", r.Actions)
	mux.Handle("/metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "Healthy") })
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if r.ctx.Err() != nil {
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "Ready")
	})
	if reload != nil {
		mux.HandleFunc("/-/reload", func(w http.ResponseWriter, req *http.Request) {
			if req.Method != http.MethodPost && req.Method != http.MethodPut {
				http.Error(w, "use POST", http.StatusMethodNotAllowed)
				return
			}
			if err := reload(); err != nil {
				// Configuration errors name files, lines and settings: only
				// an authenticated client sees them.
				msg := "failed to reload the configuration; the receiver's log says why"
				if r.authenticated.Load() {
					msg = "failed to reload config: " + err.Error()
				}
				http.Error(w, msg, http.StatusInternalServerError)
				return
			}
			fmt.Fprintln(w, "configuration reloaded")
		})
	}
	return mux
}

// webhookCodes are the statuses Webhook answers, each a code label of
// pg_remediation_webhook_requests_total created at 0. 401 is answered by the
// TLS and basic auth layer in front and never reaches Webhook; 500 would take
// an error of Accept other than ErrFull, which it has not.
var webhookCodes = []int{http.StatusAccepted, http.StatusBadRequest, http.StatusMethodNotAllowed,
	http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusServiceUnavailable}

// Webhook accepts a notification: 202 once it is validated and queued, 400
// for malformed input, 413 for a body over webhook.max_body_bytes, 415 for
// a body that is not declared application/json, 503 when a bound is reached
// (Alertmanager retries 5xx, not 4xx).
func (r *Receiver) Webhook(w http.ResponseWriter, req *http.Request) {
	start := time.Now()
	code := r.webhook(w, req)
	r.m.requests.WithLabelValues(strconv.Itoa(code)).Inc()
	if code == http.StatusAccepted {
		r.m.acceptDuration.Observe(time.Since(start).Seconds())
	}
}

func (r *Receiver) webhook(w http.ResponseWriter, req *http.Request) int {
	fail := func(code int, msg string) int {
		http.Error(w, msg, code)
		return code
	}
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return fail(http.StatusMethodNotAllowed, "POST an Alertmanager webhook payload here")
	}
	// Alertmanager sends JSON as application/json. Requiring it keeps a web
	// page in an operator's browser from posting a form here: a cross-site
	// request with this type needs a CORS preflight, which gets no approval.
	if mt, _, err := mime.ParseMediaType(req.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return fail(http.StatusUnsupportedMediaType, "send the payload with Content-Type: application/json, as Alertmanager does")
	}
	// Wait for a turn before reading the body: the bodies waiting stay in
	// the kernel's socket buffers, not in memory.
	select {
	case r.inflight <- struct{}{}:
		defer func() { <-r.inflight }()
	case <-req.Context().Done():
		return fail(http.StatusServiceUnavailable, "the request ended before its turn")
	}
	limit := r.cfg.Load().Webhook.MaxBodyBytes
	var body bytes.Buffer
	if n := req.ContentLength; n > 0 && n <= limit {
		body.Grow(int(n)) // one allocation instead of a doubling series
	}
	_, err := body.ReadFrom(http.MaxBytesReader(w, req.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return fail(http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes (webhook.max_body_bytes); lower max_alerts in the webhook config", limit))
		}
		return fail(http.StatusBadRequest, "cannot read the body: "+err.Error())
	}
	msg, err := Decode(&body)
	if err != nil {
		return fail(http.StatusBadRequest, err.Error())
	}
	sum, err := r.Accept(msg)
	if errors.Is(err, ErrFull) {
		w.Header().Set("Retry-After", "10")
		return fail(http.StatusServiceUnavailable, err.Error()+"; retry later")
	}
	if err != nil {
		return fail(http.StatusInternalServerError, err.Error())
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(sum)
	return http.StatusAccepted
}

// Actions lists recent decisions as JSON, newest first.
func (r *Receiver) Actions(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodGet {
		http.Error(w, "use GET", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(struct {
		Mode    string   `json:"mode"`
		Actions []Record `json:"actions"`
	}{r.cfg.Load().Mode, r.Recent()})
}
