package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"contract/internal/shout"
)

func main() {
	line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
	fmt.Println("stdin:", strings.TrimSpace(line))
	fmt.Println("shout:", shout.Shout(strings.Join(os.Args[1:], " ")))
	if _, err := os.ReadFile("/etc/passwd"); err != nil {
		fmt.Println("read: denied")
	} else {
		fmt.Println("read: allowed")
	}
	if len(os.Args) > 2 {
		os.Exit(7)
	}
}
