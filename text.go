package onramp

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// CleanText is the rule for every free-text field (names, titles, stream
// names): valid UTF-8, trimmed, without control characters (line breaks,
// NUL, …) or invisible bidirectional overrides, at most max characters,
// and not empty when required. It returns the trimmed text and "" when it
// is fine, else the field's message, which starts with label.
func CleanText(label, s string, max int, required bool) (string, string) {
	if !utf8.ValidString(s) {
		return s, label + " is not valid text (UTF-8)."
	}
	s = strings.TrimSpace(s)
	switch {
	case s == "" && required:
		return s, label + " is required."
	case utf8.RuneCountInString(s) > max:
		return s, fmt.Sprintf("%s must be at most %d characters.", label, max)
	case strings.IndexFunc(s, forbiddenRune) >= 0:
		return s, label + " cannot contain line breaks, tabs or other control characters."
	}
	return s, ""
}

// forbiddenRune: control characters, and the bidirectional formatting
// characters that can make text display as something else.
func forbiddenRune(r rune) bool {
	switch {
	case unicode.IsControl(r):
		return true
	case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069, r == 0x200E, r == 0x200F, r == 0x061C:
		return true
	case r == 0x2028 || r == 0x2029: // line and paragraph separators
		return true
	}
	return false
}
