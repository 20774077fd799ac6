package onramp

import (
	"fmt"
	"regexp"
)

// Built-in visitor streams. Admins may define more (Stream).
const (
	StreamWaitingForRep  = "waiting_for_rep"
	StreamVIP            = "vip"
	StreamHighIntent     = "high_intent"
	StreamReturnVisitors = "return_visitors"
)

// BuiltinStreams returns the streams every org has, in display order (a
// new slice each call).
func BuiltinStreams() []Stream {
	return []Stream{
		{Key: StreamWaitingForRep, Name: "Waiting for a Rep", Builtin: true},
		{Key: StreamVIP, Name: "VIP visitors", Builtin: true},
		{Key: StreamHighIntent, Name: "High Intent", Builtin: true},
		{Key: StreamReturnVisitors, Name: "Return visitors", Builtin: true},
	}
}

// Stream is a visitor stream notifications are routed to.
type Stream struct {
	Key     string `json:"key"`
	Name    string `json:"name"`
	Builtin bool   `json:"builtin"`
	// Rules (admin-defined streams): a visitor event belongs to the
	// stream when it meets every one. None: the stream gets nothing.
	Rules []StreamRule `json:"rules,omitempty"`
}

// MaxStreamKeyLen is the longest stream key, in bytes (keys are ASCII).
const MaxStreamKeyLen = 40

var streamKeyRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)

// ValidStreamKey reports whether k is a well-formed stream key.
func ValidStreamKey(k string) bool { return streamKeyRE.MatchString(k) }

// Validate trims and checks an admin-defined stream: the one place the
// rules of stream keys and names live. Returns EINVALID with field
// messages, or ECONFLICT when the key is a built-in stream's.
func (s *Stream) Validate() error {
	f := map[string]string{}
	if !ValidStreamKey(s.Key) {
		f["key"] = fmt.Sprintf("Key must start with a lowercase letter and hold only lowercase letters, digits and underscores (at most %d).", MaxStreamKeyLen)
	}
	var msg string
	if s.Name, msg = CleanText("Name", s.Name, MaxNameLen, true); msg != "" {
		f["name"] = msg
	}
	validateRules(s.Rules, f)
	if err := FieldErrors(f); err != nil {
		return err
	}
	for _, b := range BuiltinStreams() {
		if b.Key == s.Key {
			return &Error{Code: ECONFLICT, Message: "A stream with this key already exists.", Fields: map[string]string{"key": "A stream with this key already exists."}}
		}
	}
	s.Builtin = false
	return nil
}
