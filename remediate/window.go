package remediate

import (
	"fmt"
	"strings"
	"time"
)

// Window is a daily maintenance window such as 02:00-04:00 in a time zone.
// Start after End means the window crosses midnight.
type Window struct {
	Start    string `yaml:"start"` // HH:MM
	End      string `yaml:"end"`   // HH:MM
	TimeZone string `yaml:"time_zone"`
	// Days restricts the window to weekdays (mon..sun) on which it opens; empty means every day.
	Days []string `yaml:"days"`

	Line       int `yaml:"-"`
	loc        *time.Location
	start, end int // minutes after midnight
	days       map[time.Weekday]bool
}

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

func parseClock(s string) (int, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a time of day; use HH:MM such as 02:00", s)
	}
	return t.Hour()*60 + t.Minute(), nil
}

func (w *Window) compile() error {
	var err error
	if w.start, err = parseClock(w.Start); err != nil {
		return fmt.Errorf("start: %v", err)
	}
	if w.end, err = parseClock(w.End); err != nil {
		return fmt.Errorf("end: %v", err)
	}
	if w.start == w.end {
		return fmt.Errorf("start and end are both %s; a window needs a length", w.Start)
	}
	tz := w.TimeZone
	if tz == "" {
		tz = "UTC"
	}
	if w.loc, err = time.LoadLocation(tz); err != nil {
		return fmt.Errorf("time_zone %q is unknown; use an IANA name such as Europe/Berlin or UTC", w.TimeZone)
	}
	w.days = map[time.Weekday]bool{}
	for _, d := range w.Days {
		wd, ok := weekdays[strings.ToLower(d)]
		if !ok {
			return fmt.Errorf("day %q is not one of mon, tue, wed, thu, fri, sat, sun", d)
		}
		w.days[wd] = true
	}
	return nil
}

// opening returns the start of the occurrence of the window that began on the
// calendar day of day (in the window's zone).
func (w *Window) opening(day time.Time) time.Time {
	y, m, d := day.Date()
	return time.Date(y, m, d, w.start/60, w.start%60, 0, 0, w.loc)
}

func (w *Window) length() time.Duration {
	mins := w.end - w.start
	if mins < 0 {
		mins += 24 * 60
	}
	return time.Duration(mins) * time.Minute
}

func (w *Window) dayOK(t time.Time) bool {
	return len(w.days) == 0 || w.days[t.Weekday()]
}

// Open reports whether now is inside the window.
func (w *Window) Open(now time.Time) bool {
	now = now.In(w.loc)
	// The occurrence that covers now opened today or, crossing midnight, yesterday.
	for _, day := range []time.Time{now, now.AddDate(0, 0, -1)} {
		o := w.opening(day)
		if w.dayOK(o) && !now.Before(o) && now.Before(o.Add(w.length())) {
			return true
		}
	}
	return false
}

// Next returns the next time the window opens after now (now itself if open).
func (w *Window) Next(now time.Time) time.Time {
	if w.Open(now) {
		return now
	}
	local := now.In(w.loc)
	for i := 0; i <= 7; i++ {
		o := w.opening(local.AddDate(0, 0, i))
		if o.After(now) && w.dayOK(o) {
			return o
		}
	}
	return now.Add(24 * time.Hour) // unreachable with a valid window
}
