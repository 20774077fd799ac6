package onramp

import (
	"fmt"
	"regexp"
	"sort"
	"time"
)

// Built-in visitor streams. Admins may define more (Stream).
const (
	StreamWaitingForRep  = "waiting_for_rep"
	StreamVIP            = "vip"
	StreamHighIntent     = "high_intent"
	StreamReturnVisitors = "return_visitors"
)

// BuiltinStreams are the streams every org has, in display order.
var BuiltinStreams = []Stream{
	{Key: StreamWaitingForRep, Name: "Waiting for a Rep", Builtin: true},
	{Key: StreamVIP, Name: "VIP visitors", Builtin: true},
	{Key: StreamHighIntent, Name: "High Intent", Builtin: true},
	{Key: StreamReturnVisitors, Name: "Return visitors", Builtin: true},
}

// Stream is a visitor stream notifications are routed to.
type Stream struct {
	Key     string `json:"key"`
	Name    string `json:"name"`
	Builtin bool   `json:"builtin"`
}

// Sounds are the notification sounds a rep can pick.
var Sounds = []string{"chime", "ding", "bell", "pop", "marimba", "none"}

// StreamPref says where one stream's notifications go.
type StreamPref struct {
	Desktop bool `json:"desktop"`
	Mobile  bool `json:"mobile"`
}

// NotificationPrefs are a rep's in-app notification settings (step 7).
type NotificationPrefs struct {
	ReturnVisitorAlerts bool                  `json:"return_visitor_alerts"`
	Sound               string                `json:"sound"`
	VoiceAlerts         bool                  `json:"voice_alerts"`
	Streams             map[string]StreamPref `json:"streams"`
	UpdatedAt           time.Time             `json:"updated_at"`
}

// DefaultNotificationPrefs: return-visitor alerts on, "chime", no voice,
// desktop notifications for every given stream, no mobile.
func DefaultNotificationPrefs(streams []Stream) NotificationPrefs {
	p := NotificationPrefs{ReturnVisitorAlerts: true, Sound: Sounds[0], Streams: map[string]StreamPref{}}
	for _, s := range streams {
		p.Streams[s.Key] = StreamPref{Desktop: true}
	}
	return p
}

var streamKeyRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)

// ValidStreamKey reports whether k is a well-formed stream key.
func ValidStreamKey(k string) bool { return streamKeyRE.MatchString(k) }

// Validate checks the preferences. known lists the org's stream keys (the
// built-in ones plus admin-defined ones); nil skips that check. mobileApp
// tells whether the rep has signed in to the mobile app: the guide says "To
// enable/disable mobile notifications, first log in to the Qualified Mobile App."
// "Waiting for a Rep" is always on and cannot be disabled.
func (p *NotificationPrefs) Validate(known []string, mobileApp bool) error {
	f := map[string]string{}
	if !contains(Sounds, p.Sound) {
		f["sound"] = fmt.Sprintf("Unknown sound %q: choose one of %v.", p.Sound, Sounds)
	}
	if p.Streams == nil {
		p.Streams = map[string]StreamPref{}
	}
	keys := make([]string, 0, len(p.Streams))
	for k := range p.Streams {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		sp := p.Streams[k]
		field := "streams." + k
		switch {
		case !ValidStreamKey(k) || (known != nil && !contains(known, k)):
			f[field] = fmt.Sprintf("Unknown stream %q.", k)
		case sp.Mobile && !mobileApp:
			f[field] = "Sign in to the mobile app first to get mobile notifications."
		}
	}
	if w, ok := p.Streams[StreamWaitingForRep]; ok && !w.Desktop {
		f["streams."+StreamWaitingForRep] = `The "Waiting for a Rep" stream is always active and cannot be disabled.`
	}
	if err := FieldErrors(f); err != nil {
		return err
	}
	// Always on, whatever was sent.
	w := p.Streams[StreamWaitingForRep]
	w.Desktop = true
	p.Streams[StreamWaitingForRep] = w
	return nil
}

// PermissionState is what the browser answered for one permission.
type PermissionState string

const (
	PermissionGranted PermissionState = "granted"
	PermissionDenied  PermissionState = "denied"
	PermissionPrompt  PermissionState = "prompt" // not asked yet, or dismissed
)

// BrowserPermissions is what the browser step reported (step 8).
type BrowserPermissions struct {
	Notifications PermissionState `json:"notifications"`
	Camera        PermissionState `json:"camera"`
	Microphone    PermissionState `json:"microphone"`
	UserAgent     string          `json:"user_agent,omitempty"`
	UpdatedAt     time.Time       `json:"updated_at"`
}

// Validate checks that each permission is granted, denied or prompt.
func (b *BrowserPermissions) Validate() error {
	f := map[string]string{}
	for field, v := range map[string]PermissionState{"notifications": b.Notifications, "camera": b.Camera, "microphone": b.Microphone} {
		if v != PermissionGranted && v != PermissionDenied && v != PermissionPrompt {
			f[field] = fmt.Sprintf("Permission must be granted, denied or prompt (got %q).", v)
		}
	}
	if len(b.UserAgent) > 512 {
		b.UserAgent = b.UserAgent[:512]
	}
	return FieldErrors(f)
}

// ReenableHelp tells how to re-enable denied permissions in Chrome, or ""
// when nothing is denied.
func (b *BrowserPermissions) ReenableHelp() string {
	var denied []string
	if b.Notifications != PermissionGranted {
		denied = append(denied, "Notifications")
	}
	if b.Camera == PermissionDenied {
		denied = append(denied, "Camera")
	}
	if b.Microphone == PermissionDenied {
		denied = append(denied, "Microphone")
	}
	if len(denied) == 0 {
		return ""
	}
	return fmt.Sprintf("Not allowed: %v. In Chrome, click the settings icon at the left of the address bar (Site settings), set %v to Allow, then reload this page and try again.", denied, denied)
}
