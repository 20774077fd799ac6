package loadgen

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

type wantEvent struct {
	event, data, id string
	hasID           bool
}

func readAll(t *testing.T, r io.Reader, bufSize int) ([]wantEvent, error) {
	t.Helper()
	rd := newSSEReader(r, bufSize)
	var got []wantEvent
	for {
		ev, err := rd.next()
		if err != nil {
			return got, err
		}
		got = append(got, wantEvent{string(ev.Event), string(ev.Data), string(ev.ID), ev.HasID})
	}
}

func TestSSEReader(t *testing.T) {
	long := strings.Repeat("x", 5000) // longer than the 16-byte minimum buffer
	for _, tc := range []struct {
		name, in string
		want     []wantEvent
		err      error
	}{
		{
			name: "onramp-like",
			in: "event: ready\nid: 4\ndata: {\"cursor\":\"4\"}\n\n" +
				": keep-alive\n\n" +
				"event: notification\nid: 5\ndata: {\"event_id\":\"e1\"}\n\n",
			want: []wantEvent{
				{"ready", `{"cursor":"4"}`, "4", true},
				{"notification", `{"event_id":"e1"}`, "5", true},
			},
			err: io.EOF,
		},
		{
			name: "centrifugo-like: CRLF first, then data only",
			in:   "\r\ndata: {\"connect\":{}}\n\ndata: {\"push\":{}}\r\n\r\n",
			want: []wantEvent{{"", `{"connect":{}}`, "", false}, {"", `{"push":{}}`, "", false}},
			err:  io.EOF,
		},
		{
			name: "data lines join, one space dropped, no space kept, field without colon",
			in:   "data:a\ndata:  b\ndata\n\n",
			want: []wantEvent{{"", "a\n b\n", "", false}},
			err:  io.EOF,
		},
		{
			name: "the last id carries over; an id with NUL is ignored; no data, no event",
			in:   "id: 7\nevent: x\n\ndata: d\n\nid: a\x00b\ndata: e\n\n",
			want: []wantEvent{{"", "d", "7", false}, {"", "e", "7", false}},
			err:  io.EOF,
		},
		{
			name: "unknown fields and retry are ignored",
			in:   "retry: 1000\nfoo: bar\ndata: d\n\n",
			want: []wantEvent{{"", "d", "", false}},
			err:  io.EOF,
		},
		{
			name: "a line longer than the buffer",
			in:   "data: " + long + "\n\n",
			want: []wantEvent{{"", long, "", false}},
			err:  io.EOF,
		},
		{
			name: "an event cut off by the end of the stream is dropped",
			in:   "data: a\n\ndata: b\n",
			want: []wantEvent{{"", "a", "", false}},
			err:  io.EOF,
		},
		{
			name: "a last line without its end",
			in:   "data: a\n\ndata: b",
			want: []wantEvent{{"", "a", "", false}},
			err:  io.ErrUnexpectedEOF,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// One byte at a time too: frames split anywhere by the network.
			for _, r := range []io.Reader{strings.NewReader(tc.in), iotest.OneByteReader(strings.NewReader(tc.in))} {
				got, err := readAll(t, r, 16)
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				if len(got) != len(tc.want) {
					t.Fatalf("got %d events %+v, want %d %+v", len(got), got, len(tc.want), tc.want)
				}
				for i := range got {
					if got[i] != tc.want[i] {
						t.Errorf("event %d = %+v, want %+v", i, got[i], tc.want[i])
					}
				}
			}
		})
	}
}

func TestSSEReaderLineTooLong(t *testing.T) {
	rd := newSSEReader(strings.NewReader("data: "+strings.Repeat("x", 100)+"\n\n"), 16)
	rd.maxLine = 50
	if _, err := rd.next(); !errors.Is(err, errSSELineTooLong) {
		t.Fatalf("err = %v, want %v", err, errSSELineTooLong)
	}
}

func TestJSONStringField(t *testing.T) {
	for _, tc := range []struct {
		data, want string
		ok         bool
	}{
		{`{"event_id":"run-1"}`, "run-1", true},
		{`{"notification":{"data":{"event_id" : "run-2"}}}`, "run-2", true},
		{`{"push":{"pub":{"data":{"type":"vip","event_id":"run-3"}}}}`, "run-3", true},
		{`{"event_id_x":"no","event_id":"yes"}`, "yes", true},
		{`{"other":"event_id","event_id":"after"}`, "after", true},
		{`{"event_id":17}`, "", false},
		{`{"id":"x"}`, "", false},
		{`{"event_id":"unterminated`, "", false},
	} {
		got, ok := jsonStringField([]byte(tc.data), "event_id")
		if ok != tc.ok || string(got) != tc.want {
			t.Errorf("jsonStringField(%s) = %q, %v; want %q, %v", tc.data, got, ok, tc.want, tc.ok)
		}
	}
}

func TestMessageIndex(t *testing.T) {
	prefix := "lg123-"
	if i, ok := messageIndex([]byte(messageID(prefix, 42)), prefix); !ok || i != 42 {
		t.Fatalf("messageIndex(messageID(42)) = %d, %v", i, ok)
	}
	for _, id := range []string{"lg124-1", "lg123-", "lg123-x", "lg123--1", "lg12"} {
		if _, ok := messageIndex([]byte(id), prefix); ok {
			t.Errorf("messageIndex(%q) ok, want not", id)
		}
	}
}
