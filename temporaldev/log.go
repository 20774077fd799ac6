package temporaldev

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
)

// serverLogger adapts the server's logger interface to slog. The server logs
// a great deal at Debug and Info, so only Warn and above are passed on, when
// gate lets them.
type serverLogger struct {
	l    *slog.Logger
	gate *logGate
}

// logGate follows the server's life. While it starts, its services complain
// about each other not being up yet: the log is held back, and passed on only
// if the start fails. While it runs, the log is passed on. Once it stops,
// its services complain about each other being gone: the log is dropped.
type logGate struct {
	mu    sync.Mutex
	phase int
	held  []heldRecord
}

const (
	phaseStarting = iota
	phaseRunning
	phaseStopping

	maxHeld = 100
)

type heldRecord struct {
	l     *slog.Logger
	level slog.Level
	msg   string
	args  []any
}

func (g *logGate) log(l *slog.Logger, level slog.Level, msg string, args []any) {
	g.mu.Lock()
	switch g.phase {
	case phaseStarting:
		if len(g.held) < maxHeld {
			g.held = append(g.held, heldRecord{l, level, msg, args})
		}
		g.mu.Unlock()
		return
	case phaseStopping:
		g.mu.Unlock()
		return
	}
	g.mu.Unlock()
	l.Log(context.Background(), level, msg, args...)
}

// running drops what was held back and passes the log on from now.
func (g *logGate) running() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.phase, g.held = phaseRunning, nil
}

// failed passes on what was held back (it may tell why) and drops the rest.
func (g *logGate) failed() {
	g.mu.Lock()
	held := g.held
	g.phase, g.held = phaseStopping, nil
	g.mu.Unlock()
	for _, r := range held {
		r.l.Log(context.Background(), r.level, r.msg, r.args...)
	}
}

// stopping drops the log from now.
func (g *logGate) stopping() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.phase, g.held = phaseStopping, nil
}

// benign are warnings the server logs on every start of this configuration.
var benign = map[string]bool{
	// We run no HTTP API, hence no Nexus HTTP endpoints.
	"HTTP API port has not been set. Nexus HTTP endpoints will not be available. To enable Nexus, follow these instructions: https://github.com/temporalio/temporal/blob/main/docs/architecture/nexus.md#enabling-nexus.": true,
}

var (
	_ log.Logger     = serverLogger{}
	_ log.WithLogger = serverLogger{}
)

// fatalError is the panic value of serverLogger.Fatal. The server calls Fatal
// when it cannot go on (a port in use, say); Start recovers it and returns it
// as an error when it happens on the starting goroutine.
type fatalError struct {
	msg string
}

func (e fatalError) Error() string { return "temporal server: " + e.msg }

func attrs(tags []tag.Tag) []any {
	args := make([]any, 0, len(tags))
	for _, t := range tags {
		args = append(args, slog.Any(t.Key(), t.Value()))
	}
	return args
}

func (s serverLogger) log(level slog.Level, msg string, tags []tag.Tag) {
	if benign[msg] || !s.l.Enabled(context.Background(), level) {
		return
	}
	s.gate.log(s.l, level, msg, attrs(tags))
}

func (s serverLogger) Debug(string, ...tag.Tag) {}
func (s serverLogger) Info(string, ...tag.Tag)  {}

func (s serverLogger) Warn(msg string, tags ...tag.Tag) {
	s.log(slog.LevelWarn, msg, tags)
}

func (s serverLogger) Error(msg string, tags ...tag.Tag) {
	s.log(slog.LevelError, msg, tags)
}

func (s serverLogger) DPanic(msg string, tags ...tag.Tag) {
	s.log(slog.LevelError, msg, tags)
}

func (s serverLogger) Panic(msg string, tags ...tag.Tag) {
	s.log(slog.LevelError, msg, tags)
	panic(fmt.Sprintf("temporal server: %s", msg))
}

// Fatal logs and panics instead of exiting the process: the server is
// embedded, and exiting would take the caller down without a word.
func (s serverLogger) Fatal(msg string, tags ...tag.Tag) {
	s.log(slog.LevelError, msg, tags)
	for _, t := range tags {
		msg += fmt.Sprintf(" %s=%v", t.Key(), t.Value())
	}
	panic(fatalError{msg: msg})
}

func (s serverLogger) With(tags ...tag.Tag) log.Logger {
	return serverLogger{l: s.l.With(attrs(tags)...), gate: s.gate}
}
