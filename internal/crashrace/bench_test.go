package crashrace

import (
	"bufio"
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// The peer of each benchmark is the least any line reader must do with the
// same text: split it into lines with bufio.Scanner and look at each one.
// The ratio ours/peer says what the parsing costs on top of reading.

// programOutput is n lines of a busy program's log.
func programOutput(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "2026/11/26 10:00:%02d handler: GET /items/%d 200 in 312µs (cache hit=%v)\n", i%60, i, i%3 == 0)
	}
	return b.String()
}

func median(xs []time.Duration) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return float64(s[len(s)/2])
}

// peerScan is the peer: lines through bufio.Scanner, each checked for a
// marker.
func peerScan(text []byte, marker []byte) int {
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 64<<10), MaxLineBytes)
	n := 0
	for sc.Scan() {
		if bytes.Contains(sc.Bytes(), marker) {
			n++
		}
	}
	return n
}

// BenchmarkRaceParser feeds 100 race reports buried in 50,000 lines of
// program output, in 4 KiB chunks as a pipe delivers them.
func BenchmarkRaceParser(b *testing.B) {
	report := readRecorded(b, "racymap-race.txt")
	noise := programOutput(500)
	var sb strings.Builder
	for range 100 {
		sb.WriteString(noise)
		sb.WriteString(report)
	}
	input := []byte(sb.String())
	b.SetBytes(int64(len(input)))
	var ours, peer []time.Duration
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		var p RaceParser
		for rest := input; len(rest) > 0; {
			n := min(4096, len(rest))
			p.Write(rest[:n])
			rest = rest[n:]
		}
		p.Flush()
		ours = append(ours, time.Since(start))
		if got := len(p.Races()); got != 100 {
			b.Fatalf("%d races, want 100", got)
		}

		b.StopTimer()
		start = time.Now()
		if got := peerScan(input, []byte(raceWarning)); got != 100 {
			b.Fatalf("peer found %d", got)
		}
		peer = append(peer, time.Since(start))
		b.StartTimer()
	}
	ratio := median(ours) / median(peer)
	b.ReportMetric(ratio, "ours/scanner")
	b.Logf("%d bytes: RaceParser median %v, bufio.Scanner median %v, ratio %.2f", len(input), time.Duration(median(ours)), time.Duration(median(peer)), ratio)
}

// BenchmarkParseCrash reads a GOTRACEBACK=system dump after 50,000 lines of
// program output, the whole stderr of a long run.
func BenchmarkParseCrash(b *testing.B) {
	text := programOutput(50000) + readRecorded(b, "crashmap-gotraceback-system.txt")
	b.SetBytes(int64(len(text)))
	var ours, peer []time.Duration
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		c, ok := ParseCrash(text)
		ours = append(ours, time.Since(start))
		if !ok || c.Line == 0 {
			b.Fatal("no crash")
		}

		b.StopTimer()
		start = time.Now()
		if peerScan([]byte(text), []byte(fatalPrefix)) != 1 {
			b.Fatal("peer found no crash")
		}
		peer = append(peer, time.Since(start))
		b.StartTimer()
	}
	ratio := median(ours) / median(peer)
	b.ReportMetric(ratio, "ours/scanner")
	b.Logf("%d bytes: ParseCrash median %v, bufio.Scanner median %v, ratio %.3f", len(text), time.Duration(median(ours)), time.Duration(median(peer)), ratio)
}
