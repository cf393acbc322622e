package relocate

import (
	"fmt"
	"strings"
)

// TargetError is an install path the plan cannot carry, found before
// anything is written; Hint says what the customer can do instead.
type TargetError struct {
	Msg  string
	Hint string
}

func (e *TargetError) Error() string { return e.Msg }

// checkTargetChars refuses install paths that no rewrite can carry,
// whatever the plan holds: a newline ends a "#!" line, a line of a
// configuration file or a script, and a NUL ends every C string.
func checkTargetChars(prefix string) error {
	if i := strings.IndexAny(prefix, "\x00\n"); i >= 0 {
		what := "a newline"
		if prefix[i] == 0 {
			what = "a NUL byte"
		}
		return &TargetError{
			Msg:  fmt.Sprintf("install path %q contains %s: it would end the \"#!\" lines, configuration lines and C strings that name the install path", prefix, what),
			Hint: "choose a path without control characters",
		}
	}
	return nil
}

// splitsShebang reports whether the kernel would split a "#!" line at a
// byte of prefix: it ends the interpreter at the first blank.
func splitsShebang(prefix string) bool {
	return strings.ContainsAny(prefix, " \t")
}

// checkPython2 refuses a non-ASCII install path when Python 2 source that
// declares no encoding names it: Python 2 then refuses to read the file
// (pyenv's 2.7 _sysconfigdata.py, which site.py imports at every start).
func (pl *Plan) checkPython2(prefix string) error {
	if isASCII(prefix) {
		return nil
	}
	for _, f := range pl.Files {
		if f.Python2 {
			return &TargetError{
				Msg:  fmt.Sprintf("install path %q holds non-ASCII bytes, but %q is Python 2 source without an encoding declaration, which Python 2 refuses to read with them", prefix, f.Name),
				Hint: "choose a path of ASCII characters only",
			}
		}
	}
	return nil
}
