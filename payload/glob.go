package payload

import (
	"fmt"
	"path"
	"strings"
)

// MatchGlob reports whether the slash-separated name matches pattern, where
// `*`, `?` and `[...]` match within one path segment (as path.Match) and a
// `**` segment matches any number of segments, none included: `var/**`
// matches var and everything below it, `**/*.conf` any .conf file.
func MatchGlob(pattern, name string) bool {
	return matchSegments(strings.Split(pattern, "/"), strings.Split(name, "/"))
}

func matchSegments(pat, name []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for i := 0; i <= len(name); i++ {
				if matchSegments(pat[1:], name[i:]) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 {
			return false
		}
		if ok, _ := path.Match(pat[0], name[0]); !ok {
			return false
		}
		pat, name = pat[1:], name[1:]
	}
	return len(name) == 0
}

// MatchAny reports whether name matches one of patterns.
func MatchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if MatchGlob(p, name) {
			return true
		}
	}
	return false
}

// CheckGlob refuses a pattern MatchGlob cannot use: a bad `[...]` class, an
// absolute or `..` path, or `**` inside a segment.
func CheckGlob(pattern string) error {
	if pattern == "" || strings.HasPrefix(pattern, "/") {
		return fmt.Errorf("pattern %q must be a path relative to the tree's root", pattern)
	}
	for _, seg := range strings.Split(pattern, "/") {
		switch {
		case seg == "" || seg == "." || seg == "..":
			return fmt.Errorf("pattern %q has an empty, . or .. segment", pattern)
		case seg != "**" && strings.Contains(seg, "**"):
			return fmt.Errorf("pattern %q: ** must be a whole segment, as in var/**", pattern)
		}
		if _, err := path.Match(seg, ""); err != nil {
			return fmt.Errorf("pattern %q: %v", pattern, err)
		}
	}
	return nil
}
