module example.com/seedbench

go 1.26
