package target

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestBreakerOpensAfterThresholdAndHalfOpens(t *testing.T) {
	b := &Breaker{Threshold: 5, OpenFor: time.Minute}
	now := time.Unix(1000, 0)
	fail := errors.New("refused")
	for i := 0; i < 4; i++ {
		if err := b.Allow(now); err != nil {
			t.Fatalf("attempt %d refused: %v", i, err)
		}
		b.Record(now, fail)
	}
	if s, _ := b.State(now); s != BreakerClosed {
		t.Fatalf("open after 4 failures: %v", s)
	}
	_ = b.Allow(now)
	b.Record(now, fail)
	if err := b.Allow(now.Add(59 * time.Second)); !errors.Is(err, ErrCircuitOpen) {
		t.Fatalf("not open after 5 failures: %v", err)
	}
	if s, n := b.State(now.Add(time.Second)); s != BreakerOpen || n != 1 {
		t.Fatalf("state %v opened %d", s, n)
	}
	later := now.Add(61 * time.Second)
	if err := b.Allow(later); err != nil {
		t.Fatalf("half-open trial refused: %v", err)
	}
	if err := b.Allow(later); !errors.Is(err, ErrCircuitOpen) {
		t.Fatal("a second concurrent trial was let through")
	}
	b.Record(later, fail)
	if err := b.Allow(later.Add(time.Second)); !errors.Is(err, ErrCircuitOpen) {
		t.Fatal("failed trial did not reopen")
	}
	if _, n := b.State(later); n != 2 {
		t.Fatalf("opened %d times, want 2", n)
	}
	again := later.Add(2 * time.Minute)
	_ = b.Allow(again)
	b.Record(again, nil)
	if s, _ := b.State(again); s != BreakerClosed {
		t.Fatal("successful trial did not close")
	}
}

func TestSessionLost(t *testing.T) {
	for err, want := range map[error]bool{
		nil: false,
		errors.New("cannot scan NULL into *float64"): false,
		context.DeadlineExceeded:                     true,
		&pgconn.PgError{Code: "57014"}:               false, // statement cancelled: the session lives on
		&pgconn.PgError{Code: "57P01"}:               true,  // admin shutdown
		&pgconn.PgError{Code: "08006"}:               true,
		&pgconn.PgError{Code: "42P01"}:               false, // undefined table
	} {
		if got := sessionLost(err); got != want {
			t.Errorf("%v: %v, want %v", err, got, want)
		}
	}
}
