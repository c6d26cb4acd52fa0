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

// reloadGrace is how long a SIGINT or SIGTERM waits for a reload under way
// to stop.
const reloadGrace = time.Second

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
	// Signals first: a SIGHUP's default is to kill the process, and one
	// that comes while the config loads must wait for its turn instead.
	sigs := watchSignals()
	defer sigs.stop()
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
	return r.run(sigs)
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
	wg    sync.WaitGroup
	// retired ends when the host has closed: setups a reload replaced
	// close by then, even if a call never returns.
	retired context.Context
	// closing: the host is closing, and a reload that ends now must not
	// swap; under mu.
	closing bool
}

func (r *runner) loaderOptions() *host.LoaderOptions {
	o := loaderOptions(r.opts.cacheDir)
	o.Logger = r.logger
	return o
}

func (r *runner) run(sigs *signals) int {
	// ctx ends with the first SIGINT or SIGTERM: loading, starting and
	// reloading stop there.
	ctx, quit := context.WithCancel(context.Background())
	defer quit()
	go func() {
		select {
		case <-sigs.quit:
			quit()
		case <-ctx.Done():
		}
	}()
	s, code := loadWith(ctx, r.opts.config, r.loaderOptions(), r.stderr)
	if s == nil {
		if sigs.quitting() {
			return exitOK
		}
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
	retired, endRetired := context.WithCancel(context.Background())
	defer endRetired()
	r.retired = retired

	var admin *adminServer
	if r.opts.admin != "" {
		if admin, err = startAdmin(r, r.opts.admin, r.opts.adminToken); err != nil {
			fmt.Fprintf(r.stderr, "wsplug run: %v\n", err) // such as the port in use
			s.Close(ctx)
			return exitInput
		}
		r.logger.Info("admin API listening", "addr", admin.addr())
	}

	r.forward()
	sctx, cancel := context.WithTimeout(ctx, r.opts.startupWait)
	if err := h.Start(sctx); err != nil && ctx.Err() == nil {
		r.logger.Error("some clients did not start", "err", err)
	}
	cancel()
	go r.readInput(ctx)
	r.serveSignals(ctx, sigs)

	cctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	r.mu.Lock()
	r.closing = true
	setup := r.setup
	r.mu.Unlock()
	if admin != nil {
		admin.close(cctx)
	}
	err = h.Close(cctx)
	endRetired()
	r.wg.Wait()
	if err2 := setup.Close(cctx); err == nil {
		err = err2
	}
	if err != nil {
		r.logger.Error("close", "err", err)
		return exitInput
	}
	return exitOK
}

// serveSignals reloads on SIGHUP until SIGINT or SIGTERM. A reload runs
// beside the loop, so that a SIGTERM during one is answered at once (it
// cancels the reload); a SIGHUP during a reload makes one more after it,
// however many come.
func (r *runner) serveSignals(ctx context.Context, sigs *signals) {
	done := make(chan struct{}, 1) // a reload left behind can still end
	reloading, again := false, false
	reload := func() {
		reloading = true
		go func() {
			r.reload(ctx)
			done <- struct{}{}
		}()
	}
	for {
		select {
		case <-sigs.quit:
			r.logger.Info("closing", "signal", sigs.signal().String())
			if reloading {
				// ctx has ended, so the reload stops short, unless it is
				// stuck in a read; then it finds the host closing, later.
				select {
				case <-done:
				case <-time.After(reloadGrace):
					r.logger.Warn("closing without waiting for the reload")
				}
			}
			return
		case <-sigs.hup:
			if reloading {
				again = true
				r.logger.Info("SIGHUP during a reload: another follows it")
				continue
			}
			reload()
		case <-done:
			reloading = false
			if again {
				again = false
				reload()
			}
		}
	}
}

// reload loads the config again and moves the host to it; on any problem
// the host goes on as it was. The new clients connect in the background.
func (r *runner) reload(ctx context.Context) {
	r.logger.Info("reloading", "config", r.opts.config)
	r.mu.Lock()
	running := r.setup
	r.mu.Unlock()
	s, err := running.Next(ctx, r.opts.config, nil, r.loaderOptions())
	if err != nil {
		r.logger.Error("reload failed; keeping the running config", "err", err)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closing {
		s.Close(context.Background())
		return
	}
	if err := r.host.Reload(ctx, s); err != nil {
		// Nothing was swapped: the new setup was never used.
		r.logger.Error("reload failed; keeping the running config", "err", err)
		s.Close(context.Background())
		return
	}
	old := r.setup
	r.setup = s
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		old.Close(r.retired) // its plugins close as their last calls end
	}()
}

// forward writes what every client receives to stdout, the clients that
// reloads add included: the host's subscription, made before Start, sees
// each connection from its first message on.
func (r *runner) forward() {
	sub := r.host.Subscribe(host.Filter{Frames: host.AllFrames,
		Buffer: 4096 * max(1, len(r.host.Clients()))})
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for in := range sub.Messages() {
			r.out.write(outputLine(in))
		}
		if n := sub.Dropped(); n > 0 {
			r.logger.Warn("messages dropped because stdout was slow", "dropped", n)
		}
	}()
}

// signals turns the process's signals into what run waits for: quit is
// closed by the first SIGINT or SIGTERM, and hup holds one pending SIGHUP,
// into which those that come while it waits merge.
type signals struct {
	ch   chan os.Signal
	quit chan struct{}
	hup  chan struct{}
	end  chan struct{}
	done chan struct{}
	sig  os.Signal // the one that closed quit
}

func watchSignals() *signals {
	s := &signals{ch: make(chan os.Signal, 8), quit: make(chan struct{}),
		hup: make(chan struct{}, 1), end: make(chan struct{}), done: make(chan struct{})}
	signal.Notify(s.ch, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go s.loop()
	return s
}

func (s *signals) loop() {
	defer close(s.done)
	for {
		select {
		case sig := <-s.ch:
			if sig == syscall.SIGHUP {
				select {
				case s.hup <- struct{}{}:
				default: // one is pending already
				}
				continue
			}
			if !s.quitting() {
				s.sig = sig
				close(s.quit)
			}
		case <-s.end:
			return
		}
	}
}

func (s *signals) quitting() bool {
	select {
	case <-s.quit:
		return true
	default:
		return false
	}
}

// signal is the signal that asked to quit; call it once quit is closed.
func (s *signals) signal() os.Signal { return s.sig }

// stop restores the signals' default handling.
func (s *signals) stop() {
	signal.Stop(s.ch)
	close(s.end)
	<-s.done
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
