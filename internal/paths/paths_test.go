package paths

import "testing"

func TestWithin(t *testing.T) {
	for _, c := range []struct {
		root, p string
		want    bool
	}{
		{"/opt/app", "/opt/app", true},
		{"/opt/app", "/opt/app/bin/x", true},
		{"/opt/app", "/opt/app/../app/x", true},
		{"/opt/app", "/opt/application", false},
		{"/opt/app", "/opt/app/../other", false},
		{"/opt/app", "/opt", false},
		{"/opt/app/", "/opt/app/x", true},
		{"/", "/etc", true},
		{".", "a/b", true},
		{".", "a/../../b", false},
		{".", "..", false},
		{".", ".", true},
		{"src", "src/x", true},
		{"src", "srcx", false},
	} {
		if got := Within(c.root, c.p); got != c.want {
			t.Errorf("Within(%q, %q) = %v, want %v", c.root, c.p, got, c.want)
		}
	}
}
