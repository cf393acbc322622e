//go:build slow

package main

const allPythons = true
