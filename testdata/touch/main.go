// Command touch creates the file named by its first argument and exits. The
// security tests launch it through requests that must never run: if the file
// appears, a request that should have been refused ran a program.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: touch FILE")
		os.Exit(2)
	}
	if err := os.WriteFile(os.Args[1], []byte("ran\n"), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
