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
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/terrapack/terrapack/payload"
	"golang.org/x/term"
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

// streams are the standard files run() received: the installer writes and
// reads nothing else, so tests can run it in process.
type streams struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

// isTerminal reports whether w is a terminal (only an *os.File can be).
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	return ok && term.IsTerminal(int(file.Fd()))
}

type options struct {
	streams
	to         string
	force      bool
	list       bool
	info       bool
	check      bool
	quiet      bool
	version    bool
	uninstall  bool
	noHook     bool
	sync       bool
	dryRun     bool
	json       bool
	accept     bool
	repair     bool
	purge      bool
	noProgress bool
	discard    bool
	help       bool
	license    bool
	hookArgs   []string // after --, given to the hook as they are
	verifyKey  string   // trusted signing keys: a file, or one key inline
}

// memoryLimit is a soft heap limit: the garbage collector works harder near
// it instead of letting the heap double, which keeps the installer's peak
// RSS under 64 MiB even for trees of 50,000 files (GOMEMLIMIT overrides it).
// The 32 MiB zstd window alone is live all along: a lower limit makes the
// collector run without end (40 MiB: 50% more CPU for the Go tree).
const memoryLimit = 56 << 20

func main() {
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(memoryLimit)
	}
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	// A closed stdout or stderr (`./app.run 2>&1 | head`) must not kill the
	// installer midway: with SIGPIPE handled, writes just fail with EPIPE and
	// are dropped, and the exit code tells the result. Handled (not ignored),
	// so that the hook gets the default SIGPIPE behaviour.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	start := time.Now()
	o := options{streams: streams{stdin, stdout, stderr}}
	res := newResult()
	var in *payload.Installer
	// end reports err and, with --json, prints the result object.
	end := func(err error) int {
		code := report(stderr, err, res)
		if in != nil {
			res.Signature.Verified = in.SignatureVerified
		}
		if o.json {
			res.finish(stdout, code, err, start)
		}
		return code
	}
	if err := parseArgs(args, &o); err != nil {
		return end(err)
	}
	in, err := openInstaller()
	if err != nil {
		return end(err)
	}
	m := in.Manifest
	res.Name, res.Version, res.InstallerSHA256 = m.Name, m.Version, in.Trailer.Checksum()
	if in.Signature != nil {
		res.Signature.Signed, res.Signature.Fingerprint = true, in.Signature.Fingerprint()
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	defer stop()

	switch {
	case o.help:
		usage(stdout, m)
		return exitOK
	case o.version:
		fmt.Fprintf(stdout, "%s (terrapack installer %s)\n", m.Title(), version)
		return exitOK
	case o.info:
		in.WriteInfo(stdout)
		return exitOK
	case o.license:
		if m.License == "" {
			fmt.Fprintf(stderr, "%s has no license to accept\n", m.Title())
		}
		fmt.Fprint(stdout, m.License)
		return exitOK
	}
	var signer string // who signed, for the customer
	if !o.uninstall {
		if signer, err = checkSigner(in, o.verifyKey, &res.Signature); err != nil {
			return end(err)
		}
	}
	switch {
	case o.list:
		return report(stderr, list(ctx, in, stdout), nil)
	case o.check:
		err := check(ctx, in, stdout, o.quiet)
		if err == nil && signer != "" && !o.quiet {
			fmt.Fprintf(stdout, "signature: ok, %s\n", signer)
		}
		return report(stderr, err, nil)
	}
	if signer != "" && !o.quiet && !o.uninstall {
		fmt.Fprintln(stderr, signer)
	}
	if o.uninstall {
		err = uninstall(ctx, in, o, res)
	} else {
		err = soundBeforeRefusal(ctx, in, install(ctx, in, o, res))
	}
	return end(err)
}

// parseArgs fills o from args or returns a usageError.
func parseArgs(args []string, o *options) error {
	for i, a := range args {
		if a == "--" {
			args, o.hookArgs = args[:i], append([]string{}, args[i+1:]...)
			break
		}
	}
	o.json = slices.Contains(args, "--json") || slices.Contains(args, "-json")
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
	fs.BoolVar(&o.noHook, "noexec", false, "")
	fs.BoolVar(&o.sync, "sync", false, "")
	fs.BoolVar(&o.dryRun, "dry-run", false, "")
	fs.BoolVar(&o.json, "json", false, "")
	fs.BoolVar(&o.accept, "accept", false, "")
	fs.BoolVar(&o.repair, "repair", false, "")
	fs.BoolVar(&o.purge, "purge", false, "")
	fs.BoolVar(&o.noProgress, "noprogress", false, "")
	fs.BoolVar(&o.noProgress, "no-progress", false, "")
	fs.BoolVar(&o.discard, "discard-changes", false, "")
	fs.BoolVar(&o.license, "license", false, "")
	fs.StringVar(&o.verifyKey, "verify-key", "", "")
	help := fs.Bool("help", false, "")
	fs.BoolVar(help, "h", false, "")
	usageErr := func(hint, format string, a ...any) error {
		return &usageError{fmt.Sprintf(format, a...), hint}
	}
	const seeHelp = "run with --help for usage"
	for _, a := range args {
		if name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "="); strings.HasPrefix(a, "-") {
			if instead, ok := makeselfOnly[name]; ok {
				return usageErr(instead, "%s is a makeself option this installer does not have", a)
			}
		}
	}
	if err := fs.Parse(args); err != nil {
		return usageErr(seeHelp, "%v", err)
	}
	if fs.NArg() > 0 {
		return usageErr(seeHelp, "unexpected argument %q (the target folder goes after --to; arguments for the post-install hook after --)", fs.Arg(0))
	}
	if modes := count(o.list, o.info, o.check, o.version, o.uninstall, o.repair, o.license, *help); modes > 1 {
		return usageErr(seeHelp, "choose one of --list, --info, --check, --version, --license, --uninstall, --repair, --help")
	}
	switch {
	case o.purge && !o.uninstall:
		return usageErr(seeHelp, "--purge goes with --uninstall (it also removes kept data and changed config)")
	case (o.dryRun || o.json) && (o.list || o.info || o.check || o.version || o.license || *help):
		return usageErr(seeHelp, "--dry-run and --json go with an install, --repair or --uninstall")
	case o.repair && o.force:
		return usageErr(seeHelp, "--repair puts back the files of this same install; --force is for installing over another version, not both")
	}
	o.help = *help
	return nil
}

// makeselfOnly maps the makeself options that have no meaning here to what to
// do instead (README: "Coming from makeself").
var makeselfOnly = map[string]string{
	"keep":           "drop it: the installed tree always stays (the vendor's keep: globs say what an upgrade carries over)",
	"nox11":          "drop it: this installer never opens a terminal window",
	"confirm":        "use --noexec (or --no-hook) to skip the post-install hook and run it yourself",
	"tar":            "use --list to see the contents, or extract by hand as docs/FORMAT.md shows",
	"noexec-cleanup": "drop it: there is no cleanup script; a failed install leaves nothing behind",
	"cleanup-args":   "drop it: there is no cleanup script; a failed install leaves nothing behind",
	"nochown":        "drop it: files belong to the user who runs the installer",
	"chown":          "run chown -R on the folder after installing",
	"nodiskspace":    "drop it: the space check refuses only when the tree cannot fit",
	"ssl-pass-src":   "drop it: the payload is not encrypted",
	"lsm":            "use --info",
	"verify-sig":     "use --verify-key KEYS (OpenSSH public keys): every run verifies the installer before writing",
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

// partialError is a removal that stopped midway: what was removed is gone,
// the rest is back in place.
type partialError struct{ err error }

func (e *partialError) Error() string { return e.err.Error() }
func (e *partialError) Unwrap() error { return e.err }

// usageError is a command line this installer cannot run.
type usageError struct{ msg, hint string }

func (u *usageError) Error() string { return u.msg }

// hookError is a failed post-install hook after which the install was undone.
type hookError struct{ err error }

func (h *hookError) Error() string { return h.err.Error() }
func (h *hookError) Unwrap() error { return h.err }

// report prints err, if any, with its hint, maps it to an exit code and
// records both in res (which may be nil).
func report(stderr io.Writer, err error, res *result) int {
	code, hint := classify(err)
	if err == nil {
		return code
	}
	fmt.Fprintf(stderr, "error: %v\n", err)
	var partial *partialError
	if code == exitInterrupted && !errors.As(err, &partial) {
		fmt.Fprintln(stderr, "interrupted: nothing was changed")
	}
	if hint != "" {
		fmt.Fprintf(stderr, "hint: %s\n", hint)
	}
	if res != nil {
		res.Hint = hint
	}
	return code
}

// classify maps err to an exit code and the hint to print with it.
func classify(err error) (int, string) {
	if err == nil {
		return exitOK, ""
	}
	var (
		size   *payload.SizeError
		sum    *payload.ChecksumError
		format *payload.FormatError
		ref    *refusal
		sig    *payload.SignatureError
		hook   *hookError
		use    *usageError
	)
	var partial *partialError
	switch {
	case errors.As(err, &use):
		return exitUsage, use.hint
	case errors.As(err, &partial):
		hint := "part of the install was removed and the rest is back in place; run --uninstall again to finish"
		if errors.Is(err, context.Canceled) {
			return exitInterrupted, hint
		}
		return exitFailed, hint
	case errors.Is(err, context.Canceled):
		return exitInterrupted, ""
	case errors.As(err, &sig):
		return exitDamaged, "nothing was installed; " + map[payload.SignatureProblem]string{
			payload.Unsigned:     "ask the publisher for a signed installer, or leave out --verify-key (and " + verifyKeyEnv + ") if you trust where this one came from",
			payload.Untrusted:    "check that the trusted keys hold the publisher's current public key, and that the installer comes from them",
			payload.BadSignature: "download or copy the installer again from the publisher",
		}[sig.Kind]
	case errors.As(err, &size), errors.As(err, &sum):
		return exitDamaged, "download or copy the installer again and compare its SHA-256 with the published one"
	case payload.IsRefusal(err), errors.As(err, &format):
		return exitDamaged, "the installer is malformed or holds an unsafe entry, and nothing was installed; download it again, and if that does not help, report it to whoever made it"
	case errors.As(err, &ref):
		return exitRefused, ref.hint
	case errors.As(err, &hook):
		return exitHookFailed, ""
	}
	return exitFailed, ""
}

func usage(w io.Writer, m *payload.Manifest) {
	self := "./" + m.Name + ".run"
	fmt.Fprintf(w, `%s %s — self-extracting installer made by terrapack

Usage:
  %s [--to DIR] [--force] [--quiet] [-- ARG...]   install (default DIR: %s)
  %s --repair --to DIR                put back changed or deleted files
  %s --check                          verify the whole file, install nothing
  %s --info | --list | --version      describe the installer or its contents
  %s --license                        print the license it asks to accept
  %s --uninstall --to DIR [--purge]   remove what this installer's kind put there

Options:
  --to DIR, --target DIR  where to install; created if missing
  --force                 upgrade or replace an earlier install of this name,
                          atomically; config the customer changed, kept data
                          and files they added are carried over
  --discard-changes       with --force: installed files the customer changed
                          are replaced instead of refused
  --dry-run               make every check and print the plan; write nothing
  --json                  print one JSON result object on stdout at the end
  --accept                accept the license without being asked
  --purge                 with --uninstall: also remove kept data, changed
                          config and files added to the tree
  --no-hook, --noexec     do not run the post-install hook
  -- ARG...               arguments given to the post-install hook as they are
  --sync                  flush the new tree to disk before committing it
                          (slower; the install then survives a power cut)
  --noprogress            no progress bar
  --verify-key KEYS       require a signature by one of KEYS: a file of
                          "ssh-ed25519 AAAA…" or allowed_signers lines, or one
                          key inline (default: $TERRAPACK_VERIFY_KEY)
  -q, --quiet             print errors only
  -h, --help              this text

Exit codes: 0 ok, 1 failed (nothing changed), 2 usage, 3 installer damaged,
4 refused before writing (target exists, changed files, no space, not
writable, locked, license not accepted), 5 post-install hook failed
(previous state restored), 130 interrupted.
`, m.Name, m.Version, self, m.DefaultTarget, self, self, self, self, self)
}
