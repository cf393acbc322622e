package planner

import (
	"errors"
	"strings"
	"testing"

	"github.com/terrapack/terrapack/relocate"
)

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

// TestPython2SourceNeedsASCIIPath: Python 2 reads a module without an
// encoding declaration as ASCII, so a non-ASCII install path is refused
// when the plan rewrites one.
func TestPython2SourceNeedsASCIIPath(t *testing.T) {
	for name, tc := range map[string]struct {
		text    string
		refused bool
	}{
		"lib/python2.7/_sysconfigdata.py":          {"# system configuration generated and used by the sysconfig module\nbuild_time_vars = {'LIBDIR': '" + binPrefix + "/lib'}\n", true},
		"lib/python2.7/declared.py":                {"#!/usr/bin/env python\n# -*- coding: utf-8 -*-\nP = '" + binPrefix + "'\n", false},
		"lib/python3.10/_sysconfigdata.py":         {"LIBDIR = '" + binPrefix + "/lib'\n", false},
		"lib/python2.7/site-packages/x/README.txt": {binPrefix + "\n", false},
	} {
		p, _ := New(binPrefix)
		if _, err := p.File(name, strings.NewReader(tc.text), int64(len(tc.text)), 0o644); err != nil {
			t.Fatal(err)
		}
		pl := p.Plan()
		if _, err := relocate.NewApplier(pl, relocate.Vars{Prefix: "/opt/app"}); err != nil {
			t.Errorf("%s: an ASCII path is refused: %v", name, err)
		}
		_, err := relocate.NewApplier(pl, relocate.Vars{Prefix: "/opt/äpp"})
		var te *relocate.TargetError
		if refused := errors.As(err, &te) && strings.Contains(err.Error(), "Python 2 source without an encoding declaration") && strings.Contains(err.Error(), name); refused != tc.refused {
			t.Errorf("%s: error %v, want refused %v", name, err, tc.refused)
		}
	}
}
