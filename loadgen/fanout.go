package loadgen

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// `onramp loadgen sse`: N SSE clients held open against one server, and
// the fan-out of published messages to all of them. Two phases follow
// the connections:
//
//   - latency: -messages messages, one every -interval, so that each one
//     reaches every client before the next (publish → received, p50/p99
//     over every delivery);
//   - throughput: -burst messages published as fast as -publishers
//     concurrent publishers go; delivered notifications/s is the number of
//     deliveries over the time from the first publish to the last receipt.
//
// Each message carries an ID made of the run's prefix and its index; the
// publisher records when it sent each index, and a client finds the ID in
// the data of what it receives (as `event_id`, see -id-field). The server
// is Onramp (visitor events in, notifications of one signed-in rep out on
// /api/v1/events) or Centrifugo (server HTTP API in, the user's personal
// channel out on the unidirectional SSE transport): see fanoutTarget.

// sseOptions are the flags of `onramp loadgen sse`.
type sseOptions struct {
	Target     string // onramp or centrifugo
	URL        string // base URL of the server (loopback)
	StreamPath string // path (and query) of the SSE endpoint; "" = the target's
	Headers    []string
	N          int     // SSE clients
	Ramp       float64 // new connections per second (0: as fast as -connect-concurrency allows)
	ConnectC   int     // connection attempts in flight at once
	Messages   int
	Interval   time.Duration
	Burst      int
	Bursts     int
	Publishers int
	Batch      int // messages per publish request in the throughput phase
	IDField    string
	ServerPID  int
	Settle     time.Duration
	Drain      time.Duration
	Hold       time.Duration // keep the idle connections this long after the memory sample
	Timeout    time.Duration
	Deadline   time.Duration
	JSON       bool
	Label      string

	// Onramp
	Admin, Password   string
	Rep, RepPassword  string
	APIKey            string
	VisitorEventsPath string

	// Centrifugo
	CentrifugoAPIKey string
	CentrifugoSecret string
	CentrifugoUser   string
	CentrifugoAPIURL string
}

const sseUsage = `Usage: onramp loadgen sse -target onramp|centrifugo [flags]

Opens -n SSE connections to one server (at -ramp connections/s), measures the
server's memory per idle connection (-server-pid: (RSS with the clients - RSS
before) / clients, from /proc/<pid>/status), then publishes messages and
measures publish → received latency and delivered notifications/s:

  latency phase     -messages messages, one every -interval; p50/p99 over
                    every delivery (and the slowest client of each message)
  throughput phase  -burst messages from -publishers concurrent publishers,
                    -batch per request; delivered/s = deliveries / (first
                    publish → last receipt)

-target onramp: the admin creates an API key (or -api-key), the rep signs in
(POST /api/v1/session); every client is that rep on GET /api/v1/events (the
same session cookie); each message is a visitor event of type vip with
owner_rep = the rep, sent with POST /api/v1/visitor-events, and each client
finds its id as event_id in the notification's data.
-target centrifugo: every client connects to /connection/uni_sse with a
connection JWT (HS256, -centrifugo-secret) of user -centrifugo-user, and so is
subscribed to the personal channel #user; each message is published with the
server HTTP API (POST /api/publish, X-API-Key) with data {"event_id": id}.

Traffic goes only to loopback addresses; the run ends by itself (-deadline).
A line "RESULT key=value ..." sums up the run for scripts.

Flags:
`

// SSEMain runs `onramp loadgen sse args...`.
func SSEMain(ctx context.Context, args []string, stdout io.Writer) error {
	o, err := parseSSEFlags(args, stdout)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.Deadline)
	defer cancel()
	progress := stdout
	if o.JSON {
		progress = io.Discard
	}
	r, err := runFanout(ctx, o, progress)
	if r != nil {
		if o.JSON {
			if jerr := writeJSON(stdout, r); jerr != nil && err == nil {
				err = jerr
			}
		} else {
			r.WriteTable(stdout)
			fmt.Fprintln(stdout, r.ResultLine())
		}
	}
	return err
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ", ") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func parseSSEFlags(args []string, stdout io.Writer) (sseOptions, error) {
	var o sseOptions
	var headers stringList
	fs := flag.NewFlagSet("onramp loadgen sse", flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() { fmt.Fprint(stdout, sseUsage); fs.PrintDefaults() }
	fs.StringVar(&o.Target, "target", "", "onramp or centrifugo (required)")
	fs.StringVar(&o.URL, "url", "", "base URL of the server (default http://127.0.0.1:8080 for onramp, http://127.0.0.1:8000 for centrifugo)")
	fs.StringVar(&o.StreamPath, "stream-path", "", "path (and query) of the SSE endpoint (default /api/v1/events; centrifugo: /connection/uni_sse?cf_connect=<token>)")
	fs.Var(&headers, "header", `extra header of every SSE request, "Name: value" (repeatable; a Cookie header adds to the session's)`)
	fs.IntVar(&o.N, "n", 1000, "SSE clients")
	fs.Float64Var(&o.Ramp, "ramp", 1000, "new connections per second (0: no pacing)")
	fs.IntVar(&o.ConnectC, "connect-concurrency", 100, "connection attempts in flight at once")
	fs.IntVar(&o.Messages, "messages", 20, "latency phase: messages, one every -interval")
	fs.DurationVar(&o.Interval, "interval", 500*time.Millisecond, "latency phase: time between two messages")
	fs.IntVar(&o.Burst, "burst", 60, "throughput phase: messages of one burst, published as fast as the publishers go (0: no throughput phase)")
	fs.IntVar(&o.Bursts, "bursts", 1, "throughput phase: bursts, each delivered to every client before the next starts")
	fs.IntVar(&o.Publishers, "publishers", 4, "throughput phase: concurrent publishers")
	fs.IntVar(&o.Batch, "batch", 1, "throughput phase: messages per publish request (onramp: events per POST, at most 100; centrifugo: /api/batch)")
	fs.StringVar(&o.IDField, "id-field", "event_id", "JSON field of the received data that holds the message ID")
	fs.IntVar(&o.ServerPID, "server-pid", 0, "PID of the server process on this machine: its RSS before and with the clients, and its CPU time in each phase")
	fs.DurationVar(&o.Settle, "settle", 5*time.Second, "wait before each RSS sample")
	fs.DurationVar(&o.Drain, "drain", 30*time.Second, "after the last publish of a phase, wait at most this long for the deliveries")
	fs.DurationVar(&o.Hold, "hold", 0, "keep the idle connections open this long after the memory sample, before publishing")
	fs.DurationVar(&o.Timeout, "timeout", 30*time.Second, "deadline of each publish request, and of each connection's first frame")
	fs.DurationVar(&o.Deadline, "deadline", 15*time.Minute, "deadline of the whole run")
	fs.BoolVar(&o.JSON, "json", false, "print the report as JSON")
	fs.StringVar(&o.Label, "label", "", "a name for this run in the report and the RESULT line")
	fs.StringVar(&o.Admin, "admin", demoAdmin, "onramp: admin email (creates the API key)")
	fs.StringVar(&o.Password, "password", demoPassword, "onramp: admin password")
	fs.StringVar(&o.Rep, "rep", "rep@demo.onramp.test", "onramp: the rep whose streams are opened, owner_rep of the visitor events")
	fs.StringVar(&o.RepPassword, "rep-password", demoPassword, "onramp: the rep's password")
	fs.StringVar(&o.APIKey, "api-key", "", "onramp: an org API key (default: the admin creates one, and revokes it at the end)")
	fs.StringVar(&o.VisitorEventsPath, "visitor-events-path", "/api/v1/visitor-events", "onramp: where visitor events are posted")
	fs.StringVar(&o.CentrifugoAPIKey, "centrifugo-api-key", "", "centrifugo: the server HTTP API key (http_api.key)")
	fs.StringVar(&o.CentrifugoSecret, "centrifugo-secret", "", "centrifugo: the HMAC key of connection tokens (client.token.hmac_secret_key)")
	fs.StringVar(&o.CentrifugoUser, "centrifugo-user", "loadgen-rep", "centrifugo: user ID of every connection (the channel is #user)")
	fs.StringVar(&o.CentrifugoAPIURL, "centrifugo-api-url", "", "centrifugo: base URL of the server HTTP API (default -url)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("loadgen sse: unexpected arguments %q", fs.Args())
	}
	o.Headers = headers
	switch o.Target {
	case "onramp":
		if o.URL == "" {
			o.URL = "http://127.0.0.1:8080"
		}
	case "centrifugo":
		if o.URL == "" {
			o.URL = "http://127.0.0.1:8000"
		}
		if o.CentrifugoAPIKey == "" || o.CentrifugoSecret == "" {
			return o, errors.New("loadgen sse: -target centrifugo needs -centrifugo-api-key and -centrifugo-secret")
		}
		if o.CentrifugoAPIURL == "" {
			o.CentrifugoAPIURL = o.URL
		}
	default:
		return o, fmt.Errorf("loadgen sse: -target must be onramp or centrifugo, got %q", o.Target)
	}
	switch {
	case o.N < 1 || o.N > 100000:
		return o, fmt.Errorf("loadgen sse: -n must be between 1 and 100000, got %d", o.N)
	case o.ConnectC < 1 || o.ConnectC > 10000:
		return o, fmt.Errorf("loadgen sse: -connect-concurrency must be between 1 and 10000, got %d", o.ConnectC)
	case o.Messages < 0 || o.Burst < 0 || o.Bursts < 1 || o.Messages+o.Burst*o.Bursts > 1000000:
		return o, errors.New("loadgen sse: -messages and -burst must be >= 0, -bursts >= 1, at most 1000000 messages in all")
	case o.Publishers < 1 || o.Publishers > 1000:
		return o, fmt.Errorf("loadgen sse: -publishers must be between 1 and 1000, got %d", o.Publishers)
	case o.Batch < 1 || o.Batch > 100:
		return o, fmt.Errorf("loadgen sse: -batch must be between 1 and 100, got %d", o.Batch)
	case o.Ramp < 0 || o.Interval < 0 || o.Settle < 0 || o.Drain < 0 || o.Hold < 0:
		return o, errors.New("loadgen sse: -ramp, -interval, -settle, -drain and -hold must not be negative")
	case o.Timeout <= 0 || o.Deadline <= 0:
		return o, errors.New("loadgen sse: -timeout and -deadline must be positive")
	case o.IDField == "" || strings.ContainsAny(o.IDField, `"\`):
		return o, fmt.Errorf("loadgen sse: bad -id-field %q", o.IDField)
	}
	for _, h := range o.Headers {
		if k, _, ok := strings.Cut(h, ":"); !ok || strings.TrimSpace(k) == "" {
			return o, fmt.Errorf("loadgen sse: -header wants \"Name: value\", got %q", h)
		}
	}
	for _, u := range []struct{ name, v string }{{"-url", o.URL}, {"-centrifugo-api-url", o.CentrifugoAPIURL}} {
		if u.v == "" {
			continue
		}
		pu, err := url.Parse(u.v)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			return o, fmt.Errorf("loadgen sse: %s: want http(s)://host:port, got %q", u.name, u.v)
		}
		if err := mustBeLoopback(u.name, pu.Hostname()); err != nil {
			return o, err
		}
	}
	o.URL = strings.TrimRight(o.URL, "/")
	o.CentrifugoAPIURL = strings.TrimRight(o.CentrifugoAPIURL, "/")
	return o, nil
}

// fanoutTarget is the server side of one run: how a client connects, what
// frame says it is connected, and how a message is published.
type fanoutTarget interface {
	// setup signs in, creates keys or tokens (not timed).
	setup(ctx context.Context, progress io.Writer) error
	// streamRequest is the request of one SSE client.
	streamRequest(ctx context.Context) (*http.Request, error)
	// connected says whether ev is the frame that says the stream is set
	// up (Onramp's `event: ready`, Centrifugo's connect reply).
	connected(ev *sseEvent) bool
	// publish sends the messages ids (one request). It returns once the
	// server has accepted them.
	publish(ctx context.Context, ids []string) error
	// cleanup undoes what setup created (best effort).
	cleanup(ctx context.Context)
	notes() []string
}

// Phases of a run.
const (
	phaseLatency = iota
	phaseThroughput
	nPhases
)

var phaseNames = [nPhases]string{"latency", "throughput"}

// fanout is one run.
type fanout struct {
	o      sseOptions
	t      fanoutTarget
	prefix string
	base   time.Time

	// sentAt[i] is when message i's publish request started, in ns since
	// base (0: not sent).
	sentAt []atomic.Int64
	// published[p]: messages of phase p the server accepted.
	published [nPhases]atomic.Int64

	clients   []*sseClient
	wg        sync.WaitGroup
	connected atomic.Int64
	ended     atomic.Int64 // clients whose stream ended before the run closed it
	closing   atomic.Bool
}

// since is the time since the run's base, in ns (monotonic).
func (f *fanout) since() int64 { return int64(time.Since(f.base)) }

func (f *fanout) phaseOf(i int) int {
	if i < f.o.Messages {
		return phaseLatency
	}
	return phaseThroughput
}

// sseClient is one SSE connection. Only its goroutine writes its fields
// other than the atomics, and they are read after it has ended.
type sseClient struct {
	i int

	state       atomic.Int32 // clientConnecting, clientConnected, clientFailed, clientEnded
	got         [nPhases]atomic.Int64
	startedAt   int64
	connectedAt int64
	failure     string // why it failed to connect, or why its stream ended

	receipts []receipt
	seen     []uint64 // bitset of message indexes received
	dups     [nPhases]int
	unknown  int // frames with no ID of this run
	frames   int
	comments int
	bytes    int64
}

type receipt struct {
	idx int32
	lat int64 // ns from the publish request's start
}

const (
	clientConnecting = iota
	clientConnected
	clientFailed
	clientEnded
)

func runFanout(ctx context.Context, o sseOptions, progress io.Writer) (*SSEReport, error) {
	runID := newRunID()
	r := &SSEReport{RunID: runID, Label: o.Label, Target: o.Target, URL: o.URL, N: o.N}
	limit, err := raiseNoFile(o.N + 256)
	r.OpenFileLimit = limit
	if err != nil {
		return r, err
	}
	var t fanoutTarget
	switch o.Target {
	case "onramp":
		t = newOnrampTarget(o)
	default:
		t = newCentrifugoTarget(o)
	}
	f := &fanout{o: o, t: t, prefix: runID + "-", base: time.Now(), sentAt: make([]atomic.Int64, o.Messages+o.Burst*o.Bursts)}
	fmt.Fprintf(progress, "loadgen sse %s: %s at %s, %d clients\n", runID, o.Target, o.URL, o.N)
	if err := t.setup(ctx, progress); err != nil {
		return r, fmt.Errorf("loadgen sse setup: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		t.cleanup(cctx)
	}()
	r.Notes = append(r.Notes, t.notes()...)

	if o.ServerPID > 0 {
		sleepCtx(ctx, o.Settle)
		if r.Memory.RSSBeforeKB, err = readRSS(o.ServerPID); err != nil {
			return r, err
		}
		r.Memory.ServerPID = o.ServerPID
	}

	streamCtx, closeStreams := context.WithCancel(ctx)
	defer func() {
		f.closing.Store(true)
		closeStreams()
		f.wg.Wait()
	}()
	fmt.Fprintf(progress, "connecting %d clients (%.0f/s, %d in flight at most)...\n", o.N, o.Ramp, o.ConnectC)
	f.connect(ctx, streamCtx, r)
	fmt.Fprintf(progress, "  %d/%d connected in %.1fs (failed: %s)\n", r.Connect.Connected, o.N, r.Connect.WallSeconds, r.Connect.Errors)
	if r.Connect.Connected == 0 {
		return r, errors.New("loadgen sse: no client connected")
	}

	idle0 := f.cpuSample()
	if o.ServerPID > 0 {
		sleepCtx(ctx, o.Settle)
		if r.Memory.RSSWithClientsKB, err = readRSS(o.ServerPID); err != nil {
			return r, err
		}
		r.Memory.Clients = int(f.connected.Load() - f.ended.Load())
		if r.Memory.Clients > 0 {
			r.Memory.KBPerConnection = float64(r.Memory.RSSWithClientsKB-r.Memory.RSSBeforeKB) / float64(r.Memory.Clients)
		}
		fmt.Fprintf(progress, "  server RSS %d kB before, %d kB with %d idle clients: %.1f kB each\n",
			r.Memory.RSSBeforeKB, r.Memory.RSSWithClientsKB, r.Memory.Clients, r.Memory.KBPerConnection)
	}
	if o.Hold > 0 {
		fmt.Fprintf(progress, "holding the idle connections for %s...\n", o.Hold)
		sleepCtx(ctx, o.Hold)
	}
	r.Connect.HeldAfterIdle = int(f.connected.Load() - f.ended.Load())
	if idle1 := f.cpuSample(); o.ServerPID > 0 && idle1.at.Sub(idle0.at) > 0 {
		r.Idle.WindowSeconds = idle1.at.Sub(idle0.at).Seconds()
		r.Idle.ServerCPUSeconds = (idle1.server - idle0.server).Seconds()
		r.Idle.ServerCores = r.Idle.ServerCPUSeconds / r.Idle.WindowSeconds
	}

	if o.Messages > 0 {
		fmt.Fprintf(progress, "latency: %d messages, one every %s...\n", o.Messages, o.Interval)
		f.latencyPhase(ctx, r)
	}
	if o.Burst > 0 && ctx.Err() == nil {
		fmt.Fprintf(progress, "throughput: %d bursts of %d messages, %d publishers, %d a request...\n", o.Bursts, o.Burst, o.Publishers, o.Batch)
		f.throughputPhase(ctx, r)
	}
	r.Connect.HeldAtEnd = int(f.connected.Load() - f.ended.Load())

	f.closing.Store(true)
	closeStreams()
	f.wg.Wait()
	f.summarize(r)
	return r, ctx.Err()
}

// connect starts the clients at the ramp rate and waits until each one is
// connected or has failed.
func (f *fanout) connect(ctx, streamCtx context.Context, r *SSEReport) {
	o := f.o
	tr := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		DisableCompression:    true,
		MaxIdleConnsPerHost:   -1, // a stream's connection is never reused
		ResponseHeaderTimeout: o.Timeout,
		ForceAttemptHTTP2:     false,
	}
	hc := &http.Client{Transport: tr}
	sem := make(chan struct{}, o.ConnectC)
	var ready sync.WaitGroup
	start := time.Now()
	f.clients = make([]*sseClient, o.N)
	for i := range o.N {
		if o.Ramp > 0 {
			at := start.Add(time.Duration(float64(i) / o.Ramp * float64(time.Second)))
			if d := time.Until(at); d > 0 {
				sleepCtx(ctx, d)
			}
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			f.clients = f.clients[:i]
			break
		}
		c := &sseClient{i: i, seen: make([]uint64, (len(f.sentAt)+63)/64)}
		f.clients[i] = c
		ready.Add(1)
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			f.runClient(streamCtx, hc, c, func() { <-sem; ready.Done() })
		}()
	}
	ready.Wait()
	r.Connect.WallSeconds = time.Since(start).Seconds()
	r.Connect.Attempted = len(f.clients)
	r.Connect.Errors = Errors{}
	var lat []time.Duration
	for _, c := range f.clients {
		switch c.state.Load() {
		case clientConnected, clientEnded:
			if c.connectedAt > 0 {
				lat = append(lat, time.Duration(c.connectedAt-c.startedAt))
			}
		}
	}
	r.Connect.Connected = len(lat)
	for _, c := range f.clients {
		if c.state.Load() == clientFailed {
			r.Connect.Errors[c.failure]++
		}
	}
	r.Connect.FirstFrame = latencyOf("first frame", lat, r.Connect.Errors.total())
	if r.Connect.WallSeconds > 0 {
		r.Connect.PerSecond = float64(r.Connect.Connected) / r.Connect.WallSeconds
	}
}

// runClient is one SSE client: it connects, calls ready once it is
// connected or has failed, then reads frames until its stream ends.
func (f *fanout) runClient(ctx context.Context, hc *http.Client, c *sseClient, ready func()) {
	c.startedAt = f.since()
	readyOnce := sync.OnceFunc(ready)
	defer readyOnce()
	fail := func(kind string) {
		c.failure = kind
		c.state.Store(clientFailed)
	}
	// The request's context is the stream's, so it has no deadline: a
	// timer ends a connection that has not said it is connected in time.
	sctx, scancel := context.WithCancel(ctx)
	defer scancel()
	deadline := time.AfterFunc(f.o.Timeout, func() {
		if c.state.Load() == clientConnecting {
			scancel()
		}
	})
	defer deadline.Stop()

	req, err := f.t.streamRequest(sctx)
	if err != nil {
		fail("request: " + err.Error())
		return
	}
	for _, h := range f.o.Headers {
		k, v, _ := strings.Cut(h, ":")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if strings.EqualFold(k, "Cookie") && req.Header.Get("Cookie") != "" {
			v = req.Header.Get("Cookie") + "; " + v
		}
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	if err != nil {
		if sctx.Err() != nil && ctx.Err() == nil {
			fail("timeout")
		} else {
			fail(connectErrKind(err))
		}
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fail(strconv.Itoa(resp.StatusCode))
		return
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		fail("content-type " + ct)
		return
	}
	rd := newSSEReader(resp.Body, 4096)
	defer func() { c.comments, c.bytes = rd.comments, rd.bytesRead }()
	for {
		ev, err := rd.next()
		if err != nil {
			switch {
			case c.state.Load() == clientConnecting:
				if sctx.Err() != nil && ctx.Err() == nil {
					fail("no first frame")
				} else {
					fail("stream: " + connectErrKind(err))
				}
			case f.closing.Load():
			default:
				c.failure = "ended: " + connectErrKind(err)
				c.state.Store(clientEnded)
				f.ended.Add(1)
			}
			return
		}
		now := f.since()
		c.frames++
		if c.state.Load() == clientConnecting {
			if f.t.connected(ev) {
				c.connectedAt = now
				c.state.Store(clientConnected)
				f.connected.Add(1)
				readyOnce()
			}
			continue
		}
		id, ok := jsonStringField(ev.Data, f.o.IDField)
		var idx int
		if ok {
			idx, ok = messageIndex(id, f.prefix)
		}
		if !ok || idx >= len(f.sentAt) {
			c.unknown++
			continue
		}
		p := f.phaseOf(idx)
		if c.seen[idx/64]&(1<<(idx%64)) != 0 {
			c.dups[p]++
			continue
		}
		c.seen[idx/64] |= 1 << (idx % 64)
		sent := f.sentAt[idx].Load()
		c.receipts = append(c.receipts, receipt{idx: int32(idx), lat: now - sent})
		c.got[p].Add(1)
	}
}

// connectErrKind names a transport error for the report.
func connectErrKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "EOF"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return "too many open files"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "no free local port"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	return "transport"
}

// publishOne publishes the messages ids (indexes idxs) and records the
// request's latency. Their send time is set before the request starts.
func (f *fanout) publishOne(ctx context.Context, idxs []int, lat *[]time.Duration, errs Errors, samples *[]string, mu *sync.Mutex) bool {
	ids := make([]string, len(idxs))
	now := f.since()
	for k, i := range idxs {
		ids[k] = messageID(f.prefix, i)
		f.sentAt[i].Store(now)
	}
	pctx, cancel := context.WithTimeout(ctx, f.o.Timeout)
	err := f.t.publish(pctx, ids)
	cancel()
	d := time.Duration(f.since() - now)
	mu.Lock()
	defer mu.Unlock()
	if err != nil {
		errs[publishErrKind(err)] += len(ids)
		if len(*samples) < 5 {
			*samples = append(*samples, err.Error())
		}
		return false
	}
	*lat = append(*lat, d)
	f.published[f.phaseOf(idxs[0])].Add(int64(len(ids)))
	return true
}

// latencyPhase publishes the latency phase's messages one at a time,
// -interval apart, then waits for their deliveries.
func (f *fanout) latencyPhase(ctx context.Context, r *SSEReport) {
	p := &r.Phases[phaseLatency]
	p.Name = phaseNames[phaseLatency]
	cpu0 := f.cpuSample()
	var mu sync.Mutex
	var lat []time.Duration
	errs := Errors{}
	start := time.Now()
	rd := phaseRound{lo: 0, hi: f.o.Messages, firstSend: f.since()}
	for i := range f.o.Messages {
		if ctx.Err() != nil {
			break
		}
		at := start.Add(time.Duration(i) * f.o.Interval)
		if d := time.Until(at); d > 0 {
			sleepCtx(ctx, d)
		}
		f.publishOne(ctx, []int{i}, &lat, errs, &p.PublishErrorSamples, &mu)
		p.Messages++
	}
	rd.lastPublished = f.since()
	p.rounds = append(p.rounds, rd)
	f.drain(ctx, phaseLatency)
	f.cpuDone(cpu0, p)
	p.PublishRequests = latencyOf("publish request", lat, errs.total())
	p.PublishErrors = errs
}

// throughputPhase publishes -bursts bursts of -burst messages from
// -publishers goroutines, -batch a request; after each burst it waits for
// its deliveries.
func (f *fanout) throughputPhase(ctx context.Context, r *SSEReport) {
	p := &r.Phases[phaseThroughput]
	p.Name = phaseNames[phaseThroughput]
	cpu0 := f.cpuSample()
	var mu sync.Mutex
	var lat []time.Duration
	errs := Errors{}
	for b := range f.o.Bursts {
		if ctx.Err() != nil {
			break
		}
		lo := f.o.Messages + b*f.o.Burst
		rd := phaseRound{lo: lo, hi: lo + f.o.Burst, firstSend: f.since()}
		var next atomic.Int64
		next.Store(int64(rd.lo))
		var wg sync.WaitGroup
		for range f.o.Publishers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					i := int(next.Add(int64(f.o.Batch))) - f.o.Batch
					if i >= rd.hi {
						return
					}
					var idxs []int
					for k := i; k < min(i+f.o.Batch, rd.hi); k++ {
						idxs = append(idxs, k)
					}
					f.publishOne(ctx, idxs, &lat, errs, &p.PublishErrorSamples, &mu)
				}
			}()
		}
		wg.Wait()
		p.Messages += min(int(next.Load()), rd.hi) - rd.lo
		rd.lastPublished = f.since()
		p.rounds = append(p.rounds, rd)
		f.drain(ctx, phaseThroughput)
	}
	f.cpuDone(cpu0, p)
	p.PublishRequests = latencyOf("publish request", lat, errs.total())
	p.PublishErrors = errs
}

// drain waits until every client still connected has every message of
// phase p the server accepted, or -drain has passed with no progress.
func (f *fanout) drain(ctx context.Context, p int) {
	want := f.published[p].Load()
	lastProgress, lastTotal := time.Now(), int64(-1)
	for ctx.Err() == nil {
		var total int64
		done := true
		for _, c := range f.clients {
			n := c.got[p].Load()
			total += n
			if c.state.Load() == clientConnected && n < want {
				done = false
			}
		}
		if done {
			return
		}
		if total != lastTotal {
			lastTotal, lastProgress = total, time.Now()
		} else if time.Since(lastProgress) > f.o.Drain {
			return
		}
		sleepCtx(ctx, 20*time.Millisecond)
	}
}

// cpu is a sample of the CPU time of the server and of this process.
type cpu struct {
	at             time.Time
	server, loadgn time.Duration
}

func (f *fanout) cpuSample() cpu {
	s := cpu{at: time.Now(), loadgn: selfCPU()}
	if f.o.ServerPID > 0 {
		s.server, _ = procCPU(f.o.ServerPID)
	}
	return s
}

func (f *fanout) cpuDone(c0 cpu, p *SSEPhase) {
	c1 := f.cpuSample()
	if f.o.ServerPID > 0 {
		p.ServerCPUSeconds = (c1.server - c0.server).Seconds()
	}
	p.LoadgenCPUSeconds = (c1.loadgn - c0.loadgn).Seconds()
	p.CPUWindowSeconds = c1.at.Sub(c0.at).Seconds()
}

// summarize fills the phases' delivery figures from the clients, once
// they have all ended.
func (f *fanout) summarize(r *SSEReport) {
	alive := 0
	r.Dropped = Errors{}
	for _, c := range f.clients {
		switch c.state.Load() {
		case clientConnected:
			alive++
		case clientEnded:
			r.Dropped[c.failure]++
		}
		r.Frames += c.frames
		r.Keepalives += c.comments
		r.UnknownFrames += c.unknown
		r.BytesReceived += c.bytes
	}
	for p := range nPhases {
		ph := &r.Phases[p]
		if ph.Name == "" {
			continue
		}
		var lat []time.Duration
		lastRecv := make([]int64, len(ph.rounds))
		slowest := map[int32]int64{}
		for _, c := range f.clients {
			for _, rc := range c.receipts {
				if f.phaseOf(int(rc.idx)) != p {
					continue
				}
				lat = append(lat, time.Duration(rc.lat))
				if rc.lat > slowest[rc.idx] {
					slowest[rc.idx] = rc.lat
				}
				for k, rd := range ph.rounds {
					if int(rc.idx) >= rd.lo && int(rc.idx) < rd.hi {
						lastRecv[k] = max(lastRecv[k], f.sentAt[rc.idx].Load()+rc.lat)
					}
				}
			}
			ph.Duplicates += c.dups[p]
		}
		ph.Published = int(f.published[p].Load())
		ph.ClientsAtEnd = alive
		ph.Expected = int64(ph.Published) * int64(alive)
		ph.Delivered = int64(len(lat))
		ph.Latency = latencyOf("publish → received", lat, 0)
		var sl []time.Duration
		for _, d := range slowest {
			sl = append(sl, time.Duration(d))
		}
		ph.SlowestClient = latencyOf("slowest client of a message", sl, 0)
		// Each round (burst) counts from its first publish to its last
		// receipt; the gaps between rounds (draining, pacing) do not.
		var wall, pubWall time.Duration
		for k, rd := range ph.rounds {
			if lastRecv[k] > rd.firstSend {
				wall += time.Duration(lastRecv[k] - rd.firstSend)
			}
			pubWall += time.Duration(rd.lastPublished - rd.firstSend)
		}
		if wall > 0 {
			ph.WallSeconds = wall.Seconds()
			ph.DeliveredPerSecond = float64(ph.Delivered) / ph.WallSeconds
		}
		if pubWall > 0 {
			ph.PublishWallSeconds = pubWall.Seconds()
			ph.PublishedPerSecond = float64(ph.Published) / ph.PublishWallSeconds
		}
		ph.Rounds = len(ph.rounds)
		if ph.Delivered > 0 && ph.ServerCPUSeconds > 0 {
			ph.ServerCPUMicrosPerDelivery = ph.ServerCPUSeconds * 1e6 / float64(ph.Delivered)
		}
	}
}

// publishErrKind names a publish error for the report.
func publishErrKind(err error) string {
	var pe *publishError
	if errors.As(err, &pe) {
		return pe.kind
	}
	return errKind(err)
}

// publishError is a publish the server answered but did not accept.
type publishError struct {
	kind, msg string
}

func (e *publishError) Error() string { return e.msg }

// raiseNoFile raises this process's soft limit of open files to its hard
// limit, and fails if that is below need.
func raiseNoFile(need int) (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("loadgen sse: getrlimit: %w", err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return 0, fmt.Errorf("loadgen sse: setrlimit NOFILE %d: %w", lim.Max, err)
		}
	}
	if lim.Cur < uint64(need) {
		return lim.Cur, fmt.Errorf("loadgen sse: %d clients need about %d open files, the hard limit is %d (raise it: ulimit -Hn, or LimitNOFILE)", need-256, need, lim.Cur)
	}
	return lim.Cur, nil
}

// readRSS reads VmRSS of pid, in kB.
func readRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("loadgen sse: -server-pid: %w", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			v = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB"))
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("loadgen sse: no VmRSS in /proc/%d/status", pid)
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on
// every Linux architecture Go runs on.
const clockTicks = 100

// procCPU is the user+system CPU time of pid (its threads included).
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("bad /proc stat")
	}
	fields := strings.Fields(s[i+1:])
	// fields[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(fields) < 13 {
		return 0, errors.New("short /proc stat")
	}
	ut, err1 := strconv.ParseInt(fields[11], 10, 64)
	st, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("bad /proc stat times")
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
