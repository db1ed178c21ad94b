package backup

import (
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// emit turns a report into the per-stanza and per-type series of one source.
func (r *Report) emit(ch chan<- prometheus.Metric, source string, now time.Time, retention time.Duration, window int) {
	type key struct{ stanza, typ string }
	byType := map[key][]Run{}
	stanzas := map[string]bool{}
	for _, run := range r.Runs {
		byType[key{run.Stanza, run.Type}] = append(byType[key{run.Stanza, run.Type}], run)
		stanzas[run.Stanza] = true
	}
	for _, c := range r.Verifications {
		stanzas[c.Stanza] = true
	}
	for _, c := range r.RestoreTests {
		stanzas[c.Stanza] = true
	}
	for k := range byType {
		sort.SliceStable(byType[k], func(i, j int) bool { return byType[k][i].when().Before(byType[k][j].when()) })
	}

	// Latest success per type, where a full backup also counts as the latest
	// differential or incremental one.
	types := map[key]bool{}
	for k := range byType {
		types[k] = true
	}
	for st := range stanzas {
		for _, t := range r.DefaultTypes {
			types[key{st, t}] = true
		}
	}
	for k := range types {
		var last time.Time
		for other, runs := range byType {
			if other.stanza != k.stanza || !covers(other.typ, k.typ) {
				continue
			}
			for _, run := range runs {
				if run.OK && run.when().After(last) {
					last = run.when()
				}
			}
		}
		if !last.IsZero() {
			mLastSuccess.Emit(ch, unix(last), source, k.stanza, k.typ)
		}
	}

	oldest := map[string]time.Time{}
	beyond := map[string]int{}
	for k, runs := range byType {
		var ok []Run
		var lastFail time.Time
		failed := 0
		for _, run := range runs {
			if run.OK {
				ok = append(ok, run)
				w := run.when()
				if o, seen := oldest[k.stanza]; !seen || w.Before(o) {
					oldest[k.stanza] = w
				}
				if retention > 0 && now.Sub(w) > retention {
					beyond[k.stanza]++
				}
			} else {
				failed++
				if run.when().After(lastFail) {
					lastFail = run.when()
				}
			}
		}
		l := []string{source, k.stanza, k.typ}
		mCount.Emit(ch, float64(len(ok)), l...)
		mFailedRuns.Emit(ch, float64(failed), l...)
		if !lastFail.IsZero() {
			mLastFailure.Emit(ch, unix(lastFail), l...)
		}
		if len(ok) == 0 {
			continue
		}
		last := ok[len(ok)-1]
		if last.Size >= 0 {
			mLastSize.Emit(ch, last.Size, l...)
		}
		if last.DatabaseSize >= 0 {
			mLastDBSize.Emit(ch, last.DatabaseSize, l...)
		}
		if !last.Start.IsZero() && !last.End.IsZero() && !last.End.Before(last.Start) {
			mLastDuration.Emit(ch, last.End.Sub(last.Start).Seconds(), l...)
		}
		mLastErrors.Emit(ch, b2f(last.HasErrors), l...)
		var sum float64
		n := 0
		for i := len(ok) - 2; i >= 0 && n < window; i-- {
			if ok[i].Size >= 0 {
				sum += ok[i].Size
				n++
			}
		}
		if n > 0 {
			mMeanSize.Emit(ch, sum/float64(n), l...)
		}
	}
	for st, o := range oldest {
		mOldest.Emit(ch, unix(o), source, st)
		if retention > 0 {
			mBeyondRetention.Emit(ch, float64(beyond[st]), source, st)
		}
	}
	for st, size := range r.RepositorySize {
		mRepoSize.Emit(ch, size, source, st)
	}
	for st, enc := range r.Encrypted {
		mEncrypted.Emit(ch, b2f(enc), source, st, "")
	}
	emitChecks(ch, source, r.Verifications, mVerifyAt, mVerifyOK, mVerifyGood)
	emitChecks(ch, source, r.RestoreTests, mRestoreAt, mRestoreOK, mRestoreGood)
	for _, s := range r.Stanzas {
		mStanzaStatus.Emit(ch, s.Code, source, s.Stanza)
		mLockHeld.Emit(ch, b2f(s.LockHeld), source, s.Stanza)
	}
	for _, rp := range r.Repos {
		mRepoStatus.Emit(ch, rp.Code, source, rp.Stanza, rp.Repo)
		if rp.Encrypted != nil {
			mEncrypted.Emit(ch, b2f(*rp.Encrypted), source, rp.Stanza, rp.Repo)
		}
	}
}

func emitChecks(ch chan<- prometheus.Metric, source string, checks []Check, at, ok, good interface {
	Emit(chan<- prometheus.Metric, float64, ...string)
}) {
	type latest struct{ any, good Check }
	by := map[string]*latest{}
	for _, c := range checks {
		l := by[c.Stanza]
		if l == nil {
			l = &latest{}
			by[c.Stanza] = l
		}
		if c.At.After(l.any.At) || l.any.At.IsZero() {
			l.any = c
		}
		if c.OK && c.At.After(l.good.At) {
			l.good = c
		}
	}
	for st, l := range by {
		at.Emit(ch, unix(l.any.At), source, st)
		ok.Emit(ch, b2f(l.any.OK), source, st)
		if !l.good.At.IsZero() {
			good.Emit(ch, unix(l.good.At), source, st)
		}
	}
}
