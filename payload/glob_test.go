package payload

import "testing"

func TestMatchGlob(t *testing.T) {
	cases := []struct {
		pat, name string
		want      bool
	}{
		{"etc/*.conf", "etc/nginx.conf", true},
		{"etc/*.conf", "etc/sub/nginx.conf", false},
		{"etc/**", "etc", true},
		{"etc/**", "etc/sub/deep/x", true},
		{"var/**", "variable", false},
		{"**/*.conf", "a/b/c.conf", true},
		{"**/*.conf", "c.conf", true},
		{"**/*.conf", "c.confx", false},
		{"etc/[ab].ini", "etc/b.ini", true},
		{"etc/[ab].ini", "etc/c.ini", false},
		{"a/**/z", "a/z", true},
		{"a/**/z", "a/b/c/z", true},
		{"a/**/z", "a/b/c/y", false},
	}
	for _, c := range cases {
		if got := MatchGlob(c.pat, c.name); got != c.want {
			t.Errorf("MatchGlob(%q, %q) = %v, want %v", c.pat, c.name, got, c.want)
		}
	}
	for _, bad := range []string{"", "/etc/x", "../x", "a/**b", "etc/[", "a//b"} {
		if CheckGlob(bad) == nil {
			t.Errorf("CheckGlob(%q) accepted a bad pattern", bad)
		}
	}
	for _, good := range []string{"etc/*.conf", "var/**", "**/*.ini"} {
		if err := CheckGlob(good); err != nil {
			t.Errorf("CheckGlob(%q): %v", good, err)
		}
	}
}
