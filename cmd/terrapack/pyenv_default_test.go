//go:build !pyenv

package main

// pyenvAll is set by the pyenv build tag (make test-pyenv): every version.
const pyenvAll = false
