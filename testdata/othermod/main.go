// Command othermod lives in its own module, outside lockscope's.
package main

import "fmt"

func greet(who string) string {
	msg := "hello, " + who // lockscope:othermod-greet
	return msg
}

func main() {
	fmt.Println(greet("othermod"))
}
