package remediate

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"hash/maphash"
	"io"
	"regexp"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"
)

// Message is Alertmanager's webhook payload, version 4.
type Message struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []Alert           `json:"alerts"`
}

// Alert is one alert of a notification.
type Alert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// Limits on a payload; each alert beyond them makes the whole payload invalid.
const (
	maxAlerts      = 1000
	maxLabels      = 64
	maxLabelName   = 128
	maxFingerprint = 64
)

var (
	labelNameRE   = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	fingerprintRE = regexp.MustCompile(`^[0-9a-zA-Z]{1,64}$`)
)

// Decode reads and validates a webhook payload. The error is one sentence
// saying what is wrong; it is sent back with status 400.
func Decode(r io.Reader) (*Message, error) {
	dec := json.NewDecoder(r)
	var m Message
	if err := dec.Decode(&m); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.Is(err, io.EOF):
			return nil, errors.New("empty body; send an Alertmanager webhook payload (version 4)")
		case errors.As(err, &se):
			return nil, fmt.Errorf("malformed JSON at byte %d: %v", se.Offset, se)
		case errors.As(err, &te):
			return nil, fmt.Errorf("field %q has the wrong type (%s where %s is expected)", te.Field, te.Value, te.Type)
		}
		return nil, fmt.Errorf("malformed JSON: %v", err)
	}
	if dec.More() {
		return nil, errors.New("trailing data after the JSON object; send one payload per request")
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

func (m *Message) validate() error {
	if m.Version != "4" {
		return fmt.Errorf("payload version is %q; this receiver understands Alertmanager's webhook version \"4\"", m.Version)
	}
	if len(m.Alerts) == 0 {
		return errors.New("the payload has no alerts")
	}
	if len(m.Alerts) > maxAlerts {
		return fmt.Errorf("the payload has %d alerts; at most %d are accepted (set max_alerts in webhook_configs)", len(m.Alerts), maxAlerts)
	}
	for i := range m.Alerts {
		a := &m.Alerts[i]
		if err := a.validate(); err != nil {
			return fmt.Errorf("alert %d: %v", i, err)
		}
	}
	return nil
}

func (a *Alert) validate() error {
	if a.Status != "firing" && a.Status != "resolved" {
		return fmt.Errorf("status is %q; want firing or resolved", truncate(a.Status, 32))
	}
	if len(a.Labels) == 0 || a.Labels["alertname"] == "" {
		return errors.New("no alertname label")
	}
	if len(a.Labels) > maxLabels {
		return fmt.Errorf("%d labels; at most %d are accepted", len(a.Labels), maxLabels)
	}
	for k, v := range a.Labels {
		if len(k) > maxLabelName || !labelNameRE.MatchString(k) {
			return fmt.Errorf("label name %q is not a Prometheus label name", truncate(k, 64))
		}
		if !utf8.ValidString(v) {
			return fmt.Errorf("label %s is not valid UTF-8", k)
		}
	}
	if a.StartsAt.IsZero() {
		return errors.New("no startsAt")
	}
	if a.Fingerprint == "" {
		a.Fingerprint = labelsFingerprint(a.Labels)
	} else if len(a.Fingerprint) > maxFingerprint || !fingerprintRE.MatchString(a.Fingerprint) {
		return fmt.Errorf("fingerprint %q is not an Alertmanager fingerprint", truncate(a.Fingerprint, 64))
	}
	return nil
}

// labelsFingerprint stands in for the fingerprint when a sender leaves it out.
func labelsFingerprint(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := fnv.New64a()
	for _, k := range keys {
		h.Write([]byte(k))
		h.Write([]byte{0xff})
		h.Write([]byte(labels[k]))
		h.Write([]byte{0xff})
	}
	return strconv.FormatUint(h.Sum64(), 16)
}

// maxLabelValue is the longest label value the receiver keeps: longer ones
// are cut (and say how long they were) before anything is stored, queued,
// logged or audited. A cut value names no database object (those have at
// most 63 bytes) and matches no command's default label pattern, so an
// action that needs it refuses.
const maxLabelValue = 128

// bounded returns the part of a the receiver keeps: its labels, cut to
// maxLabelValue, its status, times and fingerprint; not its annotations.
func (a Alert) bounded() Alert {
	labels := make(map[string]string, len(a.Labels))
	for k, v := range a.Labels {
		labels[k] = truncate(v, maxLabelValue)
	}
	return Alert{Status: a.Status, Labels: labels, StartsAt: a.StartsAt, EndsAt: a.EndsAt, Fingerprint: a.Fingerprint}
}

// keySeed makes notification keys unpredictable to senders, so that none
// can make two notifications collide.
var keySeed = maphash.MakeSeed()

// key identifies one notification of one alert: Alertmanager's HA peers send
// the same fingerprint and startsAt. It is a 64-bit hash, so that remembering
// limits.remembered_alerts of them takes a few megabytes; with 100 000
// remembered, a new notification is taken for one of them with a chance of
// about 1 in 10^14.
func (a *Alert) key() uint64 {
	var h maphash.Hash
	h.SetSeed(keySeed)
	h.WriteString(a.Fingerprint)
	var t [8]byte
	binary.LittleEndian.PutUint64(t[:], uint64(a.StartsAt.UnixNano()))
	h.Write(t[:])
	return h.Sum64()
}

// truncate shortens s for messages and the audit log.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	b := []byte(s[:n])
	for len(b) > 0 && !utf8.Valid(b) {
		b = b[:len(b)-1]
	}
	return string(bytes.ToValidUTF8(b, nil)) + fmt.Sprintf("...(%d bytes)", len(s))
}
