// Package web renders Onramp's server-side pages (html/template) and serves
// the small vanilla JS and CSS they use. Templates and static files are
// embedded; nothing is fetched from outside at run time.
//
// The api package builds a page struct (LoginPage, WizardPage, …) and calls
// Renderer.Render with the page's name; it serves Static at /static/.
package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"strings"
	"time"

	"github.com/onramp/onramp"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Pages are the names Render accepts, each backed by templates/<name>.html.
var Pages = []string{"login", "wizard", "settings", "admin", "admin_rep", "support", "error", "console", "chat"}

// Static returns the static files (CSS, JS), to be served at /static/.
func Static() fs.FS {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err) // the directory is embedded: cannot happen
	}
	return sub
}

// Renderer holds the parsed templates of every page.
type Renderer struct {
	pages map[string]*template.Template
}

// New parses the layout and every page once.
func New() (*Renderer, error) {
	r := &Renderer{pages: map[string]*template.Template{}}
	for _, p := range Pages {
		t, err := template.New(p).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/forms.html", "templates/"+p+".html")
		if err != nil {
			return nil, fmt.Errorf("web: parse %s: %w", p, err)
		}
		r.pages[p] = t
	}
	return r, nil
}

// Render writes page (one of Pages) with data, one of the page structs of
// this package. Nothing is written when the template fails.
func (r *Renderer) Render(w io.Writer, page string, data any) error {
	t, ok := r.pages[page]
	if !ok {
		return fmt.Errorf("web: unknown page %q", page)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		return fmt.Errorf("web: render %s: %w", page, err)
	}
	_, err := buf.WriteTo(w)
	return err
}

// Link is one "Learn more" link.
type Link struct{ Title, URL, Description string }

// LearningLinks are the links of step 10, "Learn more".
var LearningLinks = []Link{
	{
		Title:       "Sales Rep certification",
		URL:         "https://www.qualified.com/university/sales-rep-certification",
		Description: "Level up your live chat skills and engage VIP visitors as soon as they are on your website.",
	},
	{
		Title:       "The 1-2 Punch Masterclass",
		URL:         "https://www.qualified.com/university/1-2-punch-masterclass",
		Description: "Watch how the best reps pair chat and meetings to turn conversations into pipeline.",
	},
	{
		Title:       "University articles",
		URL:         "https://www.qualified.com/university/articles",
		Description: "Short reads for more impactful visitor conversations and, ultimately, more closed deals.",
	},
}

// Base is what every page carries.
type Base struct {
	Title     string
	User      *onramp.User // nil on the login page
	CSRFToken string
	Dev       bool // show the development banner
}

// LoginPage is the sign-in form (POST /login).
type LoginPage struct {
	Base
	Email, Error string
	Next         string // where to go after signing in
}

// Settings are what the settings forms show: each step's saved settings,
// or its defaults, under its key (the API fills every step with settings,
// through onramp.SavedOrDefault: pages make no defaults of their own), and
// what the forms offer.
type Settings struct {
	Steps            map[onramp.StepKey]onramp.Settings
	PhotoURL         string
	TitleSuggestions []string
	Streams          []onramp.Stream
	Sounds           []string
}

// WizardPage is one step of the onboarding wizard (/wizard/{step}). A
// finished onboarding is shown read-only: settings are changed on the
// settings page.
type WizardPage struct {
	Base
	Progress      onramp.Progress
	Step          onramp.StepState
	Settings      Settings
	LearningLinks []Link
}

// Endpoint is where the wizard's forms save a step's settings.
func (WizardPage) Endpoint() string { return "/api/v1/reps/me/onboarding/steps" }

// ReadOnly: a finished onboarding's forms cannot be sent from the wizard.
func (p WizardPage) ReadOnly() bool { return p.Progress.Finished }

// SaveLabel is the forms' button.
func (WizardPage) SaveLabel() string { return "Save and continue" }

// SettingsPage is the rep's settings (the guide's Settings → Me: Profile,
// Calendar, Notifications), editable at any time.
type SettingsPage struct {
	Base
	Progress onramp.Progress
	Settings Settings
}

// Endpoint is where the settings page's forms save.
func (SettingsPage) Endpoint() string { return "/api/v1/reps/me/settings" }

// ReadOnly is false: settings can be changed at any time.
func (SettingsPage) ReadOnly() bool { return false }

// SaveLabel is the forms' button.
func (SettingsPage) SaveLabel() string { return "Save" }

// AdminPage lists the org's reps and their onboarding position.
type AdminPage struct {
	Base
	Reps []onramp.RepSummary
}

// AdminRepPage is one rep's onboarding in detail.
type AdminRepPage struct {
	Base
	Rep      onramp.User
	Progress onramp.Progress
	Events   []onramp.StepEvent
}

// SupportPage lists stuck steps to retry.
type SupportPage struct {
	Base
	Stuck []onramp.RepSummary
	// Details optionally maps a rep's ID to its progress, to show the
	// attempts and last error of each stuck step.
	Details map[string]*onramp.Progress
}

// ConsolePage is the rep console: the rep's visitor streams with live
// entries, and their chats. The page fills itself from the API.
type ConsolePage struct {
	Base
	Progress onramp.Progress
	// Settings gives the org's streams (one list each) and the rep's
	// notification preferences (sound, voice).
	Settings Settings
}

// ChatPage is the visitor's side of a chat with an org's reps (it stands
// in for the website's chat widget): public, no session.
type ChatPage struct {
	Base
	OrgSlug, OrgName string
}

// ErrorPage is shown for web (non-API) errors.
type ErrorPage struct {
	Base
	Status        int
	Code, Message string
}

// now is the clock used for relative times; tests replace it.
var now = time.Now

var statusLabels = map[onramp.StepStatus]string{
	onramp.StatusPending:     "Pending",
	onramp.StatusInProgress:  "In progress",
	onramp.StatusDone:        "Done",
	onramp.StatusSkipped:     "Skipped",
	onramp.StatusNeedsAction: "Needs action",
	onramp.StatusStuck:       "Stuck",
}

// StatusLabel is the human-friendly name of a step status.
func StatusLabel(s onramp.StepStatus) string {
	if l, ok := statusLabels[s]; ok {
		return l
	}
	if s == "" {
		return "Pending"
	}
	return strings.ReplaceAll(string(s), "_", " ")
}

// completed counts the steps that are done or skipped.
func completed(p onramp.Progress) int {
	n := 0
	for _, s := range p.Steps {
		if s.Status.Complete() {
			n++
		}
	}
	return n
}

func percent(n, total int) int {
	if total == 0 {
		return 0
	}
	return n * 100 / total
}

// ago is a relative time: "just now", "5 minutes ago", "3 days ago".
func ago(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	d := now().Sub(t)
	if d < 0 {
		d = 0
	}
	plural := func(n int, unit string) string {
		if n == 1 {
			return "1 " + unit + " ago"
		}
		return fmt.Sprintf("%d %ss ago", n, unit)
	}
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute")
	case d < 24*time.Hour:
		return plural(int(d/time.Hour), "hour")
	default:
		return plural(int(d/(24*time.Hour)), "day")
	}
}

// timeOf accepts time.Time or *time.Time; ok is false for nil or zero.
func timeOf(v any) (time.Time, bool) {
	switch t := v.(type) {
	case time.Time:
		return t, !t.IsZero()
	case *time.Time:
		if t == nil {
			return time.Time{}, false
		}
		return *t, !t.IsZero()
	}
	return time.Time{}, false
}

func isoTime(v any) string {
	if t, ok := timeOf(v); ok {
		return t.UTC().Format(time.RFC3339)
	}
	return ""
}

func showTime(v any) string {
	if t, ok := timeOf(v); ok {
		return t.UTC().Format("2006-01-02 15:04 UTC")
	}
	return "—"
}

// dayRow is one weekday of the availability form.
type dayRow struct {
	Key, Label string
	Ranges     []onramp.Interval
}

// settingsOf returns step k's settings from the form values (nil if
// absent): templates read their fields.
func settingsOf(s Settings, k string) onramp.Settings { return s.Steps[onramp.StepKey(k)] }

func availability(s Settings) onramp.Availability {
	if a, ok := s.Steps[onramp.StepAvailability].(*onramp.Availability); ok {
		return *a
	}
	return onramp.Availability{}
}

func dayRows(s Settings) []dayRow {
	a := availability(s)
	rows := make([]dayRow, 0, len(onramp.Weekdays))
	for _, d := range onramp.Weekdays {
		rows = append(rows, dayRow{Key: d, Label: capitalize(d), Ranges: a.Weekly[d]})
	}
	return rows
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func notifications(s Settings) onramp.NotificationPrefs {
	if n, ok := s.Steps[onramp.StepNotifications].(*onramp.NotificationPrefs); ok {
		return *n
	}
	return onramp.NotificationPrefs{}
}

func profile(s Settings) onramp.Profile {
	if p, ok := s.Steps[onramp.StepProfile].(*onramp.Profile); ok {
		return *p
	}
	return onramp.Profile{}
}

func browser(s Settings) onramp.BrowserPermissions {
	if b, ok := s.Steps[onramp.StepBrowser].(*onramp.BrowserPermissions); ok {
		return *b
	}
	return onramp.BrowserPermissions{}
}

var permissionLabels = map[onramp.PermissionState]string{
	onramp.PermissionGranted: "Allowed",
	onramp.PermissionDenied:  "Blocked",
	onramp.PermissionPrompt:  "Not asked yet",
}

func permissionLabel(p onramp.PermissionState) string {
	if l, ok := permissionLabels[p]; ok {
		return l
	}
	return "Not asked yet"
}

// stepLabel is the title of a step key ("Connect your calendar").
func stepLabel(k onramp.StepKey) string {
	if t := k.Info().Title; t != "" {
		return t
	}
	return string(k)
}

// pendingRequired lists the required steps that are not complete yet,
// other than finish itself.
func pendingRequired(p onramp.Progress) []onramp.StepState {
	var out []onramp.StepState
	for _, s := range p.Steps {
		if s.Required && !s.Status.Complete() && s.Key != onramp.StepFinish {
			out = append(out, s)
		}
	}
	return out
}

func stepOf(p *onramp.Progress, k onramp.StepKey) *onramp.StepState {
	if p == nil {
		return nil
	}
	return p.Step(k)
}

func roleLabel(r onramp.Role) string { return capitalize(string(r)) }

var funcs = template.FuncMap{
	"statusLabel":     StatusLabel,
	"completed":       completed,
	"percent":         percent,
	"inc":             func(i int) int { return i + 1 },
	"ago":             ago,
	"isoTime":         isoTime,
	"showTime":        showTime,
	"dayRows":         dayRows,
	"availability":    availability,
	"notifications":   notifications,
	"profile":         profile,
	"settingsOf":      settingsOf,
	"browser":         browser,
	"permissionLabel": permissionLabel,
	"stepLabel":       stepLabel,
	"pendingRequired": pendingRequired,
	"stepOf":          stepOf,
	"roleLabel":       roleLabel,
	"capitalize":      capitalize,
	"maxNameLen":      func() int { return onramp.MaxNameLen },
	"maxMessage":      func() int { return onramp.MaxMessageLen },
	"maxKeyName":      func() int { return onramp.MaxAPIKeyNameLen },
	"maxNotice":       func() int { return onramp.MaxMinNoticeMinutes },
	"maxBuffer":       func() int { return onramp.MaxBufferMinutes },
	"streamPref": func(p onramp.NotificationPrefs, key string) onramp.StreamPref {
		return p.Streams[key]
	},
	"isWaiting": func(key string) bool { return key == onramp.StreamWaitingForRep },
}
