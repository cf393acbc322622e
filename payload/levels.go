package payload

import (
	"fmt"
	"strings"
)

// levelRange is the method's usual command-line numbering; zero for
// methods that take no level here.
func levelRange(method string) (lo, hi int, ok bool) {
	switch method {
	case Zstd:
		return 1, 22, true
	case Gzip:
		return 1, 9, true
	case Xz, None:
		return 0, 0, true
	}
	return 0, 0, false
}

// CheckLevel refuses an unknown method or a level (0: the method's
// default) outside the method's range, in the builder's flag words.
func CheckLevel(method string, level int) error {
	lo, hi, ok := levelRange(method)
	if !ok {
		return fmt.Errorf("unknown compression %q (choose one of %s)", method, strings.Join(Methods, ", "))
	}
	if level != 0 && (level < lo || level > hi) {
		if hi == 0 {
			return fmt.Errorf("compression %s takes no --level", method)
		}
		return fmt.Errorf("--level %d is out of range for %s (%d to %d)", level, method, lo, hi)
	}
	return nil
}
