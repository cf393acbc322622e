//go:build !slow

package main

// allPythons: TestRealPythonTrees takes one CPython per major version
// unless built with -tags slow.
const allPythons = false
