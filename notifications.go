package onramp

import (
	"fmt"
	"sort"
)

// Sounds are the notification sounds a rep can pick.
var sounds = []string{"chime", "ding", "bell", "pop", "marimba", "none"}

// Sounds returns the notification sounds a rep can pick (a new slice).
func Sounds() []string { return append([]string(nil), sounds...) }

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
}

// MaxStreamPrefs bounds how many streams one set of preferences names.
const MaxStreamPrefs = 200

// DefaultNotificationPrefs: return-visitor alerts on, "chime", no voice,
// desktop notifications for every given stream, no mobile.
func DefaultNotificationPrefs(streams []Stream) NotificationPrefs {
	p := NotificationPrefs{ReturnVisitorAlerts: true, Sound: sounds[0], Streams: map[string]StreamPref{}}
	for _, s := range streams {
		p.Streams[s.Key] = StreamPref{Desktop: true}
	}
	p.Streams[StreamWaitingForRep] = StreamPref{Desktop: true}
	return p
}

func (*NotificationPrefs) settings() {}

// FillDefaults gives streams the preferences do not name yet (added since
// they were saved) their default: desktop notifications.
func (p *NotificationPrefs) FillDefaults(d SettingsDefaults) {
	if p.Streams == nil {
		p.Streams = map[string]StreamPref{}
	}
	for _, s := range d.Streams {
		if _, ok := p.Streams[s.Key]; !ok {
			p.Streams[s.Key] = StreamPref{Desktop: true}
		}
	}
}
func (*NotificationPrefs) Step() StepKey { return StepNotifications }

// Outcome: saved preferences are done.
func (*NotificationPrefs) Outcome(StepFacts) Outcome { return Outcome{Status: StatusDone} }

// Validate checks the preferences with the rules of every org; which
// streams exist is the org's (CheckStreams). "Waiting for a Rep" is always
// on and cannot be disabled. Mobile notifications need the mobile app
// ("To enable/disable mobile notifications, first log in to the Qualified
// Mobile App"), which no rep can sign in to in this release (step 9), so
// they are refused for now.
func (p *NotificationPrefs) Validate() error {
	f := map[string]string{}
	if !contains(sounds, p.Sound) {
		f["sound"] = fmt.Sprintf("Unknown sound %q: choose one of %v.", quoteShort(p.Sound), sounds)
	}
	if p.Streams == nil {
		p.Streams = map[string]StreamPref{}
	}
	if len(p.Streams) > MaxStreamPrefs {
		f["streams"] = fmt.Sprintf("At most %d streams.", MaxStreamPrefs)
		return FieldErrors(f)
	}
	keys := make([]string, 0, len(p.Streams))
	for k := range p.Streams {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		sp := p.Streams[k]
		switch {
		case !ValidStreamKey(k):
			f["streams"] = fmt.Sprintf("Unknown stream %q.", quoteShort(k))
		case sp.Mobile:
			f["streams."+k] = "Sign in to the mobile app first to get mobile notifications."
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

// CheckStreams checks that every stream named is one of the org's.
// Returns EINVALID naming the field of each unknown stream.
func (p *NotificationPrefs) CheckStreams(streams []Stream) error {
	known := make(map[string]bool, len(streams))
	for _, s := range streams {
		known[s.Key] = true
	}
	f := map[string]string{}
	for k := range p.Streams {
		if !known[k] {
			f["streams."+k] = fmt.Sprintf("Unknown stream %q.", quoteShort(k))
		}
	}
	return FieldErrors(f)
}
