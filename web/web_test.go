package web

import (
	"bytes"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/onramp/onramp"
)

var dump = flag.String("dump", "", "write every rendered sample page as HTML into this directory (for a look in a browser)")

var t0 = time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)

func init() { now = func() time.Time { return t0 } }

// MustRender renders page with data and parses the result.
func MustRender(tb testing.TB, page string, data any) *goquery.Document {
	tb.Helper()
	r, err := New()
	if err != nil {
		tb.Fatal(err)
	}
	var buf bytes.Buffer
	if err := r.Render(&buf, page, data); err != nil {
		tb.Fatal(err)
	}
	if *dump != "" {
		name := page + "_" + strings.ReplaceAll(tb.Name(), "/", "_") + ".html"
		if err := os.WriteFile(filepath.Join(*dump, name), buf.Bytes(), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	doc, err := goquery.NewDocumentFromReader(&buf)
	if err != nil {
		tb.Fatal(err)
	}
	return doc
}

func rep() *onramp.User {
	return &onramp.User{ID: "rep-1", OrgID: "org-1", Email: "ada@example.com", Name: "Ada Lovelace", Role: onramp.RoleRep, Status: onramp.UserOnboarding}
}

func base(u *onramp.User) Base {
	return Base{Title: "Setup", User: u, CSRFToken: "csrf-abc123"}
}

// sampleProgress has one step in every status.
func sampleProgress() onramp.Progress {
	status := map[onramp.StepKey]onramp.StepStatus{
		onramp.StepAccount:  onramp.StatusDone,
		onramp.StepCalendar: onramp.StatusSkipped,
		onramp.StepProfile:  onramp.StatusInProgress,
		onramp.StepMeeting:  onramp.StatusNeedsAction,
		onramp.StepCRM:      onramp.StatusStuck,
	}
	required := map[onramp.StepKey]bool{}
	for _, k := range onramp.DefaultRequiredSteps() {
		required[k] = true
	}
	p := onramp.Progress{OrgID: "org-1", RepID: "rep-1", CurrentStep: onramp.StepProfile, StartedAt: t0}
	for _, k := range onramp.Steps() {
		s := status[k]
		if s == "" {
			s = onramp.StatusPending
		}
		st := onramp.StepState{Key: k, Title: k.Info().Title, Status: s, Required: required[k], UpdatedAt: t0}
		if s == onramp.StatusStuck {
			st.Attempts = 5
			st.LastError = "salesforce: 503 Service Unavailable"
		}
		if s == onramp.StatusDone {
			done := t0.Add(-time.Hour)
			st.StartedAt, st.CompletedAt = &done, &done
			st.Attempts = 1
		}
		p.Steps = append(p.Steps, st)
	}
	return p
}

// settings are the forms' values as the API gives them: each step's
// defaults, or the saved settings given.
func settings(saved ...onramp.Settings) Settings {
	m := map[onramp.StepKey]onramp.Settings{}
	for _, s := range saved {
		m[s.Step()] = s
	}
	streams := onramp.BuiltinStreams()
	return Settings{
		Steps:            onramp.SavedOrDefault(m, onramp.SettingsDefaults{Streams: streams}),
		TitleSuggestions: onramp.TitleSuggestions(""), Streams: streams, Sounds: onramp.Sounds(),
	}
}

func wizard(step onramp.StepKey, s Settings) WizardPage {
	p := sampleProgress()
	return WizardPage{Base: base(rep()), Progress: p, Step: *p.Step(step), Settings: s, LearningLinks: LearningLinks}
}

func TestNew(t *testing.T) {
	r, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Run("ErrUnknownPage", func(t *testing.T) {
		var buf bytes.Buffer
		if err := r.Render(&buf, "nope", nil); err == nil {
			t.Fatal("want error for unknown page")
		}
		if buf.Len() != 0 {
			t.Fatalf("wrote %d bytes on error", buf.Len())
		}
	})
	t.Run("ErrWrongData", func(t *testing.T) {
		var buf bytes.Buffer
		if err := r.Render(&buf, "wizard", LoginPage{}); err == nil {
			t.Fatal("want error when rendering the wizard with login data")
		}
		if buf.Len() != 0 {
			t.Fatalf("wrote %d bytes on error", buf.Len())
		}
	})
}

func TestStatic(t *testing.T) {
	for _, name := range []string{"app.css", "app.js", "wizard.js", "admin.js"} {
		b, err := fs.ReadFile(Static(), name)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) == 0 {
			t.Fatalf("%s is empty", name)
		}
	}
}

// TestNoExternalAssets: the machine is offline, every page must work without CDNs.
func TestNoExternalAssets(t *testing.T) {
	docs := map[string]*goquery.Document{
		"login":   MustRender(t, "login", LoginPage{Base: base(nil)}),
		"wizard":  MustRender(t, "wizard", wizard(onramp.StepProfile, settings())),
		"admin":   MustRender(t, "admin", AdminPage{Base: base(admin())}),
		"console": MustRender(t, "console", ConsolePage{Base: base(rep()), Progress: sampleProgress(), Settings: settings()}),
		"chat":    MustRender(t, "chat", ChatPage{Base: base(nil), OrgSlug: "demo", OrgName: "Demo Co"}),
	}
	for name, doc := range docs {
		doc.Find("script[src], link[href], img[src]").Each(func(_ int, s *goquery.Selection) {
			u := s.AttrOr("src", s.AttrOr("href", ""))
			if strings.Contains(u, "//") {
				t.Errorf("%s: external asset %q", name, u)
			}
		})
	}
}

func admin() *onramp.User {
	return &onramp.User{ID: "adm-1", OrgID: "org-1", Email: "boss@example.com", Name: "Grace Admin", Role: onramp.RoleAdmin, Status: onramp.UserReady}
}

func TestLayout(t *testing.T) {
	doc := MustRender(t, "wizard", wizard(onramp.StepAccount, settings()))
	if got := doc.Find(`meta[name="csrf-token"]`).AttrOr("content", ""); got != "csrf-abc123" {
		t.Errorf("csrf meta = %q", got)
	}
	if got := strings.TrimSpace(doc.Find("#user-name").Text()); got != "Ada Lovelace" {
		t.Errorf("user name = %q", got)
	}
	if got := strings.TrimSpace(doc.Find("#user-role").Text()); got != "Rep" {
		t.Errorf("user role = %q", got)
	}
	form := doc.Find("form#logout-form")
	if form.AttrOr("method", "") != "post" || form.AttrOr("action", "") != "/logout" {
		t.Errorf("logout form: method=%q action=%q", form.AttrOr("method", ""), form.AttrOr("action", ""))
	}
	if got := form.Find(`input[type="hidden"][name="csrf_token"]`).AttrOr("value", ""); got != "csrf-abc123" {
		t.Errorf("logout csrf_token = %q", got)
	}
	if got := doc.Find("title").Text(); got != "Setup · Onramp" {
		t.Errorf("title = %q", got)
	}
	if doc.Find(".dev-banner").Length() != 0 {
		t.Error("dev banner shown outside dev mode")
	}
	t.Run("Dev", func(t *testing.T) {
		p := wizard(onramp.StepAccount, settings())
		p.Dev = true
		if MustRender(t, "wizard", p).Find(".dev-banner").Length() != 1 {
			t.Error("no dev banner in dev mode")
		}
	})
}

func TestLogin(t *testing.T) {
	doc := MustRender(t, "login", LoginPage{Base: base(nil), Email: "ada@example.com", Error: "Wrong email or password.", Next: "/wizard/profile"})
	form := doc.Find("form#login-form")
	if form.AttrOr("method", "") != "post" || form.AttrOr("action", "") != "/login" {
		t.Fatalf("login form: method=%q action=%q", form.AttrOr("method", ""), form.AttrOr("action", ""))
	}
	for name, want := range map[string]string{"csrf_token": "csrf-abc123", "next": "/wizard/profile"} {
		in := form.Find(`input[type="hidden"][name="` + name + `"]`)
		if in.Length() != 1 || in.AttrOr("value", "") != want {
			t.Errorf("hidden %s = %q (found %d), want %q", name, in.AttrOr("value", ""), in.Length(), want)
		}
	}
	if got := form.Find(`input[name="email"]`).AttrOr("value", ""); got != "ada@example.com" {
		t.Errorf("email keeps its value: got %q", got)
	}
	if form.Find(`input[name="password"][type="password"]`).Length() != 1 {
		t.Error("no password field")
	}
	if got := strings.TrimSpace(doc.Find(`.form-error[role="alert"]`).Text()); got != "Wrong email or password." {
		t.Errorf("error = %q", got)
	}
	if doc.Find("#logout-form").Length() != 0 {
		t.Error("sign-out form shown to a signed-out visitor")
	}
	if got := doc.Find(`meta[name="csrf-token"]`).AttrOr("content", ""); got != "csrf-abc123" {
		t.Errorf("csrf meta = %q", got)
	}
}

func TestWizardStepList(t *testing.T) {
	doc := MustRender(t, "wizard", wizard(onramp.StepProfile, settings()))
	items := doc.Find("#step-list li[data-step]")
	if items.Length() != 10 {
		t.Fatalf("got %d steps, want 10", items.Length())
	}
	want := []struct{ key, status, badge string }{
		{"account", "done", "Done"},
		{"calendar", "skipped", "Skipped"},
		{"profile", "in_progress", "In progress"},
		{"meeting", "needs_action", "Needs action"},
		{"crm", "stuck", "Stuck"},
		{"availability", "pending", "Pending"},
		{"notifications", "pending", "Pending"},
		{"browser", "pending", "Pending"},
		{"apps", "pending", "Pending"},
		{"finish", "pending", "Pending"},
	}
	items.Each(func(i int, li *goquery.Selection) {
		w := want[i]
		if got := li.AttrOr("data-step", ""); got != w.key {
			t.Errorf("step %d: key %q, want %q", i, got, w.key)
		}
		if got := li.AttrOr("data-status", ""); got != w.status {
			t.Errorf("step %s: status %q, want %q", w.key, got, w.status)
		}
		if got := strings.TrimSpace(li.Find("[data-badge]").Text()); got != w.badge {
			t.Errorf("step %s: badge %q, want %q", w.key, got, w.badge)
		}
		if got := li.Find("a").AttrOr("href", ""); got != "/wizard/"+w.key {
			t.Errorf("step %s: link %q", w.key, got)
		}
		if got := strings.TrimSpace(li.Find(".step-title").Text()); got != onramp.StepKey(w.key).Info().Title {
			t.Errorf("step %s: title %q", w.key, got)
		}
	})
	cur := doc.Find("#step-list li.current")
	if cur.Length() != 1 || cur.AttrOr("data-step", "") != "profile" {
		t.Errorf("current step: %d items, key %q", cur.Length(), cur.AttrOr("data-step", ""))
	}
	if cur.Find(`a[aria-current="step"]`).Length() != 1 {
		t.Error("current step has no aria-current")
	}
	// done + skipped = 2 of 10.
	if got := doc.Find("#progress-bar").AttrOr("value", ""); got != "2" {
		t.Errorf("progress value = %q, want 2", got)
	}
	if got := doc.Find("#progress-bar").AttrOr("max", ""); got != "10" {
		t.Errorf("progress max = %q, want 10", got)
	}
	if got := strings.Join(strings.Fields(doc.Find("#progress-text").Text()), " "); got != "2 of 10 steps complete" {
		t.Errorf("progress text = %q", got)
	}
	if got := doc.Find("#step-panel").AttrOr("data-step", ""); got != "profile" {
		t.Errorf("panel step = %q", got)
	}
	if got := strings.TrimSpace(doc.Find("#step-heading").Text()); got != "Personalize your profile" {
		t.Errorf("heading = %q", got)
	}
}

func TestWizardProfile(t *testing.T) {
	s := settings(&onramp.Profile{FirstName: "Ada", LastName: "Lovelace", Title: "Acme Expert", PhotoID: "ph1"})
	s.PhotoURL, s.TitleSuggestions = "/photos/ph1", onramp.TitleSuggestions("Acme")
	doc := MustRender(t, "wizard", wizard(onramp.StepProfile, s))
	form := doc.Find("form#profile-form")
	if form.Length() != 1 {
		t.Fatal("no profile form")
	}
	photo := form.Find(`input#photo[type="file"][name="photo"]`)
	if got := photo.AttrOr("accept", ""); got != "image/png,image/jpeg" {
		t.Errorf("photo accept = %q", got)
	}
	if _, req := photo.Attr("required"); req {
		t.Error("photo required although one exists")
	}
	if got := form.Find("img#photo-preview").AttrOr("src", ""); got != "/photos/ph1" {
		t.Errorf("photo preview = %q", got)
	}
	for name, want := range map[string]string{"first_name": "Ada", "last_name": "Lovelace", "title": "Acme Expert"} {
		in := form.Find(`input[name="` + name + `"]`)
		if in.AttrOr("value", "") != want {
			t.Errorf("%s = %q, want %q", name, in.AttrOr("value", ""), want)
		}
		if in.AttrOr("maxlength", "") != "80" {
			t.Errorf("%s maxlength = %q", name, in.AttrOr("maxlength", ""))
		}
		id := in.AttrOr("id", "")
		if doc.Find(`label[for="`+id+`"]`).Length() != 1 {
			t.Errorf("%s has no label", name)
		}
		if form.Find(`p.field-error[data-error-for="`+name+`"]`).Length() != 1 {
			t.Errorf("no field error slot for %s", name)
		}
	}
	if form.Find(`p.field-error[data-error-for="photo"]`).Length() != 1 {
		t.Error("no field error slot for photo")
	}
	if form.Find(`.form-error[role="alert"]`).Length() != 1 {
		t.Error("no form error summary")
	}
	var chips, options []string
	form.Find("[data-title-suggestion]").Each(func(_ int, s *goquery.Selection) {
		chips = append(chips, s.AttrOr("data-title-suggestion", ""))
		if strings.TrimSpace(s.Text()) != s.AttrOr("data-title-suggestion", "") {
			t.Errorf("chip text %q differs from its value", s.Text())
		}
	})
	list := form.Find("input#title").AttrOr("list", "")
	doc.Find("datalist#" + list + " option").Each(func(_ int, s *goquery.Selection) {
		options = append(options, s.AttrOr("value", ""))
	})
	want := strings.Join(onramp.TitleSuggestions("Acme"), "|")
	if strings.Join(chips, "|") != want || strings.Join(options, "|") != want {
		t.Errorf("suggestions: chips %q, datalist %q, want %q", chips, options, want)
	}
	if form.Find("button#profile-submit[type=submit]").Length() != 1 {
		t.Error("no submit button")
	}

	t.Run("NoPhotoYet", func(t *testing.T) {
		doc := MustRender(t, "wizard", wizard(onramp.StepProfile, settings()))
		if _, req := doc.Find("input#photo").Attr("required"); !req {
			t.Error("photo not required when none exists")
		}
		if _, hidden := doc.Find("img#photo-preview").Attr("hidden"); !hidden {
			t.Error("empty photo preview shown")
		}
		if n := doc.Find("[data-title-suggestion]").Length(); n != 4 {
			t.Errorf("%d default suggestions, want 4", n)
		}
	})
}

// TestEscaping: what a rep typed is shown as text, never run as markup.
func TestEscaping(t *testing.T) {
	evil := `<script>alert("x")</script>`
	u := rep()
	u.Name = evil
	p := wizard(onramp.StepProfile, settings(&onramp.Profile{FirstName: evil, LastName: `"><img src=x onerror=alert(1)>`, Title: "t"}))
	p.User = u
	r, err := New()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := r.Render(&buf, "wizard", p); err != nil {
		t.Fatal(err)
	}
	html := buf.String()
	if strings.Contains(html, evil) || strings.Contains(html, "<img src=x") {
		t.Fatal("user input rendered unescaped")
	}
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(html))
	if err != nil {
		t.Fatal(err)
	}
	if got := doc.Find("input#first_name").AttrOr("value", ""); got != evil {
		t.Errorf("first name value = %q, want it as typed", got)
	}
	if got := doc.Find("#user-name").Text(); got != evil {
		t.Errorf("user name = %q, want it as text", got)
	}
	doc.Find("script").Each(func(_ int, s *goquery.Selection) {
		if _, ok := s.Attr("src"); !ok {
			t.Errorf("inline script found: %q", s.Text())
		}
	})

	t.Run("Admin", func(t *testing.T) {
		reps := []onramp.RepSummary{{User: onramp.User{ID: "r1", Name: evil, Email: "e@example.com", Status: onramp.UserOnboarding}}}
		doc := MustRender(t, "admin", AdminPage{Base: base(admin()), Reps: reps})
		if got := doc.Find(`#reps-body tr[data-rep-id="r1"] a`).Text(); got != evil {
			t.Errorf("rep name = %q", got)
		}
		if doc.Find("#reps-body script").Length() != 0 {
			t.Error("script element injected")
		}
	})
}

func TestWizardAvailability(t *testing.T) {
	t.Run("Defaults", func(t *testing.T) {
		doc := MustRender(t, "wizard", wizard(onramp.StepAvailability, settings()))
		form := doc.Find("form#availability-form")
		if form.Length() != 1 {
			t.Fatal("no availability form")
		}
		days := form.Find("[data-day]")
		if days.Length() != 7 {
			t.Fatalf("%d days, want 7", days.Length())
		}
		days.Each(func(i int, d *goquery.Selection) {
			day := onramp.Weekdays[i]
			if d.AttrOr("data-day", "") != day {
				t.Errorf("day %d = %q, want %q", i, d.AttrOr("data-day", ""), day)
			}
			ranges := d.Find("[data-range]")
			weekday := i < 5
			if !weekday {
				if ranges.Length() != 0 {
					t.Errorf("%s: %d ranges, want none", day, ranges.Length())
				}
				if _, hidden := d.Find("[data-unavailable]").Attr("hidden"); hidden {
					t.Errorf("%s: not shown as unavailable", day)
				}
				return
			}
			if ranges.Length() != 1 {
				t.Fatalf("%s: %d ranges, want 1", day, ranges.Length())
			}
			start := ranges.Find(`input[type="time"][data-start]`).AttrOr("value", "")
			end := ranges.Find(`input[type="time"][data-end]`).AttrOr("value", "")
			if start != "09:00" || end != "17:00" {
				t.Errorf("%s: %s–%s, want 09:00–17:00", day, start, end)
			}
			if d.Find("[data-add-range]").Length() != 1 || ranges.Find("[data-remove-range]").Length() != 1 {
				t.Errorf("%s: missing add/remove buttons", day)
			}
			if d.Find(`p.field-error[data-error-for="weekly.`+day+`"]`).Length() != 1 {
				t.Errorf("%s: no error slot", day)
			}
		})
		if got := form.Find("input#min_notice_minutes").AttrOr("value", ""); got != "30" {
			t.Errorf("min notice = %q, want 30", got)
		}
		if got := form.Find("input#buffer_minutes").AttrOr("value", ""); got != "0" {
			t.Errorf("buffer = %q, want 0", got)
		}
		if got := form.Find("input#time_zone").AttrOr("value", "x"); got != "" {
			t.Errorf("time zone = %q, want empty (filled from the browser)", got)
		}
		if !strings.Contains(doc.Find("#defaults-hint").Text(), "Start with the defaults—30 minute minimum meeting notice and no buffer") {
			t.Error("no defaults hint")
		}
		for _, f := range []string{"time_zone", "weekly", "min_notice_minutes", "buffer_minutes"} {
			if form.Find(`p.field-error[data-error-for="`+f+`"]`).Length() != 1 {
				t.Errorf("no error slot for %s", f)
			}
		}
		if _, hidden := doc.Find("#tz-check").Attr("hidden"); !hidden {
			t.Error("time-zone check shown before any check")
		}
	})
	t.Run("Saved", func(t *testing.T) {
		a := onramp.Availability{TimeZone: "Europe/Paris", Weekly: map[string][]onramp.Interval{
			"monday": {{Start: "08:00", End: "12:00"}, {Start: "13:00", End: "18:00"}},
		}, MinNoticeMinutes: 60, BufferMinutes: 15}
		p := wizard(onramp.StepAvailability, settings(&a))
		p.Progress.TimeZoneCheck = onramp.TZMismatch
		p.Progress.CalendarTimeZone = "America/New_York"
		doc := MustRender(t, "wizard", p)
		if got := doc.Find("input#time_zone").AttrOr("value", ""); got != "Europe/Paris" {
			t.Errorf("time zone = %q", got)
		}
		if n := doc.Find(`[data-day="monday"] [data-range]`).Length(); n != 2 {
			t.Errorf("monday: %d ranges, want 2", n)
		}
		if n := doc.Find(`[data-day="tuesday"] [data-range]`).Length(); n != 0 {
			t.Errorf("tuesday: %d ranges, want 0 (saved as unavailable)", n)
		}
		if got := doc.Find("input#min_notice_minutes").AttrOr("value", ""); got != "60" {
			t.Errorf("min notice = %q", got)
		}
		if got := doc.Find("input#buffer_minutes").AttrOr("value", ""); got != "15" {
			t.Errorf("buffer = %q", got)
		}
		box := doc.Find("#tz-check")
		if box.AttrOr("data-tz-check", "") != "mismatch" || !strings.Contains(box.Text(), "America/New_York") {
			t.Errorf("tz check = %q %q", box.AttrOr("data-tz-check", ""), box.Text())
		}
	})
	t.Run("Unverified", func(t *testing.T) {
		p := wizard(onramp.StepAvailability, settings())
		p.Progress.TimeZoneCheck = onramp.TZUnverified
		doc := MustRender(t, "wizard", p)
		if got := strings.TrimSpace(doc.Find("#tz-check").Text()); got != "We'll check this against your calendar's time zone once it is connected." {
			t.Errorf("tz check = %q", got)
		}
	})
}

func TestWizardNotifications(t *testing.T) {
	doc := MustRender(t, "wizard", wizard(onramp.StepNotifications, settings()))
	form := doc.Find("form#notifications-form")
	if form.Length() != 1 {
		t.Fatal("no notifications form")
	}
	if _, ok := form.Find("input#return_visitor_alerts[type=checkbox]").Attr("checked"); !ok {
		t.Error("return visitor alerts off by default")
	}
	if _, ok := form.Find("input#voice_alerts[type=checkbox]").Attr("checked"); ok {
		t.Error("voice alerts on by default")
	}
	var sounds []string
	form.Find("select#sound option").Each(func(_ int, s *goquery.Selection) { sounds = append(sounds, s.AttrOr("value", "")) })
	if strings.Join(sounds, ",") != strings.Join(onramp.Sounds(), ",") {
		t.Errorf("sounds = %v", sounds)
	}
	if got := form.Find("select#sound option[selected]").AttrOr("value", ""); got != "chime" {
		t.Errorf("selected sound = %q", got)
	}
	rows := form.Find("#streams-table tr[data-stream]")
	if rows.Length() != len(onramp.BuiltinStreams()) {
		t.Fatalf("%d stream rows, want %d", rows.Length(), len(onramp.BuiltinStreams()))
	}
	rows.Each(func(_ int, row *goquery.Selection) {
		key := row.AttrOr("data-stream", "")
		desktop := row.Find(`input[type=checkbox][data-channel="desktop"]`)
		mobile := row.Find(`input[type=checkbox][data-channel="mobile"]`)
		_, dChecked := desktop.Attr("checked")
		_, dDisabled := desktop.Attr("disabled")
		_, mDisabled := mobile.Attr("disabled")
		if !dChecked {
			t.Errorf("%s: desktop off by default", key)
		}
		if !mDisabled {
			t.Errorf("%s: mobile switch enabled without the mobile app", key)
		}
		if key == onramp.StreamWaitingForRep {
			if !dDisabled {
				t.Error("waiting-for-rep desktop switch can be turned off")
			}
			if !strings.Contains(strings.ToLower(row.Text()), "always active and cannot be disabled") {
				t.Errorf("waiting-for-rep note missing: %q", row.Text())
			}
		} else if dDisabled {
			t.Errorf("%s: desktop switch disabled", key)
		}
		if row.Find(`p.field-error[data-error-for="streams.`+key+`"]`).Length() != 1 {
			t.Errorf("%s: no error slot", key)
		}
	})
	if !strings.Contains(doc.Find("#mobile-hint").Text(), "Sign in to the mobile app first") {
		t.Error("no mobile hint")
	}
	t.Run("Saved", func(t *testing.T) {
		n := onramp.NotificationPrefs{Sound: "bell", VoiceAlerts: true, Streams: map[string]onramp.StreamPref{
			onramp.StreamWaitingForRep: {Desktop: true}, onramp.StreamVIP: {Desktop: false},
		}}
		doc := MustRender(t, "wizard", wizard(onramp.StepNotifications, settings(&n)))
		if got := doc.Find("select#sound option[selected]").AttrOr("value", ""); got != "bell" {
			t.Errorf("sound = %q", got)
		}
		if _, ok := doc.Find("input#return_visitor_alerts").Attr("checked"); ok {
			t.Error("return visitor alerts on although saved off")
		}
		if _, ok := doc.Find(`tr[data-stream="vip"] [data-channel="desktop"]`).Attr("checked"); ok {
			t.Error("VIP desktop on although saved off")
		}
	})
}

func TestWizardBrowser(t *testing.T) {
	doc := MustRender(t, "wizard", wizard(onramp.StepBrowser, settings()))
	if got := strings.TrimSpace(doc.Find("button#browser-allow").Text()); got != "Allow notifications, camera & microphone" {
		t.Errorf("button = %q", got)
	}
	if _, hidden := doc.Find("#browser-help").Attr("hidden"); !hidden {
		t.Error("re-enable help shown before anything was denied")
	}
	b := &onramp.BrowserPermissions{Notifications: onramp.PermissionGranted, Camera: onramp.PermissionDenied, Microphone: onramp.PermissionGranted}
	doc = MustRender(t, "wizard", wizard(onramp.StepBrowser, settings(b)))
	if got := doc.Find(`[data-permission="camera"]`).Text(); got != "Blocked" {
		t.Errorf("camera = %q", got)
	}
	help := doc.Find("#browser-help")
	if _, hidden := help.Attr("hidden"); hidden || !strings.Contains(help.Text(), "Site settings") {
		t.Errorf("re-enable help hidden or incomplete: %q", help.Text())
	}
}

func TestWizardLaterSteps(t *testing.T) {
	for _, k := range []onramp.StepKey{onramp.StepCalendar, onramp.StepMeeting, onramp.StepCRM, onramp.StepApps} {
		t.Run(string(k), func(t *testing.T) {
			p := wizard(k, settings())
			p.Step.Status = onramp.StatusPending
			doc := MustRender(t, "wizard", p)
			if !strings.Contains(doc.Find("#coming-soon").Text(), "connect in a later release") {
				t.Error("no coming-soon note")
			}
			if got := doc.Find("button[data-skip]").AttrOr("data-skip", ""); got != string(k) {
				t.Errorf("skip button for %q", got)
			}
			if got := strings.TrimSpace(doc.Find("button[data-skip]").Text()); got != "Set up later" {
				t.Errorf("skip button text %q", got)
			}
		})
	}
	t.Run("StuckShowsMessageNotDetail", func(t *testing.T) {
		// The failure's detail is for support: a rep reads the message.
		p := wizard(onramp.StepCRM, settings())
		p.Step.Message = "We could not save this step. Support has been alerted and will retry it."
		doc := MustRender(t, "wizard", p)
		if strings.Contains(doc.Text(), "503 Service Unavailable") {
			t.Error("the wizard shows the failure's detail to the rep")
		}
		if !strings.Contains(doc.Find("#step-message").Text(), "Support has been alerted") {
			t.Error("the stuck step's message is not shown")
		}
		if got := doc.Find("#step-status").Text(); got != "Stuck" {
			t.Errorf("status = %q", got)
		}
	})
	t.Run("RequiredHasNoSkip", func(t *testing.T) {
		p := wizard(onramp.StepCalendar, settings())
		p.Step.Required, p.Step.Status = true, onramp.StatusPending
		if MustRender(t, "wizard", p).Find("[data-skip]").Length() != 0 {
			t.Error("required step offers Set up later")
		}
	})
}

func TestWizardFinish(t *testing.T) {
	doc := MustRender(t, "wizard", wizard(onramp.StepFinish, settings()))
	links := doc.Find("#learning-links a")
	if links.Length() != len(LearningLinks) {
		t.Fatalf("%d links, want %d", links.Length(), len(LearningLinks))
	}
	links.Each(func(i int, a *goquery.Selection) {
		if a.AttrOr("href", "") != LearningLinks[i].URL || a.Text() != LearningLinks[i].Title {
			t.Errorf("link %d: %q %q", i, a.AttrOr("href", ""), a.Text())
		}
	})
	if got := strings.TrimSpace(doc.Find("button#finish-confirm").Text()); got != "I'm all set" {
		t.Errorf("confirm = %q", got)
	}
	if doc.Find("#finished-message").Length() != 0 {
		t.Error("finished message before finishing")
	}
	if !strings.Contains(doc.Find("#pending-required").Text(), "Personalize your profile") {
		t.Error("pending required steps not listed")
	}
	t.Run("Finished", func(t *testing.T) {
		p := wizard(onramp.StepFinish, settings())
		p.Progress.Finished = true
		doc := MustRender(t, "wizard", p)
		if !strings.Contains(doc.Find("#finished-message").Text(), "You're all set") {
			t.Error("no all-set message")
		}
		if doc.Find("#finish-confirm").Length() != 0 {
			t.Error("confirm button after finishing")
		}
	})
}

func sampleReps() []onramp.RepSummary {
	return []onramp.RepSummary{
		{User: onramp.User{ID: "r1", Name: "Ada Lovelace", Email: "ada@example.com", Status: onramp.UserOnboarding},
			CurrentStep: onramp.StepCRM, StepStatus: onramp.StatusStuck, Since: t0.Add(-3 * time.Hour), StuckSteps: []onramp.StepKey{onramp.StepCRM}},
		{User: onramp.User{ID: "r2", Name: "Alan Turing", Email: "alan@example.com", Status: onramp.UserReady},
			CurrentStep: onramp.StepFinish, StepStatus: onramp.StatusDone, Since: t0.Add(-2 * 24 * time.Hour)},
	}
}

func TestAdmin(t *testing.T) {
	doc := MustRender(t, "admin", AdminPage{Base: base(admin()), Reps: sampleReps()})
	rows := doc.Find("#reps-body tr[data-rep-id]")
	if rows.Length() != 2 {
		t.Fatalf("%d rows", rows.Length())
	}
	r1 := rows.First()
	cells := r1.Find("td")
	got := []string{}
	cells.Each(func(_ int, c *goquery.Selection) { got = append(got, strings.Join(strings.Fields(c.Text()), " ")) })
	want := []string{"Ada Lovelace", "ada@example.com", "Onboarding", "Connect to Salesforce", "Stuck Stuck: Connect to Salesforce", "3 hours ago"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("row 1 = %q, want %q", got, want)
	}
	if r1.Find("a").AttrOr("href", "") != "/admin/reps/r1" {
		t.Error("no link to the rep page")
	}
	if !r1.HasClass("is-stuck") || rows.Eq(1).HasClass("is-stuck") {
		t.Error("stuck highlighting wrong")
	}
	if got := rows.Eq(1).Find("time").Text(); got != "2 days ago" {
		t.Errorf("since = %q", got)
	}
	form := doc.Find("form#invite-form")
	if form.Find(`input[name="name"]`).Length() != 1 || form.Find(`input[name="email"][type="email"]`).Length() != 1 {
		t.Error("invite form fields missing")
	}
	if doc.Find(`script[src="/static/admin.js"]`).Length() != 1 {
		t.Error("admin script missing")
	}
	t.Run("Empty", func(t *testing.T) {
		doc := MustRender(t, "admin", AdminPage{Base: base(admin())})
		if !strings.Contains(doc.Find("#reps-body").Text(), "No reps yet") {
			t.Error("no empty state")
		}
	})
}

func TestAdminRep(t *testing.T) {
	p := sampleProgress()
	events := []onramp.StepEvent{
		{Seq: 1, Step: onramp.StepAccount, From: onramp.StatusPending, To: onramp.StatusDone, At: t0},
		{Seq: 2, Step: onramp.StepCRM, From: onramp.StatusInProgress, To: onramp.StatusStuck, Error: "salesforce: 503", At: t0},
	}
	doc := MustRender(t, "admin_rep", AdminRepPage{Base: base(admin()), Rep: *rep(), Progress: p, Events: events})
	steps := doc.Find("#rep-steps tbody tr[data-step]")
	if steps.Length() != 10 {
		t.Fatalf("%d steps", steps.Length())
	}
	reset := doc.Find("[data-reset-step]")
	if reset.Length() != 1 || reset.AttrOr("data-reset-step", "") != "account" || strings.TrimSpace(reset.Text()) != "Reset step" {
		t.Errorf("reset buttons: %d, first %q", reset.Length(), reset.AttrOr("data-reset-step", ""))
	}
	crm := doc.Find(`#rep-steps tr[data-step="crm"]`)
	if !strings.Contains(crm.Text(), "503 Service Unavailable") || !strings.Contains(crm.Text(), "5") {
		t.Errorf("crm row = %q", crm.Text())
	}
	if n := doc.Find("#step-events tbody tr[data-seq]").Length(); n != 2 {
		t.Errorf("%d events", n)
	}
	if got := doc.Find("#rep-head").AttrOr("data-rep-id", ""); got != "rep-1" {
		t.Errorf("rep id = %q", got)
	}
}

func TestSupport(t *testing.T) {
	p := sampleProgress()
	doc := MustRender(t, "support", SupportPage{Base: base(admin()), Stuck: sampleReps()[:1], Details: map[string]*onramp.Progress{"r1": &p}})
	rows := doc.Find("#stuck-table tbody tr[data-step]")
	if rows.Length() != 1 {
		t.Fatalf("%d rows", rows.Length())
	}
	txt := strings.Join(strings.Fields(rows.Text()), " ")
	for _, w := range []string{"Ada Lovelace", "Connect to Salesforce", "5", "salesforce: 503 Service Unavailable"} {
		if !strings.Contains(txt, w) {
			t.Errorf("row %q lacks %q", txt, w)
		}
	}
	b := rows.Find("button[data-retry-step]")
	if b.AttrOr("data-retry-rep", "") != "r1" || b.AttrOr("data-retry-step", "") != "crm" || strings.TrimSpace(b.Text()) != "Retry" {
		t.Error("retry button wrong")
	}
	t.Run("WithoutDetails", func(t *testing.T) {
		doc := MustRender(t, "support", SupportPage{Base: base(admin()), Stuck: sampleReps()[:1]})
		if doc.Find("#stuck-table tbody tr[data-step]").Length() != 1 {
			t.Error("row missing")
		}
	})
	t.Run("Empty", func(t *testing.T) {
		doc := MustRender(t, "support", SupportPage{Base: base(admin())})
		if !strings.Contains(doc.Find("#stuck-table").Text(), "Nothing is stuck") {
			t.Error("no empty state")
		}
	})
}

func TestError(t *testing.T) {
	doc := MustRender(t, "error", ErrorPage{Base: base(nil), Status: 404, Code: "not_found", Message: "Unknown step \"x\"."})
	if got := doc.Find("#error-status").Text(); got != "404" {
		t.Errorf("status = %q", got)
	}
	if got := doc.Find("#error-heading").Text(); got != `Unknown step "x".` {
		t.Errorf("message = %q", got)
	}
	// Pointers work as well as values.
	doc = MustRender(t, "error", &ErrorPage{Status: 500})
	if got := doc.Find("#error-heading").Text(); got != "Something went wrong." {
		t.Errorf("default message = %q", got)
	}
}

func TestAgo(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{10 * time.Second, "just now"},
		{time.Minute, "1 minute ago"},
		{5 * time.Minute, "5 minutes ago"},
		{25 * time.Hour, "1 day ago"},
		{-time.Hour, "just now"},
	} {
		if got := ago(t0.Add(-c.d)); got != c.want {
			t.Errorf("ago(%v) = %q, want %q", c.d, got, c.want)
		}
	}
	if got := ago(time.Time{}); got != "—" {
		t.Errorf("ago(zero) = %q", got)
	}
}

func TestWizardFinishedReadOnly(t *testing.T) {
	p := wizard(onramp.StepAvailability, settings())
	p.Progress.Finished = true
	doc := MustRender(t, "wizard", p)
	if _, ok := doc.Find("form#availability-form fieldset").Attr("disabled"); !ok {
		t.Error("a finished onboarding's form can be edited in the wizard")
	}
	if doc.Find("#availability-submit").Length() != 0 {
		t.Error("a finished onboarding's form has a save button in the wizard")
	}
	if doc.Find(`#read-only a[href="/settings"]`).Length() != 1 {
		t.Error("no way from the read-only wizard to the settings page")
	}
	open := MustRender(t, "wizard", wizard(onramp.StepAvailability, settings()))
	if _, ok := open.Find("form#availability-form fieldset").Attr("disabled"); ok || open.Find("#read-only").Length() != 0 {
		t.Error("an open onboarding's wizard is read-only")
	}
	if got := open.Find("form#availability-form").AttrOr("action", ""); got != "/api/v1/reps/me/onboarding/steps/availability" {
		t.Errorf("wizard form saves to %q", got)
	}
}

func TestSettingsPage(t *testing.T) {
	prof := &onramp.Profile{FirstName: "Ada", LastName: "Lovelace", Title: "Acme Expert", PhotoID: "ph1"}
	p := sampleProgress()
	p.Finished = true
	doc := MustRender(t, "settings", SettingsPage{Base: base(rep()), Progress: p, Settings: settings(prof)})
	for _, k := range []string{"profile", "availability", "notifications"} {
		form := doc.Find("form#" + k + "-form")
		if got := form.AttrOr("action", ""); got != "/api/v1/reps/me/settings/"+k {
			t.Errorf("%s form saves to %q", k, got)
		}
		if _, ok := form.Find("fieldset").Attr("disabled"); ok {
			t.Errorf("%s form is read-only on the settings page", k)
		}
		if strings.TrimSpace(form.Find("button[type=submit]").Text()) != "Save" {
			t.Errorf("%s form has no Save button", k)
		}
	}
	if got := doc.Find("input#first_name").AttrOr("value", ""); got != "Ada" {
		t.Errorf("first name %q", got)
	}
	if doc.Find("#onboarding-open").Length() != 0 {
		t.Error("a finished rep is told they are still setting up")
	}
}

func TestConsole(t *testing.T) {
	n := onramp.DefaultNotificationPrefs(onramp.BuiltinStreams())
	n.Sound, n.VoiceAlerts = "marimba", true
	s := settings(&n)
	s.Streams = append(s.Streams, onramp.Stream{Key: "enterprise", Name: "Enterprise <accounts>"})
	doc := MustRender(t, "console", ConsolePage{Base: base(rep()), Progress: sampleProgress(), Settings: s})
	if doc.Find(`script[src="/static/console.js"]`).Length() != 1 {
		t.Error("no console.js")
	}
	// One list per stream, each a live region, and one for the rest.
	for _, st := range s.Streams {
		sec := doc.Find(`.stream[data-stream="` + st.Key + `"]`)
		if sec.Length() != 1 {
			t.Errorf("stream %s: %d sections", st.Key, sec.Length())
			continue
		}
		if !strings.Contains(sec.Find("h3").Text(), st.Name) {
			t.Errorf("stream %s heading %q", st.Key, sec.Find("h3").Text())
		}
		if sec.Find(`[data-entries][aria-live="polite"]`).Length() != 1 {
			t.Errorf("stream %s: the entries are not a live region", st.Key)
		}
	}
	if doc.Find(`.stream[data-stream=""]`).Length() != 1 {
		t.Error("no list for entries of no known stream")
	}
	tools := doc.Find("#console-tools")
	if tools.AttrOr("data-sound", "") != "marimba" || tools.AttrOr("data-voice", "") != "true" {
		t.Errorf("alert preferences: sound %q voice %q", tools.AttrOr("data-sound", ""), tools.AttrOr("data-voice", ""))
	}
	// The browser's permission is asked by a button, never on load.
	if doc.Find("button#notify-enable").Length() != 1 {
		t.Error("no button to enable browser notifications")
	}
	if doc.Find("#console-not-ready").Length() != 1 {
		t.Error("a rep still onboarding is not told to finish first")
	}
	for _, id := range []string{"waiting-list", "mine-list", "chat-messages", "chat-form", "chat-end"} {
		if doc.Find("#"+id).Length() != 1 {
			t.Errorf("no #%s", id)
		}
	}
	if doc.Find(`label[for="chat-text"]`).Length() != 1 {
		t.Error("the reply has no label")
	}
	if doc.Find(`#nav-console[href="/console"]`).Length() != 1 {
		t.Error("no Console link in the nav")
	}
	p := sampleProgress()
	p.Finished = true
	if MustRender(t, "console", ConsolePage{Base: base(rep()), Progress: p, Settings: s}).Find("#console-not-ready").Length() != 0 {
		t.Error("a ready rep is told to finish their setup")
	}
	if MustRender(t, "admin", AdminPage{Base: base(admin())}).Find("#nav-console").Length() != 0 {
		t.Error("admins get a Console link")
	}
}

func TestChat(t *testing.T) {
	doc := MustRender(t, "chat", ChatPage{Base: Base{Title: "Chat with Demo Co"}, OrgSlug: "demo", OrgName: "Demo Co"})
	if got := doc.Find("#visitor-chat").AttrOr("data-org", ""); got != "demo" {
		t.Errorf("org = %q", got)
	}
	if got := doc.Find("h1").Text(); got != "Chat with Demo Co" {
		t.Errorf("heading %q", got)
	}
	for _, id := range []string{"visitor-name", "visitor-message", "visitor-text"} {
		if doc.Find(`label[for="`+id+`"]`).Length() != 1 {
			t.Errorf("#%s has no label", id)
		}
	}
	if doc.Find(`#visitor-messages[aria-live="polite"]`).Length() != 1 || doc.Find(`#visitor-state[role="status"]`).Length() != 1 {
		t.Error("messages or state are not announced")
	}
	if doc.Find("#logout-form, .site-nav").Length() != 0 {
		t.Error("the public chat page shows a signed-in user's header")
	}
}

func TestAdminAPIKeys(t *testing.T) {
	doc := MustRender(t, "admin", AdminPage{Base: base(admin())})
	form := doc.Find("form#key-form")
	if form.AttrOr("action", "") != "/api/v1/admin/api-keys" || form.Find(`label[for="key-name"]`).Length() != 1 {
		t.Error("no API key form with a labelled name")
	}
	if doc.Find(`#new-key[hidden] #new-key-value`).Length() != 1 || doc.Find("#new-key-copy").Length() != 1 {
		t.Error("no hidden box to show a new key once, with a copy button")
	}
	if doc.Find("#keys-table thead th").Length() != 5 {
		t.Error("the keys table does not have name, key, created, last used, status")
	}
}

func TestFinishedLinksConsole(t *testing.T) {
	p := wizard(onramp.StepFinish, settings())
	p.Progress.Finished = true
	if MustRender(t, "wizard", p).Find(`#finished-message a[href="/console"]`).Length() != 1 {
		t.Error("the finished wizard does not lead to the console")
	}
	if MustRender(t, "settings", SettingsPage{Base: base(rep()), Progress: sampleProgress(), Settings: settings()}).Find(`a[href="/console"]`).Length() < 2 {
		t.Error("the settings page does not mention the console")
	}
}
