// Package shell quotes words for POSIX sh, for the scripts terrapack writes:
// launchers, relocated #! trampolines and the test guest's settings.
package shell

import "strings"

// Quote returns s as one single-quoted sh word.
func Quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
