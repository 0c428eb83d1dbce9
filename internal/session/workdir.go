package session

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The session's work folder. Everything a session writes outside the
// client's messages lives in one folder under $TMPDIR: the debuggee's
// binary (Delve's "output", so that no __debug_bin lands in the user's
// tree) and the capture agent's folders. It names its owner (pid and
// process start time), so that the next session can remove a folder whose
// session was killed before it could clean up (SIGKILL runs no code).

const (
	workDirPattern = "lockscope-session-"
	ownerFile      = "owner"
)

// workDir returns the session's work folder, made on first use.
func (s *Session) workDir() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.work != "" {
		return s.work, nil
	}
	dir, err := os.MkdirTemp("", workDirPattern)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(selfOwner()), 0o600); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	s.work = dir
	return dir, nil
}

// removeWorkDir removes the work folder at the end of the session.
func (s *Session) removeWorkDir() {
	s.mu.Lock()
	dir := s.work
	s.work = ""
	s.mu.Unlock()
	if dir != "" {
		if err := os.RemoveAll(dir); err != nil {
			s.log.Warn("removing the session folder", "dir", dir, "err", err)
		}
	}
}

// setBuildOutput makes Delve build a launched program into the work
// folder, unless the launch names its own output: Delve's default is
// __debug_bin* in the build folder, the user's tree, and a killed adapter
// left it there.
func (s *Session) setBuildOutput(p *launchPlan) error {
	builds := p.info.Request == "launch" && (p.info.Mode == "debug" || p.info.Mode == "test")
	if _, set := p.args["output"]; set || !builds {
		return nil
	}
	dir, err := s.workDir()
	if err != nil {
		return err
	}
	setString(p.args, "output", filepath.Join(dir, "__debug_bin"))
	return nil
}

// selfOwner is this process's owner line: pid and start time, since a pid
// alone may be reused by the time the next session looks.
func selfOwner() string {
	pid := os.Getpid()
	return fmt.Sprintf("%d %s\n", pid, startTime(pid))
}

// startTime is a process's start time from /proc (field 22 of stat), or ""
// where there is no /proc.
func startTime(pid int) string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return ""
	}
	return f[19] // fields after the name start at 3: 22-3
}

// ownerGone reports whether the owner line names a process that no longer
// runs (or a new process under a reused pid).
func ownerGone(line string) bool {
	f := strings.Fields(line)
	if len(f) == 0 {
		return false // unreadable: leave it alone
	}
	pid, err := strconv.Atoi(f[0])
	if err != nil || pid <= 0 {
		return false
	}
	if processGone(pid) {
		return true
	}
	if len(f) > 1 {
		if st := startTime(pid); st != "" && st != f[1] {
			return true
		}
	}
	return false
}

// sweepWorkDirs removes the work folders of sessions that are gone. Only
// folders that name an owner are touched, and only the user's own (the
// folders are 0700, so another user's cannot be read anyway).
func sweepWorkDirs(log *slog.Logger) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), workDirPattern+"*"))
	for _, dir := range dirs {
		data, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil || !ownerGone(string(data)) {
			continue
		}
		if err := os.RemoveAll(dir); err != nil {
			log.Warn("sweeping a dead session's folder", "dir", dir, "err", err)
			continue
		}
		log.Info("swept a dead session's folder", "dir", dir)
	}
}
