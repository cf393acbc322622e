package relocate

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
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

// isCodingLine reports whether line is a PEP 263 encoding declaration: a
// comment with "coding:" or "coding=", blanks, then an encoding name.
func isCodingLine(line []byte) bool {
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

// shQuote quotes s for sh.
func shQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// shebangRewrite is the planned first line of one script and what replaces it.
type shebangRewrite struct {
	line    string // as built
	newLine string // with the prefix replaced
	style   string // trampoline style, "" to write newLine as is
	command string // sh words that start the interpreter, for trampolines
}

// newShebangRewrite prepares the rewrite of sb for the install prefix.
func newShebangRewrite(sb *Shebang, olds Prefixes, prefix string) (*shebangRewrite, error) {
	rw := &shebangRewrite{line: sb.Line, newLine: olds.replace(sb.Line, prefix)}
	if len(rw.newLine) <= MaxShebang {
		return rw, nil
	}
	interp, arg, ok := ParseShebang(rw.newLine)
	if !ok || sb.Style == "" {
		// MaxTargetLen refuses such an install before we get here.
		return nil, fmt.Errorf("%q line of %d bytes exceeds the kernel's %d-byte limit", "#!", len(rw.newLine), MaxShebang)
	}
	if sb.Style == StylePython && strings.ContainsAny(interp+arg, `'\`) {
		return nil, fmt.Errorf("cannot start %q through a Python trampoline: the path contains a quote or backslash", interp)
	}
	rw.style = sb.Style
	rw.command = shQuote(interp)
	if sb.Style == StylePerl || sb.Style == StyleRuby {
		// -x makes perl and ruby skip to the "#!" line naming them, which
		// the trampoline keeps as its third line (its switches still apply).
		rw.command += " -x"
	}
	if arg != "" {
		rw.command += " " + shQuote(arg)
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
		if isCodingLine(line2) {
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
		return "#!/bin/sh\n" + run + "\n" + rw.newLine + "\n"
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
