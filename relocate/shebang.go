package relocate

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/terrapack/terrapack/internal/shell"
)

// ParseShebang splits a "#!" line the way Linux does: blanks after "#!" are
// skipped, the interpreter runs to the next blank, and the rest, trimmed, is
// one optional argument (never split further).
func ParseShebang(line string) (interp, arg string, ok bool) {
	rest, ok := strings.CutPrefix(line, "#!")
	if !ok {
		return "", "", false
	}
	rest = strings.TrimLeft(rest, " \t")
	interp = rest
	if i := strings.IndexAny(rest, " \t"); i >= 0 {
		interp, arg = rest[:i], strings.Trim(rest[i:], " \t")
	}
	return interp, arg, interp != ""
}

// IsCodingLine reports whether line is a PEP 263 encoding declaration: a
// comment with "coding:" or "coding=", blanks, then an encoding name.
func IsCodingLine(line []byte) bool {
	line = bytes.TrimLeft(line, " \t\f")
	if len(line) == 0 || line[0] != '#' {
		return false
	}
	for rest := line; ; {
		i := bytes.Index(rest, []byte("coding"))
		if i < 0 {
			return false
		}
		rest = rest[i+len("coding"):]
		if len(rest) == 0 || rest[0] != ':' && rest[0] != '=' {
			continue
		}
		name := bytes.TrimLeft(rest[1:], " \t")
		if len(name) == 0 {
			continue
		}
		if c := name[0]; c == '_' || c == '-' || c == '.' || '0' <= c && c <= '9' || 'a' <= c|0x20 && c|0x20 <= 'z' {
			return true
		}
	}
}

// pyQuote quotes s for sh so that the word also reads as plain ASCII inside
// a Python string literal, whatever s holds: the polyglot line is a Python
// string, where a quote could end it early and a backslash or non-ASCII
// byte would be decoded (Python 2 refuses non-ASCII source without an
// encoding declaration). Such bytes are written as octal escapes, which sh's
// printf decodes and Python reads as ordinary escapes of its own.
func pyQuote(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && pySafe(s[j]) {
			j++
		}
		if j > i {
			b.WriteString("'" + s[i:j] + "'")
			i = j
			continue
		}
		b.WriteString(`"$(printf '`)
		for ; j < len(s) && !pySafe(s[j]); j++ {
			fmt.Fprintf(&b, `\%03o`, s[j])
		}
		b.WriteString(`')"`)
		i = j
	}
	if b.Len() == 0 {
		return "''"
	}
	return b.String()
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// pySafe reports whether c may stand as itself in pyQuote's output.
func pySafe(c byte) bool {
	return 0x20 <= c && c < 0x7f && c != '\'' && c != '\\'
}

// shebangRewrite is the planned first line of one script and what replaces it.
type shebangRewrite struct {
	line    string // as built
	newLine string // with the prefix replaced
	style   string // trampoline style, "" to write newLine as is
	command string // sh words that start the interpreter, for trampolines
	name    string // the interpreter's file name, for perl's and ruby's -x
}

// newShebangRewrite prepares the rewrite of sb for the install prefix. The
// line is split into interpreter and argument as built, each is relocated,
// and when the kernel would read the rewritten line otherwise (too long, or
// split at a blank of the install path) a trampoline starts those two.
func newShebangRewrite(sb *Shebang, olds Prefixes, prefix string) (*shebangRewrite, error) {
	rw := &shebangRewrite{line: sb.Line, newLine: olds.replace(sb.Line, prefix)}
	builtInterp, builtArg, _ := ParseShebang(sb.Line)
	interp, arg := olds.replace(builtInterp, prefix), olds.replace(builtArg, prefix)
	readInterp, readArg, _ := ParseShebang(rw.newLine)
	fits := len(rw.newLine) <= MaxShebang
	// Python 2 refuses a non-ASCII byte anywhere in a source without an
	// encoding declaration, the "#!" line included; the trampoline is ASCII.
	pyASCII := sb.Style == StylePython && !isASCII(rw.newLine)
	if fits && readInterp == interp && readArg == arg && !pyASCII {
		return rw, nil
	}
	if sb.Style == "" {
		if !fits {
			// MaxTargetLen refuses such an install before we get here.
			return nil, fmt.Errorf("%q line of %d bytes exceeds the kernel's %d-byte limit", "#!", len(rw.newLine), MaxShebang)
		}
		return nil, &TargetError{
			Msg: fmt.Sprintf("install path %q contains a space or tab: the kernel would split its %q line at it, and %q cannot be started through a trampoline",
				prefix, "#!", path.Base(builtInterp)),
			Hint: "choose a path without spaces or tabs",
		}
	}
	rw.style, rw.name = sb.Style, path.Base(builtInterp)
	quote := shell.Quote
	if sb.Style == StylePython {
		quote = pyQuote
	}
	rw.command = quote(interp)
	if sb.Style == StylePerl || sb.Style == StyleRuby {
		// -x makes perl and ruby skip to the "#!" line naming them, which
		// the trampoline keeps as its third line.
		rw.command += " -x"
	}
	if arg != "" {
		rw.command += " " + quote(arg)
	}
	return rw, nil
}

// header is what replaces the first line; line2 is the script's second line
// (a Python encoding declaration must stay on line 1 or 2).
func (rw *shebangRewrite) header(line2 []byte, olds Prefixes, prefix string) string {
	args := rw.command + ` "$0" "$@"`
	run := "exec " + args
	switch rw.style {
	case StylePython:
		// distlib's polyglot: sh reads '''exec' as exec, Python a string literal.
		cookie := ""
		if IsCodingLine(line2) {
			cookie = olds.replace(string(line2), prefix) + "\n"
		}
		return "#!/bin/sh\n" + cookie + "'''exec' " + args + "\n' '''\n"
	case StyleShell:
		// The interpreter is a shell too and runs this line again: the
		// variable, set to the PID that exec keeps, tells it to go on; it is
		// unset so that scripts started from this one trampoline again.
		return "#!/bin/sh\n" +
			`if [ "${TERRAPACK_SHEBANG-}" != "$$" ]; then export TERRAPACK_SHEBANG=$$; ` + run +
			"; fi; unset TERRAPACK_SHEBANG\n"
	case StylePerl, StyleRuby:
		// The interpreter's name alone: -x looks for it, and the argument
		// is already on the command line.
		return "#!/bin/sh\n" + run + "\n#!" + rw.name + "\n"
	case StyleTcl:
		// A Tcl comment continues over a trailing backslash, an sh one does not.
		return "#!/bin/sh\n# sh runs the next line, Tcl skips it \\\n" + run + "\n"
	}
	return rw.newLine
}

// shebangWriter replaces the first line of a script, then the prefix in the rest.
type shebangWriter struct {
	w      io.Writer
	rw     *shebangRewrite
	olds   Prefixes
	prefix string
	head   []byte    // input until the header can be written
	rest   *replacer // nil until then
}

func newShebangWriter(w io.Writer, rw *shebangRewrite, olds Prefixes, prefix string) *shebangWriter {
	return &shebangWriter{w: w, rw: rw, olds: olds, prefix: prefix}
}

// line2Max bounds how much of line 2 is buffered to look for an encoding declaration.
const line2Max = 1 << 10

func (s *shebangWriter) Write(p []byte) (int, error) {
	if s.rest != nil {
		return s.rest.Write(p)
	}
	s.head = append(s.head, p...)
	if n := len(s.rw.line); len(s.head) > n {
		line2 := s.head[n+1:]
		if s.rw.style != StylePython || bytes.IndexByte(line2, '\n') >= 0 || len(line2) > line2Max {
			if err := s.start(); err != nil {
				return 0, err
			}
		}
	}
	return len(p), nil
}

func (s *shebangWriter) Close() error {
	if s.rest == nil {
		if err := s.start(); err != nil {
			return err
		}
	}
	return s.rest.Close()
}

// start checks the first line against the plan, writes its replacement and
// passes the rest of the input on.
func (s *shebangWriter) start() error {
	n := len(s.rw.line)
	if len(s.head) < n || string(s.head[:n]) != s.rw.line || len(s.head) > n && s.head[n] != '\n' {
		return errors.New("first line does not match the plan: the payload was changed after planning")
	}
	var rest, line2 []byte
	if len(s.head) > n {
		rest = s.head[n+1:]
		line2, _, _ = bytes.Cut(rest, []byte("\n"))
	}
	header := s.rw.header(line2, s.olds, s.prefix)
	if s.rw.style == "" && len(s.head) > n {
		header += "\n"
	}
	if _, err := io.WriteString(s.w, header); err != nil {
		return err
	}
	s.rest = newReplacer(s.w, s.olds, s.prefix)
	s.head = nil
	_, err := s.rest.Write(rest)
	return err
}
