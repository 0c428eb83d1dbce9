package main

import (
	"os"
	"time"
)

// startup stands for the work a program does before its main runs
// (package variables read from disk, a cache warmed at init): the
// environment variable SHARDS_STARTUP, a duration, sets how long it takes.
// Package variables are set before any init function runs, lockscope's
// agent's included, so no profile covers this time: the comparison tests
// use it to check that a capture's seconds leave it out.
var startup = func() time.Duration {
	d, err := time.ParseDuration(os.Getenv("SHARDS_STARTUP"))
	if err != nil {
		return 0
	}
	time.Sleep(d)
	return d
}()
