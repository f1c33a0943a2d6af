// Grows the heap past 64 MiB in 1 MiB blocks, touches every page, and checks it back.
package main

import (
	"fmt"
	"os"
	"strconv"
)

const block = 1 << 20

func main() {
	blocks := 96
	if len(os.Args) > 1 {
		blocks, _ = strconv.Atoi(os.Args[1])
	}
	kept := make([][]byte, 0, blocks)
	for i := 0; i < blocks; i++ {
		b := make([]byte, block)
		for j := 0; j < block; j += 4096 {
			b[j] = byte(i + j/4096)
		}
		kept = append(kept, b)
	}
	var sum uint64
	for _, b := range kept {
		for j := 0; j < block; j += 4096 {
			sum += uint64(b[j])
		}
	}
	fmt.Printf("heap: %d MiB live, checksum %d\n", blocks, sum)
}
