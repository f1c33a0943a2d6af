// The Go handler the serve tests build: one route per behaviour the tests check, written
// with net/http as a Go programmer would. Module state lives at package level.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

var requests = 0

func init() {
	http.HandleFunc("/", hello)
	http.HandleFunc("/state", func(w http.ResponseWriter, r *http.Request) {
		requests++
		fmt.Fprintln(w, requests)
	})
	http.HandleFunc("/env", env)
	http.HandleFunc("/file", readFile)
	http.HandleFunc("/write", writeFile)
	http.HandleFunc("/fetch", fetch)
	http.HandleFunc("/spin", func(w http.ResponseWriter, r *http.Request) {
		for {
		}
	})
	http.HandleFunc("/alloc", func(w http.ResponseWriter, r *http.Request) {
		var hoard [][]byte
		for {
			chunk := make([]byte, 1<<20)
			for i := range chunk {
				chunk[i] = byte(i)
			}
			hoard = append(hoard, chunk)
		}
	})
	http.HandleFunc("POST /sum", sum)
	http.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Echo-Length", fmt.Sprint(r.ContentLength))
		io.Copy(w, r.Body)
	})
	http.HandleFunc("/panic", func(w http.ResponseWriter, r *http.Request) {
		panic("the handler gave up")
	})
}

func hello(w http.ResponseWriter, r *http.Request) {
	requests++
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "Hello from Go at %s\n", r.URL.Path)
}

func env(w http.ResponseWriter, r *http.Request) {
	value, ok := os.LookupEnv(r.URL.Query().Get("name"))
	if !ok {
		value = "(unset)"
	}
	fmt.Fprintln(w, value)
}

func readFile(w http.ResponseWriter, r *http.Request) {
	data, err := os.ReadFile(r.URL.Query().Get("path"))
	if err != nil {
		http.Error(w, "cannot read: "+err.Error(), http.StatusNotFound)
		return
	}
	fmt.Fprintln(w, strings.TrimSpace(string(data)))
}

func writeFile(w http.ResponseWriter, r *http.Request) {
	if err := os.WriteFile(r.URL.Query().Get("path"), []byte("written"), 0o644); err != nil {
		http.Error(w, "cannot write: "+err.Error(), http.StatusForbidden)
		return
	}
	fmt.Fprintln(w, "written")
}

func fetch(w http.ResponseWriter, r *http.Request) {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(r.URL.Query().Get("url"))
	if err != nil {
		http.Error(w, "denied: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	fmt.Fprintf(w, "upstream %d: %s\n", resp.StatusCode, strings.TrimSpace(string(body)))
}

// sum adds the JSON numbers it is posted, one goroutine per number.
func sum(w http.ResponseWriter, r *http.Request) {
	var numbers []int
	if err := json.NewDecoder(r.Body).Decode(&numbers); err != nil {
		http.Error(w, "want a JSON list of numbers: "+err.Error(), http.StatusBadRequest)
		return
	}
	var (
		mu    sync.Mutex
		total int
		wg    sync.WaitGroup
	)
	for _, n := range numbers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Millisecond)
			mu.Lock()
			total += n * n
			mu.Unlock()
		}()
	}
	wg.Wait()
	if total < 0 {
		panic(errors.New("overflow"))
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]int{"count": len(numbers), "squares": total})
}

func main() {}
