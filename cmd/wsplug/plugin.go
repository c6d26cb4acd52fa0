package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/wsplug/wsplug/host"
)

// runPlugin dispatches the plugin subcommands.
func runPlugin(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		w := stderr
		code := exitUsage
		if len(args) > 0 {
			w, code = stdout, exitOK
		}
		fmt.Fprintln(w, "Usage: wsplug plugin inspect FILE   "+
			"what the host makes of a module, and why it would refuse it")
		fmt.Fprintln(w, "       wsplug plugin hash FILE...   "+
			"the sha256 to pin it with in the config")
		return code
	}
	switch args[0] {
	case "inspect":
		return runInspect(args[1:], stdout, stderr)
	case "hash":
		return runHash(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "wsplug plugin: unknown command %q (inspect, hash)\n", args[0])
	return exitUsage
}

func runInspect(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("plugin inspect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: wsplug plugin inspect FILE\n\n"+
			"What the host makes of a WebAssembly module: its ABI version, what it provides,\n"+
			"its imports, size and sha256, and every reason it would be refused.\n"+
			"Exit 1 when it would be.")
	}
	pos, code := parse(fs, args, stdout, 1, 1)
	if code >= 0 {
		return code
	}
	r, err := host.Inspect(context.Background(), pos[0])
	if err != nil {
		fmt.Fprintf(stderr, "wsplug: %v\n", err)
		return exitInput
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	abi := r.ABI
	if abi == "" {
		abi = "none"
	}
	for _, row := range [][2]string{
		{"file", r.File}, {"size", humanSize(r.Size)}, {"sha256", r.SHA256}, {"abi", abi},
	} {
		fmt.Fprintf(tw, "%s\t%s\n", row[0], row[1])
	}
	list(tw, "provides", provided(r.Provides))
	list(tw, "imports", r.Imports)
	list(tw, "exports", r.Exports)
	if len(r.Problems) == 0 {
		fmt.Fprintf(tw, "verdict\tloads\n")
		return exitOK
	}
	fmt.Fprintf(tw, "verdict\trefused\n")
	list(tw, "because", r.Problems)
	return exitInput
}

// list prints items under a label, the label on the first only, or "-".
func list(w io.Writer, label string, items []string) {
	if len(items) == 0 {
		fmt.Fprintf(w, "%s\t-\n", label)
	}
	for i, it := range items {
		if i > 0 {
			label = ""
		}
		fmt.Fprintf(w, "%s\t%s\n", label, it)
	}
}

// provided lists what a plugin provides, one "kind name" each.
func provided(pv host.Provides) []string {
	var out []string
	for _, n := range pv.ClientIDs {
		out = append(out, "client_id "+n)
	}
	for _, ph := range pv.Placeholders {
		s := "placeholder " + ph.Name
		if ph.Secret {
			s += " (secret)"
		}
		out = append(out, s)
	}
	for _, n := range pv.Transforms {
		out = append(out, "transform "+n)
	}
	return out
}

func runHash(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("plugin hash", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: wsplug plugin hash FILE...\n\n"+
			"Print each file's sha256, the value of a plugin's sha256 key in the config.")
	}
	files, code := parse(fs, args, stdout, 0, -1)
	if code >= 0 {
		return code
	}
	if len(files) == 0 {
		fmt.Fprintln(stderr, "wsplug plugin hash: expected at least one FILE")
		fs.Usage()
		return exitUsage
	}
	failed := false
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintf(stderr, "wsplug: %v\n", err)
			failed = true
			continue
		}
		sum := sha256.Sum256(b)
		fmt.Fprintf(stdout, "%s  %s\n", hex.EncodeToString(sum[:]), f)
	}
	if failed {
		return exitInput
	}
	return exitOK
}

// humanSize writes a byte count for people: "3.7 MiB (3920163 bytes)".
func humanSize(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB (%d bytes)", float64(n)/(1<<20), n)
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB (%d bytes)", float64(n)/(1<<10), n)
	}
	return fmt.Sprintf("%d bytes", n)
}
