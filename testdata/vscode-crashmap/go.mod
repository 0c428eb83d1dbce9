// The real-VS-Code suite (extension/test/e2e) opens a copy of this folder,
// with testdata/crashmap's main.go copied in, as its workspace.
module example.com/crashmap

go 1.26
