package onramp

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestRoute is the routing table: each event type against each kind of
// preferences, and who gets what on which device.
func TestRoute(t *testing.T) {
	streams := append(BuiltinStreams(), Stream{Key: "acme", Name: "Acme", Rules: []StreamRule{{Field: "account", Op: "equals", Value: "ACME"}}})
	defaults := DefaultNotificationPrefs(streams)
	with := func(mut func(p *NotificationPrefs)) NotificationPrefs {
		p := DefaultNotificationPrefs(streams)
		mut(&p)
		return p
	}
	off := func(keys ...string) NotificationPrefs {
		return with(func(p *NotificationPrefs) {
			for _, k := range keys {
				p.Streams[k] = StreamPref{}
			}
		})
	}
	mobileOnly := func(keys ...string) NotificationPrefs {
		return with(func(p *NotificationPrefs) {
			for _, k := range keys {
				p.Streams[k] = StreamPref{Mobile: true}
			}
		})
	}
	noReturn := with(func(p *NotificationPrefs) { p.ReturnVisitorAlerts = false })

	type rcp struct {
		prefs   NotificationPrefs
		devices int
	}
	cases := []struct {
		name   string
		typ    VisitorEventType
		acct   string
		owner  *rcp
		online []rcp
		want   string // "rep:streams:devices" per notification, sorted; "" for none
	}{
		{"vip to owner on desktop", VisitVIP, "", &rcp{prefs: defaults}, nil, "owner:vip:d"},
		{"vip with vip off", VisitVIP, "", &rcp{prefs: off(StreamVIP)}, nil, ""},
		{"vip mobile only with a device", VisitVIP, "", &rcp{prefs: mobileOnly(StreamVIP), devices: 1}, nil, "owner:vip:m"},
		{"vip mobile only without a device", VisitVIP, "", &rcp{prefs: mobileOnly(StreamVIP)}, nil, ""},
		{"vip desktop and mobile", VisitVIP, "", &rcp{prefs: with(func(p *NotificationPrefs) { p.Streams[StreamVIP] = StreamPref{Desktop: true, Mobile: true} }), devices: 2}, nil, "owner:vip:dm"},
		{"vip without an owner", VisitVIP, "", nil, []rcp{{prefs: defaults}}, ""},
		{"high intent", VisitHighIntent, "", &rcp{prefs: defaults}, nil, "owner:high_intent:d"},
		{"high intent off", VisitHighIntent, "", &rcp{prefs: off(StreamHighIntent)}, nil, ""},
		{"return with the switch on", VisitReturn, "", &rcp{prefs: defaults}, nil, "owner:return_visitors:d"},
		{"return with the switch off", VisitReturn, "", &rcp{prefs: noReturn}, nil, ""},
		{"return with the stream off", VisitReturn, "", &rcp{prefs: off(StreamReturnVisitors)}, nil, ""},
		{"a plain visit", VisitVisit, "", &rcp{prefs: defaults}, nil, ""},
		{"identified", VisitIdentified, "", &rcp{prefs: defaults}, nil, ""},
		{"a visit matching an admin stream", VisitVisit, "acme", &rcp{prefs: defaults}, nil, "owner:acme:d"},
		{"admin stream off", VisitVisit, "Acme", &rcp{prefs: off("acme")}, nil, ""},
		{"vip and an admin stream", VisitVIP, "Acme", &rcp{prefs: defaults}, nil, "owner:vip,acme:d"},
		{"vip off, admin stream on", VisitVIP, "Acme", &rcp{prefs: off(StreamVIP)}, nil, "owner:acme:d"},
		{"return off by switch, admin stream on", VisitReturn, "Acme", &rcp{prefs: noReturn}, nil, "owner:acme:d"},
		{"waiting goes to every online rep", VisitWaitingForRep, "", &rcp{prefs: defaults}, []rcp{{prefs: defaults}, {prefs: off(StreamVIP)}}, "online0:waiting_for_rep:d online1:waiting_for_rep:d"},
		{"waiting cannot be switched off", VisitWaitingForRep, "", nil, []rcp{{prefs: off(StreamWaitingForRep)}}, "online0:waiting_for_rep:d"},
		{"waiting, mobile too with a device", VisitWaitingForRep, "", nil, []rcp{{prefs: mobileOnly(StreamWaitingForRep), devices: 1}}, "online0:waiting_for_rep:dm"},
		{"waiting with nobody online", VisitWaitingForRep, "", &rcp{prefs: defaults}, nil, ""},
		{"chat message always reaches its owner", VisitChatMessage, "", &rcp{prefs: off(StreamVIP, StreamHighIntent, StreamReturnVisitors, "acme")}, nil, "owner::d"},
		{"chat message without an owner", VisitChatMessage, "", nil, []rcp{{prefs: defaults}}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := &VisitorEvent{ID: "e1", Type: tc.typ, VisitorID: "v1", Account: tc.acct, OwnerRep: "owner"}
			var owner *Recipient
			if tc.owner != nil {
				owner = &Recipient{RepID: "owner", Prefs: tc.owner.prefs, MobileDevices: tc.owner.devices}
			}
			var online []Recipient
			for i, r := range tc.online {
				online = append(online, Recipient{RepID: fmt.Sprintf("online%d", i), Prefs: r.prefs, MobileDevices: r.devices})
			}
			var got []string
			for _, n := range Route(e, streams, owner, online) {
				dev := ""
				if n.Desktop {
					dev += "d"
				}
				if n.Mobile {
					dev += "m"
				}
				if n.EventID != "e1" || n.Kind != string(tc.typ) || n.VisitorID != "v1" {
					t.Errorf("notification %+v does not describe the event", n)
				}
				got = append(got, fmt.Sprintf("%s:%s:%s", n.RepID, strings.Join(n.Streams, ","), dev))
			}
			slices.Sort(got)
			if s := strings.Join(got, " "); s != tc.want {
				t.Errorf("Route = %q, want %q", s, tc.want)
			}
		})
	}
}

// TestWaitingForRepCannotBeDisabled: saving preferences with the stream
// off is refused, and the stream is on after any valid save.
func TestWaitingForRepCannotBeDisabled(t *testing.T) {
	p := DefaultNotificationPrefs(BuiltinStreams())
	p.Streams[StreamWaitingForRep] = StreamPref{}
	if err := p.Validate(); ErrorCode(err) != EINVALID || ErrorFields(err)["streams."+StreamWaitingForRep] == "" {
		t.Fatalf("disabling Waiting for a Rep: %v", err)
	}
	p = DefaultNotificationPrefs(BuiltinStreams())
	delete(p.Streams, StreamWaitingForRep)
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	if !p.Streams[StreamWaitingForRep].Desktop {
		t.Fatal("Waiting for a Rep is off after a save that did not name it")
	}
}

func TestVisitorEventValidate(t *testing.T) {
	good := VisitorEvent{ID: "evt-1", Type: VisitVIP, VisitorID: "v1", OwnerRep: "rep@example.com", Page: "https://example.com/pricing"}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		mut   func(e *VisitorEvent)
		field string
	}{
		{"no id", func(e *VisitorEvent) { e.ID = "" }, "id"},
		{"id with spaces", func(e *VisitorEvent) { e.ID = "a b" }, "id"},
		{"id too long", func(e *VisitorEvent) { e.ID = strings.Repeat("a", MaxVisitorEventIDLen+1) }, "id"},
		{"unknown type", func(e *VisitorEvent) { e.Type = "purchase" }, "type"},
		{"no visitor", func(e *VisitorEvent) { e.VisitorID = " " }, "visitor_id"},
		{"no owner for vip", func(e *VisitorEvent) { e.OwnerRep = "" }, "owner_rep"},
		{"page not a URL", func(e *VisitorEvent) { e.Page = "javascript:alert(1)" }, "page"},
		{"page too long", func(e *VisitorEvent) { e.Page = "https://x.example/" + strings.Repeat("a", MaxPageLen) }, "page"},
		{"account with a newline", func(e *VisitorEvent) { e.Account = "a\nb" }, "account"},
		{"chat message empty", func(e *VisitorEvent) { e.Type = VisitChatMessage }, "message"},
		{"message with a bidi override", func(e *VisitorEvent) { e.Type = VisitChatMessage; e.Message = "hi \u202e" }, "message"},
		{"message not UTF-8", func(e *VisitorEvent) { e.Type = VisitChatMessage; e.Message = "\xff" }, "message"},
	}
	for _, tc := range cases {
		e := good
		tc.mut(&e)
		err := e.Validate()
		if ErrorCode(err) != EINVALID || ErrorFields(err)[tc.field] == "" {
			t.Errorf("%s: err = %v, want a message for %s", tc.name, err, tc.field)
		}
	}
	w := VisitorEvent{ID: "w", Type: VisitWaitingForRep, VisitorID: "v"}
	if err := w.Validate(); err != nil {
		t.Errorf("waiting_for_rep needs no owner: %v", err)
	}
	m := VisitorEvent{ID: "m", Type: VisitChatMessage, VisitorID: "v", OwnerRep: "r", Message: " line 1\r\nline 2 "}
	if err := m.Validate(); err != nil || m.Message != "line 1\nline 2" {
		t.Errorf("multi-line message: %q, %v", m.Message, err)
	}
}

func TestStreamRules(t *testing.T) {
	s := Stream{Key: "pricing", Name: "Pricing", Rules: []StreamRule{{Field: "page", Op: "contains", Value: "/pricing"}, {Field: "type", Op: "equals", Value: "visit"}}}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if !s.Matches(&VisitorEvent{Type: VisitVisit, Page: "https://x.example/PRICING?a"}) {
		t.Error("both rules met, no match")
	}
	if s.Matches(&VisitorEvent{Type: VisitVIP, Page: "https://x.example/pricing"}) {
		t.Error("one rule met, match")
	}
	bad := Stream{Key: "b", Name: "B", Rules: []StreamRule{{Field: "email", Op: "equals", Value: "x"}, {Field: "page", Op: "regex", Value: ""}}}
	err := bad.Validate()
	f := ErrorFields(err)
	if f["rules[0].field"] == "" || f["rules[1].op"] == "" || f["rules[1].value"] == "" {
		t.Errorf("bad rules: %v", err)
	}
	many := Stream{Key: "m", Name: "M", Rules: make([]StreamRule, MaxStreamRules+1)}
	if ErrorFields(many.Validate())["rules"] == "" {
		t.Error("too many rules accepted")
	}
}
