package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wsplug/wsplug/host"
)

// configEnv names the config file when the command line does not.
const configEnv = "WSPLUG_CONFIG"

// closeTimeout bounds the graceful close on SIGINT and SIGTERM.
const closeTimeout = 10 * time.Second

// runOptions are the flags of wsplug run.
type runOptions struct {
	config      string
	logFormat   string
	logLevel    string
	admin       string
	adminToken  string
	cacheDir    string
	startupWait time.Duration
}

func runRun(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) int {
	var o runOptions
	fs.StringVar(&o.config, "c", "", "config file, instead of FILE (default $"+configEnv+")")
	fs.StringVar(&o.logFormat, "log-format", "text", "log format on stderr: text or json")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&o.admin, "admin", "",
		"serve the admin API on this address, such as 127.0.0.1:7070")
	fs.StringVar(&o.adminToken, "admin-token", "",
		"bearer token the admin API requires; needed off loopback")
	fs.StringVar(&o.cacheDir, "cache-dir", "", cacheDirUsage)
	fs.DurationVar(&o.startupWait, "startup-wait", 30*time.Second,
		"how long to wait for the clients to connect at start")
	pos, code := parse(fs, args, stdout, 0, 1)
	if code >= 0 {
		return code
	}
	if o.config, code = configPath(o.config, pos, stderr); code >= 0 {
		return code
	}
	if o.admin != "" {
		if err := checkAdminAddr(o.admin, o.adminToken); err != nil {
			fmt.Fprintf(stderr, "wsplug run: %v\n", err)
			return exitUsage
		}
	}
	logger, err := newLogger(stderr, o.logFormat, o.logLevel)
	if err != nil {
		fmt.Fprintf(stderr, "wsplug run: %v\n", err)
		return exitUsage
	}
	r := &runner{opts: o, logger: logger, stdin: os.Stdin, stdout: stdout, stderr: stderr}
	return r.run()
}

// configPath chooses the config file: FILE or -c FILE, which are one too
// many together, else $WSPLUG_CONFIG. It returns a non-negative exit code
// when there is none to choose.
func configPath(flagValue string, pos []string, stderr io.Writer) (string, int) {
	switch {
	case len(pos) == 1 && flagValue != "":
		fmt.Fprintf(stderr, "wsplug run: two config files, -c %s and %s: give one\n",
			flagValue, pos[0])
		return "", exitUsage
	case len(pos) == 1:
		return pos[0], -1
	case flagValue != "":
		return flagValue, -1
	case os.Getenv(configEnv) != "":
		return os.Getenv(configEnv), -1
	}
	fmt.Fprintf(stderr, "wsplug run: no config file: give FILE or -c FILE, or set %s\n", configEnv)
	return "", exitUsage
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

// runner is one wsplug run: a host, its output, its input, its signals.
type runner struct {
	opts   runOptions
	logger *slog.Logger
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer

	mu    sync.Mutex
	host  *host.Host
	setup *host.Setup
	out   *lineWriter
	subs  map[*host.Client]bool // clients whose messages go to stdout
	wg    sync.WaitGroup
}

func (r *runner) loaderOptions() *host.LoaderOptions {
	o := loaderOptions(r.opts.cacheDir)
	o.Logger = r.logger
	return o
}

func (r *runner) run() int {
	ctx := context.Background()
	s, code := loadWith(ctx, r.opts.config, r.loaderOptions(), r.stderr)
	if s == nil {
		return code
	}
	h, err := host.New(s, &host.Options{Logger: r.logger})
	if err != nil {
		fmt.Fprintf(r.stderr, "wsplug run: %v\n", err)
		s.Close(ctx)
		return exitInput
	}
	r.host, r.setup = h, s
	r.out = &lineWriter{w: r.stdout}
	r.subs = map[*host.Client]bool{}

	var admin *adminServer
	if r.opts.admin != "" {
		if admin, err = startAdmin(r, r.opts.admin, r.opts.adminToken); err != nil {
			fmt.Fprintf(r.stderr, "wsplug run: %v\n", err) // such as the port in use
			s.Close(ctx)
			return exitInput
		}
		r.logger.Info("admin API listening", "addr", admin.addr())
	}

	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(signals)

	r.forward()
	sctx, cancel := context.WithTimeout(ctx, r.opts.startupWait)
	if err := h.Start(sctx); err != nil {
		r.logger.Error("some clients did not start", "err", err)
	}
	cancel()
	go r.readInput(ctx)

	for sig := range signals {
		if sig == syscall.SIGHUP {
			r.reload(ctx)
			continue
		}
		r.logger.Info("closing", "signal", sig.String())
		break
	}
	cctx, cancel := context.WithTimeout(ctx, closeTimeout)
	defer cancel()
	if admin != nil {
		admin.close(cctx)
	}
	err = h.Close(cctx)
	r.wg.Wait()
	r.mu.Lock()
	setup := r.setup
	r.mu.Unlock()
	if err2 := setup.Close(cctx); err == nil {
		err = err2
	}
	if err != nil {
		r.logger.Error("close", "err", err)
		return exitInput
	}
	return exitOK
}

// reload loads the config again and moves the host to it; on any problem
// the host goes on as it was.
func (r *runner) reload(ctx context.Context) {
	r.logger.Info("reloading", "config", r.opts.config)
	s, err := host.LoadConfig(ctx, r.opts.config, nil, r.loaderOptions())
	if err != nil {
		r.logger.Error("reload failed; keeping the running config", "err", err)
		return
	}
	if err := r.host.Reload(ctx, s); err != nil {
		r.logger.Error("reload failed", "err", err)
		s.Close(ctx)
		return
	}
	r.mu.Lock()
	old := r.setup
	r.setup = s
	r.mu.Unlock()
	r.forward()
	go old.Close(ctx) // its plugins close as their last calls end
}

// forward subscribes to every client not yet forwarded and writes what it
// receives to stdout.
func (r *runner) forward() {
	for _, c := range r.host.Clients() {
		r.mu.Lock()
		seen := r.subs[c]
		r.subs[c] = true
		r.mu.Unlock()
		if seen {
			continue
		}
		sub := c.Subscribe(host.Filter{Frames: host.AllFrames, Buffer: 4096})
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			for in := range sub.Messages() {
				r.out.write(outputLine(in))
			}
			if n := sub.Dropped(); n > 0 {
				r.logger.Warn("messages dropped because stdout was slow", "api", c.Name(), "dropped", n)
			}
		}()
	}
}

// output is one line of stdout: a message from a server.
type output struct {
	API  string          `json:"api"`
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
	At   time.Time       `json:"at"`
}

func outputLine(in *host.Inbound) []byte {
	o := output{API: in.API, Type: "text", At: in.At.UTC()}
	switch {
	case in.Binary:
		o.Type = "binary"
		o.Data, _ = json.Marshal(base64.StdEncoding.EncodeToString(in.Data))
	case json.Valid(in.Data):
		o.Data = in.Data
	default:
		o.Data, _ = json.Marshal(string(in.Data))
	}
	b, _ := json.Marshal(o)
	return append(b, '\n')
}

// lineWriter writes whole lines, one at a time.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) write(line []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.w.Write(line)
}

// input is one line of stdin: a message to send.
type input struct {
	API    string          `json:"api"`
	Data   json.RawMessage `json:"data"`
	Binary string          `json:"binary"` // base64, instead of data
	Vars   host.Vars       `json:"vars"`
}

// maxInputLine bounds one line of stdin.
const maxInputLine = 64 << 20

// readInput sends each line of stdin; a bad line is logged with its number
// and skipped. At the end of stdin the host keeps running.
func (r *runner) readInput(ctx context.Context) {
	sc := bufio.NewScanner(r.stdin)
	sc.Buffer(make([]byte, 64<<10), maxInputLine)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if err := r.send(ctx, []byte(line)); err != nil {
			r.logger.Error("stdin line not sent", "line", n, "err", err)
		}
	}
	if err := sc.Err(); err != nil {
		r.logger.Error("reading stdin", "err", err)
	}
}

func (r *runner) send(ctx context.Context, line []byte) error {
	var in input
	d := json.NewDecoder(strings.NewReader(string(line)))
	d.DisallowUnknownFields()
	if err := d.Decode(&in); err != nil {
		return fmt.Errorf(`want {"api": NAME, "data": MESSAGE}: %w`, err)
	}
	c, ok := r.host.Client(in.API)
	if !ok {
		return fmt.Errorf("no api %q", in.API)
	}
	if in.Binary != "" {
		b, err := base64.StdEncoding.DecodeString(in.Binary)
		if err != nil {
			return fmt.Errorf("binary: %w", err)
		}
		return c.SendBinary(ctx, b)
	}
	if len(in.Data) == 0 {
		return errors.New(`no "data"`)
	}
	var msg any = []byte(in.Data)
	var s string
	if json.Unmarshal(in.Data, &s) == nil {
		msg = s // a JSON string is sent as its text
	}
	return c.Send(ctx, msg, in.Vars)
}
