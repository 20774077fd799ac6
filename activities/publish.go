package activities

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/onramp/onramp"
)

// Publishing limits. Events are best effort (pages re-read progress), so a
// stalled or unreachable Redis costs at most publishTimeout per event in
// the background, never a step's answer.
const (
	publishQueue   = 1024
	publishTimeout = 2 * time.Second
	closeTimeout   = 3 * time.Second
)

// Publisher publishes events in the background, one at a time and in
// order, each with its own deadline. What does not fit in its queue is
// dropped and logged: a Redis outage must not hold up, or fail, a step.
// Close it when the worker stops, so that queued events are sent.
type Publisher struct {
	bus  onramp.EventBus
	log  *slog.Logger
	ch   chan onramp.Event
	mu   sync.Mutex
	shut bool
	done chan struct{}
}

// NewPublisher starts a publisher on bus; log (nil: discard) gets what
// could not be sent.
func NewPublisher(bus onramp.EventBus, log *slog.Logger) *Publisher {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Publisher{bus: bus, log: log, ch: make(chan onramp.Event, publishQueue), done: make(chan struct{})}
	go p.run()
	return p
}

func (p *Publisher) run() {
	defer close(p.done)
	for e := range p.ch {
		ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
		if err := p.bus.Publish(ctx, e); err != nil {
			p.log.Warn("publish event", "type", e.Type, "org", e.OrgID, "rep", e.RepID, "err", err)
		}
		cancel()
	}
}

// Enqueue queues e without waiting and reports whether it was queued.
func (p *Publisher) Enqueue(e onramp.Event) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shut {
		return false
	}
	select {
	case p.ch <- e:
		return true
	default:
		p.log.Warn("event queue full: event dropped", "type", e.Type, "org", e.OrgID, "rep", e.RepID)
		return false
	}
}

// Close stops taking events and waits (a few seconds at most) until the
// queued ones are sent.
func (p *Publisher) Close() {
	p.mu.Lock()
	if !p.shut {
		p.shut = true
		close(p.ch)
	}
	p.mu.Unlock()
	select {
	case <-p.done:
	case <-time.After(closeTimeout):
		p.log.Warn("events still queued at shutdown were not sent")
	}
}
