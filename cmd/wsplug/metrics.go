package main

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/wsplug/wsplug/host"
)

// The admin API's GET /metrics writes Prometheus's text exposition format
// (version 0.0.4) itself. The format is a few line shapes, and writing them
// here keeps client_golang, its protobuf code and five other modules out of
// the program: they were a fifth of what a first build of wsplug compiled.
// The tests read the output with Prometheus's own parser.

// kind is a metric family's TYPE.
type kind string

const (
	counter kind = "counter"
	gauge   kind = "gauge"
	summary kind = "summary" // written as NAME_sum and NAME_count
)

// family is one metric: its name, help, type, and the label its samples
// are told apart by.
type family struct {
	name, help, label string
	kind              kind
}

var (
	// clientFamilies are in the order of clientCounts, then the gauges.
	clientFamilies = []family{
		{"wsplug_client_connects_total", "Connections opened.", "api", counter},
		{"wsplug_client_reconnects_total", "Connections opened after the first.", "api", counter},
		{"wsplug_messages_received_total", "Messages received from the server.", "api", counter},
		{"wsplug_messages_sent_total", "Messages written to the server.", "api", counter},
		{"wsplug_received_bytes_total", "Bytes of messages received.", "api", counter},
		{"wsplug_sent_bytes_total", "Bytes of messages written.", "api", counter},
		{"wsplug_send_errors_total", "Sends that ended in an error.", "api", counter},
		{"wsplug_transform_errors_total", "Transform calls that failed.", "api", counter},
		{"wsplug_subscriber_drops_total", "Messages a slow subscriber lost.", "api", counter},
		{"wsplug_client_connected",
			"Whether the client's connection is open (1) or not (0).", "api", gauge},
		{"wsplug_send_queue_length", "Messages waiting to be written.", "api", gauge},
	}
	// pluginFamilies: calls, failures, the timed calls' summary (two
	// values: count and seconds), instances.
	pluginFamilies = []family{
		{"wsplug_plugin_calls_total", "Calls into the plugin.", "plugin", counter},
		{"wsplug_plugin_errors_total",
			"Plugin calls that failed: an error, a trap, a timeout.", "plugin", counter},
		{"wsplug_plugin_call_seconds",
			"Time in plugin calls, of the calls timed: one in 16 of each instance's calls.",
			"plugin", summary},
		{"wsplug_plugin_instances", "Instances of the plugin that exist.", "plugin", gauge},
	}
)

// collector serves the host's counters as Prometheus metrics, read at each
// scrape: the host keeps plain counters and knows nothing of Prometheus. A
// reload can replace a client or a plugin with a new one whose counts start
// at zero; the collector adds what the ones before it under that name
// counted, so that every exported counter only grows.
type collector struct {
	h *host.Host

	mu      sync.Mutex // one scrape at a time, for the totals
	clients totals
	plugins totals
}

func newCollector(h *host.Host) *collector {
	return &collector{h: h, clients: totals{}, plugins: totals{}}
}

// sample is one labelled row of values, in the order of its families.
type sample struct {
	label  string
	values []float64
}

func (c *collector) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	clients, plugins := c.scrape()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	b := bufio.NewWriter(w)
	writeFamilies(b, clientFamilies, clients)
	writeFamilies(b, pluginFamilies, plugins)
	b.Flush()
}

// scrape reads every client's and plugin's counts, the totals added.
func (c *collector) scrape() (clients, plugins []sample) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cl := range c.h.Clients() {
		s := cl.Stats()
		read := func() []float64 { return clientCounts(cl.Stats()) }
		v := c.clients.add(s.Name, cl, clientCounts(s), read)
		connected := 0.0
		if s.State == host.StateConnected {
			connected = 1
		}
		clients = append(clients, sample{s.Name, append(v, connected, float64(s.QueueLength))})
	}
	for _, p := range c.h.Setup().Plugins {
		s := p.Stats()
		read := func() []float64 { return pluginCounts(p.Stats()) }
		v := c.plugins.add(s.Name, p, pluginCounts(s), read)
		plugins = append(plugins, sample{s.Name, append(v, float64(s.Instances))})
	}
	return clients, plugins
}

// clientCounts are a client's counters, in the order of clientFamilies.
func clientCounts(s host.ClientStats) []float64 {
	return []float64{
		float64(s.Connects), float64(s.Reconnects), float64(s.MessagesIn), float64(s.MessagesOut),
		float64(s.BytesIn), float64(s.BytesOut), float64(s.SendErrors), float64(s.TransformErrors),
		float64(s.SubscriberDrops),
	}
}

// pluginCounts are a plugin's calls, failures, timed calls and their
// seconds: the counters of pluginFamilies.
func pluginCounts(s host.PluginStats) []float64 {
	return []float64{
		float64(s.Calls), float64(s.Failures), float64(s.TimedCalls), s.TimedCallTime.Seconds(),
	}
}

// writeFamilies writes each family with one row per sample: a family's
// lines must stand together, so it goes family by family. A summary takes
// two values of a row, its count and then its sum.
func writeFamilies(b *bufio.Writer, families []family, samples []sample) {
	col := 0
	for _, f := range families {
		b.WriteString("# HELP " + f.name + " " + escapeHelp(f.help) + "\n")
		b.WriteString("# TYPE " + f.name + " " + string(f.kind) + "\n")
		for _, s := range samples {
			labels := "{" + f.label + `="` + escapeLabel(s.label) + `"}`
			if f.kind == summary {
				writeSample(b, f.name+"_count", labels, s.values[col])
				writeSample(b, f.name+"_sum", labels, s.values[col+1])
			} else {
				writeSample(b, f.name, labels, s.values[col])
			}
		}
		col++
		if f.kind == summary {
			col++
		}
	}
}

func writeSample(b *bufio.Writer, name, labels string, v float64) {
	b.WriteString(name)
	b.WriteString(labels)
	b.WriteByte(' ')
	b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
	b.WriteByte('\n')
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

func escapeHelp(s string) string  { return helpEscaper.Replace(s) }
func escapeLabel(s string) string { return labelEscaper.Replace(s) }

// totals are the counts of the objects that counted under each name
// before the one that counts now.
type totals map[string]*total

type total struct {
	owner any              // the *host.Client or *host.Plugin counting now
	read  func() []float64 // its counts
	base  []float64        // what its predecessors counted
}

// add returns now, the counts of owner under name, plus what the owners
// before it counted. read reads owner's counts later, when it is replaced.
func (t totals) add(name string, owner any, now []float64, read func() []float64) []float64 {
	e := t[name]
	switch {
	case e == nil:
		e = &total{base: make([]float64, len(now))}
		t[name] = e
	case e.owner != owner:
		// Replaced: all the old owner counted, up to now, joins the base.
		for i, v := range e.read() {
			e.base[i] += v
		}
	}
	e.owner, e.read = owner, read
	out := make([]float64, len(now))
	for i := range now {
		out[i] = now[i] + e.base[i]
	}
	return out
}
