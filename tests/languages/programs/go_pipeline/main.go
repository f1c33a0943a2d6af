// pipeline: reads lines on stdin, scores them in a pool of goroutines fed by a channel,
// and prints the results in input order with a summary.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"

	"golang.org/x/sync/errgroup"
)

type job struct {
	index int
	line  string
}

type result struct {
	index int
	words int
	score uint32
	top   string
}

func main() {
	workers := flag.Int("workers", 4, "goroutines scoring lines")
	flag.Parse()
	lines, err := readLines()
	if err != nil {
		fmt.Fprintln(os.Stderr, "pipeline:", err)
		os.Exit(2)
	}
	results, err := run(context.Background(), lines, *workers)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pipeline:", err)
		os.Exit(1)
	}
	total := 0
	for _, r := range results {
		total += r.words
		fmt.Printf("%d: words=%d score=%08x top=%s\n", r.index+1, r.words, r.score, r.top)
	}
	fmt.Printf("lines=%d words=%d workers=%d\n", len(results), total, *workers)
}

func readLines() ([]string, error) {
	var lines []string
	scanner := bufio.NewScanner(os.Stdin)
	for scanner.Scan() {
		if text := strings.TrimSpace(scanner.Text()); text != "" {
			lines = append(lines, text)
		}
	}
	return lines, scanner.Err()
}

// run fans the lines out to `workers` goroutines and gathers the results.
func run(ctx context.Context, lines []string, workers int) ([]result, error) {
	jobs := make(chan job)
	out := make(chan result, len(lines))
	group, ctx := errgroup.WithContext(ctx)
	group.Go(func() error {
		defer close(jobs)
		for i, line := range lines {
			select {
			case jobs <- job{i, line}:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})
	for w := 0; w < workers; w++ {
		group.Go(func() error {
			for j := range jobs {
				r, err := score(j)
				if err != nil {
					return err
				}
				out <- r
			}
			return nil
		})
	}
	if err := group.Wait(); err != nil {
		return nil, err
	}
	close(out)
	results := make([]result, 0, len(lines))
	for r := range out {
		results = append(results, r)
	}
	sort.Slice(results, func(a, b int) bool { return results[a].index < results[b].index })
	return results, nil
}

// score hashes the line (FNV-1a) and finds its most frequent word.
func score(j job) (result, error) {
	if strings.Contains(j.line, "\x00") {
		return result{}, fmt.Errorf("line %d holds a NUL byte", j.index+1)
	}
	hash := uint32(2166136261)
	for i := 0; i < len(j.line); i++ {
		hash ^= uint32(j.line[i])
		hash *= 16777619
	}
	counts := map[string]int{}
	words := strings.Fields(strings.ToLower(j.line))
	for _, w := range words {
		counts[strings.Trim(w, ".,;:!?\"'")]++
	}
	top, best := "", 0
	for w, n := range counts {
		if n > best || (n == best && w < top) {
			top, best = w, n
		}
	}
	return result{j.index, len(words), hash, top}, nil
}
