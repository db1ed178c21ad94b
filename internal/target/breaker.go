package target

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrCircuitOpen is returned without touching the network while a target's
// circuit breaker is open.
var ErrCircuitOpen = errors.New("circuit breaker open")

// Breaker opens after Threshold consecutive connection failures and stays open
// for OpenFor; after that one trial is let through (half-open): success closes
// it, failure opens it again. This keeps a dead server from being hammered by
// every scrape and keeps scrapes from stacking up behind connect timeouts.
type Breaker struct {
	Threshold int
	OpenFor   time.Duration

	mu        sync.Mutex
	failures  int
	openUntil time.Time
	trial     bool // a half-open trial is in flight
	opened    uint64
}

// BreakerState is the state as exposed in metrics: 0 closed, 1 open, 2 half-open.
type BreakerState int

// Breaker states.
const (
	BreakerClosed BreakerState = iota
	BreakerOpen
	BreakerHalfOpen
)

// Allow reports whether a connection attempt may go ahead now.
func (b *Breaker) Allow(now time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failures < b.Threshold {
		return nil
	}
	if now.Before(b.openUntil) {
		return fmt.Errorf("%w after %d consecutive failures; next attempt in %s",
			ErrCircuitOpen, b.failures, b.openUntil.Sub(now).Round(time.Second))
	}
	if b.trial {
		return fmt.Errorf("%w: a trial connection is in progress", ErrCircuitOpen)
	}
	b.trial = true
	return nil
}

// Record notes the outcome of an attempt that Allow let through.
func (b *Breaker) Record(now time.Time, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.trial = false
	if err == nil {
		b.failures = 0
		return
	}
	b.failures++
	if b.failures >= b.Threshold {
		if b.failures == b.Threshold || !now.Before(b.openUntil) {
			b.opened++
		}
		b.openUntil = now.Add(b.OpenFor)
	}
}

// Release ends an attempt that Allow let through without an outcome either
// way (it never reached the server), so a half-open trial can be retried.
func (b *Breaker) Release() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.trial = false
}

// State returns the breaker's state and how often it has opened.
func (b *Breaker) State(now time.Time) (BreakerState, uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.failures < b.Threshold:
		return BreakerClosed, b.opened
	case now.Before(b.openUntil):
		return BreakerOpen, b.opened
	default:
		return BreakerHalfOpen, b.opened
	}
}
