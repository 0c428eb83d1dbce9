//go:build !lockscope_extra

package main

func extra() {}
