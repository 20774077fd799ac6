package onramp

import (
	"fmt"
	"unicode/utf8"
)

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
}

// MaxUserAgentLen bounds the user agent kept, in bytes.
const MaxUserAgentLen = 512

// DefaultBrowserPermissions: nothing asked yet.
func DefaultBrowserPermissions() BrowserPermissions {
	return BrowserPermissions{Notifications: PermissionPrompt, Camera: PermissionPrompt, Microphone: PermissionPrompt}
}

func (*BrowserPermissions) settings()     {}
func (*BrowserPermissions) Step() StepKey { return StepBrowser }

// Validate checks that each permission is granted, denied or prompt, and
// keeps a printable user agent of bounded length.
func (b *BrowserPermissions) Validate() error {
	f := map[string]string{}
	for field, v := range map[string]PermissionState{"notifications": b.Notifications, "camera": b.Camera, "microphone": b.Microphone} {
		if v != PermissionGranted && v != PermissionDenied && v != PermissionPrompt {
			f[field] = fmt.Sprintf("Permission must be granted, denied or prompt (got %q).", quoteShort(string(v)))
		}
	}
	ua, msg := CleanText("User agent", b.UserAgent, 1<<20, false)
	if msg != "" {
		ua = "" // informational only: drop what is not clean text
	}
	if len(ua) > MaxUserAgentLen {
		ua = ua[:MaxUserAgentLen]
		for !utf8.ValidString(ua) { // cut inside a character
			ua = ua[:len(ua)-1]
		}
	}
	b.UserAgent = ua
	return FieldErrors(f)
}

// Outcome: done when notifications are allowed (the rep must be alerted of
// visitors); otherwise needs_action, with how to re-enable what is blocked.
func (b *BrowserPermissions) Outcome(StepFacts) Outcome {
	if b.Notifications != PermissionGranted {
		return Outcome{Status: StatusNeedsAction, Message: b.ReenableHelp()}
	}
	return Outcome{Status: StatusDone, Message: b.ReenableHelp()}
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
