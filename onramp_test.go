package onramp_test

import (
	"encoding/json"
	"reflect"
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
		if err := p.Validate(); err != nil {
			t.Fatal(err)
		}
		if !p.Streams[onramp.StreamWaitingForRep].Desktop {
			t.Fatal("waiting_for_rep not forced on")
		}
	})
	t.Run("ErrDisableWaitingForRep", func(t *testing.T) {
		p := onramp.DefaultNotificationPrefs(onramp.BuiltinStreams())
		p.Streams[onramp.StreamWaitingForRep] = onramp.StreamPref{}
		err := p.Validate()
		if onramp.ErrorCode(err) != onramp.EINVALID || !strings.Contains(onramp.ErrorMessage(err), "cannot be disabled") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("ErrMobileWithoutApp", func(t *testing.T) {
		p := onramp.DefaultNotificationPrefs(onramp.BuiltinStreams())
		p.Streams[onramp.StreamVIP] = onramp.StreamPref{Desktop: true, Mobile: true}
		if err := p.Validate(); onramp.ErrorFields(err)["streams.vip"] == "" {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("ErrUnknownStreamOfOrg", func(t *testing.T) {
		p := onramp.DefaultNotificationPrefs(onramp.BuiltinStreams())
		p.Streams["karaoke_fans"] = onramp.StreamPref{Desktop: true}
		if err := p.Validate(); err != nil {
			t.Fatal(err)
		}
		if err := p.CheckStreams(onramp.BuiltinStreams()); onramp.ErrorFields(err)["streams.karaoke_fans"] == "" {
			t.Fatalf("got %v", err)
		}
		if err := p.CheckStreams(append(onramp.BuiltinStreams(), onramp.Stream{Key: "karaoke_fans", Name: "Karaoke"})); err != nil {
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

func TestCleanText(t *testing.T) {
	for _, tc := range []struct {
		name, in, want, says string
	}{
		{"Trimmed", "  Ada \t", "Ada", ""},
		{"Unicode", "Zoë Ŝmith 山田", "Zoë Ŝmith 山田", ""},
		{"ErrEmpty", "   ", "", "is required"},
		{"ErrInvalidUTF8", "Ada\xff", "", "not valid text"},
		{"ErrNewline", "Ada\nLovelace", "", "control characters"},
		{"ErrNUL", "Ada\x00", "", "control characters"},
		{"ErrTab", "Ada\tLovelace", "", "control characters"},
		{"ErrBidiOverride", "Ada\u202eecalevoL", "", "control characters"},
		{"ErrLineSeparator", "Ada\u2028L", "", "control characters"},
		{"ErrTooLong", strings.Repeat("é", 81), "", "at most 80 characters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, msg := onramp.CleanText("Name", tc.in, 80, true)
			if tc.says == "" {
				if msg != "" || got != tc.want {
					t.Fatalf("CleanText(%q) = %q, %q; want %q", tc.in, got, msg, tc.want)
				}
				return
			}
			if !strings.Contains(msg, tc.says) || !strings.HasPrefix(msg, "Name ") {
				t.Fatalf("CleanText(%q) message %q, want one about %q", tc.in, msg, tc.says)
			}
		})
	}
}

func TestProfileValidateText(t *testing.T) {
	p := onramp.Profile{FirstName: " Ada ", LastName: "Love\x07lace", Title: "Exp\r\nert", PhotoID: "p1"}
	f := onramp.ErrorFields(p.Validate())
	if f["last_name"] == "" || f["title"] == "" || f["first_name"] != "" {
		t.Fatalf("fields %v", f)
	}
	if p.FirstName != "Ada" {
		t.Errorf("not trimmed: %q", p.FirstName)
	}
}

func TestStreamValidate(t *testing.T) {
	ok := onramp.Stream{Key: "enterprise", Name: "  Enterprise accounts ", Builtin: true}
	if err := ok.Validate(); err != nil || ok.Name != "Enterprise accounts" || ok.Builtin {
		t.Fatalf("%v %+v", err, ok)
	}
	for name, st := range map[string]onramp.Stream{
		"ErrKeyUppercase": {Key: "VIP2", Name: "x"},
		"ErrKeyTooLong":   {Key: strings.Repeat("a", 41), Name: "x"},
		"ErrNameEmpty":    {Key: "ok", Name: " "},
		"ErrNameControl":  {Key: "ok", Name: "a\nb"},
		"ErrNameTooLong":  {Key: "ok", Name: strings.Repeat("ü", 81)},
	} {
		t.Run(name, func(t *testing.T) {
			if err := st.Validate(); onramp.ErrorCode(err) != onramp.EINVALID {
				t.Fatalf("got %v", err)
			}
		})
	}
	t.Run("ErrBuiltinKey", func(t *testing.T) {
		st := onramp.Stream{Key: onramp.StreamVIP, Name: "Mine"}
		if err := st.Validate(); onramp.ErrorCode(err) != onramp.ECONFLICT {
			t.Fatalf("got %v", err)
		}
	})
}

func TestRequiredSteps(t *testing.T) {
	if err := onramp.ValidateRequiredSteps(onramp.DefaultRequiredSteps()); err != nil {
		t.Fatal(err)
	}
	// No rep can connect a calendar in this release: requiring it would
	// keep every rep from finishing.
	if err := onramp.ValidateRequiredSteps([]onramp.StepKey{onramp.StepCalendar}); onramp.ErrorFields(err)["required_steps"] == "" {
		t.Fatalf("calendar accepted as required: %v", err)
	}
	if err := onramp.ValidateRequiredSteps([]onramp.StepKey{"karaoke"}); onramp.ErrorCode(err) != onramp.EINVALID {
		t.Fatalf("unknown step accepted: %v", err)
	}
	o := onramp.Org{RequiredSteps: []onramp.StepKey{onramp.StepProfile}}
	if got := o.Required(); len(got) != 3 || got[0] != onramp.StepAccount || got[2] != onramp.StepFinish {
		t.Fatalf("Required() = %v", got)
	}
	// The exported lists are copies: changing one changes nothing else.
	s := onramp.Steps()
	s[0] = "x"
	if onramp.Steps()[0] != onramp.StepAccount {
		t.Fatal("Steps() shares its backing array")
	}
}

func TestStepRecordJSON(t *testing.T) {
	for _, s := range []onramp.Settings{
		&onramp.Profile{FirstName: "Ada", LastName: "L", Title: "T", PhotoID: "p"},
		ptr(onramp.DefaultAvailability("Europe/Paris")),
		ptr(onramp.DefaultNotificationPrefs(onramp.BuiltinStreams())),
		ptr(onramp.DefaultBrowserPermissions()),
		nil,
	} {
		r := onramp.StepRecord{OrgID: "o", RepID: "r", Settings: s, RepStatus: onramp.UserReady,
			Transitions: []onramp.StepTransition{{Seq: 3, Current: onramp.StepProfile}}}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var got onramp.StepRecord
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Fatalf("round trip:\n got %#v\nwant %#v", got, r)
		}
	}
	var r onramp.StepRecord
	if err := json.Unmarshal([]byte(`{"Settings":{"step":"karaoke","data":{}}}`), &r); onramp.ErrorCode(err) != onramp.ENOTFOUND {
		t.Fatalf("unknown settings step: %v", err)
	}
}

func TestSettingsRegistry(t *testing.T) {
	for _, k := range onramp.SettingsSteps() {
		d := onramp.DefaultSettings(k, onramp.SettingsDefaults{TimeZone: "UTC", Streams: onramp.BuiltinStreams()})
		if d == nil || d.Step() != k {
			t.Fatalf("%s: default %#v", k, d)
		}
		if k == onramp.StepProfile {
			continue // a profile needs a name and photo: no valid default
		}
		if err := d.Validate(); err != nil {
			t.Errorf("%s: default does not validate: %v", k, err)
		}
	}
	if onramp.HasSettings(onramp.StepFinish) || onramp.DefaultSettings(onramp.StepFinish, onramp.SettingsDefaults{}) != nil {
		t.Error("finish has settings")
	}
}

func ptr[T any](v T) *T { return &v }

// FuzzDecodeSettings: whatever JSON a client sends for a step, decoding
// and validating never panics, and what validates encodes and decodes to
// the same settings (and validates again, unchanged).
func FuzzDecodeSettings(f *testing.F) {
	f.Add("profile", `{"first_name":"Ada","last_name":"L","title":"T","photo_id":"p"}`)
	f.Add("availability", `{"time_zone":"Europe/Paris","weekly":{"monday":[{"start":"09:00","end":"17:00"}]},"min_notice_minutes":30}`)
	f.Add("notifications", `{"sound":"chime","streams":{"vip":{"desktop":true}}}`)
	f.Add("browser", `{"notifications":"granted","camera":"denied","microphone":"prompt","user_agent":"x"}`)
	f.Fuzz(func(t *testing.T, step, data string) {
		s, err := onramp.DecodeSettings(onramp.StepKey(step), []byte(data))
		if err != nil || s.Validate() != nil {
			return
		}
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		again, err := onramp.DecodeSettings(s.Step(), b)
		if err != nil {
			t.Fatal(err)
		}
		if err := again.Validate(); err != nil {
			t.Fatalf("validated settings fail after a round trip: %v (%s)", err, b)
		}
		if !reflect.DeepEqual(again, s) {
			t.Fatalf("round trip changed the settings:\n%#v\n%#v", s, again)
		}
	})
}
