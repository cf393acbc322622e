//go:build pyenv

package main

// pyenvAll: every CPython under $(pyenv root)/versions (make test-pyenv).
const pyenvAll = true
