package xtest_test

import (
	"sync"
	"testing"

	"github.com/lockscope/lockscope/testdata/xtest"
)

func TestRegister(t *testing.T) {
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			xtest.Register("a")
		}()
	}
	wg.Wait()
}
