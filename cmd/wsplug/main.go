// Command wsplug runs websocket API clients described in a YAML file and
// extended by WebAssembly plugins.
//
//	wsplug run [FILE]            run the clients: messages out on stdout, in on stdin
//	                             (FILE, or -c FILE, or $WSPLUG_CONFIG)
//	wsplug validate FILE         check a config file, report every problem
//	wsplug resolve FILE [API]    print each websocket client's URL and headers
//	wsplug plugin inspect FILE   what the host makes of a plugin module
//	wsplug plugin hash FILE...   the sha256 to pin a plugin with
//	wsplug demo                  a ComfyUI prompt against a server in this process
//
// Exit codes: 0 success, 1 the input is wrong, 2 usage.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// Exit codes.
const (
	exitOK    = 0
	exitInput = 1
	exitUsage = 2
)

// command is one subcommand.
type command struct {
	name, args, summary string
	// run runs the command with its flag set, on which it defines its flags.
	run func(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) int
}

var commands = []command{
	{"run", "[FILE]", "run the config's clients: messages out on stdout, in on stdin", runRun},
	{"validate", "FILE", "check a config file and report every problem in it", runValidate},
	{"resolve", "FILE [API]", "print each websocket client's final URL and headers", runResolve},
	{"plugin", "inspect|hash FILE", "what the host makes of a plugin; its sha256", runPlugin},
	{"demo", "", "a ComfyUI prompt run to completion against a server in this process", runDemo},
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return exitOK
	}
	for i := range commands {
		if c := &commands[i]; c.name == args[0] {
			return c.run(c.flags(stderr), args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "wsplug: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: wsplug COMMAND [flags] ARGS")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-26s %s\n", c.name+" "+c.args, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'wsplug COMMAND --help' for a command's flags.")
	fmt.Fprintln(w, "Exit codes: 0 success, 1 the input is wrong, 2 usage.")
}

// flags makes the command's flag set. Its errors go to stderr; its usage
// goes to the flag set's output, which parse points at stdout for --help.
func (c *command) flags(stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: wsplug %s [flags] %s\n\n%s.\n",
			c.name, c.args, capitalize(c.summary))
		var b strings.Builder
		fs.SetOutput(&b)
		fs.PrintDefaults()
		fs.SetOutput(w)
		if b.Len() > 0 {
			fmt.Fprintf(w, "\nFlags:\n%s", b.String())
		}
	}
	return fs
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// parse parses flags that may come before, between or after the positional
// arguments, and returns the positional ones, of which there must be min to
// max (max < 0: no limit). It returns a non-negative exit code when the
// command must stop: help asked for, printed on stdout, or a usage error,
// told on the flag set's output (stderr).
func parse(fs *flag.FlagSet, args []string, stdout io.Writer, min, max int) ([]string, int) {
	usage := fs.Usage
	fs.Usage = func() {} // printed here, where it is known who asked
	defer func() { fs.Usage = usage }()
	stderr := fs.Output()
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(stdout)
				usage()
				fs.SetOutput(stderr)
				return nil, exitOK
			}
			usage()
			return nil, exitUsage
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) < min || max >= 0 && len(pos) > max {
		fmt.Fprintf(stderr, "wsplug %s: expected %s\n", fs.Name(), argCount(min, max))
		usage()
		return nil, exitUsage
	}
	return pos, -1
}

func argCount(min, max int) string {
	switch {
	case max < 0:
		return fmt.Sprintf("at least %d %s", min, plural(min, "argument", "arguments"))
	case max == 0:
		return "no arguments"
	case min == 0:
		return fmt.Sprintf("at most %d %s", max, plural(max, "argument", "arguments"))
	case min == max:
		return fmt.Sprintf("%d %s", min, plural(min, "argument", "arguments"))
	}
	return fmt.Sprintf("%d to %d arguments", min, max)
}
