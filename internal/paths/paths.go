// Package paths answers whether a path lies inside a folder, the check
// extraction, bundling and building each need, written once.
package paths

import (
	"path"
	"strings"
)

// Within reports whether p is root or below it. Both are slash paths
// (host paths on Linux) of the same kind, absolute or relative; they are
// cleaned first. A root of "." holds every relative path that does not
// climb out with "..".
func Within(root, p string) bool {
	p = path.Clean(p)
	if root == "." {
		return p != ".." && !strings.HasPrefix(p, "../")
	}
	root = path.Clean(root)
	return p == root || strings.HasPrefix(p, strings.TrimSuffix(root, "/")+"/")
}
