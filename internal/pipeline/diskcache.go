package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"iter"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// The rules both disk caches (the go facts, gofacts.go, and the source
// index, indexcache.go) share, so that they cannot drift apart:
//   - an entry is keyed by the go binary (path, size and time) and the GO*
//     environment, and it watches the content of the files it depends on;
//   - a file that cannot be read as an entry, or that watches a file that
//     cannot be read, is a miss, never an error;
//   - an entry is written whole or not at all.

// goToolKey names the go command and its environment: the go binary's
// path, size and modification time, and every GO* and CGO_* variable
// (GOFLAGS, GOOS, GOARCH, GOEXPERIMENT, CGO_ENABLED, …). False when
// nothing can be cached safely: no go command on PATH, or a go.mod the go
// command is told to take from elsewhere (-modfile), which no entry
// watches.
func goToolKey() (string, bool) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		return "", false
	}
	gobin, _ = filepath.Abs(gobin)
	st, err := os.Stat(gobin)
	if err != nil {
		return "", false
	}
	if strings.Contains(os.Getenv("GOFLAGS"), "-modfile") {
		return "", false
	}
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "GO") || strings.HasPrefix(kv, "CGO_") {
			env = append(env, kv)
		}
	}
	slices.Sort(env)
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00%d\x00%s", gobin, st.Size(), st.ModTime().UnixNano(), strings.Join(env, "\x00"))
	return hex.EncodeToString(h.Sum(nil)), true
}

// cacheEntryPath is the file of the entry named name in the cache folder
// version (os.UserCacheDir()/lockscope/<version>/): a change of an entry's
// format or meaning takes a new version, so an older lockscope's entries
// are never read as this one's.
func cacheEntryPath(version, name string) (string, bool) {
	root, err := os.UserCacheDir()
	if err != nil {
		return "", false
	}
	sum := sha256.Sum256([]byte(name))
	return filepath.Join(root, "lockscope", version, hex.EncodeToString(sum[:16])+".json"), true
}

// unreadable is the hash of a file that exists but cannot be read: no
// entry is stored with it, and no stored hash equals it.
const unreadable = "?"

// fileHash is the content hash of one file: "" when it does not exist,
// unreadable when it cannot be read.
func fileHash(path string) string {
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		sum := sha256.Sum256(b)
		return hex.EncodeToString(sum[:])
	case os.IsNotExist(err):
		return ""
	default:
		return unreadable
	}
}

// contentHashes reads each file's content hash (see fileHash).
func contentHashes(files []string) map[string]string {
	out := make(map[string]string, len(files))
	for _, f := range files {
		out[f] = fileHash(f)
	}
	return out
}

// sameHashes reports whether every watched file still reads as the entry
// says (now holds the current hashes of at least those files).
func sameHashes(watched, now map[string]string) bool {
	for f, h := range watched {
		if h == unreadable || now[f] != h {
			return false
		}
	}
	return true
}

// storable reports whether an entry may record these hashes: none
// unreadable.
func storable(hashes map[string]string) bool {
	for _, h := range hashes {
		if h == unreadable {
			return false
		}
	}
	return true
}

// writeEntry writes an entry's file whole or not at all (a concurrent
// reader sees the old file or the new one): a failure only costs the next
// F5 what the entry saves.
func writeEntry(path string, b []byte) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".entry-*")
	if err != nil {
		return
	}
	_, werr := tmp.Write(b)
	cerr := tmp.Close()
	if werr != nil || cerr != nil || os.Rename(tmp.Name(), path) != nil {
		os.Remove(tmp.Name())
	}
}

// upFrom yields dir and each folder above it, up to the root: where the
// go command looks for go.mod and go.work, and git for .git.
func upFrom(dir string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for d := dir; ; {
			if !yield(d) {
				return
			}
			up := filepath.Dir(d)
			if up == d {
				return
			}
			d = up
		}
	}
}
