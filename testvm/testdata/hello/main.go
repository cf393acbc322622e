// Command hello is a fake terrapack installer used by the testvm VM tests:
// "hello.run --to DIR" creates DIR/bin/hello, a /bin/sh script.
package main

import (
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	var to string
	for i := 1; i < len(os.Args); i++ {
		switch a := os.Args[i]; a {
		case "--to":
			if i+1 < len(os.Args) {
				to = os.Args[i+1]
				i++
			}
		case "--quiet":
		default:
			fmt.Fprintf(os.Stderr, "hello.run: unknown argument %q\n", a)
			os.Exit(2)
		}
	}
	if to == "" {
		fmt.Fprintln(os.Stderr, "hello.run: usage: hello.run --to DIR")
		os.Exit(2)
	}
	if err := os.MkdirAll(filepath.Join(to, "bin"), 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "hello.run:", err)
		os.Exit(1)
	}
	script := "#!/bin/sh\necho \"hello from terrapack ($0)\"\n"
	if err := os.WriteFile(filepath.Join(to, "bin", "hello"), []byte(script), 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "hello.run:", err)
		os.Exit(1)
	}
	exe, _ := os.Executable()
	fmt.Printf("hello.run: installed to %s (executable %q)\n", to, exe)
}
