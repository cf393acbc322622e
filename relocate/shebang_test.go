package relocate

import (
	"regexp"
	"testing"
)

func TestParseShebang(t *testing.T) {
	for _, tc := range []struct{ line, interp, arg string }{
		{"#!/bin/sh", "/bin/sh", ""},
		{"#! /usr/bin/python3 -u ", "/usr/bin/python3", "-u"},
		{"#!/usr/bin/env python3 -E -s", "/usr/bin/env", "python3 -E -s"},
		{"#!/bin/bash\t-e", "/bin/bash", "-e"},
	} {
		interp, arg, ok := ParseShebang(tc.line)
		if !ok || interp != tc.interp || arg != tc.arg {
			t.Errorf("ParseShebang(%q) = %q, %q, %v; want %q, %q", tc.line, interp, arg, ok, tc.interp, tc.arg)
		}
	}
}

// TestCodingLineAgreesWithRegexp checks the written-out PEP 263 matcher
// against the regexp it stands for (kept out of the installer for size).
func TestCodingLineAgreesWithRegexp(t *testing.T) {
	cook := regexp.MustCompile(`^[ \t\f]*#.*?coding[:=][ \t]*[-\w.]+`)
	for _, c := range []string{"", "# -*- coding: latin-1 -*-", "#coding=utf8", "  \t# vim: set fileencoding=utf-8 :", "# coding: ", "# coding:-x", "# codingx: utf8 coding: y", "coding: utf8", "\f#coding:.", "# coding:\tü", "# coding utf8", "# coding:_", "# coding=!x coding:y"} {
		if a, w := IsCodingLine([]byte(c)), cook.MatchString(c); a != w {
			t.Errorf("IsCodingLine(%q) = %v, regexp %v", c, a, w)
		}
	}
}
