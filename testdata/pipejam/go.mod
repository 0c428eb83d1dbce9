module example.com/pipejam

go 1.26
