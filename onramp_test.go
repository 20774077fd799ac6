package onramp_test

import (
	"strings"
	"testing"

	"github.com/onramp/onramp"
)

func TestParseClock(t *testing.T) {
	for in, want := range map[string]int{"00:00": 0, "09:30": 570, "23:59": 1439, "24:00": 1440} {
		if got, ok := onramp.ParseClock(in); !ok || got != want {
			t.Errorf("ParseClock(%q) = %d, %v; want %d", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "9:00", "24:01", "25:00", "12:60", "ab:cd", "12-00", " 9:00", "+1:00", "09:00:00"} {
		if _, ok := onramp.ParseClock(in); ok {
			t.Errorf("ParseClock(%q) accepted", in)
		}
	}
}

func TestAvailabilityValidate(t *testing.T) {
	t.Run("DefaultsAreValid", func(t *testing.T) {
		a := onramp.DefaultAvailability("America/New_York")
		if err := a.Validate(); err != nil {
			t.Fatal(err)
		}
		if a.MinNoticeMinutes != 30 || a.BufferMinutes != 0 || len(a.Weekly["monday"]) != 1 || len(a.Weekly["saturday"]) != 0 {
			t.Fatalf("defaults: %+v", a)
		}
	})
	t.Run("SortsAndAcceptsTouchingRanges", func(t *testing.T) {
		a := onramp.DefaultAvailability("UTC")
		a.Weekly = map[string][]onramp.Interval{"friday": {{Start: "13:00", End: "24:00"}, {Start: "08:00", End: "13:00"}}}
		if err := a.Validate(); err != nil {
			t.Fatal(err)
		}
		if a.Weekly["friday"][0].Start != "08:00" {
			t.Errorf("not sorted: %v", a.Weekly["friday"])
		}
	})
	for name, mutate := range map[string]func(a *onramp.Availability){
		"ErrLocalZone":  func(a *onramp.Availability) { a.TimeZone = "Local" },
		"ErrPathZone":   func(a *onramp.Availability) { a.TimeZone = "/etc/localtime" },
		"ErrUnknownDay": func(a *onramp.Availability) { a.Weekly["funday"] = []onramp.Interval{{Start: "09:00", End: "10:00"}} },
		"ErrBadClock":   func(a *onramp.Availability) { a.Weekly["monday"] = []onramp.Interval{{Start: "9am", End: "10:00"}} },
		"ErrNoticeNeg":  func(a *onramp.Availability) { a.MinNoticeMinutes = -1 },
		"ErrBuffer241":  func(a *onramp.Availability) { a.BufferMinutes = 241 },
	} {
		t.Run(name, func(t *testing.T) {
			a := onramp.DefaultAvailability("UTC")
			mutate(&a)
			if err := a.Validate(); onramp.ErrorCode(err) != onramp.EINVALID {
				t.Fatalf("got %v", err)
			}
		})
	}
}

func TestNotificationPrefsValidate(t *testing.T) {
	t.Run("WaitingForRepForcedOn", func(t *testing.T) {
		p := onramp.NotificationPrefs{Sound: "chime"}
		if err := p.Validate(nil, false); err != nil {
			t.Fatal(err)
		}
		if !p.Streams[onramp.StreamWaitingForRep].Desktop {
			t.Fatal("waiting_for_rep not forced on")
		}
	})
	t.Run("ErrDisableWaitingForRep", func(t *testing.T) {
		p := onramp.DefaultNotificationPrefs(onramp.BuiltinStreams)
		p.Streams[onramp.StreamWaitingForRep] = onramp.StreamPref{}
		err := p.Validate(nil, false)
		if onramp.ErrorCode(err) != onramp.EINVALID || !strings.Contains(onramp.ErrorMessage(err), "cannot be disabled") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("MobileWithApp", func(t *testing.T) {
		p := onramp.DefaultNotificationPrefs(onramp.BuiltinStreams)
		p.Streams[onramp.StreamVIP] = onramp.StreamPref{Desktop: true, Mobile: true}
		if err := p.Validate([]string{"waiting_for_rep", "vip", "high_intent", "return_visitors"}, true); err != nil {
			t.Fatal(err)
		}
	})
}

func TestErrorHelpers(t *testing.T) {
	if onramp.ErrorCode(nil) != "" || onramp.ErrorMessage(nil) != "" {
		t.Error("nil error has a code or message")
	}
	if err := onramp.FieldErrors(map[string]string{"a": "A is wrong."}); onramp.ErrorMessage(err) != "A is wrong." {
		t.Errorf("single field error message: %q", onramp.ErrorMessage(err))
	}
	if onramp.FieldErrors(nil) != nil {
		t.Error("FieldErrors(nil) is not nil")
	}
	if onramp.ErrorMessage(errString("secret detail")) != "Internal error." || onramp.ErrorCode(errString("x")) != onramp.EINTERNAL {
		t.Error("unknown errors leak detail or are not internal")
	}
}

type errString string

func (e errString) Error() string { return string(e) }

// FuzzAvailability: whatever a client sends, Validate never panics, and
// what it accepts has sorted, non-overlapping ranges within the day.
func FuzzAvailability(f *testing.F) {
	f.Add("Europe/Paris", "09:00", "17:00", "12:00", "13:00", 30, 0)
	f.Add("UTC", "24:00", "00:00", "", "", -1, 500)
	f.Fuzz(func(t *testing.T, tz, s1, e1, s2, e2 string, notice, buffer int) {
		a := onramp.Availability{TimeZone: tz, MinNoticeMinutes: notice, BufferMinutes: buffer,
			Weekly: map[string][]onramp.Interval{"monday": {{Start: s1, End: e1}, {Start: s2, End: e2}}}}
		if a.Validate() != nil {
			return
		}
		prev := -1
		for _, iv := range a.Weekly["monday"] {
			s, ok1 := onramp.ParseClock(iv.Start)
			e, ok2 := onramp.ParseClock(iv.End)
			if !ok1 || !ok2 || s >= e || s < prev {
				t.Fatalf("accepted bad ranges %v", a.Weekly["monday"])
			}
			prev = e
		}
	})
}
