package onramp

import (
	"encoding/json"
	"fmt"
)

// Settings are what one step saves: its own type (Profile, Availability,
// NotificationPrefs, BrowserPermissions), registered in settingsTypes. The
// workflow takes them as the step's Update, the store writes them through
// one place, and a rep can change them again at any time (Settings → Me).
// The interface is sealed: only this package defines settings.
type Settings interface {
	// Step is the step the settings belong to.
	Step() StepKey
	// Validate normalises (trims, sorts) and checks the settings with the
	// rules that hold for every org. Returns EINVALID with a message per
	// field.
	Validate() error
	// Outcome is what saving valid settings makes of their step, given
	// what else is known of the rep.
	Outcome(f StepFacts) Outcome
	settings()
}

// StepFacts are what an Outcome may depend on beyond the settings.
type StepFacts struct {
	// CalendarTimeZone is the zone of the rep's connected calendar, ""
	// until a calendar is connected.
	CalendarTimeZone string
}

// Outcome is a step's status and message after its settings are saved.
type Outcome struct {
	Status  StepStatus
	Message string
}

// SettingsDefaults are what the default settings depend on.
type SettingsDefaults struct {
	TimeZone string   // the rep's zone if known (e.g. the browser's), else ""
	Streams  []Stream // the org's streams
}

// DefaultsFiller is implemented by settings whose saved value may lack
// what appeared since it was saved (a stream an admin added): forms show
// the saved value with the defaults of what is new.
type DefaultsFiller interface {
	FillDefaults(d SettingsDefaults)
}

// SavedOrDefault returns, for every step with settings, the saved settings
// (completed with FillDefaults) or the step's defaults.
func SavedOrDefault(saved map[StepKey]Settings, d SettingsDefaults) map[StepKey]Settings {
	out := make(map[StepKey]Settings, len(settingsTypes))
	for k, t := range settingsTypes {
		s, ok := saved[k]
		if !ok {
			out[k] = t.defaults(d)
			continue
		}
		if f, ok := s.(DefaultsFiller); ok {
			f.FillDefaults(d)
		}
		out[k] = s
	}
	return out
}

// PhotoHolder is implemented by settings that show a photo (the profile).
// Saving them makes that uploaded photo public and removes the rep's
// previous one.
type PhotoHolder interface {
	PhotoRef() string
}

// settingsType is how to make one step's settings.
type settingsType struct {
	empty    func() Settings
	defaults func(SettingsDefaults) Settings
}

// settingsTypes registers each step that carries settings: the one place,
// beside its type, where a step's settings are declared.
var settingsTypes = map[StepKey]settingsType{
	StepProfile: {
		func() Settings { return new(Profile) },
		func(SettingsDefaults) Settings { return new(Profile) },
	},
	StepAvailability: {
		func() Settings { return new(Availability) },
		func(d SettingsDefaults) Settings { a := DefaultAvailability(d.TimeZone); return &a },
	},
	StepNotifications: {
		func() Settings { return new(NotificationPrefs) },
		func(d SettingsDefaults) Settings { n := DefaultNotificationPrefs(d.Streams); return &n },
	},
	StepBrowser: {
		func() Settings { return new(BrowserPermissions) },
		func(SettingsDefaults) Settings { b := DefaultBrowserPermissions(); return &b },
	},
}

// HasSettings reports whether step k carries settings.
func HasSettings(k StepKey) bool { _, ok := settingsTypes[k]; return ok }

// SettingsSteps returns the steps that carry settings, in the guide's order.
func SettingsSteps() []StepKey {
	var out []StepKey
	for _, s := range stepTable {
		if HasSettings(s.Key) {
			out = append(out, s.Key)
		}
	}
	return out
}

// DefaultSettings returns step k's settings before the rep saved any, or
// nil for a step without settings. Defaults are filled here only.
func DefaultSettings(k StepKey, d SettingsDefaults) Settings {
	if t, ok := settingsTypes[k]; ok {
		return t.defaults(d)
	}
	return nil
}

// DecodeSettings decodes JSON into step k's settings type (it does not
// validate). Returns ENOTFOUND for a step without settings and
// EBADREQUEST for malformed JSON.
func DecodeSettings(k StepKey, data []byte) (Settings, error) {
	t, ok := settingsTypes[k]
	if !ok {
		return nil, Errorf(ENOTFOUND, "Step %q has no settings.", k)
	}
	s := t.empty()
	if err := json.Unmarshal(data, s); err != nil {
		return nil, &Error{Code: EBADREQUEST, Message: fmt.Sprintf("Malformed %s settings.", k), Err: err}
	}
	return s, nil
}

// settingsJSON is how Settings travel inside other JSON (StepRecord): the
// step names the type.
type settingsJSON struct {
	Step StepKey         `json:"step"`
	Data json.RawMessage `json:"data"`
}

func encodeSettings(s Settings) (*settingsJSON, error) {
	if s == nil {
		return nil, nil
	}
	data, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	return &settingsJSON{Step: s.Step(), Data: data}, nil
}

func (j *settingsJSON) decode() (Settings, error) {
	if j == nil {
		return nil, nil
	}
	return DecodeSettings(j.Step, j.Data)
}
