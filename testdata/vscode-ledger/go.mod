// The real-VS-Code suite (extension/test/e2e) opens a copy of this folder as
// its workspace: its own module, as a user's project would be.
module example.com/ledger

go 1.26
