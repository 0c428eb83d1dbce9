// Package e2e holds lockscope's end-to-end tests: they build the real
// lockscope binary and real programs from testdata/, and drive `lockscope
// dap` with real Delve through the project's own DAP client.
package e2e
