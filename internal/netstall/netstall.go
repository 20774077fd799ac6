// Package netstall is a TCP proxy for tests that can make what is behind it
// stall or go away, the way a database or Redis does during an outage: a
// stalled proxy keeps every connection open but forwards nothing (calls
// hang until their deadline), a down proxy drops every connection and
// refuses new ones (calls fail at once).
package netstall

import (
	"net"
	"sync"
	"testing"
)

// Proxy forwards connections on Addr to a target.
type Proxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	cond    *sync.Cond
	stalled bool
	down    bool
	conns   map[net.Conn]struct{}
	closed  bool
}

// Start starts a proxy to target (host:port) on a free loopback port; it
// stops when the test ends.
func Start(tb testing.TB, target string) *Proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.cond = sync.NewCond(&p.mu)
	go p.accept()
	tb.Cleanup(p.close)
	return p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Stall stops forwarding: connections stay open, nothing passes.
func (p *Proxy) Stall() { p.set(true, false) }

// Down drops every connection and refuses new ones.
func (p *Proxy) Down() {
	p.set(false, true)
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
}

// Resume forwards again.
func (p *Proxy) Resume() { p.set(false, false) }

func (p *Proxy) set(stalled, down bool) {
	p.mu.Lock()
	p.stalled, p.down = stalled, down
	p.cond.Broadcast()
	p.mu.Unlock()
}

func (p *Proxy) close() {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.cond.Broadcast()
	p.mu.Unlock()
	p.ln.Close()
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.down {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *Proxy) accept() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(in) {
			in.Close()
			continue
		}
		go func() {
			out, err := net.Dial("tcp", p.target)
			if err != nil || !p.track(out) {
				if out != nil {
					out.Close()
				}
				p.untrack(in)
				return
			}
			var wg sync.WaitGroup
			wg.Add(2)
			go func() { defer wg.Done(); p.pipe(out, in) }()
			go func() { defer wg.Done(); p.pipe(in, out) }()
			wg.Wait()
			p.untrack(in)
			p.untrack(out)
		}()
	}
}

// pipe copies src to dst, holding each chunk while the proxy is stalled.
func (p *Proxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			for p.stalled && !p.closed {
				p.cond.Wait()
			}
			gone := p.closed || p.down
			p.mu.Unlock()
			if gone {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil { // EOF or closed: the other side is closed too
			return
		}
	}
}
