package pipeline

// ToolchainVersion returns the Go version that builds in dir ("" when the
// go command cannot tell), from the go facts (gofacts.go): no go command
// runs while their cached answer still holds. It leaves the pipeline as it
// is; analyze asks it before it builds, to refuse a toolchain too old for
// the capture agent.
func ToolchainVersion(dir string) string {
	f, _ := goFactsIn(dir)
	return f.GoVersion
}
