package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// SSEReport is the outcome of one `onramp loadgen sse` run (the -json
// output).
type SSEReport struct {
	RunID         string `json:"run_id"`
	Label         string `json:"label,omitempty"`
	Target        string `json:"target"`
	URL           string `json:"url"`
	N             int    `json:"n"`
	OpenFileLimit uint64 `json:"open_file_limit"`

	Connect SSEConnect `json:"connect"`
	Memory  SSEMemory  `json:"memory"`
	// Idle: the server's CPU while the clients are connected and nothing
	// is published (the memory sample's -settle, and -hold).
	Idle SSEIdle `json:"idle"`
	// Phases: latency (paced), then throughput (flat out).
	Phases [nPhases]SSEPhase `json:"phases"`

	// Dropped counts the streams that ended before the run closed them, by
	// cause.
	Dropped       Errors   `json:"dropped"`
	Frames        int      `json:"frames"`         // events received, all clients
	Keepalives    int      `json:"keepalives"`     // comment lines received
	UnknownFrames int      `json:"unknown_frames"` // events with no message ID of this run
	BytesReceived int64    `json:"bytes_received"` // stream bytes after the headers (dechunked)
	Notes         []string `json:"notes"`
}

// SSEConnect is the connection phase.
type SSEConnect struct {
	Attempted   int     `json:"attempted"`
	Connected   int     `json:"connected"` // got their first frame (ready / connect reply)
	Errors      Errors  `json:"errors"`
	WallSeconds float64 `json:"wall_seconds"`
	PerSecond   float64 `json:"per_second"`
	// FirstFrame: from the start of the request to the frame that says
	// the stream is connected.
	FirstFrame Latency `json:"first_frame"`
	// HeldAfterIdle and HeldAtEnd: streams still open after the idle wait
	// (memory sample and -hold), and at the end of the last phase.
	HeldAfterIdle int `json:"held_after_idle"`
	HeldAtEnd     int `json:"held_at_end"`
}

// SSEMemory is the server's resident memory without and with the idle
// clients (VmRSS of /proc/<pid>/status, each after -settle).
type SSEMemory struct {
	ServerPID        int     `json:"server_pid,omitempty"`
	RSSBeforeKB      int64   `json:"rss_before_kb"`
	RSSWithClientsKB int64   `json:"rss_with_clients_kb"`
	Clients          int     `json:"clients"`
	KBPerConnection  float64 `json:"kb_per_connection"`
}

// SSEIdle is the server's CPU time over the idle window.
type SSEIdle struct {
	WindowSeconds    float64 `json:"window_seconds"`
	ServerCPUSeconds float64 `json:"server_cpu_seconds"`
	ServerCores      float64 `json:"server_cores"` // CPU seconds per second
}

// SSEPhase is one publishing phase.
type SSEPhase struct {
	Name                string   `json:"name"`
	Messages            int      `json:"messages"`  // attempted
	Published           int      `json:"published"` // accepted by the server
	PublishErrors       Errors   `json:"publish_errors"`
	PublishErrorSamples []string `json:"publish_error_samples,omitempty"`
	// PublishRequests: the round trip of each publish request.
	PublishRequests Latency `json:"publish_requests"`
	// ClientsAtEnd: streams open at the end of the run; Expected is
	// Published × ClientsAtEnd.
	ClientsAtEnd int   `json:"clients_at_end"`
	Expected     int64 `json:"expected"`
	Delivered    int64 `json:"delivered"`
	Duplicates   int   `json:"duplicates"`
	// Latency: from the start of the publish request to the receipt, over
	// every delivery; SlowestClient: per message, its last receipt.
	Latency       Latency `json:"latency"`
	SlowestClient Latency `json:"slowest_client"`
	// WallSeconds: from the first publish to the last receipt, summed
	// over the rounds (bursts); PublishWallSeconds likewise to the last
	// publish's answer.
	WallSeconds        float64 `json:"wall_seconds"`
	DeliveredPerSecond float64 `json:"delivered_per_second"`
	PublishWallSeconds float64 `json:"publish_wall_seconds"`
	PublishedPerSecond float64 `json:"published_per_second"`
	// CPU time over the phase (publishing and draining): the server
	// process (-server-pid) and this loadgen process.
	CPUWindowSeconds           float64 `json:"cpu_window_seconds"`
	ServerCPUSeconds           float64 `json:"server_cpu_seconds"`
	LoadgenCPUSeconds          float64 `json:"loadgen_cpu_seconds"`
	ServerCPUMicrosPerDelivery float64 `json:"server_cpu_us_per_delivery"`

	// Rounds: 1 for the latency phase, -bursts for the throughput phase.
	Rounds int `json:"rounds"`

	rounds []phaseRound
}

// phaseRound is one run of publishes of a phase: messages [lo, hi).
type phaseRound struct {
	lo, hi                   int
	firstSend, lastPublished int64 // ns since the run's base
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// WriteTable writes the report for people.
func (r *SSEReport) WriteTable(w io.Writer) {
	label := ""
	if r.Label != "" {
		label = " (" + r.Label + ")"
	}
	fmt.Fprintf(w, "\nonramp loadgen sse — run %s%s: %s at %s, n=%d (open-file limit %d)\n", r.RunID, label, r.Target, r.URL, r.N, r.OpenFileLimit)
	c := r.Connect
	fmt.Fprintf(w, "Connections: %d/%d connected in %.1fs (%.0f/s), first frame p50 %.1f ms p99 %.1f ms; failed: %s\n",
		c.Connected, c.Attempted, c.WallSeconds, c.PerSecond, c.FirstFrame.P50ms, c.FirstFrame.P99ms, c.Errors)
	fmt.Fprintf(w, "  held idle: %d; held at the end: %d; dropped: %s\n", c.HeldAfterIdle, c.HeldAtEnd, r.Dropped)
	if m := r.Memory; m.ServerPID > 0 {
		fmt.Fprintf(w, "Server memory (pid %d): RSS %d kB before, %d kB with %d idle clients: %.1f kB per connection\n",
			m.ServerPID, m.RSSBeforeKB, m.RSSWithClientsKB, m.Clients, m.KBPerConnection)
	}
	if r.Idle.WindowSeconds > 0 {
		fmt.Fprintf(w, "Server CPU while idle: %.2fs over %.1fs (%.3f cores)\n", r.Idle.ServerCPUSeconds, r.Idle.WindowSeconds, r.Idle.ServerCores)
	}
	for _, p := range r.Phases {
		if p.Name == "" {
			continue
		}
		fmt.Fprintf(w, "Phase %s: %d/%d messages published (errors: %s), publish request p50 %.1f ms p99 %.1f ms\n",
			p.Name, p.Published, p.Messages, p.PublishErrors, p.PublishRequests.P50ms, p.PublishRequests.P99ms)
		for _, s := range p.PublishErrorSamples {
			fmt.Fprintln(w, "  publish error:", s)
		}
		fmt.Fprintf(w, "  delivered %d/%d (%d clients at the end), duplicates %d\n", p.Delivered, p.Expected, p.ClientsAtEnd, p.Duplicates)
		fmt.Fprintf(w, "  publish → received: p50 %.1f ms, p99 %.1f ms, max %.1f ms; slowest client of a message: p50 %.1f ms, max %.1f ms\n",
			p.Latency.P50ms, p.Latency.P99ms, p.Latency.MaxMs, p.SlowestClient.P50ms, p.SlowestClient.MaxMs)
		fmt.Fprintf(w, "  %.0f notifications/s delivered (%.2fs first publish → last receipt, over %d round(s)); %.1f messages/s published\n",
			p.DeliveredPerSecond, p.WallSeconds, p.Rounds, p.PublishedPerSecond)
		if p.ServerCPUSeconds > 0 || p.LoadgenCPUSeconds > 0 {
			fmt.Fprintf(w, "  CPU over %.1fs: server %.2fs (%.1f µs per delivery), loadgen %.2fs\n",
				p.CPUWindowSeconds, p.ServerCPUSeconds, p.ServerCPUMicrosPerDelivery, p.LoadgenCPUSeconds)
		}
	}
	fmt.Fprintf(w, "Frames %d, keep-alive comments %d, frames without a message of this run %d, %d bytes\n",
		r.Frames, r.Keepalives, r.UnknownFrames, r.BytesReceived)
	for _, n := range r.Notes {
		fmt.Fprintln(w, "  note:", n)
	}
}

// ResultLine sums up the run in one line of key=value pairs, for scripts.
func (r *SSEReport) ResultLine() string {
	var b strings.Builder
	kv := func(k string, v any) {
		switch v := v.(type) {
		case float64:
			fmt.Fprintf(&b, " %s=%.2f", k, v)
		default:
			fmt.Fprintf(&b, " %s=%v", k, v)
		}
	}
	b.WriteString("RESULT")
	label := r.Label
	if label == "" {
		label = "-"
	}
	kv("label", label)
	kv("target", r.Target)
	kv("n", r.N)
	kv("connected", r.Connect.Connected)
	kv("held_idle", r.Connect.HeldAfterIdle)
	kv("held_end", r.Connect.HeldAtEnd)
	kv("connect_s", r.Connect.WallSeconds)
	kv("rss_before_kb", r.Memory.RSSBeforeKB)
	kv("rss_clients_kb", r.Memory.RSSWithClientsKB)
	kv("kb_per_conn", r.Memory.KBPerConnection)
	kv("idle_server_cores", r.Idle.ServerCores)
	for _, p := range r.Phases {
		if p.Name == "" {
			continue
		}
		pre := p.Name[:3] + "_" // lat_, thr_
		kv(pre+"published", p.Published)
		kv(pre+"delivered", p.Delivered)
		kv(pre+"expected", p.Expected)
		kv(pre+"p50_ms", p.Latency.P50ms)
		kv(pre+"p99_ms", p.Latency.P99ms)
		kv(pre+"delivered_per_s", p.DeliveredPerSecond)
		kv(pre+"published_per_s", p.PublishedPerSecond)
		kv(pre+"server_cpu_s", p.ServerCPUSeconds)
		kv(pre+"server_us_per_delivery", p.ServerCPUMicrosPerDelivery)
	}
	return b.String()
}
