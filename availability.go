package onramp

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Interval is a range of local wall-clock time within a day, "HH:MM" to
// "HH:MM" ("24:00" ends at midnight).
type Interval struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// Weekdays are the keys of Availability.Weekly, Monday first.
var Weekdays = []string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}

// Availability is when visitors can book a rep (step 6, calendar settings).
type Availability struct {
	TimeZone         string                `json:"time_zone"`
	Weekly           map[string][]Interval `json:"weekly"`
	MinNoticeMinutes int                   `json:"min_notice_minutes"`
	BufferMinutes    int                   `json:"buffer_minutes"`
}

func (*Availability) settings()     {}
func (*Availability) Step() StepKey { return StepAvailability }

// Outcome: saved calendar settings are done; the message says how the
// zone compares with the calendar's.
func (a *Availability) Outcome(f StepFacts) Outcome {
	_, msg := CheckTimeZone(a.TimeZone, f.CalendarTimeZone)
	return Outcome{Status: StatusDone, Message: msg}
}

// CheckTimeZone compares the rep's zone with their calendar's (the guide:
// "Verify the time zone in Qualified matches the time zone set in your
// Google Calendar or Microsoft Outlook"): the check (TZUnverified, TZMatch,
// TZMismatch) and what to tell the rep ("" when they match).
func CheckTimeZone(tz, calendarTZ string) (check, message string) {
	switch {
	case calendarTZ == "":
		return TZUnverified, "Time zone not verified yet: it will be checked against your calendar's once it is connected."
	case calendarTZ == tz:
		return TZMatch, ""
	default:
		return TZMismatch, fmt.Sprintf("Your time zone %s differs from your calendar's (%s): meeting times may be off. Make them match.", tz, calendarTZ)
	}
}

// Limits and defaults of the calendar settings (the guide: "Start with the
// defaults—30 minute minimum meeting notice and no buffer").
const (
	DefaultMinNoticeMinutes = 30
	DefaultBufferMinutes    = 0
	MaxMinNoticeMinutes     = 30 * 24 * 60
	MaxBufferMinutes        = 240
)

// DefaultAvailability is Mon–Fri 09:00–17:00 in zone tz, 30 min notice, no buffer.
func DefaultAvailability(tz string) Availability {
	w := map[string][]Interval{}
	for _, d := range Weekdays[:5] {
		w[d] = []Interval{{"09:00", "17:00"}}
	}
	return Availability{TimeZone: tz, Weekly: w, MinNoticeMinutes: DefaultMinNoticeMinutes, BufferMinutes: DefaultBufferMinutes}
}

// ParseClock parses "HH:MM" into minutes after midnight (0…1440).
func ParseClock(s string) (int, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	for _, i := range []int{0, 1, 3, 4} {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	h := int(s[0]-'0')*10 + int(s[1]-'0')
	m := int(s[3]-'0')*10 + int(s[4]-'0')
	if m > 59 || h > 24 || (h == 24 && m != 0) {
		return 0, false
	}
	return h*60 + m, true
}

// MaxRangesPerDay bounds the time ranges of one day.
const MaxRangesPerDay = 12

// Validate checks the settings and sorts each day's intervals.
func (a *Availability) Validate() error {
	f := map[string]string{}
	a.TimeZone = strings.TrimSpace(a.TimeZone)
	if len(a.TimeZone) > 64 {
		f["time_zone"] = "Unknown time zone: use an IANA name such as Europe/Paris."
	} else if a.TimeZone == "" {
		f["time_zone"] = "Time zone is required."
	} else if a.TimeZone == "Local" || strings.HasPrefix(a.TimeZone, "/") {
		f["time_zone"] = fmt.Sprintf("Unknown time zone %q: use an IANA name such as Europe/Paris.", quoteShort(a.TimeZone))
	} else if _, err := time.LoadLocation(a.TimeZone); err != nil {
		f["time_zone"] = fmt.Sprintf("Unknown time zone %q: use an IANA name such as Europe/Paris.", quoteShort(a.TimeZone))
	}
	total := 0
	for day, ivs := range a.Weekly {
		field := "weekly." + day
		if !contains(Weekdays, day) {
			f["weekly"] = fmt.Sprintf("Unknown day %q.", quoteShort(day))
			continue
		}
		if len(ivs) > MaxRangesPerDay {
			f[field] = fmt.Sprintf("At most %d time ranges a day.", MaxRangesPerDay)
			continue
		}
		type span struct{ s, e int }
		spans := make([]span, 0, len(ivs))
		for _, iv := range ivs {
			s, ok1 := ParseClock(iv.Start)
			e, ok2 := ParseClock(iv.End)
			switch {
			case !ok1 || !ok2:
				f[field] = fmt.Sprintf("Times must be HH:MM between 00:00 and 24:00 (got %q–%q).", quoteShort(iv.Start), quoteShort(iv.End))
			case s >= e:
				f[field] = fmt.Sprintf("Start must be before end (got %s–%s).", quoteShort(iv.Start), quoteShort(iv.End))
			}
			spans = append(spans, span{s, e})
		}
		if _, bad := f[field]; bad {
			continue
		}
		sort.Slice(ivs, func(i, j int) bool { return ivs[i].Start < ivs[j].Start })
		sort.Slice(spans, func(i, j int) bool { return spans[i].s < spans[j].s })
		for i := 1; i < len(spans); i++ {
			if spans[i].s < spans[i-1].e {
				f[field] = fmt.Sprintf("Time ranges on %s overlap.", strings.ToUpper(day[:1])+day[1:])
			}
		}
		total += len(ivs)
	}
	if total == 0 && len(f) == 0 {
		f["weekly"] = "Add at least one time range when visitors can book you."
	}
	if a.MinNoticeMinutes < 0 || a.MinNoticeMinutes > MaxMinNoticeMinutes {
		f["min_notice_minutes"] = "Minimum notice must be between 0 minutes and 30 days."
	}
	if a.BufferMinutes < 0 || a.BufferMinutes > MaxBufferMinutes {
		f["buffer_minutes"] = "Buffer between meetings must be between 0 and 240 minutes."
	}
	return FieldErrors(f)
}

// quoteShort cuts what a client sent to a length fit for a message.
func quoteShort(s string) string {
	if len(s) <= 24 {
		return s
	}
	r := []rune(s)
	if len(r) > 24 {
		r = r[:24]
	}
	return string(r) + "…"
}

func contains[T comparable](xs []T, x T) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
