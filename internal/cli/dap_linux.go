package cli

import "syscall"

// dupOnto makes newfd a copy of oldfd. Linux has dup3 on every
// architecture (arm64 has no dup2).
func dupOnto(oldfd, newfd int) error { return syscall.Dup3(oldfd, newfd, 0) }
