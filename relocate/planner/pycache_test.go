package planner

import "testing"

func TestCacheSource(t *testing.T) {
	for name, want := range map[string]string{
		"lib/python3.10/__pycache__/_sysconfigdata__linux_x86_64-linux-gnu.cpython-310.pyc":       "lib/python3.10/_sysconfigdata__linux_x86_64-linux-gnu.py",
		"lib/python3.10/__pycache__/_sysconfigdata__linux_x86_64-linux-gnu.cpython-310.opt-1.pyc": "lib/python3.10/_sysconfigdata__linux_x86_64-linux-gnu.py",
		"__pycache__/m.pypy39.opt-2.pyc":        "m.py",
		"lib/python2.7/_sysconfigdata.pyc":      "lib/python2.7/_sysconfigdata.py",
		"lib/python2.7/_sysconfigdata.pyo":      "lib/python2.7/_sysconfigdata.py",
		"a/__pycache__/pkg.mod.cpython-311.pyc": "a/pkg.mod.py",
		"a/__pycache__/notag.pyc":               "",
		"a/m.py":                                "",
		"a/m.pyc.bak":                           "",
	} {
		got, ok := CacheSource(name)
		if got != want || ok != (want != "") {
			t.Errorf("CacheSource(%q) = %q, %v; want %q", name, got, ok, want)
		}
	}
}
