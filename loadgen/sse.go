package loadgen

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// sseEvent is one event dispatched by an sseReader. Its slices are valid
// until the reader's next call of next.
type sseEvent struct {
	Event []byte // the event: field; empty means "message"
	Data  []byte // the data: lines, joined with "\n"
	// ID is the stream's last event ID after this event (the id: field of
	// this event or of an earlier one, as EventSource keeps it); HasID says
	// whether this event had an id: field of its own.
	ID    []byte
	HasID bool
}

// sseReader parses a text/event-stream as the HTML standard's
// EventSource does: lines end in LF or CRLF (a lone CR, which the
// standard also allows, is not supported), a line starting with ':' is a
// comment, "field: value" loses one space after the colon, data: lines
// are joined with LF, and a blank line dispatches the event when it had
// at least one data: line. Unknown fields and retry: are ignored.
type sseReader struct {
	r       *bufio.Reader
	maxLine int

	long      []byte // a line longer than r's buffer, being assembled
	data      []byte
	event     []byte
	lastID    []byte
	hasData   bool
	hasID     bool
	ev        sseEvent
	comments  int // comment lines seen (keep-alives)
	bytesRead int64
}

// maxSSELine is the longest line an sseReader accepts.
const maxSSELine = 1 << 20

var errSSELineTooLong = errors.New("sse: line too long")

func newSSEReader(r io.Reader, bufSize int) *sseReader {
	return &sseReader{r: bufio.NewReaderSize(r, bufSize), maxLine: maxSSELine}
}

// next returns the next dispatched event. At the end of the stream it
// returns io.EOF (an event not yet dispatched is dropped, as the standard
// says); any other read error comes back as it is.
func (s *sseReader) next() (*sseEvent, error) {
	s.data, s.event = s.data[:0], s.event[:0]
	s.hasData, s.hasID = false, false
	for {
		line, err := s.readLine()
		if err != nil {
			return nil, err
		}
		if len(line) == 0 {
			if !s.hasData {
				// Nothing to dispatch: the event type is reset, the last
				// event ID is kept.
				s.event, s.hasID = s.event[:0], false
				continue
			}
			s.ev = sseEvent{Event: s.event, Data: s.data, ID: s.lastID, HasID: s.hasID}
			return &s.ev, nil
		}
		if line[0] == ':' {
			s.comments++
			continue
		}
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
		}
		switch string(field) {
		case "data":
			if s.hasData {
				s.data = append(s.data, '\n')
			}
			s.data = append(s.data, value...)
			s.hasData = true
		case "event":
			s.event = append(s.event[:0], value...)
		case "id":
			if bytes.IndexByte(value, 0) < 0 { // an id with NUL is ignored
				s.lastID = append(s.lastID[:0], value...)
				s.hasID = true
			}
		}
	}
}

// readLine returns the next line without its LF or CRLF. The line is
// valid until the next read.
func (s *sseReader) readLine() ([]byte, error) {
	s.long = s.long[:0]
	for {
		chunk, err := s.r.ReadSlice('\n')
		s.bytesRead += int64(len(chunk))
		if err == bufio.ErrBufferFull {
			if len(s.long)+len(chunk) > s.maxLine {
				return nil, errSSELineTooLong
			}
			s.long = append(s.long, chunk...)
			continue
		}
		if err != nil {
			if err == io.EOF && len(s.long)+len(chunk) > 0 {
				err = io.ErrUnexpectedEOF // a last line without its end
			}
			return nil, err
		}
		line := chunk
		if len(s.long) > 0 {
			s.long = append(s.long, chunk...)
			line = s.long
		}
		line = line[:len(line)-1]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		return line, nil
	}
}

// jsonStringField finds "key": "value" anywhere in data (at any depth)
// and returns value. It is a scan, not a JSON decoder: value must have no
// escapes, which holds for the IDs loadgen makes up, and it is enough to
// find them in an Onramp notification or a Centrifugo push without
// decoding either.
func jsonStringField(data []byte, key string) ([]byte, bool) {
	quoted := `"` + key + `"`
	for off := 0; ; {
		i := bytes.Index(data[off:], []byte(quoted))
		if i < 0 {
			return nil, false
		}
		rest := data[off+i+len(quoted):]
		off += i + len(quoted)
		rest = bytes.TrimLeft(rest, " \t\r\n")
		if len(rest) == 0 || rest[0] != ':' {
			continue
		}
		rest = bytes.TrimLeft(rest[1:], " \t\r\n")
		if len(rest) == 0 || rest[0] != '"' {
			continue
		}
		rest = rest[1:]
		end := bytes.IndexByte(rest, '"')
		if end < 0 {
			return nil, false
		}
		return rest[:end], true
	}
}

// messageIndex parses the index out of a message ID made by messageID
// for the run prefix.
func messageIndex(id []byte, prefix string) (int, bool) {
	if len(id) <= len(prefix) || string(id[:len(prefix)]) != prefix {
		return 0, false
	}
	n, err := strconv.Atoi(string(id[len(prefix):]))
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// messageID is the ID of the run's message i: prefix is "<run id>-".
func messageID(prefix string, i int) string { return fmt.Sprintf("%s%d", prefix, i) }
