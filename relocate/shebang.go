package relocate

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// parseShebang splits a "#!" line the way Linux does: blanks after "#!" are
// skipped, the interpreter runs to the next blank, and the rest, trimmed, is
// one optional argument (never split further).
func parseShebang(line string) (interp, arg string, ok bool) {
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

var shells = map[string]bool{
	"sh": true, "bash": true, "dash": true, "ash": true, "ksh": true, "ksh93": true,
	"mksh": true, "pdksh": true, "zsh": true, "yash": true, "posh": true,
}

// shebangStyle picks the trampoline for a script from its interpreter's name
// and, for Python, its first lines (head, "#!" line included). "" means no
// trampoline is safe.
func shebangStyle(interp string, head []byte) string {
	base := path.Base(interp)
	switch {
	case strings.HasPrefix(base, "python") || strings.HasPrefix(base, "pypy"):
		// The polyglot becomes the module docstring; a docstring followed by
		// "from __future__" would then be a syntax error.
		if startsWithString(head) && importsFuture(head) {
			return ""
		}
		return StylePython
	case shells[base]:
		return StyleShell
	case strings.HasPrefix(base, "perl"):
		return StylePerl
	case strings.HasPrefix(base, "ruby"):
		return StyleRuby
	case strings.HasPrefix(base, "tclsh") || strings.HasPrefix(base, "wish") || base == "expect":
		return StyleTcl
	}
	return ""
}

// startsWithString reports whether the first statement after the "#!" line
// is a string literal, i.e. a docstring.
func startsWithString(head []byte) bool {
	lines := bytes.Split(head, []byte("\n"))
	for _, l := range lines[1:] {
		l = bytes.TrimSpace(l)
		if len(l) == 0 || l[0] == '#' {
			continue
		}
		return isStringStart(l)
	}
	return false
}

// These Python matchers are written out rather than as regexps: the
// installer links this package, and regexp would add 250 KB to it.

// isStringStart reports whether l starts with a string literal: up to two
// prefix letters (r, b, u, f in any case), then a quote.
func isStringStart(l []byte) bool {
	for i := 0; i < len(l) && i <= 2; i++ {
		switch l[i] | 0x20 {
		case 'r', 'b', 'u', 'f':
			continue
		}
		return l[i] == '"' || l[i] == '\''
	}
	return false
}

// importsFuture reports whether a line of head is "from __future__ import".
func importsFuture(head []byte) bool {
	for line := range bytes.SplitSeq(head, []byte("\n")) {
		rest, ok := cutWord(line, "from")
		if !ok {
			continue
		}
		if rest, ok = cutWord(rest, "__future__"); !ok {
			continue
		}
		if rest, ok = bytes.CutPrefix(rest, []byte("import")); ok && (len(rest) == 0 || !isWordByte(rest[0])) {
			return true
		}
	}
	return false
}

// cutWord cuts word and the blanks (at least one) after it off b's start.
func cutWord(b []byte, word string) ([]byte, bool) {
	rest, ok := bytes.CutPrefix(b, []byte(word))
	trimmed := bytes.TrimLeft(rest, " \t")
	return trimmed, ok && len(trimmed) < len(rest)
}

func isWordByte(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c|0x20 && c|0x20 <= 'z'
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
		if len(name) > 0 && (isWordByte(name[0]) || name[0] == '-' || name[0] == '.') {
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
func newShebangRewrite(sb *Shebang, olds prefixes, prefix string) (*shebangRewrite, error) {
	rw := &shebangRewrite{line: sb.Line, newLine: olds.replace(sb.Line, prefix)}
	if len(rw.newLine) <= MaxShebang {
		return rw, nil
	}
	interp, arg, ok := parseShebang(rw.newLine)
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
func (rw *shebangRewrite) header(line2 []byte, olds prefixes, prefix string) string {
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
	olds   prefixes
	prefix string
	head   []byte    // input until the header can be written
	rest   *replacer // nil until then
}

func newShebangWriter(w io.Writer, rw *shebangRewrite, olds prefixes, prefix string) *shebangWriter {
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
