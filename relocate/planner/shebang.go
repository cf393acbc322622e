package planner

import (
	"bytes"
	"path"
	"strings"

	"github.com/terrapack/terrapack/relocate"
)

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
		return relocate.StylePython
	case shells[base]:
		return relocate.StyleShell
	case strings.HasPrefix(base, "perl"):
		return relocate.StylePerl
	case strings.HasPrefix(base, "ruby"):
		return relocate.StyleRuby
	case strings.HasPrefix(base, "tclsh") || strings.HasPrefix(base, "wish") || base == "expect":
		return relocate.StyleTcl
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

// These Python matchers are plain byte tests on one line, no regexps.

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
