// The terrapack installer: a static program to which the builder appends a
// payload. Run as `./NAME.run --to DIR`; see --help and the README for the
// exit codes.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/terrapack/terrapack/payload"
)

// Exit codes, documented in README.md.
const (
	exitOK          = 0
	exitFailed      = 1 // an operation failed; nothing was changed
	exitUsage       = 2
	exitDamaged     = 3 // the installer file is truncated, altered or malformed
	exitRefused     = 4 // preflight refused: target exists, no space, not writable, locked…
	exitHookFailed  = 5 // post-install hook failed; the previous state was restored
	exitInterrupted = 130
)

// version of the installer program itself, set by the Makefile.
var version = "dev"

type options struct {
	to        string
	force     bool
	list      bool
	info      bool
	check     bool
	quiet     bool
	version   bool
	uninstall bool
	noHook    bool
	sync      bool
}

// memoryLimit is a soft heap limit: the garbage collector works harder near
// it instead of letting the heap double, which keeps the installer's peak
// RSS near 40 MiB even for trees of 50,000 files (GOMEMLIMIT overrides it).
const memoryLimit = 40 << 20

func main() {
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(memoryLimit)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("installer", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.to, "to", "", "")
	fs.StringVar(&o.to, "target", "", "")
	fs.BoolVar(&o.force, "force", false, "")
	fs.BoolVar(&o.list, "list", false, "")
	fs.BoolVar(&o.info, "info", false, "")
	fs.BoolVar(&o.check, "check", false, "")
	fs.BoolVar(&o.quiet, "quiet", false, "")
	fs.BoolVar(&o.quiet, "q", false, "")
	fs.BoolVar(&o.version, "version", false, "")
	fs.BoolVar(&o.uninstall, "uninstall", false, "")
	fs.BoolVar(&o.noHook, "no-hook", false, "")
	fs.BoolVar(&o.sync, "sync", false, "")
	help := fs.Bool("help", false, "")
	fs.BoolVar(help, "h", false, "")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(stderr, "error: %v\nRun with --help for usage.\n", err)
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "error: unexpected argument %q (the target folder goes after --to)\nRun with --help for usage.\n", fs.Arg(0))
		return exitUsage
	}
	if modes := count(o.list, o.info, o.check, o.version, o.uninstall, *help); modes > 1 {
		fmt.Fprintln(stderr, "error: choose one of --list, --info, --check, --version, --uninstall, --help")
		return exitUsage
	}

	in, err := openInstaller()
	if err != nil {
		return report(stderr, err)
	}
	m := in.Manifest

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()

	switch {
	case *help:
		usage(stdout, m)
		return exitOK
	case o.version:
		fmt.Fprintf(stdout, "%s %s (terrapack installer %s)\n", m.Name, m.Version, version)
		return exitOK
	case o.info:
		in.WriteInfo(stdout)
		return exitOK
	case o.list:
		return report(stderr, list(ctx, in, stdout))
	case o.check:
		return report(stderr, check(ctx, in, stdout, o.quiet))
	case o.uninstall:
		return report(stderr, uninstall(in, o))
	}
	return report(stderr, install(ctx, in, o))
}

func count(bs ...bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// refusal is an error found before anything was written.
type refusal struct {
	msg  string
	hint string
}

func (r *refusal) Error() string { return r.msg }

// hookError is a failed post-install hook after which the install was undone.
type hookError struct{ err error }

func (h *hookError) Error() string { return h.err.Error() }
func (h *hookError) Unwrap() error { return h.err }

// report prints err, if any, and maps it to an exit code.
func report(stderr io.Writer, err error) int {
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "error: %v\n", err)
	var (
		size   *payload.SizeError
		sum    *payload.ChecksumError
		format *payload.FormatError
		ref    *refusal
		hook   *hookError
	)
	switch {
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(stderr, "interrupted: nothing was changed")
		return exitInterrupted
	case payload.IsRefusal(err):
		fmt.Fprintln(stderr, "hint: the installer holds an unsafe entry and nothing was installed; report it to whoever made it")
		return exitDamaged
	case errors.As(err, &size), errors.As(err, &sum), errors.As(err, &format):
		fmt.Fprintln(stderr, "hint: download or copy the installer again and compare its SHA-256 with the published one")
		return exitDamaged
	case errors.As(err, &ref):
		if ref.hint != "" {
			fmt.Fprintf(stderr, "hint: %s\n", ref.hint)
		}
		return exitRefused
	case errors.As(err, &hook):
		return exitHookFailed
	}
	return exitFailed
}

func usage(w io.Writer, m *payload.Manifest) {
	self := "./" + m.Name + ".run"
	fmt.Fprintf(w, `%s %s — self-extracting installer made by terrapack

Usage:
  %s [--to DIR] [--force] [--quiet]   install (default DIR: %s)
  %s --check                          verify the whole file, install nothing
  %s --info | --list | --version      describe the installer or its contents
  %s --uninstall --to DIR             remove a tree this installer's kind put there

Options:
  --to DIR, --target DIR  where to install; created if missing
  --force                 replace an existing install of this kind, atomically
  --no-hook               do not run the post-install hook
  --sync                  flush the new tree to disk before committing it
                          (slower; the install then survives a power cut)
  -q, --quiet             print errors only
  -h, --help              this text

Exit codes: 0 ok, 1 failed (nothing changed), 2 usage, 3 installer damaged,
4 refused before writing (target exists, no space, not writable, locked),
5 post-install hook failed (previous state restored), 130 interrupted.
`, m.Name, m.Version, self, m.DefaultTarget, self, self, self)
}
